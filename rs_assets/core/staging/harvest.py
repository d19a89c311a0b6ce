"""Harvest: catalog-only ingestion (GeoSPaaS's harvesting). Items for what a station published over a window, their
assets pointing at the station's download URLs, nothing downloaded.

A harvested item carries ``rs:harvested`` (the station) and no ``expires``. Staging treats it as not staged
(``Catalog.expired_ids``): the day's staging run or a ValCover request stages the product and publication
replaces the item with the staged one; a session's files replace their harvested assets one by one, and the
session loses its mark once every file is staged.

Failed ingestions (a product the mapping or the bucket rules refuse, a catalog write that fails) are kept with
the product's own record in ``_rs-assets/harvest/{station}.json`` and tried again first by the next run, which
needs nothing of the station for them (GeoSPaaS's ``retry_ingestion``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..catalog.mapping import HARVESTED, declare_used_extensions, session_item
from ..errors import RsAssetsError
from ..services import Services
from ..station.client import StationClient
from ..station.models import File, Product, Session
from ..station.odata import F, all_of
from .products import TaskFactory
from .sessions import plan_session, session_files_filter

RECORD_PREFIX = "_rs-assets/harvest"


@dataclass
class HarvestReport:
    harvested: dict[str, list[str]] = field(default_factory=dict)  # collection -> item ids
    already: int = 0
    retried: int = 0
    failed: list[str] = field(default_factory=list)

    @property
    def count(self) -> int:
        return sum(len(ids) for ids in self.harvested.values())


def record_key(station: str) -> str:
    return f"{RECORD_PREFIX}/{station.lower()}.json"


def harvested(item: dict[str, Any], station: str) -> dict[str, Any]:
    properties = {k: v for k, v in item["properties"].items() if k != "expires"}
    return declare_used_extensions({**item, "properties": properties | {HARVESTED: station}})


def harvest_products(
    client: StationClient,
    services: Services,
    begin: datetime,
    end: datetime,
    task: TaskFactory,
    collection: str | None = None,
    on_done: Callable[[str | None], None] | None = None,
) -> HarvestReport:
    """Items for the products ``client`` published in [begin, end), plus the ones that failed last time."""
    pending = _read_pending(services, client.name)
    found = client.products(all_of(F("PublicationDate").ge(begin), F("PublicationDate").lt(end)))
    retried = {p["Id"] for p in pending}
    products = [Product.model_validate(p) for p in pending] + [p for p in found if p.Id not in retried]
    report = HarvestReport(retried=len(pending))
    failed: list[Product] = []
    by_collection: dict[str, list[tuple[Product, dict[str, Any]]]] = {}
    for product in products:
        try:
            planned = task(product, services.placement, collection)
            item = harvested(planned.build_item(client.download_url("Products", product.Id)), client.name)
        except RsAssetsError as exc:
            report.failed.append(f"{product.Name}: {exc}")
            failed.append(product)
            if on_done:
                on_done(f"{product.Name}: {exc}")
            continue
        by_collection.setdefault(planned.collection, []).append((product, item))
    catalog = services.catalog
    for name, entries in sorted(by_collection.items()):
        try:
            catalog.ensure_collection(name)
            present = catalog.existing_ids(name, [item["id"] for _, item in entries])
            fresh = [(p, item) for p, item in entries if item["id"] not in present]
            if fresh:
                catalog.upsert_items(name, [item for _, item in fresh])
        except RsAssetsError as exc:
            report.failed += [f"{p.Name}: {exc}" for p, _ in entries]
            failed += [p for p, _ in entries]
            continue
        report.already += len(entries) - len(fresh)
        report.harvested[name] = [item["id"] for _, item in fresh]
        for _ in entries:
            if on_done:
                on_done(None)
    _write_pending(services, client.name, failed)
    return report


def harvest_sessions(
    client: StationClient, services: Services, begin: datetime, end: datetime
) -> HarvestReport:
    """A session item per session published in [begin, end), its files' assets at the station; a session
    already in the catalog (staged, or harvested before) gains only the files it lacks."""
    report = HarvestReport()
    for session in client.sessions(all_of(F("PublicationDate").ge(begin), F("PublicationDate").lt(end))):
        try:
            collection, ids = _harvest_session(client, services, session)
        except RsAssetsError as exc:
            report.failed.append(f"{session.SessionId}: {exc}")
        else:
            report.harvested.setdefault(collection, []).extend(ids)
    return report


def _harvest_session(client: StationClient, services: Services, session: Session) -> tuple[str, list[str]]:
    files: list[File] = client.files(session_files_filter(session.SessionId))
    collection = plan_session(session, files, services.placement).collection
    current = services.catalog.get_item(collection, session.SessionId)
    known = set((current or {}).get("assets", {}))
    hrefs = {f.Name: client.download_url("Files", f.Id) for f in files if f.Name not in known}
    if current is not None and not hrefs:
        return collection, []
    fresh = harvested(session_item(session, files, hrefs), client.name)
    if current is not None:
        fresh = {**fresh, "assets": {**current["assets"], **fresh["assets"]}}
        if not current["properties"].get(HARVESTED):
            fresh["properties"].pop(HARVESTED)
    services.catalog.ensure_collection(collection)
    services.catalog.upsert_items(collection, [fresh])
    return collection, [session.SessionId]


def _read_pending(services: Services, station: str) -> list[dict[str, Any]]:
    body = services.store.read(services.bookkeeping, record_key(station))
    if body is None:
        return []
    try:
        records = json.loads(body)
    except ValueError as exc:
        records = exc
    if not isinstance(records, list):
        raise RsAssetsError(f"harvest record s3://{services.bookkeeping}/{record_key(station)} is unreadable")
    return records


def _write_pending(services: Services, station: str, failed: list[Product]) -> None:
    key = record_key(station)
    if failed:
        services.store.put_json(services.bookkeeping, key, [p.model_dump(mode="json") for p in failed])
    elif services.store.head(services.bookkeeping, key) is not None:
        services.store.delete(services.bookkeeping, key)
