"""The production topology as ``scripts/prod`` starts it: Dagster on PostgreSQL with the code location as a gRPC
code server and the daemon and webserver as processes of their own, conversions and processing on a Dask
scheduler with two single-threaded workers, the STAC API on PostgreSQL, SeaweedFS and the simulator.

Sensors stage sessions and AUX days; the PRIP's real GRD product is converted and terrain-corrected on the
workers; no pool ever holds more steps than its limit. Then faults: a Dask worker killed mid-conversion (the
product ends converted once), the code server killed and started again (sensors resume from their cursors, no
duplicate runs or items), SeaweedFS killed during a session's staging run (Dagster's run retries finish it)."""

from __future__ import annotations

import os
import signal
import subprocess
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import dagster as dg
import pytest
import requests
import yaml

from rs_assets.core.catalog import OwnerNamespace, StacApiCatalog
from rs_assets.core.timeutil import format_item_datetime, utcnow
from rs_assets.settings import SIMULATOR_PASSWORD_ENV, SIMULATOR_SECRET_ENV
from tests.integration.dagster_process import ROOT, listening, seaweed_ports, wait_until

pytest.importorskip("sarsen", reason="the processing extra is installed by scripts/test")

LIVE_EVERY, LIVE_DURATION, LIVE_SESSIONS = 60.0, 30.0, 5
S3_OUTAGE = 45.0
POOLS = {
    "station-INS": 1,
    "station-ADGS": 1,
    "station-PRIP": 1,
    "catalog": 1,
    "conversion": 2,
    "processing": 2,
}
POOL_QUERY = "{ assetNodes { opNames pools } }"
SESSION_JOB = "ins_session_staging"


@dataclass
class Topology:
    data: Path
    ports: dict[str, int]
    process: subprocess.Popen
    log: Path
    restarted: list[subprocess.Popen] = field(default_factory=list)

    @property
    def catalog(self) -> StacApiCatalog:
        return StacApiCatalog(f"http://127.0.0.1:{self.ports['stac']}", OwnerNamespace(owner="copernicus"))

    @property
    def dask(self) -> str:
        return f"tcp://127.0.0.1:{self.ports['dask']}"

    def instance(self) -> dg.DagsterInstance:
        os.environ["RS_ASSETS_DAGSTER_PG_URL"] = (
            f"postgresql://postgres:postgres@127.0.0.1:{self.ports['pg']}/dagster"
        )
        return dg.DagsterInstance.from_config(str(self.data / "dagster"))

    def tail(self) -> str:
        logs = [self.log, *sorted(self.data.glob("*.log"))]
        return "\n".join(f"== {p.name}\n{p.read_text(errors='replace')[-1500:]}" for p in logs if p.exists())


def stations_file(path: Path, sim: int) -> Path:
    oauth2 = {
        "token_url": f"http://127.0.0.1:{sim}/auth/token",
        "client_id": "rs-assets",
        "username": "operator",
        "client_secret_env": SIMULATOR_SECRET_ENV,
        "password_env": SIMULATOR_PASSWORD_ENV,
    }
    stations = [
        {"name": "INS", "kind": "cadip"},
        {"name": "ADGS", "kind": "auxip", "product_types": ["AUX_CAL", "AUX_PP2", "AUX_RESORB", "AUX_DEM"]},
        {"name": "PRIP", "kind": "prip", "product_types": ["IW_GRDH_1S"]},
    ]
    entries = [
        {**s, "base_url": f"http://127.0.0.1:{sim}/{s['name']}/odata/v1", "oauth2": oauth2} for s in stations
    ]
    path.write_text(yaml.safe_dump({"stations": entries}))
    return path


def simulator_config(path: Path) -> Path:
    now = utcnow()
    ins = {
        "name": "INS", "kind": "cadip", "sessions": 1, "channels": 2, "blocks_per_channel": 2, "chunk_size": 400_000,
        "retransfers": 0, "days": 1, "live_every": LIVE_EVERY, "live_duration": LIVE_DURATION,
        "live_sessions": LIVE_SESSIONS,
    }  # fmt: skip
    adgs = {
        "name": "ADGS", "kind": "auxip", "products_per_day": 3, "days": 1, "product_scale": 0.05,
        "product_types": ["AUX_CAL", "AUX_PP2", "AUX_RESORB"], "samples": ["dem-rome"],
    }  # fmt: skip
    prip = {"name": "PRIP", "kind": "prip", "products_per_day": 0, "days": 1, "samples": ["s1-grdh"]}
    config = {
        "history_end": format_item_datetime(now),
        "live_start": format_item_datetime(now + timedelta(seconds=60)),
        "stations": [ins, adgs, prip],
    }
    path.write_text(yaml.safe_dump(config))
    return path


def prod_environment() -> tuple[Path, dict[str, int], dict[str, str]]:
    """A data folder, ports and the environment ``scripts/prod`` runs with in a test."""
    base, *_ = seaweed_ports(16)
    ports = {
        "s3": base, "ui": base + 8, "sim": base + 9, "pg": base + 11, "stac": base + 12, "dask": base + 13,
        "code": base + 14,
    }  # fmt: skip
    # PostgreSQL runs as its own user: its data must sit where that user can reach (scripts/test's folder).
    data = Path(tempfile.mkdtemp(prefix="prod-", dir=os.environ.get("RS_TEST_WORKDIR")))
    data.chmod(0o755)
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("RS_ASSETS_", "DAGSTER_", "PG")) and key != "RS_TEST_STAC_API_URL"
    } | {
        "RS_ASSETS_DATA_DIR": str(data),
        "RS_ASSETS_MODE": "production",
        "RS_ASSETS_STATIONS_FILE": str(stations_file(data / "stations.yaml", ports["sim"])),
        "RS_ASSETS_SIMULATOR_CONFIG": str(simulator_config(data / "simulator.yaml")),
        "RS_ASSETS_PARTITIONS_START": (utcnow() - timedelta(days=1)).date().isoformat(),
        "RS_ASSETS_UI_PORT": str(ports["ui"]),
        "RS_ASSETS_SIM_PORT": str(ports["sim"]),
        "RS_ASSETS_S3_PORT": str(ports["s3"]),
        "RS_ASSETS_PG_PORT": str(ports["pg"]),
        "RS_ASSETS_STAC_PORT": str(ports["stac"]),
        "RS_ASSETS_DASK_PORT": str(ports["dask"]),
        "RS_ASSETS_CODE_PORT": str(ports["code"]),
    }
    return data, ports, env


@pytest.fixture(scope="module")
def prod() -> Iterator[Topology]:
    data, ports, env = prod_environment()
    log = data / "prod.out"
    process = subprocess.Popen(
        [str(ROOT / "scripts" / "prod")],
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    topology = Topology(data, ports, process, log)
    try:
        wait_until("the webserver", 600, lambda: process.poll() is not None or listening(ports["ui"]), log)
        assert process.poll() is None, topology.tail()
        yield topology
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGINT)
            try:
                process.wait(timeout=120)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
        for restarted in topology.restarted:
            if restarted.poll() is None:
                os.killpg(restarted.pid, signal.SIGKILL)
                restarted.wait(timeout=30)


def process_with(*parts: str) -> int | None:
    """The pid of the process whose command line holds every one of ``parts``."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if all(part in command for part in parts):
            return int(entry.name)
    return None


def kill_and_restart(topology: Topology, pid: int, pause: float) -> None:
    """SIGKILL ``pid``'s process group, wait ``pause`` seconds, start the same command with the same environment
    (as a supervisor such as Kubernetes would)."""
    command = [part.decode() for part in Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0") if part]
    environ = dict(
        line.decode().split("=", 1)
        for line in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        if b"=" in line
    )
    cwd = os.readlink(f"/proc/{pid}/cwd")
    os.killpg(os.getpgid(pid), signal.SIGKILL)
    time.sleep(pause)
    log = topology.data / f"restarted-{Path(command[0]).name}-{len(topology.restarted)}.log"
    topology.restarted.append(
        subprocess.Popen(
            command,
            env=environ,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=log.open("w"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    )


class WorkerKiller(threading.Thread):
    """Kills the Dask worker running a conversion once it has run for a few seconds, once."""

    def __init__(self, address: str):
        super().__init__(daemon=True)
        self.address, self.killed, self.stop = address, "", threading.Event()

    def run(self) -> None:
        from distributed import Client

        with Client(self.address, timeout=30, set_as_default=False) as client:
            seen: dict[str, float] = {}
            while not self.stop.is_set() and not self.killed:
                for worker, keys in client.processing().items():
                    if any(str(k).startswith("run_job_on_worker") for k in keys):
                        since = seen.setdefault(worker, time.monotonic())
                        if time.monotonic() - since > 6:
                            pid = client.run(os.getpid, workers=[worker])[worker]
                            os.kill(pid, signal.SIGKILL)
                            self.killed = worker
                time.sleep(0.5)


def step_pools(ui: int) -> dict[str, list[str]]:
    """Each asset op's pools, from the webserver's GraphQL."""
    answer = requests.post(f"http://127.0.0.1:{ui}/graphql", json={"query": POOL_QUERY}, timeout=30).json()
    return {
        op: node["pools"] for node in answer["data"]["assetNodes"] for op in node["opNames"] if node["pools"]
    }


def most_at_once(instance: dg.DagsterInstance, pools_of: dict[str, list[str]]) -> dict[str, int]:
    """The most steps of each pool that ever ran at the same time, from every run's step start and end events."""
    spans: defaultdict[str, list[tuple[float, int]]] = defaultdict(list)
    ends = {dg.DagsterEventType.STEP_SUCCESS, dg.DagsterEventType.STEP_FAILURE}
    for run in instance.get_runs():
        started: dict[str, float] = {}
        for record in instance.all_logs(run.run_id):
            event = record.dagster_event
            if event is None or event.step_key is None:
                continue
            if event.event_type == dg.DagsterEventType.STEP_START:
                started[event.step_key] = record.timestamp
            elif event.event_type in ends and event.step_key in started:
                for pool in pools_of.get(event.step_key.split("[")[0], []):
                    spans[pool] += [(started[event.step_key], 1), (record.timestamp, -1)]
    most: dict[str, int] = {}
    for pool, marks in spans.items():
        now = 0
        for _, change in sorted(marks, key=lambda m: (m[0], m[1])):
            now += change
            most[pool] = max(most.get(pool, 0), now)
    return most


def session_items(topology: Topology) -> dict[str, int]:
    catalog = topology.catalog
    if not catalog.collection_exists("s01-cadip-session"):
        return {}
    return {i["id"]: len(i["assets"]) for i in catalog.search(["s01-cadip-session"])}


def complete_sessions(topology: Topology) -> set[str]:
    expected = 2 * 2  # channels x blocks, no retransfers
    return {s for s, files in session_items(topology).items() if files == expected}


def items(topology: Topology, collection: str) -> list[dict]:
    catalog = topology.catalog
    return catalog.search([collection]) if catalog.collection_exists(collection) else []


def test_the_production_topology_stages_converts_and_processes_and_heals_after_kills(prod: Topology) -> None:
    killer = WorkerKiller(prod.dask)
    killer.start()
    wait_until("a processed product", 900, lambda: items(prod, "s01siwgtc"), prod.log, 5)
    killer.stop.set()
    assert killer.killed, "no conversion was caught running on a Dask worker"
    converted = items(prod, "s01siwgrd")
    assert len(converted) == 1, "converted once, though its worker died"
    assert [i["id"] for i in items(prod, "s1-aux") if i["id"].startswith("S1__AUX_DEM")], "the DEM was staged"
    from distributed import Client

    with Client(prod.dask, timeout=30, set_as_default=False) as client:
        prefixes = client.run_on_scheduler(lambda dask_scheduler: sorted(dask_scheduler.task_prefixes))
    assert "run_job_on_worker" in prefixes, "conversion and processing ran on the cluster"
    staged = items(prod, "s1-prip-iw_grdh_1s")
    assert len(staged) == 1 and staged[0]["properties"]["unpublished"], "the staged SAFE item is a tombstone"

    sessions_before = complete_sessions(prod)
    assert sessions_before, "the sensor staged sessions"
    code_server = process_with("code-server", "start", str(prod.ports["code"]))
    assert code_server is not None
    kill_and_restart(prod, code_server, 5)
    wait_until(
        "a session staged after the code server came back",
        400,
        lambda: complete_sessions(prod) - sessions_before,
        prod.log,
        5,
    )

    with prod.instance() as instance:

        def staging_a_session() -> str | None:
            """A session run that has just started: its writes to S3 are ahead of it (one that has made them
            already may finish during the outage without touching S3 again)."""
            records = instance.get_run_records(
                filters=dg.RunsFilter(job_name=SESSION_JOB, statuses=[dg.DagsterRunStatus.STARTED])
            )
            fresh = [r for r in records if r.start_time and time.time() - r.start_time < 1.5]
            return fresh[0].dagster_run.run_id if fresh else None

        victim = wait_until("a session staging run starting", 400, staging_a_session, prod.log, 0.2)
        weed = process_with("weed", "mini", str(prod.data / "s3"))
        assert weed is not None
        # Longer than the S3 client's own retries ride out, so that the run fails and Dagster retries it.
        kill_and_restart(prod, weed, S3_OUTAGE)
        ended = (dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.SUCCESS)
        failed = wait_until(
            "the session run ending",
            300,
            lambda: (run := instance.get_run_by_id(victim)) is not None and run.status in ended and run,
            prod.log,
            2,
        )
        assert failed.status == dg.DagsterRunStatus.FAILURE, "the S3 outage did not fail the run"
        partition = failed.tags["dagster/partition"]

        def retried_to_success() -> list[dg.DagsterRun]:
            chain = instance.get_runs(filters=dg.RunsFilter(tags={"dagster/root_run_id": victim}))
            return chain if any(r.status == dg.DagsterRunStatus.SUCCESS for r in chain) else []

        chain = wait_until("the failed run retried to success", 400, retried_to_success, prod.log, 5)
        wait_until("its session complete", 300, lambda: partition in complete_sessions(prod), prod.log, 5)

        most = most_at_once(instance, step_pools(prod.ports["ui"]))
        over = {pool: n for pool, n in most.items() if n > POOLS.get(pool, 1)}
        assert not over, f"pools over their limits: {over} (limits {POOLS})"
        assert most.get("conversion") and most.get("station-INS"), most
        runs = instance.get_runs()
        keys = Counter(
            (r.job_name, r.tags["dagster/run_key"])
            for r in runs
            if "dagster/run_key" in r.tags and "dagster/parent_run_id" not in r.tags
        )
        assert not [k for k, n in keys.items() if n > 1], "a sensor launched a run twice"
        staged = {r.tags.get("dagster/partition") for r in runs if r.job_name == SESSION_JOB}
        assert complete_sessions(prod) <= staged, "every session was staged by its own partition's runs"
        print(
            f"\ntopology: Dask worker {killer.killed} killed mid-conversion; code server killed and restarted;"
            f" S3 killed for {S3_OUTAGE:.0f} s during {partition}: its run failed, retried"
            f" {len(chain)} times ({', '.join(r.status.value for r in chain)})"
            f"\n  runs: {dict(Counter(r.status.value for r in runs))}; most steps at once per pool: {most}"
            f"\n  sessions complete: {len(complete_sessions(prod))}; converted: {len(items(prod, 's01siwgrd'))};"
            f" processed: {len(items(prod, 's01siwgtc'))}"
        )
    assert len(items(prod, "s01siwgrd")) == 1 and len(items(prod, "s01siwgtc")) == 1


def test_a_bad_pool_limit_stops_the_start_naming_it_and_leaves_nothing_running() -> None:
    data, _, env = prod_environment()
    env["RS_ASSETS_POOL_LIMITS"] = "station-NOPE=2"
    ended = subprocess.run(
        [str(ROOT / "scripts" / "prod")], cwd=ROOT, env=env, stdin=subprocess.DEVNULL, capture_output=True,
        text=True, timeout=600,
    )  # fmt: skip
    assert ended.returncode != 0
    assert "station-NOPE: no such pool" in ended.stderr + ended.stdout, ended.stderr[-2000:]
    assert "Traceback" not in ended.stderr + ended.stdout
    assert process_with(str(data)) is None, "a service of the failed start is still running"
