"""One contract, two backends: the STAC API on PostgreSQL (pgstac) and the embedded SQLite catalog."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from rs_assets.core.catalog import Catalog, OwnerNamespace, SqliteCatalog, StacApiCatalog
from rs_assets.core.errors import CatalogError, ItemExistsError


def make_item(item_id: str, n: int, product_type: str = "AUX_PP2") -> dict:
    day = 1 + n % 28
    return {
        "type": "Feature",
        "stac_version": "1.1.0",
        "stac_extensions": [],
        "id": item_id,
        "geometry": None,
        "properties": {
            "datetime": f"2024-11-{day:02d}T00:00:00Z",
            "start_datetime": f"2024-11-{day:02d}T00:00:00Z",
            "end_datetime": f"2024-12-{day:02d}T00:00:00Z",
            "created": f"2024-11-{day:02d}T{n % 24:02d}:00:00Z",
            "product:type": product_type,
            "n": n,
        },
        "links": [],
        "assets": {f"{item_id}.zip": {"href": f"s3://bucket/{item_id}.zip", "roles": ["data"]}},
    }


class RequestCounter:
    """Counts the requests a STAC API catalog sends."""

    def __init__(self, catalog: StacApiCatalog) -> None:
        self.count = 0
        self._send = catalog._http.request
        catalog._http.request = self  # type: ignore[method-assign]

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.count += 1
        return self._send(*args, **kwargs)


@pytest.fixture(params=["stac_api", "sqlite"])
def catalog(request: pytest.FixtureRequest, tmp_path: Path, unique: str) -> Iterator[Catalog]:
    naming = OwnerNamespace(owner=f"owner{unique}")
    if request.param == "stac_api":
        url = request.getfixturevalue("stac_api_url")
        backend: Catalog = StacApiCatalog(url, naming)
    else:
        backend = SqliteCatalog(tmp_path / "catalog.sqlite", naming)
    yield backend
    backend.close()


def test_bulk_upsert_lookup_fetch_delete(catalog: Catalog) -> None:
    catalog.ensure_collection("s1-aux", "Sentinel-1 auxiliary files")
    catalog.ensure_collection("s1-aux")  # idempotent
    assert catalog.collection_exists("s1-aux") and not catalog.collection_exists("s9-aux")

    items = [make_item(f"AUX_{n:05d}", n) for n in range(2000)]
    assert catalog.upsert_items("s1-aux", items) == 2000

    wanted = [f"AUX_{n:05d}" for n in range(1800, 2300)]
    counter = RequestCounter(catalog) if isinstance(catalog, StacApiCatalog) else None
    found = catalog.existing_ids("s1-aux", wanted)
    assert found == {f"AUX_{n:05d}" for n in range(1800, 2000)}
    if counter is not None:
        assert counter.count == 1

    fetched = catalog.get_item("s1-aux", "AUX_00042")
    assert fetched is not None
    assert fetched["properties"]["n"] == 42
    assert fetched["collection"] == catalog.wire_id("s1-aux")
    assert catalog.get_item("s1-aux", "AUX_99999") is None

    assert catalog.delete_item("s1-aux", "AUX_00042") is True
    assert catalog.delete_item("s1-aux", "AUX_00042") is False
    assert catalog.get_item("s1-aux", "AUX_00042") is None
    assert len(catalog.existing_ids("s1-aux", [f"AUX_{n:05d}" for n in range(2000)])) == 1999


def test_insert_conflicts_and_upsert_replaces(catalog: Catalog) -> None:
    catalog.ensure_collection("s2-aux")
    catalog.insert_item("s2-aux", make_item("ONE", 1))
    with pytest.raises(ItemExistsError, match="'ONE' already exists"):
        catalog.insert_item("s2-aux", make_item("ONE", 2))
    catalog.upsert_items("s2-aux", [make_item("ONE", 3)])
    catalog.upsert_items("s2-aux", [make_item("ONE", 3)])
    item = catalog.get_item("s2-aux", "ONE")
    assert item is not None and item["properties"]["n"] == 3
    assert catalog.existing_ids("s2-aux", ["ONE", "TWO"]) == {"ONE"}


def test_owner_prefix_on_the_wire(catalog: Catalog, unique: str) -> None:
    catalog.ensure_collection("s3-aux")
    catalog.upsert_items("s3-aux", [make_item("X", 1)])
    wire = f"owner{unique}:s3-aux"
    assert catalog.wire_id("s3-aux") == wire
    if isinstance(catalog, StacApiCatalog):
        response = requests.get(f"{catalog.url}/collections/{wire}/items/X", timeout=10)
        assert response.status_code == 200 and response.json()["collection"] == wire
    else:
        assert catalog.get_item(wire, "X") is not None
    other = catalog.__class__.__new__(catalog.__class__)
    other.__dict__.update(catalog.__dict__)
    other.naming = OwnerNamespace(owner=f"other{unique}")
    assert other.existing_ids("s3-aux", ["X"]) == set()


def test_search_with_cql2_valcover_and_sort(catalog: Catalog) -> None:
    catalog.ensure_collection("s1-aux")
    items = [make_item(f"V{n}", n, "AUX_CAL" if n % 2 else "AUX_PP2") for n in range(1, 11)]
    catalog.upsert_items("s1-aux", items)
    valcover = {
        "op": "and",
        "args": [
            {"op": "=", "args": [{"property": "product:type"}, "AUX_CAL"]},
            {
                "op": "t_contains",
                "args": [
                    {"interval": [{"property": "start_datetime"}, {"property": "end_datetime"}]},
                    {"interval": ["2024-11-08T00:00:00.000Z", "2024-11-30T00:00:00.000Z"]},
                ],
            },
        ],
    }
    found = catalog.search(
        ["s1-aux"], filter=valcover, sortby=[{"field": "properties.created", "direction": "desc"}]
    )
    # V7 starts exactly at the window start: ValCover is strict containment, so it is out.
    assert [item["id"] for item in found] == ["V5", "V3", "V1"]
    latest = catalog.search(
        ["s1-aux"], filter=valcover, sortby=[{"field": "properties.created", "direction": "desc"}], limit=1
    )
    assert [item["id"] for item in latest] == ["V5"]


def test_a_filter_on_a_property_some_items_lack_matches_only_the_items_that_have_it(catalog: Catalog) -> None:
    from rs_assets.core.lifecycle.expiry import expired_filter
    from rs_assets.core.timeutil import utcnow

    catalog.ensure_collection("s01-cadip-session")
    lasting, expired = make_item("LASTING", 1), make_item("EXPIRED", 2)
    expired["properties"]["expires"] = "2026-01-01T00:00:00.000Z"
    catalog.upsert_items("s01-cadip-session", [lasting, expired])  # a session item has no expires
    found = catalog.search(["s01-cadip-session"], filter=expired_filter(utcnow()))
    assert [item["id"] for item in found] == ["EXPIRED"]


def test_writing_to_a_missing_collection_is_an_error(catalog: Catalog) -> None:
    with pytest.raises(CatalogError):
        catalog.upsert_items("never-created", [make_item("A", 1)])


def test_expired_ids_are_the_unpublished_items_no_later_step_superseded(catalog: Catalog) -> None:
    catalog.ensure_collection("expiry")
    live, expired, superseded = make_item("live", 1), make_item("expired", 2), make_item("superseded", 3)
    expired["properties"]["unpublished"] = "2026-11-30T00:00:00.000Z"
    superseded["properties"] |= {"unpublished": "2026-11-30T00:00:00.000Z", "rs:superseded_by": "u"}
    catalog.upsert_items("expiry", [live, expired, superseded])
    assert catalog.expired_ids("expiry", ["live", "expired", "superseded", "absent"]) == {"expired"}
