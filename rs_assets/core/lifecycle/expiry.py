"""Expiry: the objects of items whose ``expires`` has passed are deleted; the items stay, marked ``unpublished``.

The reference's data lifecycle (rs-server ``data_lifecycle``): per collection, the items with ``expires`` in the
past and no ``unpublished`` lose their assets' objects; their ``assets`` are emptied, ``unpublished`` and
``updated`` set, and the item stays, so that lineage and searches keep resolving.

The order that keeps every item truthful (no item points at a deleted object unless it is marked unpublished, no
object of an unexpired item is deleted):

1. the plan (each expired item and its objects) is written to ``_rs-assets/lifecycle/expiry/{collection}.json``
   in the bookkeeping bucket;
2. the items are updated in bulk: this is the commit point;
3. the objects are deleted in batches (S3 DeleteObjects);
4. the plan is removed.

A run that finds a plan (the last one was killed) first deletes the objects of the plan's items the catalog shows
as unpublished, and only those: a catalog outage at 2 leaves items unmarked, whose objects no run deletes until
they are. Nothing outside the buckets the rules name is ever deleted: an item with an object elsewhere is
reported and left alone, as is an item whose ``expires`` does not parse.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..catalog.mapping import declare_used_extensions
from ..errors import RsAssetsError
from ..services import Services
from ..timeutil import format_item_datetime, parse_datetime
from .objects import ObjectRef, delete_objects, item_objects

PLAN_PREFIX = "_rs-assets/lifecycle/expiry"
DATA_RELS = frozenset({"alternate", "enclosure", "data"})  # links that lead to the data, not to other items
Item = dict[str, Any]


def expired_filter(now: datetime) -> dict[str, Any]:
    """CQL2-JSON: ``expires`` before ``now`` (RS datetimes compare as text) and not yet ``unpublished``."""
    return {
        "op": "and",
        "args": [
            {"op": "<", "args": [{"property": "expires"}, format_item_datetime(now)]},
            {"op": "isNull", "args": [{"property": "unpublished"}]},
        ],
    }


@dataclass(frozen=True)
class Expired:
    item_id: str
    objects: tuple[ObjectRef, ...]
    bytes: int


def select_expired(
    items: Sequence[Item], now: datetime, buckets: Collection[str]
) -> tuple[list[tuple[Item, Expired]], list[str]]:
    """The items that really expired, with their objects; the rest that cannot be expired, each with why."""
    chosen: list[tuple[Item, Expired]] = []
    problems: list[str] = []
    for item in items:
        properties = item.get("properties", {})
        if properties.get("unpublished"):
            continue
        try:
            expires = parse_datetime(properties.get("expires"))
        except ValueError:
            problems.append(f"{item['id']}: expires {properties.get('expires')!r} is not a date: left alone")
            continue
        if expires is None or expires >= now:
            continue
        objects, outside = item_objects(item, buckets)
        if outside:
            problems.append(f"{item['id']}: {', '.join(outside)} outside the configured buckets: left alone")
            continue
        size = sum(int(a.get("file:size") or 0) for a in item.get("assets", {}).values())
        chosen.append((item, Expired(item["id"], tuple(objects), size)))
    return chosen, problems


def expire(item: Item, now: datetime) -> Item:
    """The item once its objects are gone: no assets, no links to data, marked ``unpublished`` and ``updated``."""
    when = format_item_datetime(now)
    properties = {**item.get("properties", {}), "unpublished": when, "updated": when}
    links = [link for link in item.get("links", []) if link.get("rel") not in DATA_RELS]
    return declare_used_extensions({**item, "properties": properties, "assets": {}, "links": links})


@dataclass
class ExpiryReport:
    collection: str
    expired: list[Expired] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    objects_deleted: int = 0
    resumed: int = 0
    dry_run: bool = False

    @property
    def bytes(self) -> int:
        return sum(e.bytes for e in self.expired)


def plan_key(collection: str) -> str:
    return f"{PLAN_PREFIX}/{collection.replace('/', '_')}.json"


def run_expiry(
    services: Services,
    collection: str,
    now: datetime,
    *,
    dry_run: bool = False,
    on_deleted: Callable[[int], None] | None = None,
) -> ExpiryReport:
    """Expire what has expired in ``collection`` (after finishing what a killed run left), or list it."""
    catalog, store, bucket = services.catalog, services.store, services.bookkeeping
    if not catalog.collection_exists(collection):
        raise RsAssetsError(f"collection {collection!r} does not exist in the catalog")
    report = ExpiryReport(collection, dry_run=dry_run)
    buckets = set(services.placement.rules.buckets)
    if not dry_run:
        report.resumed = _finish_pending(services, collection, report, on_deleted)
    found = catalog.search([collection], filter=expired_filter(now))
    chosen, report.problems = select_expired(found, now, buckets)
    report.expired = [expired for _, expired in chosen]
    if dry_run or not chosen:
        return report
    key = plan_key(collection)
    _write_plan(services, key, report.expired)
    catalog.upsert_items(collection, [expire(item, now) for item, _ in chosen])
    _delete(services, report.expired, report, on_deleted)
    store.delete(bucket, key)
    return report


def expire_collections(
    services: Services,
    collections: Sequence[str],
    now: datetime,
    *,
    dry_run: bool = False,
    on_collection: Callable[[ExpiryReport | None], None] | None = None,
) -> tuple[list[ExpiryReport], list[str]]:
    """``run_expiry`` over ``collections`` (every collection of the owner when empty); one collection's failure
    never stops the others. Returns the reports and the failures, each naming its collection."""
    reports: list[ExpiryReport] = []
    failures: list[str] = []
    for collection in collections or services.catalog.collections():
        report = None
        try:
            report = run_expiry(services, collection, now, dry_run=dry_run)
        except RsAssetsError as exc:
            failures.append(f"{collection}: {exc}")
        else:
            reports.append(report)
            failures += [f"{collection}: {f}" for f in report.failures]
        if on_collection:
            on_collection(report)
    return reports, failures


def _write_plan(services: Services, key: str, expired: Sequence[Expired]) -> None:
    services.store.put_json(
        services.bookkeeping,
        key,
        [{"id": e.item_id, "objects": [list(o) for o in e.objects], "bytes": e.bytes} for e in expired],
    )


def _finish_pending(
    services: Services, collection: str, report: ExpiryReport, on_deleted: Callable[[int], None] | None
) -> int:
    """Delete the objects of a killed run's plan whose items the catalog shows unpublished; then drop the plan."""
    key = plan_key(collection)
    body = services.store.read(services.bookkeeping, key)
    if body is None:
        return 0
    try:
        planned = [
            Expired(e["id"], tuple(tuple(o) for o in e["objects"]), e["bytes"]) for e in json.loads(body)
        ]
    except (ValueError, KeyError, TypeError) as exc:
        raise RsAssetsError(f"expiry plan s3://{services.bookkeeping}/{key} is unreadable: {exc}") from None
    ids = [e.item_id for e in planned]
    marked = {
        item["id"]
        for item in services.catalog.search(
            [collection], filter={"op": "in", "args": [{"property": "id"}, ids]}
        )
        if item.get("properties", {}).get("unpublished") and not item.get("assets")
    }
    committed = [e for e in planned if e.item_id in marked]
    _delete(services, committed, report, on_deleted)
    services.store.delete(services.bookkeeping, key)
    return len(committed)


def _delete(
    services: Services,
    expired: Sequence[Expired],
    report: ExpiryReport,
    on_deleted: Callable[[int], None] | None,
) -> None:
    deleted, refused = delete_objects(services.store, [o for e in expired for o in e.objects], on_deleted)
    report.objects_deleted += deleted
    report.failures += refused
