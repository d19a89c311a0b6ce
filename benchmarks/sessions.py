"""Session staging benchmark (issue P3): a 40-file CADIP session staged, against the raw limit.

The raw limit is the slower of reading the session's files to /dev/null and writing the same bytes to the
same S3, both with the parallelism staging uses: files at once, and parts of a file in flight. The write side is
the best of two writers (boto3's managed upload, and multipart uploads shaped like staging's), so that the ratio
compares like with like. Chunks default to 32 MiB; ``--chunk-mib 300`` is the real size (fewer files with
``--channels``/``--blocks``).

Peak memory is bounded by files at once x (parts in flight + the part being read) x part size, whatever the chunk
size: a chunk no larger than a part is one PUT and holds only itself, so small chunks sit below the bound.
"""

from __future__ import annotations

import argparse
import os
import platform
from datetime import UTC, datetime
from pathlib import Path

from benchmarks.common import report, run_child, simulator
from benchmarks.staging import IDENTITY, median
from benchmarks.staging_child import CONCURRENCY, PART

MiB = 1024 * 1024


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--s3-endpoint", required=True)
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--chunk-mib", type=int, default=32)
    parser.add_argument("--parallel", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--channels", type=int, default=4)
    parser.add_argument("--blocks", type=int, default=10)
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
        "channels": args.channels,
        "blocks_per_channel": args.blocks,
        "chunk_size": args.chunk_mib * MiB,
    }
    config = {"seed": 11, "history_end": "2026-11-21T00:00:00Z", "identity": IDENTITY, "stations": [station]}
    lines = [
        f"# session staging benchmark, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.node()}, {os.cpu_count()} cores",
        f"# command: benchmarks/run sessions --chunk-mib {args.chunk_mib} --parallel {args.parallel} "
        f"--repeat {args.repeat} --channels {args.channels} --blocks {args.blocks}",
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
        reads, managed, parts, ours = [], [], [], []
        for _ in range(args.repeat):
            reads.append(run_child("benchmarks.staging_child", "session-read", *common))
            managed.append(run_child("benchmarks.staging_child", "session-write", *common))
            parts.append(run_child("benchmarks.staging_child", "session-write-parts", *common))
            ours.append(run_child("benchmarks.staging_child", "session-stage", *common))
        read, boto, shaped, stage = (median(runs, "mb_s") for runs in (reads, managed, parts, ours))
        write = max(boto, shaped, key=lambda w: w["mb_s"])
        limit = min(read["mb_s"], write["mb_s"])
        bound = args.parallel * (CONCURRENCY + 1) * PART // MiB
        lines += [
            f"session: {stage['files']} files of up to {args.chunk_mib} MiB, {args.parallel} at a time, median of {args.repeat}",
            f"  read files to /dev/null : {read['mb_s']:8.1f} MB/s",
            f"  write bytes to S3, boto3 managed upload      : {boto['mb_s']:8.1f} MB/s (peak RSS {boto['rss_mib']:.0f} MiB)",
            f"  write bytes to S3, multipart shaped as ours  : {shaped['mb_s']:8.1f} MB/s (peak RSS {shaped['rss_mib']:.0f} MiB)",
            f"  rs-assets stage_session : {stage['mb_s']:8.1f} MB/s (peak RSS {stage['rss_mib']:.0f} MiB; "
            f"part buffers bounded by {bound} MiB at any chunk size)",
            f"  ratio to raw limit (the best writer) : {stage['mb_s'] / limit:8.2f}  (target >= 0.85)",
        ]
    report("sessions", lines)


if __name__ == "__main__":
    main()
