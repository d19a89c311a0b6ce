"""CADIP sessions against the simulator in live mode, SeaweedFS and the STAC API on PostgreSQL."""

from __future__ import annotations

import json
import time
from datetime import timedelta
from pathlib import Path

import dagster as dg
import pytest

from rs_assets.assets.cadip import build_cadip, session_partitions
from rs_assets.assets.partitions import daily_partitions
from rs_assets.core.catalog import OwnerNamespace, StacApiCatalog
from rs_assets.core.errors import RsAssetsError
from rs_assets.core.staging.sessions import SessionReport, session_files_filter, stage_session
from rs_assets.core.station.client import StationClient
from rs_assets.core.timeutil import parse_datetime, utcnow
from rs_assets.resources import StationsResource
from rs_assets.resources.services import services_of
from rs_assets.simulator.config import SimStation
from tests.conftest import SimulatorFactory
from tests.integration.platform import make_platform
from tests.stac_schemas import assert_publishable

DAILY = daily_partitions("2026-11-01")
CADIP = build_cadip(["INS"], DAILY)
ASSETS = {a.key.to_user_string(): a for a in CADIP.assets or []}  # type: ignore[union-attr]
ASSET = ASSETS["ins/cadip_sessions"]
SESSIONS = session_partitions("INS")


def cadip_sensors(stations: list[str]) -> list[dg.SensorDefinition]:
    """Each station's session sensor, as the code location builds it."""
    defs = build_cadip(stations, DAILY)
    by_name = {s.name: s for s in defs.sensors or []}
    return [by_name[f"{station.lower()}_new_session_files"] for station in stations]  # type: ignore[misc]


def materialize(platform, instance: dg.DagsterInstance, key: str) -> dg.ExecuteInProcessResult:  # type: ignore[no-untyped-def]
    return dg.materialize(
        [ASSET], partition_key=key, instance=instance, resources=platform.resources(), raise_on_error=False
    )  # type: ignore[list-item]


def metadata(result: dg.ExecuteInProcessResult) -> dict:
    event = result.get_asset_materialization_events()[-1]
    return {k: v.value for k, v in event.materialization.metadata.items()}


def test_live_session_is_staged_as_it_grows_and_ends_complete(
    simulator_factory: SimulatorFactory, s3_endpoint: str, stac_api_url: str, tmp_path: Path, unique: str
) -> None:
    station = SimStation(
        name="INS", kind="cadip", sessions=0, retransfers=0, channels=2, blocks_per_channel=4, chunk_size=150_000,
        live_every=1000, live_duration=6, live_sessions=1,
    )  # fmt: skip
    sim = simulator_factory(station, live_start=utcnow() + timedelta(seconds=1))
    platform = make_platform(s3_endpoint, stac_api_url, tmp_path, unique, sim)
    sensor = cadip_sensors(["INS"])[0]
    instance = dg.DagsterInstance.ephemeral()
    cursor = None
    runs: list[dict] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with dg.build_sensor_context(
            cursor=cursor,
            instance=instance,
            resources={"stations": StationsResource(stations_file=str(platform.stations_path))},
        ) as context:
            result = sensor(context)
        assert isinstance(result, dg.SensorResult)
        cursor = result.cursor
        for request in result.dynamic_partitions_requests or []:
            instance.add_dynamic_partitions(SESSIONS.name or "", list(request.partition_keys or []))
        for run in result.run_requests or []:
            outcome = materialize(platform, instance, run.partition_key or "")
            assert outcome.success
            runs.append(metadata(outcome))
        if runs and runs[-1]["complete"]:
            break
        time.sleep(0.7)
    assert runs and runs[-1]["complete"], runs[-1]["completeness"] if runs else "no run"
    assert len(runs) >= 2  # staged while it grew, not once at the end
    assert any(not r["complete"] for r in runs[:-1])

    files, _ = sim.data.stations["INS"].entity_set("Files", sim.data.now())
    session_id = files[0]["SessionId"]
    catalog = StacApiCatalog(stac_api_url, OwnerNamespace(owner=platform.owner))
    item = catalog.get_item("s01-cadip-session", session_id)
    assert item is not None
    assert_publishable(item)
    assert sorted(item["assets"]) == sorted(f["Name"] for f in files)
    for f in files:
        key = f"{platform.owner}/s01-cadip-session/{session_id}/{f['Name']}"
        assert platform.read(key) == sim.data.pattern.read(f["Id"], 0, f["Size"])
        assert item["assets"][f["Name"]]["roles"] == ["cadu"]
    assert sum(r["staged"] for r in runs) == len(files)  # each file downloaded once


def test_retransfer_without_dates_and_unknown_session(
    simulator_factory: SimulatorFactory, s3_endpoint: str, stac_api_url: str, tmp_path: Path, unique: str
) -> None:
    sim = simulator_factory(
        SimStation(
            name="INS",
            kind="cadip",
            sessions=2,
            retransfers=1,
            channels=1,
            blocks_per_channel=2,
            chunk_size=5000,
        )
    )
    platform = make_platform(s3_endpoint, stac_api_url, tmp_path, unique, sim)
    instance = dg.DagsterInstance.ephemeral()
    retransfer = next(s for s in sim.data.stations["INS"].sessions if s["Retransfer"])
    key = retransfer["SessionId"]
    instance.add_dynamic_partitions(SESSIONS.name or "", [key, "S1A_nope"])
    result = materialize(platform, instance, key)
    assert result.success and metadata(result)["complete"]
    item = StacApiCatalog(stac_api_url, OwnerNamespace(owner=platform.owner)).get_item(
        "s01-cadip-session", retransfer["SessionId"]
    )
    assert item is not None and item["properties"]["cadip:retransfer"] is True
    assert "start_datetime" not in item["properties"] and item["properties"]["datetime"]

    unknown = materialize(platform, instance, "S1A_nope")
    assert not unknown.success
    failure = next(e for e in unknown.all_events if e.is_step_failure)
    assert "has no session 'S1A_nope'" in str(failure.event_specific_data)


def run_check(defs: dg.Definitions, instance: dg.DagsterInstance, platform) -> dg.AssetCheckEvaluation:  # type: ignore[no-untyped-def]
    check = next(iter(defs.asset_checks or []))
    asset = next(a for a in defs.assets or [] if a.key.to_user_string() == "ins/cadip_sessions")  # type: ignore[union-attr]
    result = dg.materialize(
        [asset, check],
        selection=dg.AssetSelection.checks(check),
        instance=instance,
        resources=platform.resources(),  # type: ignore[list-item]
    )
    return result.get_asset_check_evaluations()[0]


def test_eviction_watch_fails_loudly_for_a_partial_session_near_eviction(
    simulator_factory: SimulatorFactory, s3_endpoint: str, stac_api_url: str, tmp_path: Path, unique: str
) -> None:
    station = SimStation(
        name="INS", kind="cadip", sessions=0, retransfers=0, channels=1, blocks_per_channel=3, chunk_size=2000,
        live_every=1000, live_duration=60, live_sessions=1,
    )  # fmt: skip
    sim = simulator_factory(
        station, live_start=utcnow() - timedelta(seconds=20)
    )  # the first block is out, not the rest
    platform = make_platform(s3_endpoint, stac_api_url, tmp_path, unique, sim)
    instance = dg.DagsterInstance.ephemeral()
    session_id = sim.data.stations["INS"].entity_set("Sessions", sim.data.now())[0][0]["SessionId"]
    key = session_id
    instance.add_dynamic_partitions(SESSIONS.name or "", [key])
    staged = materialize(platform, instance, key)
    assert staged.success and metadata(staged)["complete"] is False

    near = run_check(build_cadip(["INS"], DAILY, timedelta(days=8)), instance, platform)
    assert near.passed is False and near.severity == dg.AssetCheckSeverity.ERROR
    assert key in near.metadata["at_risk"].value
    far = run_check(build_cadip(["INS"], DAILY, timedelta(hours=1)), instance, platform)
    assert far.passed is True


def test_discovery_backfills_a_past_day_as_session_partitions(
    simulator_factory: SimulatorFactory, s3_endpoint: str, stac_api_url: str, tmp_path: Path, unique: str
) -> None:
    sim = simulator_factory(
        SimStation(
            name="INS",
            kind="cadip",
            sessions=6,
            retransfers=1,
            channels=2,
            blocks_per_channel=2,
            chunk_size=3000,
        )
    )
    platform = make_platform(s3_endpoint, stac_api_url, tmp_path, unique, sim)
    files, _ = sim.data.stations["INS"].entity_set("Files", sim.data.now())
    day = files[0]["PublicationDate"][:10]
    expected = list(
        dict.fromkeys(
            f["SessionId"]
            for f in sorted(files, key=lambda f: f["PublicationDate"])
            if f["PublicationDate"].startswith(day)
        )
    )
    instance = dg.DagsterInstance.ephemeral()
    result = dg.materialize(
        [ASSETS["ins/cadip_discovery"], ASSET],
        selection=[ASSETS["ins/cadip_discovery"]],
        partition_key=day,
        instance=instance,
        resources=platform.resources(),
    )
    assert result.success
    keys = list(expected)
    assert instance.get_dynamic_partitions(SESSIONS.name or "") == keys
    assert instance.get_materialized_partitions(ASSET.key) == set(keys)
    catalog = StacApiCatalog(stac_api_url, OwnerNamespace(owner=platform.owner))
    assert catalog.existing_ids("s01-cadip-session", expected) == set(expected)


def tick(sensor: dg.SensorDefinition, stations_path: Path, cursor: str | None) -> dg.SensorResult:
    resources = {"stations": StationsResource(stations_file=str(stations_path))}
    with dg.build_sensor_context(
        cursor=cursor, instance=dg.DagsterInstance.ephemeral(), resources=resources
    ) as context:
        result = sensor(context)
    assert isinstance(result, dg.SensorResult)
    return result


def test_a_slow_station_does_not_hold_another_up(simulator_factory: SimulatorFactory, tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from rs_assets.simulator.config import Faults
    from tests.integration.platform import stations_file

    slow = SimStation(
        name="INS", kind="cadip", sessions=3, chunk_size=100, faults=Faults(latency=1.5, error_rate=0.3)
    )
    fast = SimStation(name="MPS", kind="cadip", profile="mps", sessions=3, chunk_size=100)
    sim = simulator_factory(slow, fast, history_end=utcnow())  # within the sensors' first look-back
    path = stations_file(sim, tmp_path / "stations.yaml")
    ins, mps = cadip_sensors(["INS", "MPS"])
    timings: dict[str, float] = {}

    def timed(name: str, sensor: dg.SensorDefinition) -> dg.SensorResult:
        started = time.monotonic()
        result = tick(sensor, path, None)
        timings[name] = time.monotonic() - started
        return result

    with ThreadPoolExecutor(2) as pool:
        slow_result, fast_result = pool.map(timed, ["INS", "MPS"], [ins, mps])
    assert timings["MPS"] < 1.0 < 1.5 < timings["INS"]
    assert len(fast_result.run_requests or []) == 3 and len(slow_result.run_requests or []) == 3


def test_restart_from_the_stored_cursor_loses_and_duplicates_nothing(
    simulator_factory: SimulatorFactory, tmp_path: Path
) -> None:
    import random

    from tests.integration.platform import stations_file

    sim = simulator_factory(
        SimStation(name="INS", kind="cadip", sessions=4, retransfers=1, chunk_size=100), history_end=utcnow()
    )
    path = stations_file(sim, tmp_path / "stations.yaml")
    first = tick(cadip_sensors(["INS"])[0], path, None)
    seen = {r.run_key for r in first.run_requests or []}
    assert len(seen) == 4

    restarted = cadip_sensors(["INS"])[
        0
    ]  # a new sensor object, as after a daemon restart: only the cursor survives
    assert tick(restarted, path, first.cursor).run_requests == []
    assert {
        r.run_key for r in tick(restarted, path, None).run_requests or []
    } == seen  # same keys: Dagster dedups

    station = sim.data.stations["INS"]
    files, _ = station.entity_set("Files", sim.data.now())
    latest = max(parse_datetime(f["PublicationDate"]) for f in files)
    station.publish_session(random.Random(3), 99, latest + timedelta(minutes=1))
    after = tick(restarted, path, first.cursor)
    new_session = max(station.sessions, key=lambda s: s["_visible"])["SessionId"]
    assert [r.partition_key for r in after.run_requests or []] == [new_session]
    assert not seen & {r.run_key for r in after.run_requests or []}


def test_an_older_listing_finishing_last_keeps_every_staged_file_in_the_item(
    simulator_factory: SimulatorFactory, s3_endpoint: str, stac_api_url: str, tmp_path: Path, unique: str
) -> None:
    sim = simulator_factory(
        SimStation(
            name="INS",
            kind="cadip",
            sessions=1,
            retransfers=0,
            channels=2,
            blocks_per_channel=3,
            chunk_size=4000,
        )
    )
    platform = make_platform(s3_endpoint, stac_api_url, tmp_path, unique, sim)
    res = platform.resources()
    stations, storage, catalog_res = res["stations"], res["storage"], res["catalog"]
    session_id = sim.data.stations["INS"].sessions[0]["SessionId"]

    def run(client: StationClient) -> SessionReport:
        return stage_session(
            client,
            services_of(storage, catalog_res),  # type: ignore[arg-type]
            session_id,
            2,
        )

    older = stations.client("INS")  # type: ignore[attr-defined]
    listing = older.files(session_files_filter(session_id))
    older.files = lambda *_, **__: listing[:2]  # type: ignore[method-assign]

    newer = run(StationClient(older.config))
    assert len(newer.staged) == 6
    late = run(older)  # listed before the newer run, finishes after it
    assert sorted(late.staged) == sorted(f.Name for f in listing[:2])

    item = StacApiCatalog(stac_api_url, OwnerNamespace(owner=platform.owner)).get_item(
        "s01-cadip-session", session_id
    )
    assert item is not None
    assert sorted(item["assets"]) == sorted(f.Name for f in listing)
    assert item["properties"]["cadip:num_channels"] == 2


def publication_sensor() -> dg.SensorDefinition:
    return next(s for s in CADIP.sensors or [] if s.name == "ins_session_publication")  # type: ignore[union-attr]


def test_sessions_left_behind_by_a_catalog_outage_are_found_and_published_without_downloading(
    simulator_factory: SimulatorFactory, s3_endpoint: str, stac_api_url: str, tmp_path: Path, unique: str
) -> None:
    sim = simulator_factory(
        SimStation(
            name="INS",
            kind="cadip",
            sessions=2,
            retransfers=0,
            channels=2,
            blocks_per_channel=3,
            chunk_size=4000,
        )
    )
    platform = make_platform(s3_endpoint, stac_api_url, tmp_path, unique, sim)
    instance = dg.DagsterInstance.ephemeral()
    first, second = (s["SessionId"] for s in sim.data.stations["INS"].sessions)
    instance.add_dynamic_partitions(SESSIONS.name or "", [first, second])
    for session_id in (first, second):
        down = dg.materialize(
            [ASSET],
            partition_key=session_id,
            instance=instance,
            resources=platform.resources(catalog_url="http://127.0.0.1:9"),
            raise_on_error=False,
        )  # type: ignore[list-item]
        assert not down.success
    catalog = StacApiCatalog(stac_api_url, OwnerNamespace(owner=platform.owner))
    assert catalog.get_item("s01-cadip-session", first) is None
    downloaded = len([r for r in sim.requests if r["path"].endswith("$value")])
    assert downloaded == 12, "every file was staged before the catalog failed"

    res = platform.resources()
    sensor = publication_sensor()
    with dg.build_sensor_context(
        instance=instance, resources={"storage": res["storage"], "catalog": res["catalog"]}
    ) as context:
        found = sensor(context)
    assert isinstance(found, dg.SensorResult)
    assert sorted(r.partition_key or "" for r in found.run_requests or []) == sorted([first, second])

    assert materialize(platform, instance, first).success  # the station still has it: the requested re-run
    evicted = stations_client(platform)
    evicted.sessions = lambda *_, **__: []  # type: ignore[method-assign]
    with pytest.raises(RsAssetsError, match="brought up to date with 6 staged files"):
        stage_session(evicted, services_of(res["storage"], res["catalog"]), second, 2)  # type: ignore[arg-type]

    assert len([r for r in sim.requests if r["path"].endswith("$value")]) == downloaded
    for session_id in (first, second):
        item = catalog.get_item("s01-cadip-session", session_id)
        assert item is not None and len(item["assets"]) == 6, session_id
        assert_publishable(item)
    with dg.build_sensor_context(
        instance=instance,
        cursor=found.cursor,
        resources={"storage": res["storage"], "catalog": res["catalog"]},
    ) as context:
        settled = sensor(context)
    assert isinstance(settled, dg.SensorResult)
    assert settled.run_requests == []
    assert sorted(json.loads(settled.cursor or "{}")) == sorted([first, second])


def stations_client(platform) -> StationClient:  # type: ignore[no-untyped-def]
    return platform.resources()["stations"].client("INS")
