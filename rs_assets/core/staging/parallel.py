"""Stage many station entities to S3 in parallel; one failure never loses the others.

Each task knows its source, its destination and how to build its STAC item once the object is in place, so
the report carries exactly the items whose objects were written and verified.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Collection, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any

from opentelemetry.trace import Span, StatusCode

from ..catalog import Catalog
from ..errors import RsAssetsError
from ..heap import frozen_heap
from ..station.client import StationClient
from ..storage.ledger import Ledger, ManifestEntry, merge
from ..storage.object_store import ObjectInfo
from ..storage.transfer import SmallFiles, Source, Transfer, TransferResult
from ..tracing import span

Item = dict[str, Any]


def object_key(owner: str, collection: str, item_id: str, file_name: str) -> str:
    """``{owner}/{collection}/{item_id}/{file_name}``: the layout operators and downstream tools rely on."""
    for part, value in (("item id", item_id), ("file name", file_name)):
        if not value or "/" in value or value in (".", ".."):
            raise RsAssetsError(f"{part} {value!r} cannot be part of an object key")
    return f"{owner}/{collection}/{item_id}/{file_name}"


@dataclass(frozen=True)
class StageTask:
    source: Source
    bucket: str
    key: str
    collection: str
    item_id: str
    build_item: Callable[[str], Item]

    @property
    def href(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


@dataclass(frozen=True)
class StageOutcome:
    task: StageTask
    result: TransferResult | None = None
    item: Item | None = None
    error: str | None = None


@dataclass
class StagingReport:
    outcomes: list[StageOutcome] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def succeeded(self) -> list[StageOutcome]:
        return [o for o in self.outcomes if o.error is None]

    @property
    def failed(self) -> list[StageOutcome]:
        return [o for o in self.outcomes if o.error is not None]

    @property
    def staged(self) -> list[StageOutcome]:
        return [o for o in self.succeeded if o.result is not None and not o.result.skipped]

    @property
    def skipped(self) -> list[StageOutcome]:
        return [o for o in self.succeeded if o.result is not None and o.result.skipped]

    @property
    def transferred_bytes(self) -> int:
        return sum(o.result.transferred_bytes for o in self.succeeded if o.result)

    @property
    def mb_per_s(self) -> float:
        return self.transferred_bytes / 1e6 / self.seconds if self.seconds > 0 else 0.0

    def markdown(self, limit: int = 200) -> str:
        rows = ["| file | collection | size | outcome |", "| --- | --- | ---: | --- |"]
        for outcome in self.outcomes[:limit]:
            state = outcome.error or (
                "already staged" if outcome.result and outcome.result.skipped else "staged"
            )
            rows.append(
                f"| {outcome.task.source.name} | {outcome.task.collection} | {outcome.task.source.size:,} | {state} |"
            )
        if len(self.outcomes) > limit:
            rows.append(f"| ... {len(self.outcomes) - limit} more | | | |")
        return "\n".join(rows)


@frozen_heap()
def stage_all(
    client: StationClient,
    transfer: Transfer,
    tasks: Sequence[StageTask],
    parallel: int,
    on_done: Callable[[StageOutcome], None] | None = None,
    *,
    check_existing: bool = True,
) -> StagingReport:
    """Small files first, all on one asyncio loop (``SmallFiles``), then the large ones on threads; either
    way at most ``parallel`` station connections."""
    started = time.monotonic()
    outcomes: list[StageOutcome | None] = [None] * len(tasks)

    def finish(index: int, outcome: StageOutcome) -> None:
        outcomes[index] = outcome
        if on_done:
            on_done(outcome)

    small = [i for i, task in enumerate(tasks) if transfer.is_small(task.source)]
    large = [i for i, task in enumerate(tasks) if not transfer.is_small(task.source)]
    if small:
        batch = _stage_small(client, transfer, tasks, small, parallel, finish, check_existing)
        # asyncio.run needs a thread where no loop is running, whoever the caller is
        with ThreadPoolExecutor(1, thread_name_prefix=f"stage-{client.name}") as loop:
            loop.submit(asyncio.run, batch).result()

    def stage(index: int) -> None:
        task = tasks[index]
        with transfer_span(client.name, task) as current:
            outcome = _attempt(
                task,
                lambda: transfer.stage(
                    client, task.source, task.bucket, task.key, check_existing=check_existing
                ),
            )
            finish(index, traced(current, outcome))

    with ThreadPoolExecutor(max(1, parallel), thread_name_prefix=f"stage-{client.name}") as pool:
        list(pool.map(stage, large))
    return StagingReport([o for o in outcomes if o is not None], time.monotonic() - started)


async def _stage_small(
    client: StationClient,
    transfer: Transfer,
    tasks: Sequence[StageTask],
    indexes: list[int],
    parallel: int,
    finish: Callable[[int, StageOutcome], None],
    check_existing: bool,
) -> None:
    async with SmallFiles(transfer, client, parallel) as batch:

        async def one(index: int) -> None:
            task = tasks[index]
            with transfer_span(client.name, task) as current:
                try:
                    result = await batch.stage(
                        task.source, task.bucket, task.key, check_existing=check_existing
                    )
                except Exception as exc:
                    outcome = _failure(task, exc)
                else:
                    outcome = _attempt(task, lambda: result)
                finish(index, traced(current, outcome))

        await asyncio.gather(*(one(i) for i in indexes))


def transfer_span(station: str, task: StageTask) -> AbstractContextManager[Span]:
    """One file from the station to S3: names, sizes and keys, never the URL it came from."""
    return span(
        "transfer",
        **{
            "rs.station": station,
            "rs.file": task.source.name,
            "rs.item": task.item_id,
            "rs.collection": task.collection,
            "rs.bytes": task.source.size,
            "s3.bucket": task.bucket,
            "s3.key": task.key,
        },
    )


def traced(current: Span, outcome: StageOutcome) -> StageOutcome:
    if outcome.error:
        current.set_status(StatusCode.ERROR, outcome.error[:300])
    current.set_attribute("rs.skipped", bool(outcome.result and outcome.result.skipped))
    return outcome


def _failure(task: StageTask, exc: Exception) -> StageOutcome:
    if isinstance(exc, RsAssetsError):
        return StageOutcome(task, error=str(exc))
    # a bug or an unexpected library error must not lose the other files
    return StageOutcome(task, error=f"{type(exc).__name__}: {exc}")


def _attempt(task: StageTask, run: Callable[[], TransferResult]) -> StageOutcome:
    try:
        result = run()
        return StageOutcome(task, result, task.build_item(result.object.href))
    except Exception as exc:
        return _failure(task, exc)


def _recorded(task: StageTask, entry: ManifestEntry | None) -> bool:
    """The ledger already holds this exact file (same object, size and checksum) as verified."""
    if entry is None:
        return False
    for asset in entry.item.get("assets", {}).values():
        if asset.get("href") == task.href and asset.get("file:size") == task.source.size:
            checksum = asset.get("file:checksum")
            return task.source.md5 is None or checksum is None or checksum.endswith(task.source.md5.lower())
    return False


def stage_recorded(
    client: StationClient,
    transfer: Transfer,
    tasks: Sequence[StageTask],
    parallel: int,
    ledger: Ledger,
    on_done: Callable[[StageOutcome], None] | None = None,
    checkpoint_seconds: float = 5.0,
    restage: Collection[tuple[str, str]] = (),
) -> StagingReport:
    """``stage_all`` through a partition's ledger: what it already verified is not touched again, progress is
    checkpointed every few seconds, and lookups happen only after an interrupted run. ``restage`` (collection, item
    id) are recorded items whose objects the lifecycle deleted since: they are staged again.

    Checkpoints are written on a thread of their own, never holding up the transfers; the final manifest is
    written after the last checkpoint has landed, so it is never overwritten by an older one. A failed
    checkpoint is not an error: the final write still comes, and a killed run is recovered by the marker.
    """
    started = time.monotonic()
    previous, interrupted = ledger.open()
    recorded = {(e.collection, e.item["id"]): e for e in previous}
    done: list[StageOutcome] = []
    todo: list[StageTask] = []
    for task in tasks:
        entry = recorded.get((task.collection, task.item_id))
        if _recorded(task, entry) and (task.collection, task.item_id) not in restage:
            assert entry is not None
            info = ObjectInfo(task.bucket, task.key, task.source.size, task.source.md5)
            done.append(StageOutcome(task, TransferResult(info, skipped=True, seconds=0.0), entry.item))
        else:
            todo.append(task)
    fresh: list[ManifestEntry] = []
    lock = threading.Lock()
    last_save = time.monotonic()
    saver = ThreadPoolExecutor(1, thread_name_prefix="ledger-checkpoint")
    saving: Future[None] | None = None

    def record(outcome: StageOutcome) -> None:
        nonlocal last_save, saving
        if on_done:
            on_done(outcome)
        if outcome.item is None:
            return
        with lock:
            fresh.append(ManifestEntry(outcome.task.collection, outcome.item))
            due = time.monotonic() - last_save >= checkpoint_seconds
            if due and (saving is None or saving.done()):
                saving = saver.submit(ledger.save, merge(previous, fresh))
                last_save = time.monotonic()

    for outcome in done:
        if on_done:
            on_done(outcome)
    try:
        report = stage_all(client, transfer, todo, parallel, record, check_existing=interrupted)
    finally:
        saver.shutdown(wait=True)
        with lock:
            ledger.close(merge(previous, fresh))
    return StagingReport(done + report.outcomes, time.monotonic() - started)


def expired_tasks(catalog: Catalog, tasks: Sequence[StageTask]) -> set[tuple[str, str]]:
    """The tasks whose item the lifecycle expired: staged once, objects deleted since, to be staged again."""
    by_collection: dict[str, list[str]] = {}
    for task in tasks:
        by_collection.setdefault(task.collection, []).append(task.item_id)
    return {
        (collection, item_id)
        for collection, ids in by_collection.items()
        if catalog.collection_exists(collection)
        for item_id in catalog.expired_ids(collection, ids)
    }
