"""Sensor tick benchmark (issue P3): the cost of a tick grows with new data, not with history.

For 1,000 and 10,000 sessions already known to the cursor, 10 new sessions are published and one tick of the
station's sensor is timed; the station requests it sent are counted at the simulator.
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
from rs_assets.core.station.cursor import Watermark
from rs_assets.core.timeutil import parse_datetime
from rs_assets.resources import StationsResource
from rs_assets.sensors.stations import OVERLAP, cadip_sensor
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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workdir", type=Path, default=Path("/tmp"))
    parser.add_argument(
        "--s3-endpoint",
        default=None,
        help="unused; accepted so that benchmarks/run can call every benchmark alike",
    )
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
    report("sensor", lines)


if __name__ == "__main__":
    main()
