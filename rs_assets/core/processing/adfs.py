"""Auxiliary data files a run needs, found in the catalog or staged from the AUXIPs (the reference's
``process_input_adfs``).

Each alternative is tried in its order: search the catalog; when nothing matches, stage what the AUXIPs hold
for the same selection (ValCover or LatestValCover) and search again; when ``timeout_seconds``
allows, keep looking for a late ADF until it runs out. The first alternative that finds an item wins. When none
does, the error names the ADF and every search tried, with what each found.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from ..archives.normalization import archive_assets, normalize_item
from ..catalog import Catalog
from ..catalog.mapping import usable
from ..errors import RsAssetsError
from ..services import Services
from ..staging.products import TaskFactory, ValCoverWindow, stage_valcover
from ..station.client import StationClient
from ..storage.object_store import ObjectStore
from ..timeutil import parse_datetime
from .queries import AdfQuery

Item = dict[str, Any]
Stager = Callable[[AdfQuery], str]


class AdfNotFound(RsAssetsError):
    """No alternative of an ADF found an item, in the catalog or at the stations."""


@dataclass
class AdfAttempt:
    query: AdfQuery
    found: str | None = None
    searches: int = 0
    staging: list[str] = field(default_factory=list)
    waited: float = 0.0

    def summary(self) -> str:
        outcome = f"found {self.found}" if self.found else "nothing found"
        staged = f"; staging: {'; '.join(dict.fromkeys(self.staging))}" if self.staging else ""
        waited = f"; waited {self.waited:.0f} s" if self.waited else ""
        return f"{self.query.describe()} -> {outcome} ({self.searches} searches{staged}{waited})"


@dataclass(frozen=True)
class ResolvedAdf:
    name: str
    item: Item
    collection: str
    href: str
    attempts: tuple[AdfAttempt, ...]


def adf_href(item: Item) -> str:
    """The path a processor is given: the item's only asset, else its ``data`` asset."""
    assets = item.get("assets", {})
    if len(assets) == 1:
        return str(next(iter(assets.values()))["href"])
    data = [a for a in assets.values() if "data" in (a.get("roles") or [])]
    if len(data) == 1:
        return str(data[0]["href"])
    raise RsAssetsError(
        f"ADF item {item['id']} has {len(assets)} assets and no single data asset: {', '.join(assets)}"
    )


def _search(catalog: Catalog, query: AdfQuery) -> Item | None:
    if not catalog.collection_exists(query.collection):
        return None
    found = catalog.search([query.collection], filter=query.filter, sortby=query.sortby, limit=query.limit)
    return next((item for item in found if usable(item)), None)


def resolve_adf(
    name: str,
    queries: Sequence[AdfQuery],
    catalog: Catalog,
    stage: Stager | None = None,
    store: ObjectStore | None = None,
    *,
    poll_seconds: float = 10.0,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> ResolvedAdf:
    """The first item an alternative finds; an archived one is unpacked first (with ``store``)."""
    attempts: list[AdfAttempt] = []
    for query in queries:
        attempt = AdfAttempt(query)
        attempts.append(attempt)
        deadline = clock() + query.timeout_seconds
        while True:
            attempt.searches += 1
            item = _search(catalog, query)
            if item is None and stage is not None:
                attempt.staging.append(stage(query))
                attempt.searches += 1
                item = _search(catalog, query)
            if item is not None:
                attempt.found = item["id"]
                if archive_assets(item) and store is not None:
                    normalize_item(item, query.collection, store, catalog)
                    item = catalog.get_item(query.collection, item["id"]) or item
                return ResolvedAdf(name, item, query.collection, adf_href(item), tuple(attempts))
            remaining = deadline - clock()
            if remaining <= 0:
                break
            pause = min(poll_seconds, remaining)
            sleep(pause)
            attempt.waited += pause
    tried = "; ".join(f"{a.summary()}" for a in attempts) or "the tasktable gives it no alternative"
    raise AdfNotFound(f"ADF {name}: no alternative found an item: {tried}")


def _relation(filter: Any) -> Literal["contains", "intersects"]:
    """``intersects`` when the temporal test of a query is an intersection, else ``contains`` (ValCover)."""
    text = json.dumps(filter or {})
    return (
        "intersects"
        if any(op in text for op in ('"t_intersects"', '"anyinteracts"', '"t_overlaps"'))
        else "contains"
    )


def station_selection(query: AdfQuery) -> tuple[ValCoverWindow, bool] | None:
    """The AUXIP selection equivalent to an ADF search: type, validity window and margins, latest or all.

    None when the query does not say enough (no product type or no window) to ask a station.
    """
    parameters = query.parameters
    product_type = query.product_type
    start, end = (_when(parameters.get(key)) for key in ("start_datetime", "end_datetime"))
    if not product_type or start is None or end is None:
        return None
    window = ValCoverWindow(
        start,
        end,
        product_type,
        float(parameters.get("dTa") or 0),
        float(parameters.get("dTb") or 0),
        relation=_relation(query.filter),
    )
    return window, query.limit == 1


def _when(value: Any) -> datetime | None:
    try:
        return parse_datetime(value)
    except ValueError:
        return None


@dataclass
class AuxipStager:
    """Stages what an ADF search lacks from every AUXIP, into the collection the search looks in."""

    clients: Sequence[StationClient]
    services: Services
    task: TaskFactory

    def __call__(self, query: AdfQuery) -> str:
        selection = station_selection(query)
        if selection is None:
            return "not asked of the stations: the query names no product type and window"
        if not self.clients:
            return "no AUXIP station is configured"
        window, latest = selection
        serving = [c for c in self.clients if c.config.serves(window.product_type)]
        if not serving:
            return f"no AUXIP serves {window.product_type} ({', '.join(c.name for c in self.clients)} do not list it)"
        staged = stage_valcover(
            serving, self.services, window, latest=latest, collection=query.collection, task=self.task
        )
        failed = staged.report.failed
        notes = [
            f"{client.name}: {sum(1 for s in staged.stations.values() if s == client.name)} selected, "
            f"{sum(1 for o in staged.report.staged if staged.stations.get(o.task.source.name) == client.name)} staged"
            for client in serving
        ]
        if failed:
            notes.append(f"{len(failed)} failed ({failed[0].task.source.name}: {failed[0].error})")
        notes += staged.lax
        return "; ".join(notes)
