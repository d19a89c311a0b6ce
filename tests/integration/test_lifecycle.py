"""The lifecycle against SeaweedFS and both catalog backends: expiry (only expired items lose their objects, and are
marked; a cleanup killed with SIGKILL leaves every item truthful), the orphan sweep and storage accounting."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from rs_assets.core.catalog import Catalog, OwnerNamespace, SqliteCatalog, StacApiCatalog
from rs_assets.core.catalog.mapping import CollectionNames, tombstone
from rs_assets.core.errors import CatalogError, RsAssetsError
from rs_assets.core.lifecycle.accounting import storage_report
from rs_assets.core.lifecycle.expiry import plan_key, run_expiry
from rs_assets.core.lifecycle.sweep import sweep
from rs_assets.core.services import Placement, Services
from rs_assets.core.storage.bucket_rules import BucketRules
from rs_assets.core.storage.ledger import ManifestEntry, manifest_key, write_manifest
from rs_assets.core.storage.object_store import ObjectStore
from rs_assets.core.storage.transfer import Transfer, TransferSettings
from rs_assets.core.timeutil import format_item_datetime, utcnow
from tests.conftest import TEST_S3_KEYS
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


def put(services: Services, key: str, body: bytes = b"z" * 5, bucket: str | None = None) -> None:
    services.store.put(bucket or data_bucket(services), key, body, hashlib.md5(body).hexdigest())


def test_the_sweep_finds_a_planted_orphan_and_leaves_every_named_object_alone(services: Services) -> None:
    future = format_item_datetime(NOW + timedelta(days=30))
    bucket = data_bucket(services)
    plain = stage(services, "plain", future)
    unpacked = stage(services, "unpacked", future)
    unpacked["assets"] = {"product": {"href": f"s3://{bucket}/o/{COLLECTION}/unpacked/", "roles": ["data"]}}
    put(services, f"o/{COLLECTION}/store.zarr/zarr.json")
    put(services, f"o/{COLLECTION}/store.zarr/measurements/c/0")
    store = {**stage(services, "store", future, files=0)}
    store["assets"] = {"product": {"href": f"s3://{bucket}/o/{COLLECTION}/store.zarr", "roles": ["data"]}}
    pending = stage(services, "pending", future)  # staged, its publication still to come
    converted = stage(services, "converted", future)  # superseded, killed before its objects were deleted
    publish(services, plain, unpacked, store, tombstone(converted, NOW, "https://catalog/items/zarr"))
    ledger = manifest_key("PRIP/prip_products", "2026-11-01")
    write_manifest(
        services.store,
        services.bookkeeping,
        ledger,
        [ManifestEntry(COLLECTION, pending), ManifestEntry(COLLECTION, converted)],
    )
    put(services, f"o/{COLLECTION}/planted.bin")
    put(services, f"o/{COLLECTION}/store.zarr2/zarr.json")  # beside a store, not in it
    put(services, "_rs-assets/notes.json")
    other = f"exp-other-{bucket.removeprefix('exp-data-')}"
    put(services, "o/elsewhere.bin", bucket=other)
    upload = services.store.start_multipart(bucket, f"o/{COLLECTION}/never-completed.bin", {})
    before = keys(services)

    young = sweep(services, utcnow(), timedelta(hours=1))
    assert (young.orphans, young.stale_uploads) == ([], []), (
        "nothing younger than the grace period is a candidate"
    )

    later = utcnow() + timedelta(hours=2)
    listed = sweep(services, later, timedelta(hours=1))
    orphans = {o.key for o in listed.orphans}
    assert orphans == {
        f"o/{COLLECTION}/planted.bin",
        f"o/{COLLECTION}/store.zarr2/zarr.json",
        *(f"o/{COLLECTION}/converted/converted-{n}.bin" for n in range(2)),
    }
    assert [u.upload_id for u in listed.stale_uploads] == [upload]
    assert keys(services) == before and listed.deleted == 0, "listing deletes nothing"

    applied = sweep(services, later, timedelta(hours=1), apply=True)
    assert (applied.deleted, applied.aborted, applied.failures) == (4, 1, [])
    assert keys(services) == before - orphans, "every named object stays"
    assert services.store.read(bucket, "_rs-assets/notes.json") is not None
    assert services.store.read(other, "o/elsewhere.bin") is not None, (
        "nothing outside the rules' buckets is touched"
    )
    assert list(services.store.uploads(bucket)) == []


def test_a_sweep_that_cannot_read_the_catalog_deletes_nothing(services: Services) -> None:
    put(services, f"o/{COLLECTION}/planted.bin")
    real = services.catalog.search

    def down(*_: object, **__: object) -> list:
        raise CatalogError("catalog down")

    services.catalog.ensure_collection(COLLECTION)
    services.catalog.search = down  # type: ignore[method-assign]
    with pytest.raises(CatalogError):
        sweep(services, utcnow() + timedelta(hours=2), timedelta(hours=1), apply=True)
    services.catalog.search = real  # type: ignore[method-assign]
    assert keys(services) == {f"o/{COLLECTION}/planted.bin"}


def cli_env(services: Services, tmp_path: Path) -> dict[str, str]:
    rules = tmp_path / "rules.csv"
    rules.write_text(f"*,*,*,30,{data_bucket(services)}\n")
    catalog = services.catalog
    return {
        **os.environ,
        "RS_ASSETS_S3_ENDPOINT": services.store.client.meta.endpoint_url,
        "RS_ASSETS_STAGING_BUCKET": services.bookkeeping,
        "RS_ASSETS_BUCKET_RULES": str(rules),
        "RS_ASSETS_CATALOG_URL": catalog.url if isinstance(catalog, StacApiCatalog) else "",
        "RS_ASSETS_DATA_DIR": str(tmp_path),  # the SQLite catalog is its catalog.sqlite
        "RS_ASSETS_OWNER": catalog.naming.owner,
        "AWS_ACCESS_KEY_ID": TEST_S3_KEYS[0],
        "AWS_SECRET_ACCESS_KEY": TEST_S3_KEYS[1],
    }


def stage_many(services: Services, prefix: str, count: int, expires: str) -> list[dict]:
    with ThreadPoolExecutor(16) as pool:
        return list(pool.map(lambda n: stage(services, f"{prefix}{n:05d}", expires), range(count)))


def gone(services: Services, key: str) -> bool:
    return services.store.head(data_bucket(services), key) is None


def wait_for[T](process: subprocess.Popen, check: Callable[[], T]) -> T:
    """Poll ``check`` until it holds; the process must still be running then, or the moment was missed."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        found = check()
        assert process.poll() is None, f"the cleanup ended first: {process.stdout.read()!r}"  # type: ignore[union-attr]
        if found:
            return found
        time.sleep(0.005)
    raise AssertionError("the cleanup never got there within 120 s")


@pytest.mark.parametrize("moment", ["plan written", "objects being deleted"])
def test_a_cleanup_killed_with_sigkill_and_run_again_leaves_every_item_truthful(
    services: Services, tmp_path: Path, moment: str
) -> None:
    past, future = (
        format_item_datetime(utcnow() - timedelta(days=1)),
        format_item_datetime(NOW + timedelta(days=900)),
    )
    expired = stage_many(services, "old", 1500, past)
    kept = stage_many(services, "new", 100, future)
    publish(services, *expired, *kept)
    command = [
        sys.executable,
        "-m",
        "rs_assets.cli",
        "lifecycle",
        "run",
        "--collection",
        COLLECTION,
        "--json",
    ]
    env = cli_env(services, tmp_path)
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    plan = wait_for(process, lambda: services.store.read(services.bookkeeping, plan_key(COLLECTION)))
    if moment == "objects being deleted":
        first = json.loads(plan)[0]["objects"][0][1]  # in the first batch the cleanup sends
        wait_for(process, lambda: gone(services, first))
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=30)

    on_s3 = keys(services)
    items = services.catalog.search([COLLECTION])
    assert len(items) == 1600
    for item in items:
        unpublished = item["properties"].get("unpublished")
        missing = [a["href"] for a in item["assets"].values() if a["href"].split("/", 3)[3] not in on_s3]
        assert unpublished or not missing, f"{item['id']} points at deleted objects: {missing[:2]}"
        if item["id"].startswith("new"):
            assert not unpublished and not missing, f"{item['id']} has not expired"

    finished = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert finished.returncode == 0, finished.stdout + finished.stderr
    assert keys(services) == {k for k in on_s3 if k.split("/")[2].startswith("new")}
    marked = [i for i in services.catalog.search([COLLECTION]) if i["properties"].get("unpublished")]
    assert sorted(i["id"] for i in marked) == sorted(i["id"] for i in expired)
    assert all(i["assets"] == {} for i in marked)
    assert services.store.read(services.bookkeeping, plan_key(COLLECTION)) is None


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


def dagster_resources(s3_endpoint: str, tmp_path: Path, unique: str) -> tuple[dict, str]:
    """Storage and catalog resources over a fresh data bucket (the rules' only one) and system bucket."""
    from rs_assets.resources import CatalogResource, ObjectStorage

    data, system = f"use-data-{unique}", f"use-sys-{unique}"
    client = s3_client(s3_endpoint)
    for bucket in (data, system):
        client.create_bucket(Bucket=bucket)
    rules = tmp_path / "rules.csv"
    rules.write_text(f"*,*,*,30,{data}\n")
    storage = ObjectStorage(
        endpoint_url=s3_endpoint,
        region_name="us-east-1",
        aws_access_key_id=TEST_S3_KEYS[0],
        aws_secret_access_key=TEST_S3_KEYS[1],
        bucket=system,
        bucket_rules_file=str(rules),
    )
    catalog = CatalogResource(backend="sqlite", sqlite_path=str(tmp_path / "c.sqlite"), owner="use")
    return {"storage": storage, "catalog": catalog}, data


def test_the_storage_usage_asset_records_its_counts_as_numbers(
    s3_endpoint: str, tmp_path: Path, unique: str
) -> None:
    import dagster as dg

    from rs_assets.assets.lifecycle import storage_usage

    resources, data = dagster_resources(s3_endpoint, tmp_path, unique)
    s3_client(s3_endpoint).put_object(Bucket=data, Key="o/s1-aux/x/x.EOF", Body=b"y" * 11)
    item = {
        "type": "Feature", "stac_version": "1.1.0", "stac_extensions": [], "id": "x", "geometry": None,
        "properties": {"datetime": "2026-11-01T00:00:00.000Z", "expires": "2099-01-01T00:00:00.000Z"},
        "links": [], "assets": {"x.EOF": {"href": f"s3://{data}/o/s1-aux/x/x.EOF", "file:size": 11}},
    }  # fmt: skip
    cat = resources["catalog"].catalog()
    cat.ensure_collection("s1-aux")
    cat.upsert_items("s1-aux", [item])
    result = dg.materialize([storage_usage], resources=resources)
    metadata = {
        k: v.value for k, v in result.get_asset_materialization_events()[0].materialization.metadata.items()
    }
    assert metadata["items/use:s1-aux"] == 1 and metadata["bytes/use:s1-aux"] == 11
    assert metadata[f"objects/{data}"] == 1 and metadata["bytes_in_buckets"] == 11
    assert metadata["expiring_within_a_week"] == 0


def test_the_sweep_job_lists_orphans_by_default_and_deletes_them_when_its_config_says_apply(
    s3_endpoint: str, tmp_path: Path, unique: str
) -> None:
    from rs_assets.assets.lifecycle import lifecycle_sweep

    resources, data = dagster_resources(s3_endpoint, tmp_path, unique)
    s3_client(s3_endpoint).put_object(Bucket=data, Key="o/s1-aux/orphan.bin", Body=b"y" * 11)
    time.sleep(1.1)  # S3 keeps modification times in seconds

    def run(**config: object) -> dict:
        result = lifecycle_sweep.execute_in_process(
            run_config={"ops": {"sweep_orphans": {"config": {"grace_hours": 0, **config}}}},
            resources=resources,
        )
        event = next(e for e in result.all_node_events if e.event_type_value == "STEP_OUTPUT")
        return {k: v.value for k, v in event.step_output_data.metadata.items()}  # type: ignore[union-attr]

    listed = run()
    assert (listed["orphans"], listed["orphan_bytes"], listed["objects_deleted"]) == (1, 11, 0)
    assert "orphan.bin" in str(listed["first_orphans"])
    applied = run(apply=True)
    assert (applied["orphans"], applied["objects_deleted"]) == (1, 1)
    assert run()["orphans"] == 0
