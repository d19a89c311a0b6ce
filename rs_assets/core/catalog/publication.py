"""Publish staged items to the catalog: only new ones, only if their objects are really there, in bulk.

A ledger records an item once its objects were committed and verified, and nothing removes the objects of an item
that was never published (later steps start from the catalog), so a first publication looks nothing up. An item a
previous publication inserted and that is gone from the catalog since (an operator removed it, or a step that
superseded it) may have lost its objects too: its objects are looked up, and an item with one missing is
reported, never published again. What was published is recorded beside the ledger
(``{manifest}.published.json``), which is how a later run tells the two apart without a lookup per item. An item
the lifecycle expired (``unpublished``, its objects deleted) is published again once staging brought its objects
back, with the fresh ``expires`` the new staging gave it.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Collection, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from ..errors import RsAssetsError
from ..storage.ledger import ManifestEntry, published_record_key
from ..storage.object_store import ObjectStore, split_href
from . import Catalog

LOOKUPS_IN_FLIGHT = 16


@dataclass
class PublicationReport:
    published: dict[str, list[str]] = field(default_factory=dict)
    already: dict[str, list[str]] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)

    @property
    def published_count(self) -> int:
        return sum(len(ids) for ids in self.published.values())

    @property
    def already_count(self) -> int:
        return sum(len(ids) for ids in self.already.values())


def missing_object(store: ObjectStore, item: dict) -> str | None:
    """The first asset of ``item`` whose object (or, for a directory, any object under it) is not in S3."""
    for name, asset in item.get("assets", {}).items():
        href = str(asset.get("href", ""))
        if not href.startswith("s3://"):
            continue
        bucket, key = split_href(href)
        found = next(iter(store.list(bucket, key)), None) if key.endswith("/") else store.head(bucket, key)
        if found is None:
            return f"{item['id']}: asset {name} has no object at {href}"
    return None


def publish(
    catalog: Catalog,
    entries: Sequence[ManifestEntry],
    store: ObjectStore | None = None,
    published_before: Collection[str] = (),
) -> PublicationReport:
    """Insert the items not in the catalog, or expired there; the others are left alone (a later step may own them).

    ``published_before`` (``collection/id``) are the items an earlier publication inserted: one of them missing
    from the catalog is inserted again only if ``store`` still has its objects."""
    report = PublicationReport()
    by_collection: defaultdict[str, list[dict]] = defaultdict(list)
    for entry in entries:
        by_collection[entry.collection].append(entry.item)
    with ThreadPoolExecutor(LOOKUPS_IN_FLIGHT, thread_name_prefix="publish-lookup") as lookups:
        for collection, items in sorted(by_collection.items()):
            catalog.ensure_collection(collection)
            existing = catalog.existing_ids(collection, [item["id"] for item in items])
            expired = catalog.expired_ids(collection, existing) if existing else set()
            existing -= expired
            new = [item for item in items if item["id"] not in existing]
            again = [
                item
                for item in new
                if item["id"] in expired or f"{collection}/{item['id']}" in published_before
            ]
            gaps = dict(
                zip((i["id"] for i in again), lookups.map(lambda i: _lookup(store, i), again), strict=True)
            )
            fresh = [item for item in new if gaps.get(item["id"]) is None]
            report.missing += [gap for gap in gaps.values() if gap is not None]
            if fresh:
                catalog.upsert_items(collection, fresh)
            report.published[collection] = [item["id"] for item in fresh]
            report.already[collection] = sorted(existing)
    return report


def publish_ledger(
    catalog: Catalog, store: ObjectStore, bucket: str, manifest: str, entries: Sequence[ManifestEntry]
) -> PublicationReport:
    """``publish`` a partition's ledger, then record what it holds as published."""
    record = published_record_key(manifest)
    body = store.read(bucket, record)
    try:
        before = set(json.loads(body)) if body else set()
    except ValueError as exc:
        raise RsAssetsError(f"publication record s3://{bucket}/{record} is unreadable: {exc}") from None
    report = publish(catalog, entries, store, before)
    now = before | {f"{c}/{i}" for c, ids in report.published.items() for i in ids}
    if now != before:
        store.put_json(bucket, record, sorted(now))
    return report


def _lookup(store: ObjectStore | None, item: dict) -> str | None:
    if store is None:
        return None
    try:
        return missing_object(store, item)
    except RsAssetsError as exc:
        return f"{item['id']}: its objects could not be looked up: {exc}"
