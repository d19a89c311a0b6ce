"""Operator commands: stage a session, ValCover staging, convert a product, browse the catalog.

They run the same core code as the assets, with the same settings (``RS_ASSETS_*``), outside Dagster.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import click

from rs_assets.cli.context import (
    DATETIME,
    emit,
    failures_as_exit,
    progress_bar,
    resources,
    services,
    stderr,
    table,
)


def _station_kind(stations: Any, name: str) -> str:
    return stations.stations().station(name).kind


@click.command("stage-session")
@click.argument("station")
@click.argument("session_id")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def stage_session_command(station: str, session_id: str, as_json: bool) -> None:
    """Stage one CADIP session by id (what is already staged is skipped) and upsert its item."""
    from rs_assets.core.staging.sessions import stage_session

    res = resources()
    with failures_as_exit():
        client = res["stations"].client(station)
        shared = services(res)
        catalog = shared.catalog
        with progress_bar(f"{station} {session_id}", quiet=as_json) as (set_total, advance):
            report = stage_session(
                client,
                shared,
                session_id,
                client.config.max_parallel_downloads,
                on_done=advance,
                on_planned=set_total,
            )
    staging = report.staging
    payload = {
        "session": session_id,
        "station": station,
        "collection": catalog.wire_id(report.collection),
        "item": catalog.item_url(report.collection, session_id),
        "files": len(report.files),
        "staged": len(staging.staged),
        "skipped": len(staging.skipped),
        "failed": [f"{o.task.source.name}: {o.error}" for o in staging.failed],
        "bytes": staging.transferred_bytes,
        "mb_per_s": round(staging.mb_per_s, 2),
        "complete": report.state.complete,
        "channels": {str(c.channel): c.summary for c in report.state.channels},
    }
    channels = table("channel", "blocks", "state")
    for c in report.state.channels:
        channels.add_row(str(c.channel), str(len(c.blocks)), c.summary)
    if not report.staged:
        payload["item"] = None
    emit(
        as_json,
        payload,
        channels,
        f"{session_id}: {payload['staged']} staged, {payload['skipped']} already there, "
        f"{len(payload['failed'])} failed, {staging.transferred_bytes / 1e6:.1f} MB at {payload['mb_per_s']} MB/s; "
        f"{'complete' if report.state.complete else 'partial'}; "
        + (f"item {payload['item']}" if payload["item"] else "no item published: no file is staged"),
    )
    if staging.failed:
        if not as_json:
            for reason in payload["failed"][:FAILURES_SHOWN]:
                stderr.print(f"failed: {reason}", markup=False, highlight=False, soft_wrap=True)
            if len(payload["failed"]) > FAILURES_SHOWN:
                stderr.print(
                    f"... and {len(payload['failed']) - FAILURES_SHOWN} more (--json lists them all)"
                )
        raise SystemExit(1)


FAILURES_SHOWN = 20


@click.command("valcover")
@click.argument("station")
@click.option("--type", "product_type", required=True, help="Product type, e.g. AUX_PP2 or IW_GRDH_1S.")
@click.option("--start", type=DATETIME, required=True, help="Window start, e.g. 2025-08-07T11:51:12.509Z.")
@click.option("--end", type=DATETIME, required=True, help="Window end.")
@click.option("--collection", required=True, help="Target collection (without owner prefix).")
@click.option("--latest", is_flag=True, help="LatestValCover: only the most recently created product.")
@click.option("--dta", type=float, default=0.0, show_default=True, help="Margin before start, seconds.")
@click.option("--dtb", type=float, default=0.0, show_default=True, help="Margin after end, seconds.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def valcover_command(
    station: str,
    product_type: str,
    start: datetime,
    end: datetime,
    collection: str,
    latest: bool,
    dta: float,
    dtb: float,
    as_json: bool,
) -> None:
    """Stage the AUX or PRIP products whose validity strictly contains [START, END]. STATION is a station, or
    ``auxip``/``prip`` for every station of the kind that serves the product type."""
    from rs_assets.core.catalog.mapping import product_item_id
    from rs_assets.core.staging.products import ValCoverWindow, aux_task, prip_task, stage_valcover

    res = resources()
    with failures_as_exit():
        configured = res["stations"].stations()
        if station.lower() in ("auxip", "prip"):
            kind, names = station.lower(), [s.name for s in configured.of_kind(station.lower())]
            if not names:
                raise click.ClickException(f"no {kind.upper()} station is configured")
        else:
            kind, names = _station_kind(res["stations"], station), [station]
        if kind == "cadip":
            raise click.ClickException(f"{station} is a CADIP station: ValCover applies to AUXIP and PRIP")
        window = ValCoverWindow(start, end, product_type, dta, dtb)
        shared = services(res)
        catalog = shared.catalog
        with progress_bar(f"ValCover {product_type}", quiet=as_json) as (set_total, advance):
            staged = stage_valcover(
                [res["stations"].client(name) for name in names],
                shared,
                window,
                latest=latest,
                collection=collection,
                task=aux_task if kind == "auxip" else prip_task,
                on_planned=set_total,
                on_done=advance,
            )
    items = staged.items
    payload = {
        "selected": [p.Name for p in staged.selected],
        "already_in_catalog": sorted(staged.already),
        "staged": [{"id": i["id"], "url": catalog.item_url(collection, i["id"])} for i in items],
        "failed": [f"{o.task.source.name}: {o.error}" for o in staged.report.failed],
        "outside_the_selection": staged.lax,
    }
    if not as_json:
        for note in staged.lax:
            stderr.print(f"left out: {note}", markup=False, highlight=False, soft_wrap=True)
    failed = {o.task.source.name: o.error for o in staged.report.failed}
    rows = table("product", "state")
    for product in staged.selected:
        if product_item_id(product.Name) in staged.already:
            state = "already in catalog"
        elif product.Name in failed:
            state = f"failed: {failed[product.Name]}"
        else:
            state = "staged"
        rows.add_row(product.Name, state)
    emit(
        as_json,
        payload,
        rows,
        f"{len(staged.selected)} selected, {len(items)} staged into {catalog.wire_id(collection)}, "
        f"{len(staged.already)} already there, {len(payload['failed'])} failed",
    )
    if staged.report.failed:
        raise SystemExit(1)


@click.command("convert")
@click.argument("stac_input")
@click.option("--station", default=None, help="PRIP station to stage from (default: the first that has it).")
@click.option("--staging-collection", default=None, help="Collection of the staged SAFE item.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def convert_command(
    stac_input: str, station: str | None, staging_collection: str | None, as_json: bool
) -> None:
    """Convert one product to EOPF Zarr: STAC_INPUT is its item URL, a FeatureCollection (JSON) or its id."""
    from rs_assets.core.conversion.convert import requested_item, staged_or_stage
    from rs_assets.core.staging.products import prip_task

    with failures_as_exit():
        requested = requested_item(stac_input)  # before anything is opened: a bad input writes nothing
    res = resources()
    storage, cat_res, conversion = res["storage"], res["catalog"], res["conversion"]
    with failures_as_exit():
        prips = [station] if station else [s.name for s in res["stations"].stations().of_kind("prip")]
        shared = services(res)
        conv = conversion.conversion(shared, storage)
        with progress_bar(f"convert {requested['id']}", quiet=as_json) as (set_total, advance):
            set_total(3)
            staged, collection = staged_or_stage(
                shared,
                requested,
                staging_collection
                or str(requested.get("collection") or "").removeprefix(f"{cat_res.owner}:")
                or None,
                [res["stations"].client(name) for name in prips],
                prip_task,
            )
            advance()
            planned = conv.prepare(staged, collection)
            advance()
            report = conv.convert_planned([planned])
            advance()
    if report.failures:
        raise click.ClickException(report.failures[0])
    done = report.converted[0]
    payload = {
        "staged_item": conv.catalog.item_url(collection, done.staged_id),
        "item": conv.catalog.item_url(done.collection, done.item_id),
        "id": done.item_id,
        "collection": conv.catalog.wire_id(done.collection),
        "store": done.href,
        "files": done.written.files,
        "bytes": done.written.bytes,
        "convert_seconds": round(done.written.convert_seconds, 2),
        "quicklook": done.item["assets"].get("quicklook", {}).get("href"),
    }
    emit(
        as_json,
        payload,
        summary=f"{done.staged_id} -> {payload['collection']}/{done.item_id}\n  store {done.href} "
        f"({done.written.files} files, {done.written.bytes / 1e6:.1f} MB, converted in "
        f"{payload['convert_seconds']} s)\n  item  {payload['item']}",
    )


@click.group("catalog")
def catalog_group() -> None:
    """List collections and search items in the configured catalog."""


@catalog_group.command("collections")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def collections_command(as_json: bool) -> None:
    """Collections of the configured owner."""
    with failures_as_exit():
        catalog = resources()["catalog"].catalog()
        names = catalog.collections()
    rows = table("collection")
    for name in names:
        rows.add_row(name)
    emit(as_json, names, rows, f"{len(names)} collections")


@catalog_group.command("search")
@click.argument("collections", nargs=-1, required=True)
@click.option("--type", "product_type", default=None, help="Only items of this product:type.")
@click.option("--id", "item_ids", multiple=True, help="Only these item ids (repeatable).")
@click.option("--limit", type=int, default=100, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the items as a FeatureCollection.")
def search_command(
    collections: tuple[str, ...],
    product_type: str | None,
    item_ids: tuple[str, ...],
    limit: int,
    as_json: bool,
) -> None:
    """Items of COLLECTIONS (without owner prefix), newest first."""
    args: list[dict[str, Any]] = []
    if product_type:
        args.append({"op": "=", "args": [{"property": "product:type"}, product_type]})
    if item_ids:
        args.append({"op": "in", "args": [{"property": "id"}, list(item_ids)]})
    cql2 = None if not args else args[0] if len(args) == 1 else {"op": "and", "args": args}
    with failures_as_exit():
        catalog = resources()["catalog"].catalog()
        absent = [c for c in collections if not catalog.collection_exists(c)]
        if absent:
            known = ", ".join(catalog.collections()[:20]) or "none"
            raise click.ClickException(
                f"no collection {', '.join(map(repr, absent))} in the catalog (collections: {known})"
            )
        items = catalog.search(
            list(collections),
            filter=cql2,
            sortby=[{"field": "properties.datetime", "direction": "desc"}],
            limit=limit,
        )
    if as_json:
        emit(True, {"type": "FeatureCollection", "features": items})
        return
    rows = table("id", "collection", "datetime", "product:type", "assets")
    for item in items:
        properties = item.get("properties", {})
        rows.add_row(
            item["id"],
            str(item.get("collection", "")),
            str(properties.get("datetime", "")),
            str(properties.get("product:type", "")),
            str(len(item.get("assets", {}))),
        )
    emit(False, items, rows, f"{len(items)} items")
    if not items:
        stderr.print("no items match")


@click.group("lifecycle")
def lifecycle_group() -> None:
    """Expiry of staged and produced items (their expires date, from the bucket rules)."""


@lifecycle_group.command("run")
@click.option("--dry-run", is_flag=True, help="List what would expire; delete and change nothing.")
@click.option("--collection", "collections", multiple=True, help="Only this collection (repeatable).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def lifecycle_run_command(dry_run: bool, collections: tuple[str, ...], as_json: bool) -> None:
    """Delete the objects of expired items and mark them unpublished (the items stay)."""
    from rs_assets.core.lifecycle.expiry import expire_collections
    from rs_assets.core.timeutil import utcnow

    res = resources()
    with failures_as_exit():
        shared = services(res)
        chosen = list(collections) or shared.catalog.collections()
        with progress_bar("expiry", quiet=as_json) as (set_total, advance):
            set_total(len(chosen))
            reports, failures = expire_collections(
                shared, chosen, utcnow(), dry_run=dry_run, on_collection=lambda _: advance()
            )
    payload = {
        "dry_run": dry_run,
        "collections": {
            r.collection: {
                "items": [e.item_id for e in r.expired],
                "bytes": r.bytes,
                "objects_deleted": r.objects_deleted,
                "left_alone": r.problems,
                "failures": r.failures,
            }
            for r in reports
        },
        "failures": failures,
    }
    rows = table("collection", "items", "bytes", "objects deleted", "left alone")
    for r in reports:
        rows.add_row(
            r.collection, str(len(r.expired)), f"{r.bytes:,}", str(r.objects_deleted), str(len(r.problems))
        )
    verb = "would expire" if dry_run else "expired"
    emit(as_json, payload, rows, f"{sum(len(r.expired) for r in reports)} items {verb}")
    for line in [p for r in reports for p in r.problems] + failures:
        stderr.print(line, markup=False, highlight=False, soft_wrap=True)
    if failures:
        raise SystemExit(1)


@lifecycle_group.command("sweep")
@click.option(
    "--apply", is_flag=True, help="Delete the orphans and abort the stale uploads (default: list them)."
)
@click.option(
    "--grace-hours",
    type=click.FloatRange(min=0),
    default=24.0,
    show_default=True,
    help="Only objects and uploads older than this are candidates.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def lifecycle_sweep_command(apply: bool, grace_hours: float, as_json: bool) -> None:
    """Objects under final keys that no item names (and multipart uploads never completed), older than the grace
    period, in the buckets the rules name."""
    from datetime import timedelta

    from rs_assets.core.lifecycle.sweep import sweep
    from rs_assets.core.timeutil import utcnow

    res = resources()
    with failures_as_exit():
        shared = services(res)
        with progress_bar("sweep", quiet=as_json) as (set_total, advance):
            set_total(len(shared.catalog.collections()) + 1 + len(shared.placement.rules.buckets))
            report = sweep(shared, utcnow(), timedelta(hours=grace_hours), apply=apply, on_step=advance)
    payload = {
        "applied": apply,
        "grace_hours": grace_hours,
        "objects_listed": report.objects_listed,
        "items_read": report.items_read,
        "orphans": [{"href": o.href, "bytes": o.size, "modified": o.modified} for o in report.orphans],
        "stale_uploads": [
            {"href": f"s3://{u.bucket}/{u.key}", "initiated": u.initiated} for u in report.stale_uploads
        ],
        "objects_deleted": report.deleted,
        "uploads_aborted": report.aborted,
        "failures": report.failures,
    }
    rows = table("orphan", "bytes", "modified")
    for o in report.orphans:
        rows.add_row(o.href, f"{o.size:,}", f"{o.modified:%Y-%m-%d %H:%M}" if o.modified else "")
    for u in report.stale_uploads:
        rows.add_row(
            f"s3://{u.bucket}/{u.key} (upload)", "", f"{u.initiated:%Y-%m-%d %H:%M}" if u.initiated else ""
        )
    found = f"{len(report.orphans)} orphans ({report.orphan_bytes:,} bytes), {len(report.stale_uploads)} stale uploads"
    done = (
        f": {report.deleted} deleted, {report.aborted} aborted"
        if apply
        else " (listed only: --apply deletes)"
    )
    emit(as_json, payload, rows, found + done)
    for line in report.failures:
        stderr.print(line, markup=False, highlight=False, soft_wrap=True)
    if report.failures:
        raise SystemExit(1)


@click.group("storage")
def storage_group() -> None:
    """What the buckets and the catalog hold."""


@storage_group.command("report")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def storage_report_command(as_json: bool) -> None:
    """Objects and bytes per bucket; items, bytes and what expires within a day and a week per collection."""
    from dataclasses import asdict

    from rs_assets.core.lifecycle.accounting import storage_report
    from rs_assets.core.timeutil import utcnow

    res = resources()
    with failures_as_exit():
        shared = services(res)
        with progress_bar("storage", quiet=as_json) as (set_total, advance):
            set_total(len(shared.catalog.collections()) + len(shared.placement.rules.buckets))
            report = storage_report(shared, utcnow(), lambda _: advance())
    rows = table("collection / bucket", "items / objects", "bytes", "expiring in a day", "in a week")
    for c in report.collections:
        rows.add_row(
            c.collection, str(c.items), f"{c.bytes:,}", f"{c.expiring_day:,}", f"{c.expiring_week:,}"
        )
    for b in report.buckets:
        rows.add_row(f"s3://{b.bucket}", str(b.objects), f"{b.bytes:,}", "", "")
    payload = {
        "collections": [asdict(c) for c in report.collections],
        "buckets": [asdict(b) for b in report.buckets],
    }
    total = sum(b.bytes for b in report.buckets)
    emit(as_json, payload, rows, f"{len(report.buckets)} buckets, {total:,} bytes")


COMMANDS = [
    stage_session_command,
    valcover_command,
    convert_command,
    catalog_group,
    lifecycle_group,
    storage_group,
]
