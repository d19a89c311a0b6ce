"""ADF resolution: alternatives in order, staging when the catalog lacks an ADF, waiting for a late one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from rs_assets.core.catalog import SqliteCatalog
from rs_assets.core.processing.adfs import AdfNotFound, resolve_adf, station_selection
from rs_assets.core.processing.process import output_item_id, parse_input
from rs_assets.core.processing.queries import AdfQuery

WINDOW = ["2021-12-23T05:11:22.594Z", "2021-12-23T05:11:47.593Z"]


def query(
    order: int, product_type: str, timeout: float = 0, op: str = "t_contains", limit: int | None = 1
) -> AdfQuery:
    return AdfQuery(
        adf="DEM",
        order=order,
        name="LatestValCover",
        timeout_seconds=timeout,
        collection="s1-aux",
        parameters={
            "product_type": product_type,
            "start_datetime": WINDOW[0],
            "end_datetime": WINDOW[1],
            "dTa": 60,
            "dTb": 0,
        },
        filter={
            "op": "and",
            "args": [
                {"op": "=", "args": [{"property": "product:type"}, product_type]},
                {
                    "op": op,
                    "args": [
                        {"interval": [{"property": "start_datetime"}, {"property": "end_datetime"}]},
                        {"interval": WINDOW},
                    ],
                },
            ],
        },
        sortby=[{"field": "created", "direction": "desc"}],
        limit=limit,
    )


def dem(
    item_id: str, product_type: str = "AUX_DEM", created: str = "2026-11-01T00:00:00.000Z", **properties: Any
) -> dict[str, Any]:
    return {
        "type": "Feature",
        "stac_version": "1.1.0",
        "id": item_id,
        "geometry": None,
        "properties": {
            "datetime": "2000-01-01T00:00:00.000Z",
            "start_datetime": "2000-01-01T00:00:00.000Z",
            "end_datetime": "2100-01-01T00:00:00.000Z",
            "product:type": product_type,
            "created": created,
            **properties,
        },
        "links": [],
        "assets": {item_id: {"href": f"s3://aux/copernicus/s1-aux/{item_id}/{item_id}", "roles": ["data"]}},
    }


class Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def catalog(tmp_path: Path) -> SqliteCatalog:
    catalog = SqliteCatalog(tmp_path / "catalog.sqlite")
    catalog.ensure_collection("s1-aux")
    return catalog


def test_the_first_alternative_that_finds_an_item_wins_and_the_latest_created_is_taken(
    catalog: SqliteCatalog,
) -> None:
    catalog.upsert_items(
        "s1-aux", [dem("OLD"), dem("NEW", created="2026-11-20T00:00:00.000Z"), dem("GLO90", "AUX_DEM90")]
    )
    resolved = resolve_adf(
        "DEM", [query(1, "AUX_DEM30"), query(2, "AUX_DEM"), query(3, "AUX_DEM90")], catalog
    )
    assert resolved.item["id"] == "NEW"
    assert resolved.href == "s3://aux/copernicus/s1-aux/NEW/NEW"
    assert [a.found for a in resolved.attempts] == [None, "NEW"], "the third alternative is never tried"


def test_an_adf_missing_from_the_catalog_is_staged_and_searched_again(catalog: SqliteCatalog) -> None:
    staged: list[str] = []

    def stage(q: AdfQuery) -> str:
        staged.append(q.product_type or "")
        catalog.upsert_items("s1-aux", [dem("FROM_ADGS")])
        return "ADGS: 1 selected, 1 staged"

    resolved = resolve_adf("DEM", [query(1, "AUX_DEM")], catalog, stage)
    assert resolved.item["id"] == "FROM_ADGS" and staged == ["AUX_DEM"]
    assert resolved.attempts[0].staging == ["ADGS: 1 selected, 1 staged"]


def test_a_late_adf_is_waited_for_until_its_timeout(catalog: SqliteCatalog) -> None:
    clock = Clock()
    calls = 0

    def stage(q: AdfQuery) -> str:
        nonlocal calls
        calls += 1
        if clock.now >= 25:  # published at the station 25 s into the wait
            catalog.upsert_items("s1-aux", [dem("LATE")])
            return "ADGS: 1 staged"
        return "ADGS: 0 selected"

    resolved = resolve_adf(
        "DEM",
        [query(1, "AUX_DEM", timeout=60)],
        catalog,
        stage,
        clock=clock,
        sleep=clock.sleep,
        poll_seconds=10,
    )
    assert resolved.item["id"] == "LATE"
    assert clock.sleeps == [10, 10, 10] and resolved.attempts[0].waited == 30


def test_no_alternative_finding_anything_names_the_adf_and_every_search(catalog: SqliteCatalog) -> None:
    clock = Clock()
    catalog.upsert_items("s1-aux", [dem("GONE", unpublished="2026-11-30T00:00:00.000Z")])
    with pytest.raises(AdfNotFound) as error:
        resolve_adf(
            "DEM",
            [query(1, "AUX_DEM", timeout=5), query(2, "AUX_DEM90")],
            catalog,
            lambda q: "ADGS: 0 selected, 0 staged",
            clock=clock,
            sleep=clock.sleep,
            poll_seconds=10,
        )
    message = str(error.value)
    assert message.startswith(
        "ADF DEM: no alternative found an item: alternative 1 (LatestValCover in s1-aux)"
    )
    assert '"AUX_DEM"' in message and '"AUX_DEM90"' in message and "waited 5 s" in message
    assert clock.sleeps == [5], "the wait stops at the timeout, not at the next poll"


def test_an_unpublished_item_is_never_an_adf(catalog: SqliteCatalog) -> None:
    catalog.upsert_items(
        "s1-aux", [dem("EXPIRED", unpublished="2026-11-30T00:00:00.000Z"), dem("EMPTY") | {"assets": {}}]
    )
    with pytest.raises(AdfNotFound):
        resolve_adf("DEM", [query(1, "AUX_DEM")], catalog)


def test_the_station_selection_mirrors_the_search() -> None:
    window, latest = station_selection(query(1, "AUX_DEM"))  # type: ignore[misc]
    assert (window.product_type, window.relation, latest) == ("AUX_DEM", "contains", True)
    assert window.covered_from.isoformat() == "2021-12-23T05:10:22.594000+00:00", "dTa widens the window"
    intersect, every = station_selection(query(1, "ADF_OLINS", op="t_intersects", limit=None))  # type: ignore[misc]
    assert intersect.relation == "intersects" and every is False
    assert "ContentDate/Start lt 2021-12-23T05:11:47.593Z" in intersect.odata().render(_profile())
    assert station_selection(AdfQuery("X", 1, "Q", 0, "c", {"item_id": "x"}, None, None, None)) is None


def _profile() -> Any:
    from rs_assets.core.station.odata import PROFILES

    return PROFILES["default"]


def test_output_ids_follow_the_driving_product() -> None:
    assert (
        output_item_id("S01SIWGTC", "S01SIWGRD_20211223T051122_00024_B0022_TB81")
        == "S01SIWGTC_20211223T051122_00024_B0022_TB81"
    )
    assert output_item_id("nrb", "S1A_IW_SLC__1SDV_X.SAFE") == "nrb_S1A_IW_SLC__1SDV_X.SAFE"


def test_inputs_are_named_when_a_run_takes_several() -> None:
    assert parse_input("s01siwgrd/ITEM", ["S01SIWGRD"]).name == "S01SIWGRD"
    assert parse_input("L0_2=s03olcl0/X", ["L0_1", "L0_2"]).collection == "s03olcl0"
    with pytest.raises(Exception, match="must name the input it feeds"):
        parse_input("s03olcl0/X", ["L0_1", "L0_2"])


def test_a_datetime_variable_that_is_not_one_is_named_before_any_search() -> None:
    from rs_assets.core.processing.process import ProcessingError, given_variables

    assert given_variables(
        {"start_datetime": "2021-12-23T05:11:22Z", "satellite": "", "end_datetime": None}
    ) == {"start_datetime": given_variables({"start_datetime": "2021-12-23T05:11:22.000Z"})["start_datetime"]}
    with pytest.raises(
        ProcessingError, match="external variable start_datetime: 'yesterday' is not an ISO 8601 datetime"
    ):
        given_variables({"start_datetime": "yesterday"})
