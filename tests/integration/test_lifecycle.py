"""Expiry against SeaweedFS and both catalog backends: only expired items lose their objects, and are marked."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from rs_assets.core.catalog import Catalog, OwnerNamespace, SqliteCatalog, StacApiCatalog
from rs_assets.core.catalog.mapping import CollectionNames
from rs_assets.core.errors import CatalogError, RsAssetsError
from rs_assets.core.lifecycle.accounting import storage_report
from rs_assets.core.lifecycle.expiry import plan_key, run_expiry
from rs_assets.core.services import Placement, Services
from rs_assets.core.storage.bucket_rules import BucketRules
from rs_assets.core.storage.object_store import ObjectStore
from rs_assets.core.storage.transfer import Transfer, TransferSettings
from rs_assets.core.timeutil import format_item_datetime
from tests.integration.platform import s3_client

NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)
COLLECTION = "s1-aux"


@pytest.fixture(params=["stac_api", "sqlite"])
def catalog(request: pytest.FixtureRequest, tmp_path: Path, unique: str) -> Iterator[Catalog]:
    naming = OwnerNamespace(owner=f"exp{unique}")
    backend: Catalog = (
        StacApiCatalog(request.getfixturevalue("stac_api_url"), naming)
        if request.param == "stac_api"
        else SqliteCatalog(tmp_path / "catalog.sqlite", naming)
    )
    yield backend
    backend.close()


@pytest.fixture
def services(s3_endpoint: str, catalog: Catalog, unique: str) -> Services:
    client = s3_client(s3_endpoint)
    data, other, system = f"exp-data-{unique}", f"exp-other-{unique}", f"exp-sys-{unique}"
    for bucket in (data, other, system):
        client.create_bucket(Bucket=bucket)
    store = ObjectStore(client)
    rules = BucketRules.parse(f"*,*,*,30,{data}\n")
    return Services(
        store, Transfer(store, TransferSettings()), catalog, Placement("o", CollectionNames(), rules), system
    )


def data_bucket(services: Services) -> str:
    return services.placement.rules.buckets[0]


def stage(
    services: Services, item_id: str, expires: object, *, bucket: str | None = None, files: int = 2
) -> dict:
    """An item with ``files`` objects in S3, as staging leaves it."""
    bucket = bucket or data_bucket(services)
    assets = {}
    for n in range(files):
        body = f"{item_id}-{n}".encode() * 100
        key = f"o/{COLLECTION}/{item_id}/{item_id}-{n}.bin"
        services.store.put(bucket, key, body, hashlib.md5(body).hexdigest())
        assets[f"{item_id}-{n}.bin"] = {
            "href": f"s3://{bucket}/{key}",
            "file:size": len(body),
            "roles": ["data"],
        }
    return {
        "type": "Feature",
        "stac_version": "1.1.0",
        "stac_extensions": [],
        "id": item_id,
        "geometry": None,
        "properties": {"datetime": "2026-11-01T00:00:00.000Z", "expires": expires},
        "links": [],
        "assets": assets,
    }


def keys(services: Services, bucket: str | None = None) -> set[str]:
    return {o.key for o in services.store.list(bucket or data_bucket(services), f"o/{COLLECTION}/")}


def publish(services: Services, *items: dict) -> None:
    services.catalog.ensure_collection(COLLECTION)
    services.catalog.upsert_items(COLLECTION, list(items))


def test_only_expired_items_lose_their_objects_and_a_second_run_does_nothing(services: Services) -> None:
    past, future = (
        format_item_datetime(NOW - timedelta(days=1)),
        format_item_datetime(NOW + timedelta(days=1)),
    )
    publish(services, *(stage(services, f"old{n}", past) for n in range(3)), stage(services, "young", future))

    listed = run_expiry(services, COLLECTION, NOW, dry_run=True)
    assert sorted(e.item_id for e in listed.expired) == ["old0", "old1", "old2"]
    assert len(keys(services)) == 8, "a dry run deletes nothing"

    report = run_expiry(services, COLLECTION, NOW)
    assert (report.objects_deleted, report.failures, report.problems) == (6, [], [])
    assert report.bytes == sum(e.bytes for e in listed.expired) > 0
    assert keys(services) == {f"o/{COLLECTION}/young/young-{n}.bin" for n in range(2)}
    for n in range(3):
        item = services.catalog.get_item(COLLECTION, f"old{n}")
        assert item is not None and item["assets"] == {}
        assert item["properties"]["unpublished"] == format_item_datetime(NOW)
    young = services.catalog.get_item(COLLECTION, "young")
    assert young is not None and len(young["assets"]) == 2 and "unpublished" not in young["properties"]

    again = run_expiry(services, COLLECTION, NOW)
    assert (again.expired, again.objects_deleted) == ([], 0)


def test_a_run_killed_after_its_commit_point_is_finished_by_the_next(services: Services) -> None:
    past = format_item_datetime(NOW - timedelta(days=1))
    publish(services, stage(services, "a", past), stage(services, "b", past))
    real = services.store.delete_many
    services.store.delete_many = lambda *_: (_ for _ in ()).throw(SystemExit("killed"))  # type: ignore[method-assign]
    with pytest.raises(SystemExit):
        run_expiry(services, COLLECTION, NOW)
    services.store.delete_many = real  # type: ignore[method-assign]
    for item_id in ("a", "b"):
        item = services.catalog.get_item(COLLECTION, item_id)
        assert item is not None and item["properties"].get("unpublished") and item["assets"] == {}
    assert len(keys(services)) == 4, "the items are marked; their objects wait for the next run"

    finished = run_expiry(services, COLLECTION, NOW)
    assert (finished.resumed, finished.objects_deleted) == (2, 4)
    assert keys(services) == set()
    assert services.store.read(services.bookkeeping, plan_key(COLLECTION)) is None


def test_a_catalog_outage_deletes_nothing_and_the_next_run_completes(services: Services) -> None:
    past = format_item_datetime(NOW - timedelta(days=1))
    publish(services, stage(services, "a", past))
    real = services.catalog.upsert_items

    def down(*_: object) -> int:
        raise CatalogError("catalog down")

    services.catalog.upsert_items = down  # type: ignore[method-assign]
    with pytest.raises(CatalogError):
        run_expiry(services, COLLECTION, NOW)
    services.catalog.upsert_items = real  # type: ignore[method-assign]
    assert len(keys(services)) == 2
    resumed = run_expiry(services, COLLECTION, NOW)
    assert (resumed.resumed, resumed.objects_deleted) == (0, 2)
    assert keys(services) == set()


def test_bad_items_are_reported_one_by_one_and_nothing_outside_the_buckets_is_deleted(
    services: Services,
) -> None:
    past = format_item_datetime(NOW - timedelta(days=1))
    other = f"exp-other-{data_bucket(services).removeprefix('exp-data-')}"
    publish(
        services,
        stage(services, "bad-date", "0000-soon"),
        stage(services, "elsewhere", past, bucket=other),
        stage(services, "fine", past),
    )
    report = run_expiry(services, COLLECTION, NOW)
    assert [e.item_id for e in report.expired] == ["fine"]
    assert any("bad-date" in p and "not a date" in p for p in report.problems), report.problems
    assert any("elsewhere" in p and "outside the configured buckets" in p for p in report.problems)
    assert len(keys(services, other)) == 2, "nothing deleted outside the configured buckets"
    assert {k.split("/")[2] for k in keys(services)} == {"bad-date"}
    with pytest.raises(RsAssetsError, match="does not exist"):
        run_expiry(services, "no-such-collection", NOW)


def test_storage_usage_counts_items_objects_and_what_expires_soon(services: Services) -> None:
    in_hours = format_item_datetime(datetime.now(UTC) + timedelta(hours=12))
    in_days = format_item_datetime(datetime.now(UTC) + timedelta(days=3))
    far = format_item_datetime(datetime.now(UTC) + timedelta(days=30))
    soon, later, kept = (
        stage(services, "soon", in_hours),
        stage(services, "later", in_days),
        stage(services, "kept", far),
    )
    publish(services, soon, later, kept)
    services.store.put(data_bucket(services), "o/orphan", b"x" * 7, hashlib.md5(b"x" * 7).hexdigest())

    report = storage_report(services, datetime.now(UTC))
    usage = next(c for c in report.collections if c.collection.endswith(COLLECTION))
    size = {i["id"]: sum(a["file:size"] for a in i["assets"].values()) for i in (soon, later, kept)}
    assert (usage.items, usage.unpublished, usage.bytes) == (3, 0, sum(size.values()))
    assert (usage.expiring_day, usage.expiring_week) == (size["soon"], size["soon"] + size["later"])
    bucket = next(b for b in report.buckets if b.bucket == data_bucket(services))
    assert (bucket.objects, bucket.bytes) == (7, sum(size.values()) + 7), (
        "the orphan shows in the bucket only"
    )


def test_the_storage_usage_asset_records_its_counts_as_numbers(
    s3_endpoint: str, tmp_path: Path, unique: str
) -> None:
    import dagster as dg

    from rs_assets.assets.lifecycle import storage_usage
    from rs_assets.resources import CatalogResource, ObjectStorage
    from tests.conftest import TEST_S3_KEYS

    data, system = f"use-data-{unique}", f"use-sys-{unique}"
    client = s3_client(s3_endpoint)
    for bucket in (data, system):
        client.create_bucket(Bucket=bucket)
    client.put_object(Bucket=data, Key="o/s1-aux/x/x.EOF", Body=b"y" * 11)
    rules = tmp_path / "rules.csv"
    rules.write_text(f"*,*,*,30,{data}\n")
    catalog = CatalogResource(backend="sqlite", sqlite_path=str(tmp_path / "c.sqlite"), owner="use")
    item = {
        "type": "Feature", "stac_version": "1.1.0", "stac_extensions": [], "id": "x", "geometry": None,
        "properties": {"datetime": "2026-11-01T00:00:00.000Z", "expires": "2099-01-01T00:00:00.000Z"},
        "links": [], "assets": {"x.EOF": {"href": f"s3://{data}/o/s1-aux/x/x.EOF", "file:size": 11}},
    }  # fmt: skip
    cat = catalog.catalog()
    cat.ensure_collection("s1-aux")
    cat.upsert_items("s1-aux", [item])
    storage = ObjectStorage(
        endpoint_url=s3_endpoint,
        region_name="us-east-1",
        aws_access_key_id=TEST_S3_KEYS[0],
        aws_secret_access_key=TEST_S3_KEYS[1],
        bucket=system,
        bucket_rules_file=str(rules),
    )
    result = dg.materialize([storage_usage], resources={"storage": storage, "catalog": catalog})
    metadata = {
        k: v.value for k, v in result.get_asset_materialization_events()[0].materialization.metadata.items()
    }
    assert metadata["items/use:s1-aux"] == 1 and metadata["bytes/use:s1-aux"] == 11
    assert metadata[f"objects/{data}"] == 1 and metadata["bytes_in_buckets"] == 11
    assert metadata["expiring_within_a_week"] == 0
