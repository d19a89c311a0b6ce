"""Session partitions benchmark (issue P10, the growth table's second half): the Dagster UI's partition status
query for ``ins/cadip_sessions`` with 1,000 and 10,000 session partitions, every one materialized, asked of a real
``dagster-webserver`` over HTTP on an instance with SQLite storage (PostgreSQL answers the same query from the
same tables). The sensor tick's growth is ``benchmarks/run sensor``'s."""

from __future__ import annotations

import argparse
import os
import platform
import socket
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import requests

from benchmarks.common import report

ASSET = ["ins", "cadip_sessions"]
QUERY = """
query($path: [String!]!) { assetNodeOrError(assetKey: {path: $path}) { ... on AssetNode {
  partitionKeysByDimension { partitionKeys }
  assetPartitionStatuses { ... on DefaultPartitionStatuses { materializedPartitions failedPartitions } }
} } }
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def seed(home: Path, count: int) -> float:
    """``count`` session partitions, each with a materialization; seconds it took."""
    started = time.perf_counter()
    with dg.DagsterInstance.from_config(str(home)) as instance:
        keys = [f"S1A_2026112{n % 10}{n:08d}" for n in range(count)]
        instance.add_dynamic_partitions("INS_sessions", keys)
        for key in keys:
            instance.report_runless_asset_event(dg.AssetMaterialization(asset_key=ASSET, partition=key))
    return time.perf_counter() - started


def query_seconds(home: Path, workdir: Path, repeat: int) -> tuple[list[float], int]:
    port = free_port()
    env = {**os.environ, "DAGSTER_HOME": str(home), "RS_ASSETS_DATA_DIR": str(workdir)}
    log = (workdir / "webserver.log").open("a")
    server = subprocess.Popen(
        ["dagster-webserver", "-m", "rs_assets.definitions", "-h", "127.0.0.1", "-p", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        url = f"http://127.0.0.1:{port}/graphql"
        for _ in range(240):
            try:
                if requests.get(f"http://127.0.0.1:{port}/server_info", timeout=2).ok:
                    break
            except requests.RequestException:
                pass
            time.sleep(0.5)
        seconds, materialized = [], 0
        for _ in range(repeat + 1):  # the first answer also loads the code location
            started = time.perf_counter()
            answer = requests.post(
                url, json={"query": QUERY, "variables": {"path": ASSET}}, timeout=600
            ).json()
            seconds.append(time.perf_counter() - started)
            node = answer["data"]["assetNodeOrError"]
            materialized = len(node["assetPartitionStatuses"]["materializedPartitions"])
        return seconds[1:], materialized
    finally:
        server.terminate()
        server.wait(timeout=60)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--s3-endpoint", required=True)
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    lines = [
        f"# session partitions benchmark, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.node()}, "
        f"{os.cpu_count()} cores",
        f"# command: benchmarks/run partitions --sizes {args.sizes} --repeat {args.repeat}",
        "the UI's partition status query for ins/cadip_sessions (all partitions materialized), median of "
        f"{args.repeat} after a first answer",
    ]
    medians: list[tuple[int, float]] = []
    for size in (int(s) for s in args.sizes.split(",")):
        home = args.workdir / f"dagster-{size}"
        home.mkdir()
        seeded = seed(home, size)
        runs, materialized = query_seconds(home, args.workdir, args.repeat)
        assert materialized == size, (materialized, size)
        median = sorted(runs)[len(runs) // 2]
        medians.append((size, median))
        lines.append(
            f"  {size:>6,} partitions: {median * 1000:7.0f} ms  (runs: {', '.join(f'{r * 1000:.0f}' for r in runs)};"
            f" seeding {seeded:.0f} s)"
        )
    (small, fast), (large, slow) = medians[0], medians[-1]
    lines.append(f"growth from {small:,} to {large:,} partitions ({large / small:.0f}x): {slow / fast:.1f}x")
    report("partitions", lines)


if __name__ == "__main__":
    main()
