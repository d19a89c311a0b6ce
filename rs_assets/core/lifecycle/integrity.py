"""Integrity sampling: do the objects that published items name still exist with their recorded size?

Expiry keeps one promise: no item points at a deleted object unless it is marked ``unpublished``. An object
deleted behind rs-assets' back (an operator, a bucket policy, a lost volume) breaks it, and nothing in the
staging path would notice: its ledger says the file was verified. This check samples the items a staging
asset's manifests list (the newest manifests and a few at random), HEADs their objects (a directory href is
listed and its total compared), and for each broken item:

1. marks it the way expiry does (``unpublished``, no assets), with ``rs:objects_lost`` naming the keys, so
   that the catalog stops pointing at what is gone, and staging treats the item as expired: the next run of
   its partition stages it again and publication publishes it again;
2. records it under ``_rs-assets/checks/integrity/``, so that every later check looks at it first and keeps
   failing until a re-stage brings it back with its objects.

The record is written after the items are marked: a check killed between the two finds the items marked and
unpublished next time, and reports them as long as they stay so.
"""

from __future__ import annotations

import json
import random
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..catalog.base import Item
from ..catalog.mapping import OBJECTS_LOST
from ..errors import RsAssetsError
from ..services import Services
from ..storage.ledger import PUBLISHED_SUFFIX, ManifestEntry, manifest_prefix, read_manifest
from ..storage.object_store import ObjectStore
from .expiry import expire
from .objects import item_objects

RECORD_PREFIX = "_rs-assets/checks/integrity"
NEWEST_MANIFESTS = 5
RANDOM_MANIFESTS = 5


@dataclass(frozen=True)
class Broken:
    collection: str
    item_id: str
    partition: str
    problems: tuple[str, ...]


@dataclass
class IntegrityReport:
    items_checked: int = 0
    objects_checked: int = 0
    broken: list[Broken] = field(default_factory=list)
    marked: int = 0

    @property
    def partitions(self) -> list[str]:
        """The partitions whose re-run stages the broken items again."""
        return sorted({b.partition for b in self.broken})


def record_key(family: str) -> str:
    return f"{RECORD_PREFIX}/{family}.json"


def object_problems(store: ObjectStore, item: Item, buckets: Collection[str]) -> tuple[int, list[str]]:
    """(objects looked at, what is wrong with them, each naming its key and the recorded and found sizes)."""
    sizes = {str(asset.get("href")): asset.get("file:size") for asset in item.get("assets", {}).values()}
    objects, _ = item_objects(item, buckets)
    problems: list[str] = []
    for bucket, key in objects:
        expected = sizes.get(f"s3://{bucket}/{key}")
        if key.endswith("/"):
            listed = list(store.list(bucket, key))
            found = sum(o.size for o in listed) if listed else None
        else:
            info = store.head(bucket, key)
            found = info.size if info else None
        if found is None:
            problems.append(f"s3://{bucket}/{key} is missing")
        elif expected is not None and int(expected) != found:
            problems.append(f"s3://{bucket}/{key} holds {found} bytes, the item says {expected}")
    return len(objects), problems


def sample_entries(
    services: Services, family: str, size: int, rng: random.Random
) -> list[tuple[str, ManifestEntry]]:
    """Up to ``size`` (partition, entry) of the family's manifests: the newest manifests first, a few at random."""
    store, bucket = services.store, services.bookkeeping
    prefix = manifest_prefix(family)
    manifests = [
        info
        for info in store.list(bucket, prefix)
        if info.key.endswith(".json") and not info.key.endswith(PUBLISHED_SUFFIX)
    ]
    manifests.sort(key=lambda info: (info.modified or datetime.min, info.key), reverse=True)
    newest, rest = manifests[:NEWEST_MANIFESTS], manifests[NEWEST_MANIFESTS:]
    chosen = newest + rng.sample(rest, min(RANDOM_MANIFESTS, len(rest)))
    entries: list[tuple[str, ManifestEntry]] = []
    for info in chosen:
        partition = info.key.removeprefix(prefix).removesuffix(".json")
        entries += [(partition, entry) for entry in read_manifest(store, bucket, info.key) or []]
    return rng.sample(entries, min(size, len(entries)))


def check_integrity(
    services: Services, family: str, now: datetime, *, sample: int = 20, seed: int | None = None
) -> IntegrityReport:
    """Check the items of ``family``'s manifests broken before (first) and a sample of the others; mark and record
    what is broken."""
    rng = random.Random(seed)
    catalog, buckets = services.catalog, set(services.placement.rules.buckets)
    pending = _read_record(services, family)
    seen = {(b.collection, b.item_id) for b in pending}
    todo = [(b.partition, b.collection, b.item_id) for b in pending] + [
        (partition, entry.collection, entry.item["id"])
        for partition, entry in sample_entries(services, family, sample, rng)
        if (entry.collection, entry.item["id"]) not in seen
    ]
    report = IntegrityReport()
    to_mark: dict[str, list[Item]] = {}
    for partition, collection, item_id in todo:
        item = catalog.get_item(collection, item_id)
        properties = (item or {}).get("properties", {})
        if item is None or properties.get("rs:superseded_by"):
            continue  # not published yet, or replaced by a later step
        if properties.get("unpublished"):
            if properties.get(OBJECTS_LOST):  # marked by an earlier check and not staged again since
                report.broken.append(Broken(collection, item_id, partition, tuple(properties[OBJECTS_LOST])))
            continue
        report.items_checked += 1
        count, problems = object_problems(services.store, item, buckets)
        report.objects_checked += count
        if problems:
            report.broken.append(Broken(collection, item_id, partition, tuple(problems)))
            marked = expire(item, now)
            marked["properties"][OBJECTS_LOST] = problems
            to_mark.setdefault(collection, []).append(marked)
    for collection, items in to_mark.items():
        report.marked += catalog.upsert_items(collection, items)
    _write_record(services, family, report.broken)
    return report


def _read_record(services: Services, family: str) -> list[Broken]:
    body = services.store.read(services.bookkeeping, record_key(family))
    if body is None:
        return []
    try:
        return [
            Broken(b["collection"], b["id"], b["partition"], tuple(b["problems"])) for b in json.loads(body)
        ]
    except (ValueError, KeyError, TypeError) as exc:
        raise RsAssetsError(
            f"integrity record s3://{services.bookkeeping}/{record_key(family)} is unreadable: {exc}"
        ) from None


def _write_record(services: Services, family: str, broken: Sequence[Broken]) -> None:
    key = record_key(family)
    if not broken:
        if services.store.head(services.bookkeeping, key) is not None:
            services.store.delete(services.bookkeeping, key)
        return
    body: list[dict[str, Any]] = [
        {"collection": b.collection, "id": b.item_id, "partition": b.partition, "problems": list(b.problems)}
        for b in broken
    ]
    services.store.put_json(services.bookkeeping, key, body)
