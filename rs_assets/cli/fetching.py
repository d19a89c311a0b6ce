"""``rs-assets download`` (station -> S3 or a folder), ``rs-assets copy`` (catalog -> another bucket or a folder)
and ``rs-assets export`` (items and objects to another endpoint and STAC API): selection as in GeoSPaaS's
download, copy and publish commands, the transfer engine of the assets."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

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

SELECTION_OPTIONS = [
    click.option("--begin", type=DATETIME, help="Products valid (AUX, PRIP: ContentDate; items: datetime) from."),
    click.option("--end", type=DATETIME, help="... until (exclusive)."),
    click.option("--rel-time", "rel_time", type=float, help="Begin this many hours before now (instead of --begin)."),
    click.option("--geometry", help="WKT POLYGON in lon/lat (WGS84) the products must intersect."),
    click.option("--type", "product_type", help="Product type (AUX_PP2, IW_GRDH_1S; product:type in the catalog)."),
    click.option("--query", help='Attribute filters as JSON, e.g. \'{"platformSerialIdentifier": "A"}\'.'),
    click.option(
        "--safety-limit", type=click.IntRange(min=1), default=100, show_default=True,
        help="Fetch nothing when more products than this match.",
    ),
]  # fmt: skip
OUTPUT_OPTIONS = [
    click.option(
        "--destination", required=True,
        help="s3://bucket/prefix or a local folder; strftime placeholders (%Y %m %d %H %M %S %j) from the "
        "product's date.",
    ),
    click.option(
        "--flag-file", "flag_dir", type=click.Path(file_okay=False, path_type=Path),
        help="Folder where {product}.done is written once a product is complete.",
    ),
]  # fmt: skip
COMMON_OPTIONS = [
    click.option("--dry-run", is_flag=True, help="List what would be fetched and where; write nothing."),
    click.option("--json", "as_json", is_flag=True, help="Print JSON."),
]


def selection_options[F: Callable[..., Any]](command: F) -> F:
    for option in reversed([*SELECTION_OPTIONS, *OUTPUT_OPTIONS, *COMMON_OPTIONS]):
        command = option(command)
    return command


def export_options[F: Callable[..., Any]](command: F) -> F:
    for option in reversed([*SELECTION_OPTIONS, *COMMON_OPTIONS]):
        command = option(command)
    return command


def _selection(
    begin: datetime | None,
    end: datetime | None,
    rel_time: float | None,
    geometry: str | None,
    product_type: str | None,
    query: str | None,
) -> Any:
    from rs_assets.core.selection import make_selection
    from rs_assets.core.timeutil import utcnow

    return make_selection(
        begin=begin,
        end=end,
        rel_time_hours=rel_time,
        geometry_wkt=geometry,
        product_type=product_type,
        query_json=query,
        now=utcnow(),
    )


def _report(as_json: bool, plans: list[Any], report: Any, dry_run: bool) -> None:
    if dry_run:
        payload: dict[str, Any] = {
            "dry_run": True,
            "selected": [
                {"product": p.product, "files": [{"from": f, "to": t, "bytes": n} for f, t, n in p.files]}
                for p in plans
            ],
        }
        rows = table("product", "to", "bytes")
        for plan in plans:
            for _, to, size in plan.files:
                rows.add_row(plan.product, to, str(size))
        emit(as_json, payload, rows, f"{len(plans)} selected; nothing written (--dry-run)")
        return
    payload = {
        "fetched": [
            {
                "product": f.product,
                "to": f.destinations,
                "bytes": f.bytes,
                "skipped": f.skipped,
                "error": f.error,
            }
            for f in report.fetched
        ],
        "bytes": report.bytes,
        "seconds": round(report.seconds, 2),
    }
    rows = table("product", "to", "result")
    for fetched in sorted(report.fetched, key=lambda f: f.product):
        result = (
            f"failed: {fetched.error}" if fetched.error else "already there" if fetched.skipped else "fetched"
        )
        rows.add_row(fetched.product, fetched.destinations[0] if fetched.destinations else "", result)
    done = [f for f in report.fetched if not f.error and not f.skipped]
    rate = report.bytes / report.seconds / 1e6 if report.seconds else 0.0
    emit(
        as_json,
        payload,
        rows,
        f"{len(report.fetched)} selected: {len(done)} fetched ({report.bytes / 1e6:.1f} MB, {rate:.1f} MB/s), "
        f"{sum(f.skipped for f in report.fetched)} already there, {len(report.failed)} failed",
    )
    if report.failed:
        raise SystemExit(1)


@click.command("download")
@click.argument("station")
@selection_options
def download_command(
    station: str,
    begin: datetime | None,
    end: datetime | None,
    rel_time: float | None,
    geometry: str | None,
    product_type: str | None,
    query: str | None,
    safety_limit: int,
    destination: str,
    flag_dir: Path | None,
    dry_run: bool,
    as_json: bool,
) -> None:
    """Fetch the products an AUXIP or PRIP STATION publishes that match the selection, to S3 or a local folder."""
    from rs_assets.core.fetch import Target, download, plan_download
    from rs_assets.core.selection import SelectionError, check_safety, odata_filter

    res = resources()
    with failures_as_exit():
        selection = _selection(begin, end, rel_time, geometry, product_type, query)
        target = Target(destination)
        kind = res["stations"].stations().station(station).kind
        if kind == "cadip":
            raise SelectionError(
                f"{station} is a CADIP station: stage its sessions with rs-assets stage-session"
            )
        if kind == "auxip" and selection.geometry is not None:
            raise SelectionError(f"--geometry: {station} is an AUXIP, whose products have no footprint")
        client = res["stations"].client(station)
        products = client.products(odata_filter(selection), limit=safety_limit + 1)
        check_safety(len(products), safety_limit, f"{station} products")
        plans = plan_download(products, target)
        report = None
        if not dry_run:
            with progress_bar(f"download from {station}", quiet=as_json) as (set_total, advance):
                set_total(len(products))
                report = download(
                    client, services(res).transfer, products, target, flag_dir=flag_dir, on_done=advance
                )
    _report(as_json, plans, report, dry_run)


@click.command("copy")
@click.argument("collections", nargs=-1, required=True)
@selection_options
def copy_command(
    collections: tuple[str, ...],
    begin: datetime | None,
    end: datetime | None,
    rel_time: float | None,
    geometry: str | None,
    product_type: str | None,
    query: str | None,
    safety_limit: int,
    destination: str,
    flag_dir: Path | None,
    dry_run: bool,
    as_json: bool,
) -> None:
    """Copy the objects of the catalog items of COLLECTIONS that match the selection to another bucket or a
    local folder (``{destination}/{item id}/...``)."""
    from rs_assets.core.catalog.mapping import usable
    from rs_assets.core.fetch import Target, copy, plan_copy
    from rs_assets.core.selection import SelectionError, check_safety, cql2_filter

    res = resources()
    with failures_as_exit():
        selection = _selection(begin, end, rel_time, geometry, product_type, query)
        target = Target(destination)
        shared = services(res)
        for collection in collections:
            if not shared.catalog.collection_exists(collection):
                raise SelectionError(f"collection {collection!r} does not exist in the catalog")
        found = shared.catalog.search(
            list(collections), filter=cql2_filter(selection), limit=safety_limit + 1
        )
        check_safety(len(found), safety_limit, "items")
        items = [item for item in found if usable(item)]
        plans = plan_copy(shared.store, items, target, set(shared.placement.rules.buckets))
        report = None
        if not dry_run:
            with progress_bar("copy", quiet=as_json) as (set_total, advance):
                set_total(len(plans))
                report = copy(shared.store, plans, flag_dir=flag_dir, on_done=advance)
    _report(as_json, plans, report, dry_run)


@click.command("export")
@click.argument("collections", nargs=-1, required=True)
@click.option("--endpoint", required=True, help="The target S3 endpoint URL.")
@click.option("--bucket", required=True, help="The target bucket.")
@click.option("--prefix", default="", help="Key prefix in the target bucket.")
@click.option(
    "--access-key-env",
    default="RS_ASSETS_EXPORT_ACCESS_KEY_ID",
    show_default=True,
    help="Variable holding the target's access key id.",
)
@click.option(
    "--secret-key-env",
    default="RS_ASSETS_EXPORT_SECRET_ACCESS_KEY",
    show_default=True,
    help="Variable holding the target's secret key.",
)
@click.option("--catalog-url", help="A STAC API (Transactions) to publish the exported items to.")
@click.option("--catalog-owner", default=None, help="Owner prefix of the target catalog's collections.")
@export_options
def export_command(
    collections: tuple[str, ...],
    endpoint: str,
    bucket: str,
    prefix: str,
    access_key_env: str,
    secret_key_env: str,
    catalog_url: str | None,
    catalog_owner: str | None,
    begin: datetime | None,
    end: datetime | None,
    rel_time: float | None,
    geometry: str | None,
    product_type: str | None,
    query: str | None,
    safety_limit: int,
    dry_run: bool,
    as_json: bool,
) -> None:
    """Publish the catalog items of COLLECTIONS that match the selection, with their objects, to another S3
    endpoint and bucket (``{prefix}/{collection}/{item id}/``, the item JSON beside its objects) and optionally
    another STAC API, the remote hrefs written into the items. Verified, and idempotent: a re-run copies nothing
    already there."""
    import os

    import boto3
    from botocore.config import Config

    from rs_assets.core.catalog import OwnerNamespace, StacApiCatalog
    from rs_assets.core.catalog.mapping import usable
    from rs_assets.core.export import ExportTarget, check_target, export_items
    from rs_assets.core.selection import SelectionError, check_safety, cql2_filter
    from rs_assets.core.storage.object_store import ObjectStore

    res = resources()
    with failures_as_exit():
        selection = _selection(begin, end, rel_time, geometry, product_type, query)
        keys = {name: os.environ.get(name) for name in (access_key_env, secret_key_env)}
        missing = [name for name, value in keys.items() if not value]
        if missing:
            raise SelectionError(f"the target's credentials: {', '.join(missing)} not set")
        shared = services(res)
        for collection in collections:
            if not shared.catalog.collection_exists(collection):
                raise SelectionError(f"collection {collection!r} does not exist in the catalog")
        client = boto3.session.Session().client(
            "s3",
            endpoint_url=endpoint,
            aws_access_key_id=keys[access_key_env],
            aws_secret_access_key=keys[secret_key_env],
            config=Config(retries={"max_attempts": 4, "mode": "standard"}),
        )
        remote_catalog = (
            StacApiCatalog(
                catalog_url, OwnerNamespace(owner=catalog_owner or "", prefixed=bool(catalog_owner))
            )
            if catalog_url
            else None
        )
        target = ExportTarget(ObjectStore(client), endpoint, bucket, prefix, remote_catalog)
        check_target(target)
        found = shared.catalog.search(
            list(collections), filter=cql2_filter(selection), limit=safety_limit + 1
        )
        check_safety(len(found), safety_limit, "items")
        entries = [
            (_collection_of(shared.catalog, item, collections), item) for item in found if usable(item)
        ]
        if dry_run:
            payload = {
                "dry_run": True,
                "selected": [{"collection": c, "product": i["id"]} for c, i in entries],
            }
            rows = table("collection", "item")
            for collection, item in entries:
                rows.add_row(collection, item["id"])
            emit(as_json, payload, rows, f"{len(entries)} selected; nothing written (--dry-run)")
            return
        with progress_bar(f"export to {bucket}", quiet=as_json) as (set_total, advance):
            set_total(len(entries))
            report = export_items(
                shared.store, entries, target, set(shared.placement.rules.buckets), on_done=advance
            )
    payload = {
        "exported": [
            {
                "collection": e.collection,
                "id": e.item_id,
                "objects": e.objects,
                "copied": e.copied,
                "bytes": e.bytes,
                "error": e.error,
            }
            for e in report.exported
        ],
        "seconds": round(report.seconds, 2),
    }
    rows = table("item", "objects", "copied", "result")
    for e in report.exported:
        rows.add_row(
            e.item_id, str(e.objects), str(e.copied), f"failed: {e.error}" if e.error else "exported"
        )
    copied = sum(e.bytes for e in report.exported)
    emit(
        as_json,
        payload,
        rows,
        f"{len(report.exported) - len(report.failed)} of {len(report.exported)} items exported to {endpoint} "
        f"s3://{bucket}/{prefix} ({copied / 1e6:.1f} MB copied), {len(report.failed)} failed",
    )
    if report.failed:
        raise SystemExit(1)


def _collection_of(catalog: Any, item: dict[str, Any], collections: tuple[str, ...]) -> str:
    """The collection (as the operator named it) an item found across several came from."""
    wire = item.get("collection")
    return next((c for c in collections if catalog.wire_id(c) == wire), collections[0])


COMMANDS = [download_command, copy_command, export_command]
