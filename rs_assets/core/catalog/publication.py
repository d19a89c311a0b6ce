"""Publish staged items to the catalog: only new ones, only if their objects are really there, in bulk."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from ..storage.ledger import ManifestEntry
from . import Catalog


@dataclass
class PublicationReport:
    published: dict[str, list[str]] = field(default_factory=dict)
    already: dict[str, list[str]] = field(default_factory=dict)

    @property
    def published_count(self) -> int:
        return sum(len(ids) for ids in self.published.values())

    @property
    def already_count(self) -> int:
        return sum(len(ids) for ids in self.already.values())


def publish(catalog: Catalog, entries: Sequence[ManifestEntry]) -> PublicationReport:
    """Insert items not yet in the catalog; items already there are left alone (a later step may own them).

    Entries come from a staging ledger, which records an item only after its objects were committed and
    verified, so publication does not look the objects up again.
    """
    report = PublicationReport()
    by_collection: defaultdict[str, list[dict]] = defaultdict(list)
    for entry in entries:
        by_collection[entry.collection].append(entry.item)
    for collection, items in sorted(by_collection.items()):
        catalog.ensure_collection(collection)
        existing = catalog.existing_ids(collection, [item["id"] for item in items])
        fresh = [item for item in items if item["id"] not in existing]
        if fresh:
            catalog.upsert_items(collection, fresh)
        report.published[collection] = [item["id"] for item in fresh]
        report.already[collection] = sorted(existing)
    return report
