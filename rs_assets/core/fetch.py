"""Operator fetches of selected products: ``download`` (station -> S3 or a local folder, through staging's
transfer engine: resumable, verified, committed whole) and ``copy`` (catalog items' objects -> another bucket or a
local folder, verified by size and MD5).

A product is done when all its files are; only then is its flag file written (``{flag_dir}/{name}.done``, JSON
naming where it went), so that a downstream script can wait for it. A dry run plans everything and writes nothing.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Collection, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from .catalog.mapping import product_item_id
from .errors import RsAssetsError
from .lifecycle.objects import item_objects
from .selection import check_template, destination
from .staging.parallel import StageTask, stage_all
from .station.client import StationClient
from .station.models import Product
from .storage.object_store import ObjectStore
from .storage.transfer import Source, Transfer, file_md5
from .timeutil import parse_datetime, utcnow

Item = dict[str, Any]


@dataclass(frozen=True)
class Target:
    """``s3://bucket/template`` or a local folder template; the template's placeholders take the product's date."""

    template: str

    def __post_init__(self) -> None:
        check_template(self.template)
        if self.is_s3 and not self.template[5:].split("/", 1)[0]:
            raise RsAssetsError(f"--destination {self.template!r} names no bucket")

    @property
    def is_s3(self) -> bool:
        return self.template.startswith("s3://")

    def locate(self, when: datetime, *parts: str) -> str:
        return destination(self.template, when, *parts)


@dataclass(frozen=True)
class Planned:
    product: str
    files: tuple[tuple[str, str, int], ...]  # (source, destination, size)
    when: datetime


@dataclass
class Fetched:
    product: str
    destinations: list[str]
    bytes: int = 0
    skipped: bool = False
    error: str | None = None


@dataclass
class FetchReport:
    fetched: list[Fetched] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def failed(self) -> list[Fetched]:
        return [f for f in self.fetched if f.error]

    @property
    def bytes(self) -> int:
        return sum(f.bytes for f in self.fetched if not f.skipped)


def product_date(product: Product) -> datetime:
    start = product.ContentDate.Start if product.ContentDate else None
    return start or product.PublicationDate or utcnow()


def item_date(item: Item) -> datetime:
    properties = item.get("properties", {})
    for name in ("datetime", "start_datetime", "created"):
        value = parse_datetime(properties.get(name))
        if value is not None:
            return value
    return utcnow()


def plan_download(products: Sequence[Product], target: Target) -> list[Planned]:
    return [
        Planned(p.Name, ((p.Id, target.locate(product_date(p), p.Name), p.ContentLength),), product_date(p))
        for p in products
    ]


def download(
    client: StationClient,
    transfer: Transfer,
    products: Sequence[Product],
    target: Target,
    *,
    flag_dir: Path | None = None,
    on_done: Callable[[Fetched], None] | None = None,
) -> FetchReport:
    """Each product to its destination, at most the station's ``max_parallel_downloads`` at once."""
    started = time.monotonic()
    sources = {p.Name: Source("Products", p.Id, p.Name, p.ContentLength, p.md5) for p in products}
    plans = plan_download(products, target)
    report = FetchReport()

    def finished(fetched: Fetched) -> None:
        if not fetched.error and flag_dir is not None:
            write_flag(flag_dir, fetched)
        report.fetched.append(fetched)
        if on_done:
            on_done(fetched)

    parallel = client.config.max_parallel_downloads
    if target.is_s3:
        tasks = []
        for plan in plans:
            bucket, key = plan.files[0][1][5:].split("/", 1)
            tasks.append(
                StageTask(
                    sources[plan.product], bucket, key, "", product_item_id(plan.product), lambda href: {}
                )
            )
        stage_all(
            client,
            transfer,
            tasks,
            parallel,
            lambda o: finished(
                Fetched(
                    o.task.source.name,
                    [o.task.href],
                    o.task.source.size,
                    bool(o.result and o.result.skipped),
                    o.error,
                )
            ),
        )
    else:

        def one(plan: Planned) -> None:
            path = Path(plan.files[0][1])
            try:
                result = transfer.to_file(client, sources[plan.product], path)
            except RsAssetsError as exc:
                finished(Fetched(plan.product, [str(path)], error=str(exc)))
            else:
                finished(Fetched(plan.product, [str(path)], result.object.size, result.skipped))

        with ThreadPoolExecutor(max(1, parallel), thread_name_prefix=f"download-{client.name}") as pool:
            list(pool.map(one, plans))
    report.seconds = time.monotonic() - started
    return report


def plan_copy(
    store: ObjectStore, items: Sequence[Item], target: Target, buckets: Collection[str]
) -> list[Planned]:
    """Every object each item's assets name (a directory's objects one by one), under the destination by its path
    relative to the item's folder."""
    plans: list[Planned] = []
    for item in items:
        when, files = item_date(item), []
        objects, outside = item_objects(item, buckets)
        if outside:
            raise RsAssetsError(f"item {item['id']}: {', '.join(outside)} outside the configured buckets")
        for bucket, key in objects:
            folder = key.rstrip("/").rsplit("/", 1)[0] + "/"
            listed = store.list(bucket, key) if key.endswith("/") else [store.head(bucket, key)]
            for info in listed:
                if info is None:
                    raise RsAssetsError(f"item {item['id']}: s3://{bucket}/{key} is missing")
                relative = info.key.removeprefix(folder)
                files.append(
                    (f"s3://{bucket}/{info.key}", target.locate(when, item["id"], relative), info.size)
                )
        plans.append(Planned(item["id"], tuple(files), when))
    return plans


def copy(
    store: ObjectStore,
    plans: Sequence[Planned],
    *,
    flag_dir: Path | None = None,
    on_done: Callable[[Fetched], None] | None = None,
    parallel: int = 4,
) -> FetchReport:
    """Copy each planned item (server-side within the endpoint, or down to a local folder)."""
    started = time.monotonic()
    report = FetchReport()

    def one(plan: Planned) -> Fetched:
        fetched = Fetched(plan.product, [to for _, to, _ in plan.files], skipped=True)
        try:
            for source, to, size in plan.files:
                done = _copy_one(store, source, to, size)
                fetched.skipped &= not done
                fetched.bytes += size if done else 0
        except (RsAssetsError, OSError) as exc:
            fetched.error = str(exc)
        return fetched

    with ThreadPoolExecutor(max(1, parallel), thread_name_prefix="copy") as pool:
        for fetched in pool.map(one, plans):
            if not fetched.error and flag_dir is not None:
                write_flag(flag_dir, fetched)
            report.fetched.append(fetched)
            if on_done:
                on_done(fetched)
    report.seconds = time.monotonic() - started
    return report


def _copy_one(store: ObjectStore, source: str, to: str, size: int) -> bool:
    """Copy unless a verified copy is there; True when bytes moved."""
    bucket, key = source[5:].split("/", 1)
    found = store.head(bucket, key)
    if found is None:
        raise RsAssetsError(f"{source} is missing")
    md5 = found.md5
    if to.startswith("s3://"):
        to_bucket, to_key = to[5:].split("/", 1)
        existing = store.head(to_bucket, to_key)
        if existing is not None and existing.size == size and (md5 is None or existing.md5 == md5):
            return False
        store.copy(bucket, key, to_bucket, to_key)
        copied = store.head(to_bucket, to_key)
        if copied is None or copied.size != size:
            raise RsAssetsError(
                f"copy of {source} to {to}: {copied.size if copied else 'no'} bytes, expected {size}"
            )
        return True
    path = Path(to)
    if path.exists() and path.stat().st_size == size and (md5 is None or file_md5(path) == md5):
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f"{path.name}.part")
    try:
        with partial.open("wb") as handle:
            store.download_to(bucket, key, handle)
        received = partial.stat().st_size
        if received != size or (md5 is not None and file_md5(partial) != md5):
            raise RsAssetsError(f"copy of {source} to {path}: {received} bytes or MD5 differ from the source")
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)
    return True


def write_flag(flag_dir: Path, fetched: Fetched) -> Path:
    """``{flag_dir}/{product}.done``: written whole (renamed into place) once every file of the product is."""
    flag_dir.mkdir(parents=True, exist_ok=True)
    flag = flag_dir / f"{fetched.product}.done"
    partial = flag.with_name(f".{flag.name}.part")
    body = {"product": fetched.product, "destinations": fetched.destinations, "bytes": fetched.bytes}
    partial.write_text(json.dumps(body | {"finished": utcnow().isoformat()}, indent=1))
    partial.replace(flag)
    return flag
