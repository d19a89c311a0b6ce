"""Operator selection: each option becomes the filter a station and the catalog take; every bad input is one
error naming the option."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from rs_assets.core.selection import (
    SelectionError,
    check_safety,
    cql2_filter,
    destination,
    make_selection,
    odata_filter,
)
from rs_assets.core.station.odata import PROFILES

NOW = datetime(2026, 12, 2, 12, tzinfo=UTC)
SQUARE = "POLYGON((10 40, 12 40, 12 42, 10 42, 10 40))"


def rendered(**options: object) -> str:
    expr = odata_filter(make_selection(now=NOW, **options))  # type: ignore[arg-type]
    return expr.render(PROFILES["default"]) if expr else ""


def test_each_option_adds_its_term_to_the_station_filter() -> None:
    assert rendered() == ""
    assert rendered(rel_time_hours=24) == "ContentDate/End gt 2026-12-01T12:00:00.000Z"
    both = rendered(begin=datetime(2026, 11, 1, tzinfo=UTC), end=datetime(2026, 11, 2, tzinfo=UTC))
    assert (
        both
        == "ContentDate/Start lt 2026-11-02T00:00:00.000Z and ContentDate/End gt 2026-11-01T00:00:00.000Z"
    )
    assert "att/Name eq 'productType' and att/OData.CSC.StringAttribute/Value eq 'IW_GRDH_1S'" in rendered(
        product_type="IW_GRDH_1S"
    )
    assert "OData.CSC.Intersects(area=geography'SRID=4326;POLYGON ((10 40, 12 40" in rendered(
        geometry_wkt=SQUARE
    )
    query = rendered(query_json='{"platformSerialIdentifier": "A", "orbitNumber": 1234}')
    assert (
        "OData.CSC.StringAttribute/Value eq 'A'" in query
        and "OData.CSC.IntegerAttribute/Value eq 1234" in query
    )


def test_the_catalog_filter_takes_the_same_selection() -> None:
    selection = make_selection(
        begin=datetime(2026, 11, 1, tzinfo=UTC),
        end=datetime(2026, 11, 2, tzinfo=UTC),
        geometry_wkt=SQUARE,
        product_type="AUX_PP2",
        query_json='{"platform": "sentinel-1a"}',
        now=NOW,
    )
    found = cql2_filter(selection)
    assert found is not None and found["op"] == "and"
    ops = [(a["op"], a["args"][0].get("property")) for a in found["args"]]
    assert ops == [
        (">=", "end_datetime"),
        ("<", "datetime"),
        ("=", "product:type"),
        ("s_intersects", "geometry"),
        ("=", "platform"),
    ]
    assert cql2_filter(make_selection(now=NOW)) is None


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            {"geometry_wkt": "POLYGN((0 0, 1 0, 1 1, 0 0))"},
            "--geometry 'POLYGN((0 0, 1 0, 1 1, 0 0))' is not WKT",
        ),
        ({"geometry_wkt": "POINT(10 40)"}, "is a Point: give a POLYGON"),
        ({"geometry_wkt": "POLYGON((100 400, 120 400, 120 420, 100 400))"}, "leaves lon [-180, 180]"),
        ({"geometry_wkt": "POLYGON((0 0, 1 1, 1 0, 0 1, 0 0))"}, "is not a valid polygon"),
        ({"query_json": "{platform: a}"}, "--query '{platform: a}' is not JSON"),
        ({"query_json": "[1, 2]"}, "give a JSON object"),
        ({"query_json": '{"a": [1]}'}, "--query: a must be a string, a number or true/false"),
        ({"rel_time_hours": -1}, "--rel-time -1: give a positive number of hours"),
        ({"rel_time_hours": 2, "begin": NOW}, "--rel-time and --begin both"),
        ({"begin": NOW, "end": NOW}, "is not before --end"),
    ],
)
def test_a_bad_option_is_one_error_naming_it(options: dict[str, object], message: str) -> None:
    with pytest.raises(SelectionError) as error:
        make_selection(now=NOW, **options)  # type: ignore[arg-type]
    assert message in str(error.value)


def test_destination_templates_take_the_products_date_and_refuse_unknown_placeholders() -> None:
    when = datetime(2026, 11, 19, 7, 5, tzinfo=UTC)
    assert destination("s3://b/aux/%Y/%m/%d", when, "X.EOF") == "s3://b/aux/2026/11/19/X.EOF"
    assert destination("/data/%Y/%j/", when, "item", "a/b.tif") == "/data/2026/323/item/a/b.tif"
    assert destination("/data/100%%/%H%M", when) == "/data/100%/0705"
    for bad, named in (("/data/%Y/%Q", "%Q"), ("/data/%B", "%B"), ("/data/%", "%")):
        with pytest.raises(SelectionError, match=f"unknown placeholder {named}"):
            destination(bad, when, "x")


def test_more_matches_than_the_safety_limit_is_an_error() -> None:
    check_safety(5, 5, "products")
    with pytest.raises(
        SelectionError, match=r"more than 5 products match \(--safety-limit 5\): nothing fetched"
    ):
        check_safety(6, 5, "products")
