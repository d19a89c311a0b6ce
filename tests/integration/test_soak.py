"""Fault-injection soak: live stations answering 10% errors, throttles and dropped bodies; a run worker killed; the
S3 server killed and restarted; the catalog locked for a minute; every Dagster process killed with SIGKILL and
started again. Then the faults stop and, with no operator action, everything settles: every item's objects are
there with their recorded size and checksum, no staged object differs from the station's, every session the
station finished is complete in the catalog, no run is left in flight, no pool slot is held, and no file was
downloaded again once it had been staged (the few in flight at a kill excepted)."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import sqlite3
import threading
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

import dagster as dg

from rs_assets.core.catalog.mapping import product_item_id
from rs_assets.core.timeutil import utcnow
from rs_assets.deployment.launcher import STARTED_PROCESS, worker_alive
from rs_assets.simulator.config import Faults, SimStation
from tests.conftest import TEST_S3_KEYS, SimulatorFactory
from tests.integration.dagster_process import (
    IN_FLIGHT,
    SeaweedFS,
    dagster_dev,
    dagster_env,
    free_port,
    instance_home,
    kill_all,
    listening,
    processes_with,
    wait_until,
)
from tests.integration.platform import make_platform, s3_client

FAULTS = Faults(error_rate=0.1, throttle_rate=0.1, retry_after=1, drop_rate=0.1, drop_after_bytes=20_000)
LIVE_SESSIONS, LIVE_EVERY, LIVE_DURATION = 3, 40.0, 40.0
PARALLEL_DOWNLOADS = 4


def worker_pid(instance: dg.DagsterInstance, run_id: str) -> int | None:
    """The pid a run's worker recorded, while that very process still runs."""
    for record in instance.all_logs(run_id, of_type=dg.DagsterEventType.ENGINE_EVENT):
        if (record.message or "").startswith(STARTED_PROCESS):
            event = record.dagster_event
            pid = event.engine_event_data.metadata.get("pid") if event and event.engine_event_data else None
            if pid is not None and worker_alive(int(str(pid.value)), record.timestamp):
                return int(str(pid.value))
    return None


def kill_a_run_worker(instance: dg.DagsterInstance) -> str | None:
    """SIGKILL the worker of a run in progress; the job's name, or None when no worker could be killed yet (runs
    of a few seconds may end between the lookup and the kill)."""
    for run in instance.get_runs(filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED])):
        pid = worker_pid(instance, run.run_id)
        if pid is None:
            continue
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            continue
        return run.job_name
    return None


def lock_catalog(path: Path, seconds: float) -> threading.Thread:
    """Hold the SQLite catalog's write lock for ``seconds``: every writer waits, or fails after its timeout."""
    locked = threading.Event()

    def hold() -> None:
        db = sqlite3.connect(path, isolation_level=None)
        db.execute("BEGIN EXCLUSIVE")
        locked.set()
        time.sleep(seconds)
        db.execute("ROLLBACK")
        db.close()

    thread = threading.Thread(target=hold, daemon=True)
    thread.start()
    locked.wait(30)
    return thread


def catalog_items(path: Path) -> dict[tuple[str, str], dict]:
    """Every item of the SQLite catalog by (collection without its owner prefix, id)."""
    if not path.exists():
        return {}
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT collection, id, body FROM items").fetchall()
    return {(c.split(":", 1)[-1], i): json.loads(b) for c, i, b in rows}


def test_under_faults_kills_and_outages_everything_settles_without_an_operator(
    simulator_factory: SimulatorFactory, tmp_path: Path, unique: str
) -> None:
    now = utcnow()
    sim = simulator_factory(
        SimStation(
            name="INS", kind="cadip", sessions=1, retransfers=0, channels=2, blocks_per_channel=3,
            chunk_size=300_000, live_every=LIVE_EVERY, live_duration=LIVE_DURATION, live_sessions=LIVE_SESSIONS,
            faults=FAULTS,
        ),
        SimStation(name="ADGS", kind="auxip", products_per_day=30, days=1, product_scale=0.05, faults=FAULTS),
        history_end=now,
        live_start=now + timedelta(seconds=40),
    )  # fmt: skip
    s3 = SeaweedFS(tmp_path / "s3", TEST_S3_KEYS).start()
    data = tmp_path / "data"
    catalog_path = data / "catalog.sqlite"
    marker = f"rs-soak-{unique}"
    log = tmp_path / "dagster.log"
    port = free_port()
    events: list[str] = []
    try:
        platform = make_platform(s3.endpoint, None, tmp_path, unique, sim)
        home = instance_home(tmp_path / "dagster")
        env = dagster_env(platform.cli_env(data), home, marker, tmp_path)
        with dg.DagsterInstance.from_config(str(home)) as instance:
            started = time.monotonic()
            with dagster_dev(env, port, log):
                wait_until("the UI", 240, lambda: listening(port), log)
                job = wait_until("a run worker killed", 240, lambda: kill_a_run_worker(instance), log, 0.2)
                events.append(f"run worker of {job} killed")
                time.sleep(15)

                s3.kill()
                events.append("S3 server killed")
                time.sleep(15)
                s3.start()
                events.append("S3 server restarted")
                time.sleep(10)

                locker = lock_catalog(catalog_path, 60)
                events.append("catalog locked for 60 s")
                time.sleep(20)
                assert kill_all(marker) > 0
                events.append("every Dagster process killed")
                wait_until("every Dagster process gone", 30, lambda: not processes_with(marker), log, 0.5)
            with dagster_dev(env, port, log):
                events.append("Dagster restarted")
                locker.join()
                time.sleep(30)
                for station in ("INS", "ADGS"):
                    sim.faults[station] = Faults()
                events.append("station faults stopped")
                faults_ended = time.monotonic()
                station_files = sim.data.stations["INS"]
                last_live = LIVE_EVERY * (LIVE_SESSIONS - 1) + LIVE_DURATION
                wait_until(
                    "the last live session published",
                    300,
                    lambda: sim.data.now() > now + timedelta(seconds=40 + last_live + 5),
                    log,
                )

                def settled() -> bool:
                    files, _ = station_files.entity_set("Files", sim.data.now())
                    items = catalog_items(catalog_path)
                    sessions = {f["SessionId"] for f in files}
                    complete = all(
                        len(items.get(("s01-cadip-session", s), {}).get("assets", {}))
                        == sum(1 for f in files if f["SessionId"] == s)
                        for s in sessions
                    )
                    products, _ = sim.data.stations["ADGS"].entity_set("Products", sim.data.now())
                    published = {i for _, i in items}
                    aux = all(product_item_id(p["Name"]) in published for p in products)
                    idle = not instance.get_runs(filters=dg.RunsFilter(statuses=IN_FLIGHT))
                    return complete and aux and idle

                wait_until("everything settling", 420, settled, log, 5)
                settle_seconds = time.monotonic() - faults_ended
            runs = Counter(
                r.status.value for r in instance.get_runs(filters=dg.RunsFilter(created_after=None))
            )
            in_flight = instance.get_runs(filters=dg.RunsFilter(statuses=IN_FLIGHT))
            storage = instance.event_log_storage
            held = {k: storage.get_concurrency_info(k).claimed_slots for k in storage.get_concurrency_keys()}
            held = {k: v for k, v in held.items() if v}

        client = s3_client(s3.endpoint)
        items = catalog_items(catalog_path)
        objects = {
            o["Key"]: o
            for page in client.get_paginator("list_objects_v2").paginate(Bucket=platform.data_bucket)
            for o in page.get("Contents", [])
        }
        missing, wrong_size, wrong_checksum, checked = [], [], [], 0
        for (collection, item_id), item in items.items():
            for asset in item.get("assets", {}).values():
                href = asset.get("href", "")
                if not href.startswith(f"s3://{platform.data_bucket}/"):
                    continue
                key = href.split("/", 3)[3]
                checked += 1
                if href.endswith("/"):  # an unpacked product: its size is its files' total
                    tree = [o["Size"] for k, o in objects.items() if k.startswith(key)]
                    if not tree:
                        missing.append(href)
                    elif "file:size" in asset and sum(tree) != asset["file:size"]:
                        wrong_size.append(href)
                    continue
                if key not in objects:
                    missing.append(f"{collection}/{item_id}: {href}")
                    continue
                if "file:size" in asset and objects[key]["Size"] != asset["file:size"]:
                    wrong_size.append(href)
                checksum = asset.get("file:checksum")
                if checksum and checksum.startswith("d510"):
                    body = client.get_object(Bucket=platform.data_bucket, Key=key)["Body"].read()
                    if hashlib.md5(body).hexdigest() != checksum[4:]:
                        wrong_checksum.append(href)

        files, _ = sim.data.stations["INS"].entity_set("Files", sim.data.now())
        products, _ = sim.data.stations["ADGS"].entity_set("Products", sim.data.now())
        station_sizes = {f["Name"]: f["Size"] for f in files} | {
            p["Name"]: p["ContentLength"] for p in products
        }
        differing = [
            k for k, o in objects.items() if k.rsplit("/", 1)[-1] in station_sizes
            and o["Size"] != station_sizes[k.rsplit("/", 1)[-1]]
        ]  # fmt: skip
        for f in files:
            key = f"{platform.owner}/s01-cadip-session/{f['SessionId']}/{f['Name']}"
            body = client.get_object(Bucket=platform.data_bucket, Key=key)["Body"].read()
            if body != sim.data.pattern.read(f["Id"], 0, f["Size"]):
                differing.append(key)
        sessions = sorted({f["SessionId"] for f in files})
        incomplete = [
            s
            for s in sessions
            if sorted(items.get(("s01-cadip-session", s), {}).get("assets", {}))
            != sorted(f["Name"] for f in files if f["SessionId"] == s)
        ]
        twice = {k: n for k, n in sim.bodies.items() if n > 1}
        kills = 3  # the run worker, the S3 server, every Dagster process
        print(
            "\nsoak: " + "; ".join(events)
            + f"\n  settled {settle_seconds:.0f} s after the station faults stopped ({time.monotonic() - started:.0f} s in all)"
            + f"\n  runs: {dict(runs)}; in flight at the end: {len(in_flight)}; pool slots held: {held}"
            + f"\n  items: {len(items)}; objects checked: {checked}; missing: {len(missing)}; wrong size: "
            f"{len(wrong_size)}; wrong checksum: {len(wrong_checksum)}"
            + f"\n  staged objects differing from the station: {len(differing)}"
            + f"\n  sessions: {len(sessions)}, incomplete in the catalog: {len(incomplete)}"
            + f"\n  station requests: {dict(sim.counts)}; files and products downloaded: {len(sim.bodies)}, "
            f"more than once: {len(twice)} (bound: {PARALLEL_DOWNLOADS * kills} in flight at the kills)"
        )  # fmt: skip
        assert (missing, wrong_size, wrong_checksum, differing, incomplete) == ([], [], [], [], [])
        assert in_flight == [] and held == {}
        assert runs["FAILURE"] >= 1, "the killed run worker's run was failed by run monitoring"
        assert len(twice) <= PARALLEL_DOWNLOADS * kills, twice
        assert all(n <= 2 for n in twice.values()), twice
        assert sum(1 for k in items if k[0] == "s01-cadip-session") == len(sessions) >= 1 + LIVE_SESSIONS
    finally:
        kill_all(marker)
        s3.stop()
