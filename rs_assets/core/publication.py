"""Publish staged items to the catalog: only new ones, only if their objects are really there, in bulk."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from .catalog import Catalog
from .errors import RsAssetsError
from .manifest import ManifestEntry
from .object_store import ObjectStore, split_href


@dataclass
class PublicationReport:
    published: dict[str, list[str]] = field(default_factory=dict)
    already: dict[str, list[str]] = field(default_factory=dict)
    refused: list[tuple[str, str]] = field(default_factory=list)

    @property
    def published_count(self) -> int:
        return sum(len(ids) for ids in self.published.values())

    @property
    def already_count(self) -> int:
        return sum(len(ids) for ids in self.already.values())


def missing_objects(store: ObjectStore, item: dict) -> list[str]:
    """Asset hrefs whose object is absent or of the wrong size: such an item must not be published."""
    problems = []
    for name, asset in item.get("assets", {}).items():
        href = asset.get("href", "")
        if not href.startswith("s3://") or href.endswith("/"):
            continue
        bucket, key = split_href(href)
        info = store.head(bucket, key)
        expected = asset.get("file:size")
        if info is None:
            problems.append(f"{name}: {href} does not exist")
        elif expected is not None and info.size != expected:
            problems.append(f"{name}: {href} has {info.size} bytes, expected {expected}")
    return problems


def publish(catalog: Catalog, store: ObjectStore, entries: Sequence[ManifestEntry]) -> PublicationReport:
    """Insert items not yet in the catalog; items already there are left alone (a later step may own them)."""
    report = PublicationReport()
    by_collection: defaultdict[str, list[dict]] = defaultdict(list)
    for entry in entries:
        by_collection[entry.collection].append(entry.item)
    for collection, items in sorted(by_collection.items()):
        catalog.ensure_collection(collection)
        existing = catalog.existing_ids(collection, [item["id"] for item in items])
        fresh = []
        for item in items:
            if item["id"] in existing:
                continue
            problems = missing_objects(store, item)
            if problems:
                report.refused.append((item["id"], "; ".join(problems)))
            else:
                fresh.append(item)
        if fresh:
            catalog.upsert_items(collection, fresh)
        report.published[collection] = [item["id"] for item in fresh]
        report.already[collection] = sorted(existing)
    return report


def raise_if_refused(report: PublicationReport, what: str) -> None:
    if report.refused:
        listed = "; ".join(f"{item_id}: {reason}" for item_id, reason in report.refused[:10])
        raise RsAssetsError(
            f"{what}: {len(report.refused)} items not published because their objects are not in place: {listed}"
        )
