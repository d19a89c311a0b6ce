"""The heavy half of a processor run: local copies of the inputs and ADFs (fetched while the runner's process
starts), eopf's runner on the payload, the outputs uploaded. Plain data in and out, so that it runs here or on a
Dask worker alike.

Outputs are written locally and uploaded only once the runner succeeded, each store with its root metadata
last: a store under a final key is complete or not openable, and a failed run writes nothing under final keys.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..conversion.convert import S3Endpoint, work_directory
from ..errors import RsAssetsError
from ..storage.object_store import ObjectStore, split_href
from ..storage.trees import fetch_tree, upload_store
from .payload import OutputTarget, to_yaml
from .runner import RunReport, run_payload


@dataclass(frozen=True)
class Fetch:
    href: str
    local: str


@dataclass(frozen=True)
class ProcessingJob:
    payload: dict[str, Any]
    fetches: tuple[Fetch, ...]
    outputs: tuple[OutputTarget, ...]
    timeout_seconds: float = 3600.0
    work_dir: str | None = None


@dataclass(frozen=True)
class WrittenStore:
    target: str
    item_id: str
    href: str
    files: int
    bytes: int


@dataclass
class JobResult:
    report: RunReport
    written: list[WrittenStore] = field(default_factory=list)
    fetched_bytes: int = 0
    seconds: dict[str, float] = field(default_factory=dict)
    log: list[str] = field(default_factory=list)


def _fetch(store: ObjectStore, fetch: Fetch, work: Path) -> int:
    """An object as a file, or everything under a prefix (a Zarr store, a SAFE or unpacked directory)."""
    bucket, key = split_href(fetch.href)
    local = work / fetch.local
    local.parent.mkdir(parents=True, exist_ok=True)
    info = store.head(bucket, key) if not fetch.href.endswith("/") else None
    if info is not None:
        with local.open("wb") as handle:
            store.download_to(bucket, key, handle)
        if local.stat().st_size != info.size:
            raise RsAssetsError(
                f"{fetch.href}: fetched {local.stat().st_size} bytes, the object has {info.size}"
            )
        return info.size
    return fetch_tree(store, bucket, f"{key.rstrip('/')}/", local)


def _upload(store: ObjectStore, target: OutputTarget, work: Path) -> list[WrittenStore]:
    local = work / target.local
    stores = (
        sorted(p for p in local.iterdir() if p.is_dir()) if target.is_folder and local.is_dir() else [local]
    )
    written = []
    for path in stores:
        if not path.is_dir() or not any(path.iterdir()):
            raise RsAssetsError(f"output {target.name}: the processor wrote nothing at {target.local}")
        key = target.key if not target.is_folder else f"{target.prefix}{path.name}"
        files, size = upload_store(store, path, target.bucket, key)
        item_id = target.item_id or path.name.removesuffix(".zarr")
        written.append(WrittenStore(target.name, item_id, f"s3://{target.bucket}/{key}", files, size))
    if not written:
        raise RsAssetsError(f"output {target.name}: the processor wrote nothing at {target.local}")
    return written


def run_job(job: ProcessingJob, store: ObjectStore, on_line: Callable[[str], None]) -> JobResult:
    """Fetch, run, upload; the working directory is removed whatever happens."""
    work = work_directory(job.work_dir)
    try:
        started = time.monotonic()
        fetched: list[int] = []
        seconds: dict[str, float] = {}

        def fetch_all() -> None:
            fetched.extend(_fetch(store, fetch, work) for fetch in job.fetches)
            seconds["fetch"] = time.monotonic() - started

        (work / "payload.yaml").write_text(to_yaml(job.payload))
        report = run_payload(
            work / "payload.yaml", work, on_line=on_line, timeout=job.timeout_seconds, prepare=fetch_all
        )
        ran = time.monotonic()
        seconds["run"] = ran - started
        written = [store_ for target in job.outputs for store_ in _upload(store, target, work)]
        seconds["upload"] = time.monotonic() - ran
        return JobResult(report, written, sum(fetched), seconds)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def run_job_on_worker(job: ProcessingJob, endpoint: S3Endpoint) -> JobResult:
    """What a Dask worker runs: its own S3 client and credentials, the same job; the log comes back with it."""
    lines: list[str] = []
    try:
        result = run_job(job, endpoint.store(), lines.append)
    except RsAssetsError as exc:
        raise RsAssetsError(f"{exc} (last lines of the processor's log: {' | '.join(lines[-5:])})") from None
    result.log = lines
    return result
