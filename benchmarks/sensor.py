"""Sensor tick benchmarks: the cost of a tick grows with new data, not with history.

For 1,000 and 10,000 sessions already known to the cursor, 10 new sessions are published and one tick of the
station's sensor is timed; the station requests it sent are counted at the simulator.

The session publication reconciliation, for 1,000 session ledgers in S3 whose items are published: its first tick
(no cursor: every ledger is read and compared with its item), then a tick after 10 sessions gained a file their
item lacks (the cursor holds the ETags of the rest: one listing and 10 comparisons).
"""

from __future__ import annotations

import argparse
import os
import random
import time
from datetime import timedelta
from pathlib import Path

import dagster as dg
import yaml

from benchmarks.common import report
from rs_assets.assets.cadip import session_partitions
from rs_assets.core.catalog.mapping import CollectionNames
from rs_assets.core.services import Placement, Services
from rs_assets.core.staging.sessions import record_staged_session
from rs_assets.core.station.cursor import Watermark
from rs_assets.core.storage.bucket_rules import BucketRules
from rs_assets.core.timeutil import parse_datetime
from rs_assets.resources import CatalogResource, ObjectStorage, StationsResource
from rs_assets.sensors.stations import OVERLAP, cadip_sensor, session_publication_sensor
from rs_assets.settings import SIMULATOR_PASSWORD_ENV, SIMULATOR_SECRET_ENV
from rs_assets.simulator.config import SimStation, SimulatorConfig
from rs_assets.simulator.server import StationSimulator

NEW = 10


def measure(known: int, workdir: Path) -> dict:
    config = SimulatorConfig(
        stations=[
            SimStation(
                name="INS",
                kind="cadip",
                sessions=known,
                retransfers=0,
                channels=1,
                blocks_per_channel=1,
                chunk_size=1000,
                days=7,
            )
        ]
    )
    with StationSimulator(config) as sim:
        os.environ.setdefault(SIMULATOR_SECRET_ENV, config.identity.client_secret)
        os.environ.setdefault(SIMULATOR_PASSWORD_ENV, config.identity.password)
        station = sim.data.stations["INS"]
        files, _ = station.entity_set("Files", sim.data.now())
        high = max(parse_datetime(f["PublicationDate"]) for f in files)
        assert high is not None
        # The cursor a sensor holds after it has seen all of that history.
        mark = Watermark(
            high, frozenset(f["Id"] for f in files if parse_datetime(f["PublicationDate"]) >= high - OVERLAP)
        )
        rng = random.Random(1)
        for n in range(NEW):
            station.publish_session(rng, known + n, high + timedelta(minutes=2 + n))
        stations_file = workdir / f"stations-{known}.yaml"
        oauth = {
            "token_url": sim.token_url,
            "client_id": config.identity.client_id,
            "username": config.identity.username,
            "client_secret_env": SIMULATOR_SECRET_ENV,
            "password_env": SIMULATOR_PASSWORD_ENV,
        }
        stations_file.write_text(
            yaml.safe_dump(
                {
                    "stations": [
                        {"name": "INS", "kind": "cadip", "base_url": sim.station_url("INS"), "oauth2": oauth}
                    ]
                }
            )
        )
        sensor = cadip_sensor("INS", "ins_session_staging", session_partitions("INS"))
        resources = {"stations": StationsResource(stations_file=str(stations_file))}
        instance = dg.DagsterInstance.ephemeral()
        before = sum(sim.counts.values())
        with dg.build_sensor_context(
            cursor=mark.to_json(), instance=instance, resources=resources
        ) as context:
            started = time.perf_counter()
            result = sensor(context)
            seconds = time.perf_counter() - started
        assert isinstance(result, dg.SensorResult)
        return {
            "seconds": seconds,
            "requests": sum(sim.counts.values()) - before,
            "runs": len(result.run_requests or []),
        }


def session_item(session_id: str, files: int) -> dict:
    assets = {
        f"DCS_{session_id}_ch1_DSDB_{n:05d}.raw": {"href": f"s3://data/o/s01-cadip-session/{session_id}/{n}"}
        for n in range(1, files + 1)
    }
    return {"type": "Feature", "id": session_id, "properties": {}, "assets": assets}


def measure_reconciliation(sessions: int, endpoint: str, workdir: Path) -> dict:
    bucket = f"sensor-bench-{os.getpid()}"
    storage = ObjectStorage(endpoint_url=endpoint, region_name="us-east-1", bucket=bucket)
    catalog = CatalogResource(backend="sqlite", sqlite_path=str(workdir / f"reconcile-{sessions}.sqlite"))
    store = storage.store()
    store.client.create_bucket(Bucket=bucket)
    services = Services(
        store,
        storage.transfer(),
        catalog.catalog(),
        Placement("o", CollectionNames(), BucketRules.parse("*,*,*,7,data\n")),
        bucket,
    )
    ids = [f"S1A_{n:020d}" for n in range(sessions)]
    items = [record_staged_session(services, "INS", "s01-cadip-session", session_item(i, 6)) for i in ids]
    services.catalog.ensure_collection("s01-cadip-session")
    services.catalog.upsert_items("s01-cadip-session", items)
    sensor = session_publication_sensor(
        "INS", "ins_session_staging", session_partitions("INS"), timedelta(days=8)
    )
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions("INS_sessions", ids)
    resources = {"storage": storage, "catalog": catalog}

    def tick(cursor: str | None) -> tuple[float, dg.SensorResult]:
        with dg.build_sensor_context(cursor=cursor, instance=instance, resources=resources) as context:
            started = time.perf_counter()
            result = sensor(context)
            seconds = time.perf_counter() - started
        assert isinstance(result, dg.SensorResult)
        return seconds, result

    cold, first = tick(None)
    assert not first.run_requests
    for session_id in ids[:NEW]:
        record_staged_session(services, "INS", "s01-cadip-session", session_item(session_id, 7))
    warm, second = tick(first.cursor)
    assert len(second.run_requests or []) == NEW
    return {"cold": cold, "warm": warm, "runs": len(second.run_requests or [])}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workdir", type=Path, default=Path("/tmp"))
    parser.add_argument("--s3-endpoint", required=True, help="S3 for the reconciliation's session ledgers")
    args = parser.parse_args()
    lines = [
        "# sensor tick benchmark: 10 new sessions on top of the history the cursor already covers",
        "# command: benchmarks/run sensor",
    ]
    results = {}
    for known in (1_000, 10_000):
        results[known] = measure(known, args.workdir)
        r = results[known]
        lines.append(
            f"  {known:>6} known sessions: tick {r['seconds'] * 1000:7.1f} ms, {r['requests']} station requests, {r['runs']} runs requested"
        )
    lines.append(
        f"  tick time ratio 10,000 / 1,000 known: {results[10_000]['seconds'] / results[1_000]['seconds']:.2f} (target: well under 2 s, a handful of requests)"
    )
    r = measure_reconciliation(1_000, args.s3_endpoint, args.workdir)
    lines += [
        "# session publication reconciliation, 1,000 session ledgers in S3 with their items published",
        f"  first tick, no cursor (every ledger read and compared): {r['cold'] * 1000:7.1f} ms",
        f"  tick after {NEW} sessions gained a file (cursor: ETags): {r['warm'] * 1000:7.1f} ms, {r['runs']} runs requested",
        f"  ratio first / next: {r['cold'] / r['warm']:.1f} (a tick reads only the ledgers that changed)",
    ]
    report("sensor", lines)


if __name__ == "__main__":
    main()
