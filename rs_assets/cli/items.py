"""``rs-assets harvest`` (catalog-only items pointing at a station) and ``rs-assets crop`` (a Zarr product cut to
a box): operator commands that make catalog items without staging anything."""

from __future__ import annotations

from datetime import datetime

import click

from rs_assets.cli.context import (
    DATETIME,
    emit,
    failures_as_exit,
    progress_bar,
    resources,
    services,
    table,
)


@click.command("harvest")
@click.argument("station")
@click.option("--begin", type=DATETIME, help="Published from (default: --rel-time hours ago).")
@click.option("--end", type=DATETIME, help="Published until, exclusive (default: now).")
@click.option("--rel-time", "rel_time", type=float, default=24.0, show_default=True, help="Hours before now.")
@click.option(
    "--collection", default=None, help="AUX or PRIP items into this collection (default: the rules')."
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def harvest_command(
    station: str,
    begin: datetime | None,
    end: datetime | None,
    rel_time: float,
    collection: str | None,
    as_json: bool,
) -> None:
    """Catalog-only ingestion: items for what STATION published in the window, their assets at the station,
    nothing downloaded; what failed last time is tried again first. Staging later replaces them."""
    from rs_assets.core.selection import make_selection
    from rs_assets.core.staging.harvest import harvest_products, harvest_sessions
    from rs_assets.core.staging.products import aux_task, prip_task
    from rs_assets.core.timeutil import utcnow

    res = resources()
    with failures_as_exit():
        now = utcnow()
        window = make_selection(
            begin=begin, end=end or now, rel_time_hours=None if begin else rel_time, now=now
        )
        kind = res["stations"].stations().station(station).kind
        client, shared = res["stations"].client(station), services(res)
        assert window.begin is not None and window.end is not None
        if kind == "cadip":
            report = harvest_sessions(client, shared, window.begin, window.end)
        else:
            with progress_bar(f"harvest {station}", quiet=as_json) as (_, advance):
                task = aux_task if kind == "auxip" else prip_task
                report = harvest_products(client, shared, window.begin, window.end, task, collection, advance)
    payload = {
        "harvested": report.harvested,
        "already_in_catalog": report.already,
        "retried": report.retried,
        "failed": report.failed,
    }
    rows = table("collection", "harvested")
    for name, ids in sorted(report.harvested.items()):
        rows.add_row(shared.catalog.wire_id(name), str(len(ids)))
    emit(
        as_json,
        payload,
        rows,
        f"{report.count} items harvested from {station} (assets at the station), {report.already} already in the "
        f"catalog, {report.retried} earlier failures retried, {len(report.failed)} failed"
        + "".join(f"\n  failed: {f}" for f in report.failed[:20]),
    )
    if report.failed:
        raise SystemExit(1)


@click.command("crop")
@click.argument("item")
@click.option("--bbox", required=True, help="W,S,E,N in degrees, e.g. 12.3,41.8,12.6,42.0.")
@click.option(
    "--collection", "output_collection", default=None, help="Where the cropped item goes (default: ITEM's)."
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def crop_command(item: str, bbox: str, output_collection: str | None, as_json: bool) -> None:
    """Cut the Zarr product of ITEM (COLLECTION/ITEM_ID: a converted product or a processed raster) to a lon/lat
    box, write it under the rules' bucket and publish it with a derived_from link."""
    from rs_assets.core.crop import CropError, crop_item, parse_bbox

    res = resources()
    with failures_as_exit():
        collection, _, item_id = item.partition("/")
        if not collection or not item_id:
            raise CropError(f"ITEM {item!r}: give COLLECTION/ITEM_ID")
        box = parse_bbox(bbox)
        shared = services(res)
        with progress_bar(f"crop {item_id}", quiet=as_json) as (set_total, advance):
            set_total(1)
            cropped = crop_item(shared, collection, item_id, box, output_collection=output_collection)
            advance()
    url = shared.catalog.item_url(cropped.collection, cropped.item["id"])
    payload = {
        "id": cropped.item["id"],
        "collection": shared.catalog.wire_id(cropped.collection),
        "item": url,
        "store": cropped.item["assets"]["product"]["href"],
        "bbox": cropped.item["bbox"],
        "shape": cropped.shape,
        "bytes": cropped.bytes,
    }
    rows = table("item", "shape", "store")
    rows.add_row(
        cropped.item["id"], " x ".join(f"{d} {n}" for d, n in cropped.shape.items()), payload["store"]
    )
    emit(as_json, payload, rows, f"cropped to {bbox}: {url}")


COMMANDS = [harvest_command, crop_command]
