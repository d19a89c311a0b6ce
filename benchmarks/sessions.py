"""Session staging benchmark (issue P3): a 40-file CADIP session staged, against the raw limit.

The raw limit is the slower of reading the session's files to /dev/null and writing the same bytes to the
same S3, both with the parallelism staging uses. Chunks are scaled down from 300 MiB (``--chunk-mib``).
"""

from __future__ import annotations

import argparse
import os
import platform
from datetime import UTC, datetime
from pathlib import Path

from benchmarks.common import report, run_child, simulator
from benchmarks.staging import IDENTITY, median

MiB = 1024 * 1024


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--s3-endpoint", required=True)
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--chunk-mib", type=int, default=32)
    parser.add_argument("--parallel", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    os.environ.update(
        {
            "RS_SIMULATOR_CLIENT_SECRET": IDENTITY["client_secret"],
            "RS_SIMULATOR_PASSWORD": IDENTITY["password"],
        }
    )
    station = {
        "name": "SES",
        "kind": "cadip",
        "sessions": 1,
        "retransfers": 0,
        "channels": 4,
        "blocks_per_channel": 10,
        "chunk_size": args.chunk_mib * MiB,
    }
    config = {"seed": 11, "history_end": "2026-11-21T00:00:00Z", "identity": IDENTITY, "stations": [station]}
    lines = [
        f"# session staging benchmark, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.node()}, {os.cpu_count()} cores",
        f"# command: benchmarks/run sessions --chunk-mib {args.chunk_mib} --parallel {args.parallel} --repeat {args.repeat}",
    ]
    with simulator(config, args.workdir) as url:
        common = [
            "--url",
            url,
            "--s3-endpoint",
            args.s3_endpoint,
            "--parallel",
            str(args.parallel),
            "--workdir",
            str(args.workdir),
        ]
        reads, writes, ours = [], [], []
        for _ in range(args.repeat):
            reads.append(run_child("benchmarks.staging_child", "session-read", *common))
            writes.append(run_child("benchmarks.staging_child", "session-write", *common))
            ours.append(run_child("benchmarks.staging_child", "session-stage", *common))
        read, write, stage = (median(runs, "mb_s") for runs in (reads, writes, ours))
        limit = min(read["mb_s"], write["mb_s"])
        lines += [
            f"session: {stage['files']} files of up to {args.chunk_mib} MiB, {args.parallel} at a time, median of {args.repeat}",
            f"  read files to /dev/null : {read['mb_s']:8.1f} MB/s",
            f"  write bytes to S3       : {write['mb_s']:8.1f} MB/s",
            f"  rs-assets stage_session : {stage['mb_s']:8.1f} MB/s (peak RSS {stage['rss_mib']:.0f} MiB)",
            f"  ratio to raw limit      : {stage['mb_s'] / limit:8.2f}  (target >= 0.85)",
        ]
    report("sessions", lines)


if __name__ == "__main__":
    main()
