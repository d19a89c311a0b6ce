"""Scale-out benchmark (issue P10): 4 conversions of the real S1 GRD product on a Dask cluster of 1, then 2,
single-threaded workers (``dask scheduler`` and ``dask worker --nthreads 1`` processes, as ``scripts/prod``
starts them). The jobs are the ones the ``zarr_products`` asset submits (``run_job_on_worker``: fetch the SAFE
directory from S3, convert, upload the store); each reads its own copy of the SAFE and writes its own store.
Target: 2 workers >= 1.6x faster than 1.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import platform
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path

import boto3

from benchmarks.common import report
from benchmarks.staging import IDENTITY
from rs_assets.core.conversion.convert import ConversionJob, S3Endpoint, run_job_on_worker
from rs_assets.core.conversion.converters import ProductInfo, default_registry
from rs_assets.core.storage.object_store import ObjectStore
from rs_assets.simulator.samples import s1_grdh

CONVERSIONS = 4
# A single-threaded worker: one Dask thread, and no thread pools of the libraries a conversion calls.
SINGLE_THREADED = {
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "BLOSC_NTHREADS": "1",
    "GDAL_NUM_THREADS": "1",
    "NUMEXPR_MAX_THREADS": "1",
}


def upload_copies(store: ObjectStore, bucket: str, safe: Path, copies: int) -> None:
    for n in range(copies):
        for path in sorted(p for p in safe.rglob("*") if p.is_file()):
            body = path.read_bytes()
            key = f"safe{n}/{safe.name}/{path.relative_to(safe)}"
            store.put(bucket, key, body, hashlib.md5(body).hexdigest())


def cluster(workers: int, port: int, workdir: Path) -> list[subprocess.Popen]:
    """A scheduler and ``workers`` single-threaded workers, each a process of its own."""
    env = {**os.environ, **SINGLE_THREADED}
    logs = workdir / "dask.log"
    started = [
        subprocess.Popen(
            ["dask", "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
            stdout=logs.open("a"),
            stderr=subprocess.STDOUT,
            env=env,
        )
    ]
    for n in range(workers):
        started.append(
            subprocess.Popen(
                [
                    "dask",
                    "worker",
                    f"tcp://127.0.0.1:{port}",
                    "--nthreads",
                    "1",
                    "--host",
                    "127.0.0.1",
                    "--no-dashboard",
                    "--name",
                    f"bench-{n}",
                    "--local-directory",
                    str(workdir / f"worker-{n}"),
                ],
                stdout=logs.open("a"),
                stderr=subprocess.STDOUT,
                env=env,
            )
        )
    return started


def cpu_seconds(processes: list[subprocess.Popen]) -> float:
    """CPU time (user + system) of ``processes`` and everything they started (a worker runs under its nanny)."""
    import psutil

    total = 0.0
    for process in processes:
        root = psutil.Process(process.pid)
        for each in [root, *root.children(recursive=True)]:
            times = each.cpu_times()
            total += times.user + times.system
    return total


def timed(
    workers: int, jobs: list[ConversionJob], endpoint: S3Endpoint, port: int, workdir: Path
) -> tuple[float, float]:
    """Wall seconds for ``jobs`` on ``workers`` workers, and the CPU seconds the workers spent on them."""
    from distributed import Client, wait

    processes = cluster(workers, port, workdir)
    try:
        with Client(f"tcp://127.0.0.1:{port}", timeout=60) as client:
            client.wait_for_workers(workers, timeout=120)
            before = cpu_seconds(processes[1:])
            started = time.perf_counter()
            futures = [client.submit(run_job_on_worker, job, endpoint, pure=False) for job in jobs]
            wait(futures)
            seconds = time.perf_counter() - started
            cpu = cpu_seconds(processes[1:]) - before
            written = [f.result() for f in futures]
            assert all(w.files > 0 for w in written), written
            return seconds, cpu
    finally:
        for process in reversed(processes):
            process.terminate()
        for process in processes:
            process.wait(timeout=60)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--s3-endpoint", required=True)
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--port", type=int, default=18786)
    args = parser.parse_args()
    os.environ.update({"RS_SIMULATOR_CLIENT_SECRET": IDENTITY["client_secret"]})
    safe = s1_grdh()
    s3 = boto3.client("s3", endpoint_url=args.s3_endpoint, region_name="us-east-1")
    bucket = f"scaleout-{os.getpid()}"
    s3.create_bucket(Bucket=bucket)
    upload_copies(ObjectStore(s3), bucket, safe, CONVERSIONS)
    converter = default_registry().select(ProductInfo.of(safe.name, "IW_GRDH_1S"))
    endpoint = S3Endpoint(args.s3_endpoint, "us-east-1")
    runs: dict[int, list[tuple[float, float]]] = {1: [], 2: []}
    for attempt in range(args.repeat):
        for workers in (1, 2):
            jobs = [
                ConversionJob(
                    product=safe.name,
                    source_bucket=bucket,
                    source_prefix=f"safe{n}/{safe.name}/",
                    converter=converter,
                    target_bucket=bucket,
                    target_prefix=f"out-{workers}-{attempt}-{n}",
                    work_dir=str(args.workdir / "convert"),
                )
                for n in range(CONVERSIONS)
            ]
            runs[workers].append(timed(workers, jobs, endpoint, args.port, args.workdir))
    (one, one_cpu), (two, two_cpu) = (sorted(runs[w])[len(runs[w]) // 2] for w in (1, 2))
    cores = one_cpu / one
    report(
        "scaleout",
        [
            f"# scale-out benchmark, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.node()}, {os.cpu_count()} cores",
            f"# command: benchmarks/run scaleout --repeat {args.repeat}",
            f"# {CONVERSIONS} conversions of {safe.name} (run_job_on_worker: S3 in, convert, S3 out)",
            f"  1 single-threaded worker  : {one:6.1f} s, workers' CPU {one_cpu:6.1f} s ({cores:.2f} cores busy)"
            f"  (runs: {', '.join(f'{r:.1f}' for r, _ in runs[1])})",
            f"  2 single-threaded workers : {two:6.1f} s, workers' CPU {two_cpu:6.1f} s ({two_cpu / two:.2f} cores busy)"
            f"  (runs: {', '.join(f'{r:.1f}' for r, _ in runs[2])})",
            f"  ratio (1 worker / 2)      : {one / two:6.2f}  (target >= 1.6)",
            f"  ceiling on this machine   : {min(2.0, (os.cpu_count() or 1) / cores):6.2f}  "
            f"({os.cpu_count()} cores / {cores:.2f} cores one worker keeps busy)",
        ],
    )


if __name__ == "__main__":
    main()
