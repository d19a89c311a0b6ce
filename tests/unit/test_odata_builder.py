from datetime import UTC, datetime

import pytest

from rs_assets.core.errors import QueryError
from rs_assets.core.station.odata import PROFILES, AttributeEquals, F, Intersects, Query, all_of, get_profile
from rs_assets.simulator.odata_filter import CAPABILITIES, FilterRejected, compile_filter

T = datetime(2024, 11, 14, 14, 30, 38, 56552, tzinfo=UTC)
DEFAULT = PROFILES["default"]
FIELDS = {"PublicationDate", "SessionId", "Name", "Size", "Attributes", "GeoFootprint", "Channel"}


def test_ge_and_le_are_rewritten_where_the_station_lacks_them() -> None:
    assert F("PublicationDate").ge(T).render(DEFAULT) == (
        "(PublicationDate gt 2024-11-14T14:30:38.056Z or PublicationDate eq 2024-11-14T14:30:38.056Z)"
    )
    assert F("Size").le(3).render(PROFILES["mps"]) == "(Size lt 3 or Size eq 3)"
    assert F("Size").ge(3).render(PROFILES["mps"]) == "Size ge 3"
    assert F("Size").le(3).render(PROFILES["standard"]) == "Size le 3"


@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_never_emits_gte_lte_or_not_without_space(profile: str) -> None:
    expr = all_of(
        F("PublicationDate").ge(T),
        F("PublicationDate").le(T),
        ~F("Name").eq("x"),
        F("SessionId").in_(["a", "b"]),
    )
    assert expr is not None
    text = expr.render(PROFILES[profile])
    assert " gte " not in text and " lte " not in text
    assert "not(" not in text and "not (" in text
    assert "in ('a','b')" in text


def test_strings_are_quoted_and_escaped() -> None:
    assert F("Name").eq("O'Brien").render(DEFAULT) == "Name eq 'O''Brien'"
    assert F("Name").contains("S1A").render(DEFAULT) == "contains(Name,'S1A')"


def test_attribute_filter_uses_the_csc_lambda_syntax() -> None:
    assert AttributeEquals("productType", "AUX_PP2").render(DEFAULT) == (
        "Attributes/OData.CSC.StringAttribute/any(att:att/Name eq 'productType' and "
        "att/OData.CSC.StringAttribute/Value eq 'AUX_PP2')"
    )


def test_or_inside_and_keeps_its_parentheses() -> None:
    expr = (F("Channel").eq(1) | F("Channel").eq(2)) & F("Size").gt(0)
    assert expr.render(DEFAULT) == "(Channel eq 1 or Channel eq 2) and Size gt 0"
    negated = ~(F("Size").ge(1) & F("Channel").eq(1))
    assert negated.render(DEFAULT) == "not ((Size gt 1 or Size eq 1) and Channel eq 1)"


def test_bad_queries_are_errors_before_anything_is_sent() -> None:
    with pytest.raises(QueryError, match="at least one value"):
        F("Name").in_([]).render(DEFAULT)
    with pytest.raises(QueryError, match="unknown capability profile 'fast'"):
        get_profile("fast")
    with pytest.raises(QueryError, match="cannot write"):
        F("Name").eq(object()).render(DEFAULT)  # type: ignore[arg-type]


def test_query_params_carry_filter_order_and_expand() -> None:
    query = Query("Products", AttributeEquals("productType", "AUX_CAL"), expand="Attributes")
    params = query.params(DEFAULT)
    assert params["$orderby"] == "PublicationDate asc"
    assert params["$expand"] == "Attributes"
    assert params["$filter"].startswith("Attributes/OData.CSC.StringAttribute/any(")


@pytest.mark.parametrize(
    "expr",
    [
        F("PublicationDate").ge(T) & F("PublicationDate").lt(T),
        F("PublicationDate").le(T) | F("Name").startswith("DCS_"),
        ~(F("SessionId").in_(["S1A_1", "S1A_2"]) & F("Size").ge(10)),
        AttributeEquals("productType", "AUX_PP2") & F("Name").endswith(".zip"),
        Intersects("POLYGON((0 0,10 0,10 10,0 10,0 0))") & F("Name").contains("IW"),
    ],
)
def test_everything_the_builder_writes_passes_the_strictest_station(expr: object) -> None:
    compile_filter(expr.render(DEFAULT), FIELDS, CAPABILITIES["default"])  # type: ignore[attr-defined]


def test_strict_station_rejects_what_the_builder_avoids() -> None:
    for text in ("Size ge 1", "Size le 1", "not(Size eq 1)", "Name in ('a', 'b')"):
        with pytest.raises(FilterRejected):
            compile_filter(text, FIELDS, CAPABILITIES["default"])


def test_session_id_is_spelled_the_stations_way() -> None:
    """MPS-like stations spell it ``SessionID`` on Files (and ``SessionId`` on Sessions)."""
    mps, default = get_profile("mps"), get_profile("default")
    files_of = Query("Files", F("SessionId").eq("S2B_1"))
    assert files_of.params(mps)["$filter"] == "SessionID eq 'S2B_1'"
    assert files_of.params(default)["$filter"] == "SessionId eq 'S2B_1'"
    assert Query("Sessions", F("SessionId").eq("S2B_1")).params(mps)["$filter"] == "SessionId eq 'S2B_1'"
    assert Query("Files", F("SessionId").in_(["a", "b"])).params(mps)["$filter"] == "SessionID in ('a','b')"
