"""Conversion benchmark (issue P4): our ``zarr_products`` asset against eopf's converter called directly.

Same real S1 GRDH SAFE product (rs_assets.simulator.samples), same machine, interleaved runs, each in a fresh
process. Neither timing includes importing eopf (reported as ``import``). Ours also fetches the SAFE directory
from S3, uploads the store and publishes its item, in a Dagster run on an instance that exists beforehand, as on
a running platform; the direct call reads and writes local disk. Target: wall time and peak RSS both < 1.1x.
"""

from __future__ import annotations

import argparse
import os
import platform
from datetime import UTC, datetime
from pathlib import Path

from benchmarks.common import report, run_child, simulator
from benchmarks.staging import IDENTITY
from rs_assets.simulator.samples import s1_grdh

HISTORY_END = "2026-11-21T00:00:00Z"
DAY = "2026-11-20"


def middle(values: list[float]) -> float:
    return sorted(values)[len(values) // 2]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--s3-endpoint", required=True)
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    os.environ.update(
        {
            "RS_SIMULATOR_CLIENT_SECRET": IDENTITY["client_secret"],
            "RS_SIMULATOR_PASSWORD": IDENTITY["password"],
        }
    )
    safe = s1_grdh()
    station = {"name": "PRIP", "kind": "prip", "products_per_day": 0, "days": 1, "samples": ["s1-grdh"]}
    config = {"seed": 5, "history_end": HISTORY_END, "identity": IDENTITY, "stations": [station]}
    lines = [
        f"# conversion benchmark, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.node()}, {os.cpu_count()} cores",
        f"# command: benchmarks/run conversion --repeat {args.repeat}",
        f"# product: {safe.name} (sarsen 0.9.6 sdist, prepared by rs_assets.simulator.samples.s1_grdh)",
    ]
    directs, ours = [], []
    with simulator(config, args.workdir) as url:
        for _ in range(args.repeat):
            directs.append(
                run_child(
                    "benchmarks.conversion_child",
                    "direct",
                    "--safe",
                    str(safe),
                    "--workdir",
                    str(args.workdir),
                )
            )
            ours.append(
                run_child(
                    "benchmarks.conversion_child",
                    "asset",
                    "--url",
                    url,
                    "--s3-endpoint",
                    args.s3_endpoint,
                    "--day",
                    DAY,
                    "--workdir",
                    str(args.workdir),
                )
            )
    assert all(o["converted"] == 1 for o in ours), ours
    direct_s, ours_s = middle([d["seconds"] for d in directs]), middle([o["seconds"] for o in ours])
    direct_rss, ours_rss = middle([d["rss_mib"] for d in directs]), middle([o["rss_mib"] for o in ours])
    median_run = sorted(ours, key=lambda o: o["seconds"])[len(ours) // 2]
    lines += [
        f"median of {args.repeat} interleaved runs, each in a fresh process",
        f"  eopf convert, called directly (local disk) : {direct_s:6.1f} s, peak RSS {direct_rss:6.0f} MiB",
        f"  zarr_products asset (S3 in, S3 + catalog)  : {ours_s:6.1f} s, peak RSS {ours_rss:6.0f} MiB",
        f"  ratio wall time                            : {ours_s / direct_s:6.2f}  (target < 1.1)",
        f"  ratio peak RSS                             : {ours_rss / direct_rss:6.2f}  (target < 1.1)",
        "  inside the asset (median run): "
        + ", ".join(
            f"{k} {median_run[k]:.2f} s" for k in ("fetch", "convert", "upload", "asset_seconds", "import")
        )
        + f", {median_run['files']} store files",
        f"  runs (s): direct {[round(d['seconds'], 1) for d in directs]}, ours {[round(o['seconds'], 1) for o in ours]}",
    ]
    report("conversion", lines)


if __name__ == "__main__":
    main()
