"""Growth benchmark (issue P10): how the costs of an AUX day grow with its products (1,000 / 10,000 / 100,000):
the station listing, planning, the day's ledger and a re-run of the day, with each run's peak RSS. Each size
runs in a fresh process against the simulator (products scaled down: the costs measured are per product, not per
byte). The sensor tick's growth with known sessions is ``benchmarks/run sensor``'s."""

from __future__ import annotations

import argparse
import os
import platform
from datetime import UTC, datetime
from pathlib import Path

from benchmarks.common import report, run_child, simulator
from benchmarks.staging import IDENTITY

DAY = "2026-11-20"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--s3-endpoint", required=True)
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--sizes", default="1000,10000,100000")
    args = parser.parse_args()
    os.environ.update(
        {
            "RS_SIMULATOR_CLIENT_SECRET": IDENTITY["client_secret"],
            "RS_SIMULATOR_PASSWORD": IDENTITY["password"],
        }
    )
    lines = [
        f"# growth benchmark, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.node()}, {os.cpu_count()} cores",
        f"# command: benchmarks/run growth --sizes {args.sizes}",
        "AUX day of N products: seconds per phase, ledger size, peak RSS of the run's process",
        "(listing: wall time, most of it the simulator's, which filters the whole day for every page; client CPU:"
        " parsing the pages)",
        f"  {'products':>9} {'listing':>9} {'client CPU':>11} {'planning':>9} {'ledger write':>13} {'ledger MB':>10}"
        f" {'re-run':>8} {'peak RSS':>9}",
    ]
    runs: list[dict] = []
    for size in (int(s) for s in args.sizes.split(",")):
        station = {
            "name": "ADGS",
            "kind": "auxip",
            "products_per_day": size,
            "days": 1,
            "product_scale": 0.01,
        }
        config = {
            "seed": 3,
            "history_end": "2026-11-21T00:00:00Z",
            "identity": IDENTITY,
            "stations": [station],
        }
        with simulator(config, args.workdir) as url:
            run = run_child(
                "benchmarks.growth_child", "--url", url, "--s3-endpoint", args.s3_endpoint, "--day", DAY,
                "--workdir", str(args.workdir),
            )  # fmt: skip
        lines.append(
            f"  {run['products']:>9,} {run['listing']:>8.2f}s {run['listing_cpu']:>10.2f}s {run['planning']:>8.2f}s"
            f" {run['ledger_write']:>12.2f}s"
            f" {run['ledger_bytes'] / 1e6:>9.1f} {run['rerun']:>7.2f}s {run['rss_mib']:>6.0f} MiB"
        )
        runs.append(run)
    smallest, largest = runs[0], runs[-1]
    growth = largest["products"] / smallest["products"]
    lines.append(
        f"growth from {smallest['products']:,} to {largest['products']:,} products ({growth:.0f}x): "
        + ", ".join(
            f"{k} {largest[k] / smallest[k]:.0f}x"
            for k in ("listing", "listing_cpu", "planning", "ledger_write", "rerun", "rss_mib")
        )
    )
    report("growth", lines)


if __name__ == "__main__":
    main()
