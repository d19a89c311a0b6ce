"""AUXIP and PRIP selection and staging plans: which products a day or a ValCover window means, where they go."""

from __future__ import annotations

import time as clock
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal

from ..catalog.mapping import (
    aux_item,
    platform_of_product,
    prip_item,
    product_item_id,
    set_expires,
)
from ..catalog.publication import publish
from ..errors import RsAssetsError
from ..services import Lease, Placement, Services, no_lease
from ..station.client import StationClient
from ..station.models import Product
from ..station.odata import AttributeEquals, Expr, F, Or, all_of
from ..storage.ledger import ManifestEntry
from ..storage.transfer import Source
from ..timeutil import format_datetime, utcnow
from .parallel import StageOutcome, StageTask, StagingReport, object_key, stage_all


def day_bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time(0), tzinfo=UTC)
    return start, start + timedelta(days=1)


def _any_attribute(name: str, values: Sequence[str]) -> Expr | None:
    if not values:
        return None
    parts = [AttributeEquals(name, value) for value in values]
    return parts[0] if len(parts) == 1 else Or(tuple(parts))


def published_on(day: date, product_types: Sequence[str] = (), missions: Sequence[str] = ()) -> Expr:
    """Products published during ``day`` (UTC), optionally of some types and missions (``S1`` or ``SENTINEL-1``)."""
    start, end = day_bounds(day)
    platforms = [
        f"SENTINEL-{m.upper().removeprefix('SENTINEL-').removeprefix('S').lstrip('0')}" for m in missions
    ]
    expr = all_of(
        F("PublicationDate").ge(start),
        F("PublicationDate").lt(end),
        _any_attribute("productType", product_types),
        _any_attribute("platformShortName", platforms),
    )
    assert expr is not None
    return expr


@dataclass(frozen=True)
class ValCoverWindow:
    """LatestValCover/ValCover selection (the retrieval modes of IPF tasktables, as rs-server's ``create_valcover_filter``): validity strictly contains [start - dTa, end + dTb].

    ``relation="intersects"`` is the ValIntersect variant some tasktable queries use: validity overlaps it.
    """

    start: datetime
    end: datetime
    product_type: str
    delta_before: float = 0.0
    delta_after: float = 0.0
    relation: Literal["contains", "intersects"] = "contains"

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise RsAssetsError(f"ValCover window ends ({self.end}) before it starts ({self.start})")
        if not self.product_type:
            raise RsAssetsError("ValCover needs a product type")

    @property
    def covered_from(self) -> datetime:
        return self.start - timedelta(seconds=self.delta_before)

    @property
    def covered_to(self) -> datetime:
        return self.end + timedelta(seconds=self.delta_after)

    def outside(self, product: Product) -> str | None:
        """Why a product a station returned for this selection does not belong to it (None when it does): a
        station may ignore part of a filter, and staging what it returns would stage products outside the window."""
        product_type = product.attribute("productType")
        if product_type != self.product_type:
            return f"productType {product_type!r}, not {self.product_type!r}"
        window = product.ContentDate
        start, end = (window.Start, window.End) if window else (None, None)
        if start is None or end is None:
            return "no ContentDate"
        contains = self.relation == "contains"
        if contains and not (start < self.covered_from and end > self.covered_to):
            return f"validity [{format_datetime(start)}, {format_datetime(end)}] does not strictly contain the window"
        if not contains and not (start < self.covered_to and end > self.covered_from):
            return f"validity [{format_datetime(start)}, {format_datetime(end)}] does not overlap the window"
        return None

    def odata(self) -> Expr:
        contains = self.relation == "contains"
        expr = all_of(
            AttributeEquals("productType", self.product_type),
            F("ContentDate/Start").lt(self.covered_from if contains else self.covered_to),
            F("ContentDate/End").gt(self.covered_to if contains else self.covered_from),
        )
        assert expr is not None
        return expr

    def cql2(self) -> dict:
        """The same selection against the catalog, as the reference's ``create_valcover_filter``."""
        return {
            "op": "and",
            "args": [
                {"op": "=", "args": [{"property": "product:type"}, self.product_type]},
                {
                    "op": "t_contains" if self.relation == "contains" else "t_intersects",
                    "args": [
                        {"interval": [{"property": "start_datetime"}, {"property": "end_datetime"}]},
                        {"interval": [format_datetime(self.covered_from), format_datetime(self.covered_to)]},
                    ],
                },
            ],
        }


def latest_created(products: Sequence[Product]) -> list[Product]:
    """LatestValCover: the most recently created product wins."""
    if not products:
        return []
    return [
        max(
            products,
            key=lambda p: (
                str(p.attribute("processingDate") or ""),
                p.OriginDate or datetime.min.replace(tzinfo=UTC),
            ),
        )
    ]


ItemBuilder = Callable[[Product, str], dict]


def product_task(
    product: Product, placement: Placement, collection: str, build_item: ItemBuilder
) -> StageTask:
    """Stage ``product`` to ``{owner}/{collection}/{item id}/{name}`` in the bucket its rule picks."""
    owner = placement.owner
    product_type = str(product.attribute("productType") or "*")
    where = placement.rules.place(owner, collection, product_type)

    def build(href: str) -> dict:
        item = build_item(product, href)
        set_expires(item, where.expires(utcnow()))  # from this staging: a product staged again lives again
        return item

    item_id = product_item_id(product.Name)
    return StageTask(
        source=Source("Products", product.Id, product.Name, product.ContentLength, product.md5),
        bucket=where.bucket,
        key=object_key(owner, collection, item_id, product.Name),
        collection=collection,
        item_id=item_id,
        build_item=build,
    )


def aux_task(product: Product, placement: Placement, collection: str | None = None) -> StageTask:
    collection = collection or placement.names.for_aux(platform_of_product(product))
    return product_task(product, placement, collection, aux_item)


def prip_task(product: Product, placement: Placement, collection: str | None = None) -> StageTask:
    product_type = str(product.attribute("productType") or "")
    if not product_type:
        raise RsAssetsError("no productType attribute")
    collection = collection or placement.names.for_prip(platform_of_product(product), product_type)
    return product_task(product, placement, collection, prip_item)


TaskFactory = Callable[[Product, Placement, str | None], StageTask]


def plan(
    products: Sequence[Product],
    placement: Placement,
    collection: str | None = None,
    task: TaskFactory = aux_task,
) -> tuple[list[StageTask], list[str]]:
    """Staging tasks for ``products``; a product the rules cannot place is reported, not fatal to the rest."""
    tasks: list[StageTask] = []
    errors: list[str] = []
    for product in products:
        try:
            tasks.append(task(product, placement, collection))
        except RsAssetsError as exc:
            errors.append(f"{product.Name}: {exc}")
    return tasks, errors


@dataclass
class ValCoverSelection:
    chosen: list[tuple[StationClient, Product]] = field(default_factory=list)
    lax: list[str] = field(default_factory=list)


def select_valcover(
    clients: Sequence[StationClient], window: ValCoverWindow, latest: bool, lease: Lease = no_lease
) -> ValCoverSelection:
    """What the stations that serve the type hold for the window, each product once (from the first station that
    lists it); LatestValCover keeps the most recently created of them all. What a station returns outside the
    selection (it ignored part of the filter) is left out and reported in ``lax``."""
    found: dict[str, tuple[StationClient, Product]] = {}
    lax: list[str] = []
    for client in clients:
        if not client.config.serves(window.product_type):
            continue
        with lease(client.name):
            products = client.products(window.odata())
        for product in products:
            why = window.outside(product)
            if why:
                lax.append(f"{client.name} returned {product.Name}, outside the selection: {why}")
            else:
                found.setdefault(product.Name, (client, product))
    if latest and found:
        newest = latest_created([product for _, product in found.values()])[0]
        return ValCoverSelection([found[newest.Name]], lax)
    return ValCoverSelection(list(found.values()), lax)


@dataclass
class ValCoverStaging:
    selected: list[Product]
    already: set[str]
    report: StagingReport
    stations: dict[str, str] = field(default_factory=dict)
    lax: list[str] = field(default_factory=list)

    @property
    def items(self) -> list[dict]:
        return [o.item for o in self.report.succeeded if o.item]


def stage_valcover(
    clients: Sequence[StationClient],
    services: Services,
    window: ValCoverWindow,
    *,
    latest: bool,
    collection: str,
    task: TaskFactory,
    on_planned: Callable[[int], None] | None = None,
    on_done: Callable[[StageOutcome], None] | None = None,
) -> ValCoverStaging:
    """On-demand staging (the RS ``on_demand_prip_staging`` and AUXIP staging flows): select by validity at
    every station that serves the product type, stage what ``collection`` lacks, publish it there.

    A product the rules cannot place fails the whole request before anything is written.
    """
    catalog = services.catalog
    selection = select_valcover(clients, window, latest, services.lease)
    selected = selection.chosen
    catalog.ensure_collection(collection)
    ids = [product_item_id(p.Name) for _, p in selected]
    present = catalog.existing_ids(collection, ids)
    present -= catalog.expired_ids(collection, present) if present else set()
    by_station: dict[str, tuple[StationClient, list[StageTask]]] = {}
    errors: list[str] = []
    for client, product in selected:
        if product_item_id(product.Name) in present:
            continue
        tasks, failed = plan([product], services.placement, collection, task)
        errors += failed
        by_station.setdefault(client.name, (client, []))[1].extend(tasks)
    if errors:
        raise RsAssetsError(f"{len(errors)} products could not be planned: {'; '.join(errors[:5])}")
    if on_planned:
        on_planned(sum(len(tasks) for _, tasks in by_station.values()))
    report = StagingReport()
    started = clock.monotonic()
    for client, tasks in by_station.values():
        with services.lease(client.name):
            report.outcomes += stage_all(
                client, services.transfer, tasks, client.config.max_parallel_downloads, on_done
            ).outcomes
    report.seconds = clock.monotonic() - started
    staged = ValCoverStaging(
        [p for _, p in selected], present, report, {p.Name: c.name for c, p in selected}, selection.lax
    )
    publish(catalog, [ManifestEntry(collection, item) for item in staged.items])
    return staged
