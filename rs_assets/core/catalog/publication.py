"""Publish staged items to the catalog: only new ones, only if their objects are really there, in bulk.

A ledger records an item once its objects were committed and verified, but a later step may have removed them
since (an archive replaced by its content, a converted SAFE, an operator): each new item's objects are looked up
just before it is inserted, and an item with an object missing is reported, never published.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from ..errors import RsAssetsError
from ..storage.ledger import ManifestEntry
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


def publish(catalog: Catalog, entries: Sequence[ManifestEntry], store: ObjectStore) -> PublicationReport:
    """Insert items not yet in the catalog whose objects are there; items already there are left alone (a later
    step may own them, or have superseded them)."""
    report = PublicationReport()
    by_collection: defaultdict[str, list[dict]] = defaultdict(list)
    for entry in entries:
        by_collection[entry.collection].append(entry.item)
    with ThreadPoolExecutor(LOOKUPS_IN_FLIGHT, thread_name_prefix="publish-lookup") as lookups:
        for collection, items in sorted(by_collection.items()):
            catalog.ensure_collection(collection)
            existing = catalog.existing_ids(collection, [item["id"] for item in items])
            new = [item for item in items if item["id"] not in existing]
            gaps = list(lookups.map(lambda item: _lookup(store, item), new))
            fresh = [item for item, gap in zip(new, gaps, strict=True) if gap is None]
            report.missing += [gap for gap in gaps if gap is not None]
            if fresh:
                catalog.upsert_items(collection, fresh)
            report.published[collection] = [item["id"] for item in fresh]
            report.already[collection] = sorted(existing)
    return report


def _lookup(store: ObjectStore, item: dict) -> str | None:
    try:
        return missing_object(store, item)
    except RsAssetsError as exc:
        return f"{item['id']}: its objects could not be looked up: {exc}"
