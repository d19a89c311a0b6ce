"""AUX files end to end against the simulator, SeaweedFS and the STAC API on PostgreSQL."""

from __future__ import annotations

import hashlib
import warnings
from datetime import timedelta
from pathlib import Path

import dagster as dg
import pytest

from rs_assets.assets.auxip import build_auxip
from rs_assets.assets.partitions import daily_partitions
from rs_assets.core.archives.unpack import strip_archive_suffix
from rs_assets.core.catalog import OwnerNamespace, StacApiCatalog
from rs_assets.core.catalog.mapping import product_item_id
from rs_assets.simulator.config import Faults, SimStation
from rs_assets.simulator.content import archive_members, nested_member, nested_members
from rs_assets.simulator.server import StationSimulator
from tests.conftest import HISTORY_END, SimulatorFactory
from tests.integration.platform import Platform, make_platform, metadata
from tests.stac_schemas import assert_publishable

DAY = (HISTORY_END - timedelta(days=1)).date()
AUX = build_auxip(["ADGS"], daily_partitions("2026-11-01"))
ASSETS = {a.key.to_user_string(): a for a in AUX.assets or []}  # type: ignore[union-attr]


def materialize(
    platform: Platform, *names: str, catalog_url: str | None = None, config: dict | None = None
) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [ASSETS[n] for n in names],
        partition_key=DAY.isoformat(),
        resources=platform.resources(catalog_url=catalog_url),
        run_config={"ops": {"adgs__aux_files": {"config": config}}} if config else None,
        raise_on_error=False,
    )


def day_products(sim: StationSimulator) -> list[dict]:
    products, _ = sim.data.stations["ADGS"].entity_set("Products", sim.data.now())
    return [p for p in products if p["PublicationDate"].startswith(DAY.isoformat())]


def downloads(sim: StationSimulator) -> list[str]:
    return [r["path"] for r in sim.requests if r["path"].endswith("$value")]


@pytest.fixture
def sim(simulator_factory: SimulatorFactory) -> StationSimulator:
    return simulator_factory(
        SimStation(name="ADGS", kind="auxip", products_per_day=240, days=2, product_scale=0.1)
    )


@pytest.fixture
def platform(
    s3_endpoint: str, stac_api_url: str, tmp_path: Path, unique: str, sim: StationSimulator
) -> Platform:
    return make_platform(s3_endpoint, stac_api_url, tmp_path, unique, sim)


def catalog_of(platform: Platform) -> StacApiCatalog:
    assert platform.catalog_url
    return StacApiCatalog(platform.catalog_url, OwnerNamespace(owner=platform.owner))


def test_a_day_is_staged_verified_and_published_once(sim: StationSimulator, platform: Platform) -> None:
    products = day_products(sim)
    assert len(products) == 240
    result = materialize(platform, "adgs/aux_files", "adgs/aux_catalog")
    assert result.success
    staged = metadata(result, "adgs/aux_files")
    assert (staged["count"], staged["staged"], staged["skipped"], staged["failed"]) == (240, 240, 0, 0)
    assert staged["bytes"] == sum(p["ContentLength"] for p in products)

    keys = platform.listing()
    expected = {}
    for p in products:
        mission = p["Name"][1]
        expected[f"{platform.owner}/s{mission}-aux/{product_item_id(p['Name'])}/{p['Name']}"] = p
    assert set(keys) == set(expected)
    for key, product in expected.items():
        assert hashlib.md5(platform.read(key)).hexdigest() == product["Checksum"][0]["Value"]

    published = metadata(result, "adgs/aux_catalog")
    assert published["published"] == 240 and published["already_published"] == 0
    catalog = catalog_of(platform)
    for mission in "123":
        names = [product_item_id(p["Name"]) for p in products if p["Name"][1] == mission]
        assert catalog.existing_ids(f"s{mission}-aux", names) == set(names)
    one = products[0]
    item = catalog.get_item(f"s{one['Name'][1]}-aux", product_item_id(one["Name"]))
    assert item is not None
    assert_publishable(item)
    asset = item["assets"][one["Name"]]
    assert (
        asset["href"]
        == f"s3://{platform.data_bucket}/{platform.owner}/s{one['Name'][1]}-aux/{product_item_id(one['Name'])}/{one['Name']}"
    )
    assert asset["file:checksum"] == "d510" + one["Checksum"][0]["Value"]

    before = len(downloads(sim))
    again = materialize(platform, "adgs/aux_files", "adgs/aux_catalog")
    assert again.success
    second = metadata(again, "adgs/aux_files")
    assert (second["staged"], second["skipped"], second["bytes"]) == (0, 240, 0)
    assert metadata(again, "adgs/aux_catalog")["published"] == 0
    assert len(downloads(sim)) == before
    assert set(platform.listing()) == set(expected)


def test_run_config_filters_by_product_type_and_mission(sim: StationSimulator, platform: Platform) -> None:
    result = materialize(
        platform, "adgs/aux_files", config={"product_types": ["AUX_CAL", "AUX_PP2"], "missions": ["S1"]}
    )
    assert result.success
    wanted = [
        p
        for p in day_products(sim)
        if p["Name"].split("_")[2] in ("CAL", "PP2") and p["Name"].startswith("S1")
    ]
    assert metadata(result, "adgs/aux_files")["staged"] == len(wanted) > 0
    assert {k.rsplit("/", 1)[1] for k in platform.listing()} == {p["Name"] for p in wanted}


def test_faults_on_a_fifth_of_requests_lose_nothing(
    simulator_factory: SimulatorFactory, s3_endpoint: str, stac_api_url: str, tmp_path: Path, unique: str
) -> None:
    faults = Faults(error_rate=0.08, throttle_rate=0.06, retry_after=0, drop_rate=0.2, drop_after_bytes=1500)
    sim = simulator_factory(
        SimStation(name="ADGS", kind="auxip", products_per_day=60, days=2, product_scale=0.2, faults=faults)
    )
    platform = make_platform(s3_endpoint, stac_api_url, tmp_path, unique, sim)
    result = materialize(platform, "adgs/aux_files", "adgs/aux_catalog")
    assert result.success, [e.message for e in result.all_events if e.is_failure]
    products = day_products(sim)
    keys = platform.listing()
    assert len(keys) == len(products) == 60
    by_name = {k.rsplit("/", 1)[1]: k for k in keys}
    for p in products:
        assert hashlib.md5(platform.read(by_name[p["Name"]])).hexdigest() == p["Checksum"][0]["Value"]
    statuses = [r for r in sim.requests if r["station"] == "ADGS"]
    assert len(statuses) > 60  # faults really happened and were retried
    catalog = catalog_of(platform)
    found = sum(
        len(catalog.existing_ids(f"s{m}-aux", [product_item_id(p["Name"]) for p in products])) for m in "123"
    )
    assert found == 60


def test_catalog_down_then_publication_catches_up_without_downloading(
    sim: StationSimulator, platform: Platform
) -> None:
    down = materialize(platform, "adgs/aux_files", "adgs/aux_catalog", catalog_url="http://127.0.0.1:9")
    staged = metadata(down, "adgs/aux_files")
    assert staged["staged"] == 240
    assert not down.success
    assert not [
        e
        for e in down.get_asset_materialization_events()
        if e.asset_key.to_user_string() == "adgs/aux_catalog"
    ]
    before = len(downloads(sim))
    caught_up = materialize(platform, "adgs/aux_catalog")
    assert caught_up.success
    assert metadata(caught_up, "adgs/aux_catalog")["published"] == 240
    assert len(downloads(sim)) == before


def test_a_rerun_never_republishes_an_item_whose_objects_went_with_it(
    sim: StationSimulator, platform: Platform
) -> None:
    assert materialize(platform, "adgs/aux_files", "adgs/aux_catalog").success
    products = day_products(sim)
    catalog = catalog_of(platform)
    (gone, kept) = [(p["Name"][1], product_item_id(p["Name"]), p["Name"]) for p in products[:2]]
    for mission, item_id, _ in (gone, kept):  # removed by a step that superseded them, or by an operator
        assert catalog.delete_item(f"s{mission}-aux", item_id)
    key = f"{platform.owner}/s{gone[0]}-aux/{gone[1]}/{gone[2]}"
    platform.s3.delete_object(Bucket=platform.data_bucket, Key=key)

    result = materialize(platform, "adgs/aux_files", "adgs/aux_catalog")
    assert not result.success
    failure = result.get_step_failure_events()[0].step_failure_data.error
    assert failure is not None and key in failure.message and gone[1] in failure.message
    assert catalog.get_item(f"s{gone[0]}-aux", gone[1]) is None, "not resurrected without its object"
    assert catalog.get_item(f"s{kept[0]}-aux", kept[1]) is not None, "its object is there: published again"
    assert len(downloads(sim)) == len(products), "nothing downloaded again"


def test_archives_are_normalized_with_exact_listings(
    simulator_factory: SimulatorFactory, s3_endpoint: str, stac_api_url: str, tmp_path: Path, unique: str
) -> None:
    sim = simulator_factory(
        SimStation(name="ADGS", kind="auxip", products_per_day=30, days=2, product_scale=0.05)
    )
    platform = make_platform(s3_endpoint, stac_api_url, tmp_path, unique, sim)
    result = materialize(platform, "adgs/aux_files", "adgs/aux_catalog", "adgs/aux_unpacked")
    assert result.success, [e.message for e in result.all_events if e.is_failure]
    products = day_products(sim)
    seed = sim.data.stations["ADGS"].seed
    expected: set[str] = set()
    archives = 0
    for p in products:
        name = p["Name"]
        base = f"{platform.owner}/s{name[1]}-aux/{product_item_id(name)}"
        stem = strip_archive_suffix(name)
        if stem == name:
            expected.add(f"{base}/{name}")
            continue
        archives += 1
        members = archive_members(name, seed, 0.05)
        relative = [m.split("/", 1)[1] for m in members]
        nested = nested_member(name, seed)
        if nested:
            folder = nested.rsplit("/", 1)[0]
            relative += [f"{folder}/{m}" for m in nested_members(name, seed)]
        expected |= {f"{base}/{stem}/{r}" for r in relative}
    assert archives > 5
    assert set(platform.listing()) == expected
    meta = metadata(result, "adgs/aux_unpacked")
    assert meta["normalized"] == archives and meta["nested_archives"] > 0
    catalog = catalog_of(platform)
    archived = next(p for p in products if strip_archive_suffix(p["Name"]) != p["Name"])
    item = catalog.get_item(f"s{archived['Name'][1]}-aux", product_item_id(archived["Name"]))
    assert item is not None
    assert_publishable(item)
    stem = strip_archive_suffix(archived["Name"])
    assert list(item["assets"]) == [stem]
    folder = f"{platform.owner}/s{archived['Name'][1]}-aux/{product_item_id(archived['Name'])}"
    assert item["assets"][stem]["href"] == f"s3://{platform.data_bucket}/{folder}/{stem}/"
    rerun = materialize(platform, "adgs/aux_unpacked")
    assert rerun.success and metadata(rerun, "adgs/aux_unpacked")["normalized"] == 0
    assert set(platform.listing()) == expected


def test_publication_follows_staging_for_past_days_too(sim: StationSimulator, platform: Platform) -> None:
    """Declarative automation picks up every staged day, not only the latest (what eager() alone would do)."""
    instance = dg.DagsterInstance.ephemeral()
    defs = dg.Definitions(assets=list(ASSETS.values()), resources=platform.resources())  # type: ignore[arg-type]
    with warnings.catch_warnings():
        # Dagster's own evaluator passes one of its beta parameters internally; that is not our usage.
        warnings.simplefilter("ignore", dg.BetaWarning)
        baseline = dg.evaluate_automation_conditions(defs=defs, instance=instance)
        staged = dg.materialize(
            [ASSETS["adgs/aux_files"]],
            partition_key=DAY.isoformat(),
            resources=platform.resources(),
            instance=instance,
        )
        assert staged.success
        result = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=baseline.cursor)
    assert set(result.get_requested_partitions(dg.AssetKey(["adgs", "aux_catalog"]))) == {DAY.isoformat()}
    # Normalization is requested with it: one run publishes, then normalizes, in dependency order.
    assert set(result.get_requested_partitions(dg.AssetKey(["adgs", "aux_unpacked"]))) == {DAY.isoformat()}


def expire_now(platform: Platform, collection: str, item_id: str) -> None:
    """What the lifecycle does to an item whose ``expires`` passed: objects deleted, item marked unpublished."""
    from rs_assets.core.lifecycle.expiry import run_expiry
    from rs_assets.core.timeutil import utcnow
    from rs_assets.resources.services import services_of

    res = platform.resources()
    services = services_of(res["storage"], res["catalog"])  # type: ignore[arg-type]
    item = services.catalog.get_item(collection, item_id)
    assert item is not None
    item["properties"]["expires"] = "2026-01-01T00:00:00.000Z"
    services.catalog.upsert_items(collection, [item])
    report = run_expiry(services, collection, utcnow())
    assert [e.item_id for e in report.expired] == [item_id]


def test_an_expired_item_is_staged_again_by_its_days_rerun_and_lives_again(
    sim: StationSimulator, platform: Platform
) -> None:
    assert materialize(platform, "adgs/aux_files", "adgs/aux_catalog").success
    product = next(p for p in day_products(sim) if not p["Name"].endswith((".zip", ".tgz", ".TGZ")))
    collection, item_id = f"s{product['Name'][1]}-aux", product_item_id(product["Name"])
    key = f"{platform.owner}/{collection}/{item_id}/{product['Name']}"
    expire_now(platform, collection, item_id)
    assert key not in platform.listing()
    before = len(downloads(sim))

    again = materialize(platform, "adgs/aux_files", "adgs/aux_catalog")
    assert again.success
    assert (
        metadata(again, "adgs/aux_files")["staged"],
        metadata(again, "adgs/aux_catalog")["published"],
    ) == (1, 1)
    assert len(downloads(sim)) == before + 1, "only the expired product is downloaded again"
    assert hashlib.md5(platform.read(key)).hexdigest() == product["Checksum"][0]["Value"]
    item = catalog_of(platform).get_item(collection, item_id)
    assert item is not None and "unpublished" not in item["properties"] and item["assets"]
    assert item["properties"]["expires"] > "2026-12-01", "a fresh expires, from this staging"
