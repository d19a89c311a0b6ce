"""Orphan sweep: objects under final keys that nothing names, and multipart uploads that never completed.

An orphan is what a step killed between its commit point and its cleanup leaves (a conversion killed after
superseding its staged item, before deleting the staged objects), or what was written beside the platform. An
object is named when an item of the owner's collections, or a staging ledger's entry for an item not in the
catalog yet, holds an ``s3://`` href to it or to a directory or store above it.

The order that never deletes a named object: every reference is read before anything is deleted, and a failure
to read one collection or record stops the sweep; only objects older than the grace period are candidates, so
that a step in flight, whose objects exist before the item that names them, is left alone; and only the buckets
the rules name are listed, without their ``_rs-assets/`` records. Orphans are deleted only when asked (``apply``);
uploads older than the grace period are aborted then too (``abort_stale_uploads`` also runs with expiry).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from ..errors import RsAssetsError
from ..services import Services
from ..storage.ledger import MANIFEST_PREFIX, PUBLISHED_SUFFIX, read_manifest
from ..storage.object_store import ObjectInfo, Upload, split_href
from .objects import delete_objects

RECORDS_PREFIX = "_rs-assets/"


@dataclass
class References:
    """The objects items and records name: exact keys, and directories (or stores) everything under is named by."""

    keys: set[tuple[str, str]] = field(default_factory=set)
    directories: set[tuple[str, str]] = field(default_factory=set)

    def add(self, href: str) -> None:
        bucket, key = split_href(href)
        if key:
            self.keys.add((bucket, key))
            self.directories.add((bucket, key.rstrip("/") + "/"))

    def add_all(self, document: Any) -> None:
        for href in s3_hrefs(document):
            self.add(href)

    def names(self, bucket: str, key: str) -> bool:
        if (bucket, key) in self.keys:
            return True
        parts = key.split("/")
        return any(
            (bucket, "/".join(parts[:depth]) + "/") in self.directories for depth in range(1, len(parts))
        )


def s3_hrefs(document: Any) -> Iterator[str]:
    """Every ``s3://`` string anywhere in a JSON document (assets, alternates, links, ledger entries)."""
    if isinstance(document, str):
        if document.startswith("s3://"):
            yield document
    elif isinstance(document, dict):
        for value in document.values():
            yield from s3_hrefs(value)
    elif isinstance(document, list):
        for value in document:
            yield from s3_hrefs(value)


@dataclass
class SweepReport:
    grace: timedelta
    applied: bool = False
    objects_listed: int = 0
    items_read: int = 0
    ledgers_read: int = 0
    orphans: list[ObjectInfo] = field(default_factory=list)
    stale_uploads: list[Upload] = field(default_factory=list)
    deleted: int = 0
    aborted: int = 0
    failures: list[str] = field(default_factory=list)

    @property
    def orphan_bytes(self) -> int:
        return sum(o.size for o in self.orphans)

    def markdown(self, limit: int = 50) -> str:
        rows = ["| orphan | bytes | modified |", "| --- | ---: | --- |"]
        rows += [
            f"| {o.href} | {o.size:,} | {o.modified:%Y-%m-%d %H:%M} |"
            for o in self.orphans[:limit]
            if o.modified
        ]
        return "\n".join(rows)


def references(
    services: Services, on_step: Callable[[str], None] | None = None
) -> tuple[References, int, int]:
    """What the items of the owner's collections name, and what the staging ledgers name for items not in the
    catalog yet (staged, their publication still to come); with how many items and ledgers were read.

    A ledger entry whose item is in the catalog names nothing: the catalog's item is what holds (a superseded or
    expired item has given its objects up)."""
    found = References()
    in_catalog: set[tuple[str, str]] = set()
    for collection in services.catalog.collections():
        for item in services.catalog.search([collection]):
            found.add_all(item.get("assets", {}))
            found.add_all(item.get("links", []))
            in_catalog.add((collection, item["id"]))
        if on_step:
            on_step(f"read {collection}")
    store, bucket = services.store, services.bookkeeping
    ledgers = [
        info.key
        for info in store.list(bucket, f"{MANIFEST_PREFIX}/")
        if info.key.endswith(".json") and not info.key.endswith(PUBLISHED_SUFFIX)
    ]
    for key in ledgers:
        for entry in read_manifest(store, bucket, key) or []:
            if (services.catalog.wire_id(entry.collection), entry.item.get("id")) not in in_catalog:
                found.add_all(entry.item.get("assets", {}))
    if on_step:
        on_step(f"read {len(ledgers)} ledgers")
    return found, len(in_catalog), len(ledgers)


def stale_uploads(services: Services, before: datetime) -> list[Upload]:
    return [
        upload
        for bucket in services.placement.rules.buckets
        for upload in services.store.uploads(bucket)
        if upload.initiated is not None and upload.initiated < before
    ]


def abort_stale_uploads(services: Services, before: datetime) -> tuple[int, list[str]]:
    """Abort the multipart uploads started before ``before``: a transfer never resumes another run's upload."""
    return abort_uploads(services, stale_uploads(services, before))


def abort_uploads(services: Services, uploads: list[Upload]) -> tuple[int, list[str]]:
    aborted, failures = 0, []
    for upload in uploads:
        try:
            services.store.abort(upload.bucket, upload.key, upload.upload_id)
            aborted += 1
        except RsAssetsError as exc:
            failures.append(str(exc))
    return aborted, failures


def sweep(
    services: Services,
    now: datetime,
    grace: timedelta,
    *,
    apply: bool = False,
    on_step: Callable[[str], None] | None = None,
) -> SweepReport:
    """List the orphans older than ``grace`` (and stale uploads); with ``apply``, delete and abort them."""
    report = SweepReport(grace, applied=apply)
    named, report.items_read, report.ledgers_read = references(services, on_step)
    cutoff = now - grace
    for bucket in services.placement.rules.buckets:
        for info in services.store.list(bucket, ""):
            report.objects_listed += 1
            if info.key.startswith(RECORDS_PREFIX) or named.names(bucket, info.key):
                continue
            if info.modified is not None and info.modified < cutoff:
                report.orphans.append(info)
        if on_step:
            on_step(f"listed s3://{bucket}")
    report.stale_uploads = stale_uploads(services, cutoff)
    if apply:
        report.deleted, refused = delete_objects(services.store, [(o.bucket, o.key) for o in report.orphans])
        report.failures += refused
        report.aborted, failed = abort_uploads(services, report.stale_uploads)
        report.failures += failed
    return report
