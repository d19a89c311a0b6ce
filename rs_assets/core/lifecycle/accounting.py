"""Storage accounting: what the catalog holds per collection, what the buckets hold, and what expires soon.

Collections are counted from their items (``file:size`` of the assets), buckets from a listing of the objects, so
that the two can disagree: objects no item accounts for (intermediates, orphans) show as the difference.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from ..services import Services
from ..timeutil import parse_datetime

DAY, WEEK = timedelta(days=1), timedelta(days=7)


@dataclass
class CollectionUsage:
    collection: str
    items: int = 0
    unpublished: int = 0
    bytes: int = 0
    expiring_day: int = 0  # bytes whose item expires within a day
    expiring_week: int = 0


@dataclass
class BucketUsage:
    bucket: str
    objects: int = 0
    bytes: int = 0


@dataclass
class StorageReport:
    collections: list[CollectionUsage] = field(default_factory=list)
    buckets: list[BucketUsage] = field(default_factory=list)

    def markdown(self) -> str:
        rows = [
            "| collection | items | unpublished | bytes | expiring in a day | in a week |",
            "| --- | ---: | ---: | ---: | ---: | ---: |",
        ]
        rows += [
            f"| {c.collection} | {c.items} | {c.unpublished} | {c.bytes:,} | {c.expiring_day:,} | {c.expiring_week:,} |"
            for c in self.collections
        ]
        rows += ["", "| bucket | objects | bytes |", "| --- | ---: | ---: |"]
        rows += [f"| {b.bucket} | {b.objects} | {b.bytes:,} |" for b in self.buckets]
        return "\n".join(rows)


def collection_usage(collection: str, items: list[dict], now: datetime) -> CollectionUsage:
    usage = CollectionUsage(collection, items=len(items))
    for item in items:
        properties = item.get("properties", {})
        if properties.get("unpublished"):
            usage.unpublished += 1
            continue
        size = sum(int(a.get("file:size") or 0) for a in item.get("assets", {}).values())
        usage.bytes += size
        try:
            expires = parse_datetime(properties.get("expires"))
        except ValueError:
            continue
        if expires is not None and expires - now <= WEEK:
            usage.expiring_week += size
            if expires - now <= DAY:
                usage.expiring_day += size
    return usage


def storage_report(
    services: Services, now: datetime, on_step: Callable[[str], None] | None = None
) -> StorageReport:
    report = StorageReport()
    for collection in services.catalog.collections():
        report.collections.append(collection_usage(collection, services.catalog.search([collection]), now))
        if on_step:
            on_step(collection)
    for bucket in services.placement.rules.buckets:
        usage = BucketUsage(bucket)
        for info in services.store.list(bucket, ""):
            usage.objects += 1
            usage.bytes += info.size
        report.buckets.append(usage)
        if on_step:
            on_step(bucket)
    return report
