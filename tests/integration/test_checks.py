"""Asset checks against real services: objects deleted behind the catalog's back fail ``objects_intact`` until a
re-stage brings them back; sessions not staged in time fail ``files_staged_in_time``; an AUX day not published by
its deadline fails ``day_published_in_time``."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from pathlib import Path

import dagster as dg
import pytest

from rs_assets.assets.auxip import build_auxip
from rs_assets.assets.cadip import build_cadip, session_partitions
from rs_assets.assets.checks import day_published_check, integrity_check, session_freshness_check
from rs_assets.assets.partitions import daily_partitions
from rs_assets.assets.stations import asset_key
from rs_assets.core.archives.unpack import strip_archive_suffix
from rs_assets.core.catalog import OwnerNamespace, StacApiCatalog
from rs_assets.core.catalog.mapping import OBJECTS_LOST, product_item_id
from rs_assets.core.lifecycle.integrity import record_key
from rs_assets.core.timeutil import last_due_day, utcnow
from rs_assets.simulator.config import SimStation
from tests.conftest import HISTORY_END, SimulatorFactory
from tests.integration.platform import Platform, make_platform

DAILY = daily_partitions("2026-11-01")
DAY = (HISTORY_END - timedelta(days=1)).date()
AUX = build_auxip(["ADGS"], DAILY)
CADIP = build_cadip(["INS"], DAILY)
ASSETS = {
    a.key.to_user_string(): a
    for a in [*(AUX.assets or []), *(CADIP.assets or [])]  # type: ignore[union-attr]
}
AUX_INTEGRITY = integrity_check(asset_key("ADGS", "aux_catalog"), "adgs/aux_files", "a run of adgs/aux_files")
SESSION_INTEGRITY = integrity_check(
    asset_key("INS", "cadip_sessions"), "ins/cadip_sessions", "the INS session publication sensor"
)


def run_check(
    platform: Platform, check: dg.AssetChecksDefinition, instance: dg.DagsterInstance | None = None
) -> dg.AssetCheckEvaluation:
    asset = ASSETS[next(iter(check.check_keys)).asset_key.to_user_string()]
    result = dg.materialize(
        [asset, check],  # type: ignore[list-item]
        selection=dg.AssetSelection.checks(check),
        instance=instance,
        resources=platform.resources(),
    )
    return result.get_asset_check_evaluations()[0]


def stage_day(platform: Platform) -> None:
    result = dg.materialize(
        [ASSETS[n] for n in ("adgs/aux_files", "adgs/aux_catalog", "adgs/aux_unpacked")],  # type: ignore[misc]
        partition_key=DAY.isoformat(),
        resources=platform.resources(),
        raise_on_error=False,
    )
    assert result.success, [e.message for e in result.all_events if e.is_failure]


def test_objects_deleted_behind_the_catalogs_back_fail_the_check_until_the_day_is_staged_again(
    simulator_factory: SimulatorFactory, s3_endpoint: str, stac_api_url: str, tmp_path: Path, unique: str
) -> None:
    sim = simulator_factory(
        SimStation(name="ADGS", kind="auxip", products_per_day=12, days=2, product_scale=0.05)
    )
    platform = make_platform(s3_endpoint, stac_api_url, tmp_path, unique, sim)
    catalog = StacApiCatalog(stac_api_url, OwnerNamespace(owner=platform.owner))
    stage_day(platform)
    healthy = run_check(platform, AUX_INTEGRITY)
    assert healthy.passed, healthy.metadata
    assert healthy.metadata["items_checked"].value == 12
    objects_before = healthy.metadata["objects_checked"].value

    products, _ = sim.data.stations["ADGS"].entity_set("Products", sim.data.now())
    day = [p for p in products if p["PublicationDate"].startswith(DAY.isoformat())]
    plain = next(p for p in day if strip_archive_suffix(p["Name"]) == p["Name"])
    archived = next(p for p in day if strip_archive_suffix(p["Name"]) != p["Name"])
    plain_id, archived_id = product_item_id(plain["Name"]), product_item_id(archived["Name"])
    plain_key = f"{platform.owner}/s{plain['Name'][1]}-aux/{plain_id}/{plain['Name']}"
    tree = f"{platform.owner}/s{archived['Name'][1]}-aux/{archived_id}/"
    member = next(k for k in platform.listing(tree))
    unpacked = platform.listing(tree)
    platform.s3.delete_object(Bucket=platform.data_bucket, Key=plain_key)
    platform.s3.delete_object(Bucket=platform.data_bucket, Key=member)

    broken = run_check(platform, AUX_INTEGRITY)
    assert broken.passed is False and broken.severity == dg.AssetCheckSeverity.ERROR
    listed = broken.metadata["broken"].value
    assert plain_key in listed and "is missing" in listed
    assert f"{archived_id}:" in listed and "the item says" in listed, (
        "a tree missing a file is short of bytes"
    )
    assert broken.metadata["partitions_to_restage"].value == [DAY.isoformat()]
    for collection, item_id in (
        (f"s{plain['Name'][1]}-aux", plain_id),
        (f"s{archived['Name'][1]}-aux", archived_id),
    ):
        item = catalog.get_item(collection, item_id)
        assert item is not None and item["properties"]["unpublished"] and item["assets"] == {}
        assert item["properties"][OBJECTS_LOST], "the catalog says what was lost"

    still = run_check(platform, AUX_INTEGRITY)
    assert still.passed is False, "marked items keep the check failing until they are staged again"
    assert platform.s3.head_object(Bucket=platform.system_bucket, Key=record_key("adgs/aux_files"))

    stage_day(platform)
    assert hashlib.md5(platform.read(plain_key)).hexdigest() == plain["Checksum"][0]["Value"]
    assert platform.listing(tree) == unpacked, "the archive was fetched and unpacked again, every file"
    again = run_check(platform, AUX_INTEGRITY)
    assert again.passed, again.metadata
    assert again.metadata["objects_checked"].value == objects_before
    item = catalog.get_item(f"s{plain['Name'][1]}-aux", plain_id)
    assert item is not None and OBJECTS_LOST not in item["properties"] and item["assets"]
    listed = platform.s3.list_objects_v2(Bucket=platform.system_bucket, Prefix=record_key("adgs/aux_files"))
    assert listed["KeyCount"] == 0, "a check that passes leaves no record"


def test_a_session_file_deleted_behind_the_catalogs_back_is_staged_again_by_its_sessions_rerun(
    simulator_factory: SimulatorFactory, s3_endpoint: str, tmp_path: Path, unique: str
) -> None:
    sim = simulator_factory(
        SimStation(name="INS", kind="cadip", sessions=1, retransfers=0, channels=2, blocks_per_channel=2, chunk_size=3000),
        history_end=utcnow(),
    )  # fmt: skip
    platform = make_platform(s3_endpoint, None, tmp_path, unique, sim)
    instance = dg.DagsterInstance.ephemeral()
    session_id = sim.data.stations["INS"].sessions[0]["SessionId"]
    instance.add_dynamic_partitions(session_partitions("INS").name or "", [session_id])

    def stage() -> None:
        result = dg.materialize(
            [ASSETS["ins/cadip_sessions"]],  # type: ignore[list-item]
            partition_key=session_id,
            instance=instance,
            resources=platform.resources(),
        )
        assert result.success

    stage()
    files = platform.listing()
    assert len(files) == 4 and run_check(platform, SESSION_INTEGRITY, instance).passed
    lost = sorted(files)[1]
    platform.s3.delete_object(Bucket=platform.data_bucket, Key=lost)

    broken = run_check(platform, SESSION_INTEGRITY, instance)
    assert broken.passed is False and lost in broken.metadata["broken"].value
    assert broken.metadata["partitions_to_restage"].value == [session_id]

    stage()
    assert platform.listing() == files
    assert run_check(platform, SESSION_INTEGRITY, instance).passed


def test_files_not_staged_in_time_fail_the_freshness_check_and_pass_once_staged(
    simulator_factory: SimulatorFactory, s3_endpoint: str, tmp_path: Path, unique: str
) -> None:
    sim = simulator_factory(
        SimStation(name="INS", kind="cadip", sessions=1, days=1, retransfers=0, channels=1, blocks_per_channel=3, chunk_size=2000),
        history_end=utcnow() + timedelta(hours=12),
    )  # fmt: skip  # the one session is at mid-history: its files came out about 15 minutes ago
    platform = make_platform(s3_endpoint, None, tmp_path, unique, sim)
    instance = dg.DagsterInstance.ephemeral()
    session_id = sim.data.stations["INS"].sessions[0]["SessionId"]
    check = session_freshness_check("INS", timedelta(minutes=5))

    late = run_check(platform, check, instance)
    assert late.passed is False and late.metadata["late_files"].value == 3
    assert session_id in late.metadata["files"].value
    assert run_check(platform, session_freshness_check("INS", timedelta(days=1)), instance).passed, (
        "files younger than the allowance are not late"
    )

    instance.add_dynamic_partitions(session_partitions("INS").name or "", [session_id])
    staged = dg.materialize(
        [ASSETS["ins/cadip_sessions"]],  # type: ignore[list-item]
        partition_key=session_id,
        instance=instance,
        resources=platform.resources(),
    )
    assert staged.success
    on_time = run_check(platform, check, instance)
    assert on_time.passed and on_time.metadata["late_files"].value == 0


@pytest.mark.parametrize("materialized", [False, True])
def test_an_aux_day_not_published_by_its_deadline_fails_the_check(
    materialized: bool, simulator_factory: SimulatorFactory, s3_endpoint: str, tmp_path: Path, unique: str
) -> None:
    sim = simulator_factory(
        SimStation(name="ADGS", kind="auxip", products_per_day=2, days=1, product_scale=0.05)
    )
    platform = make_platform(s3_endpoint, None, tmp_path, unique, sim)
    instance = dg.DagsterInstance.ephemeral()
    deadline = (utcnow().hour + 1) % 24  # whatever the time, the day due is two days back or yesterday
    due = last_due_day(utcnow(), deadline).isoformat()
    check = day_published_check(asset_key("ADGS", "aux_catalog"), "ADGS", deadline)
    if materialized:
        instance.report_runless_asset_event(
            dg.AssetMaterialization(asset_key=asset_key("ADGS", "aux_catalog"), partition=due)
        )
    evaluation = run_check(platform, check, instance)
    assert evaluation.passed is materialized
    assert evaluation.metadata["day"].value == due
    if not materialized:
        assert evaluation.description == f"ADGS {due} was not published by {deadline:02d}:00 UTC"
