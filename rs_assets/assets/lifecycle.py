"""The data lifecycle in Dagster: expiry of every collection of the owner and storage accounting, each hourly; the
orphan sweep daily, listing only unless its run config says ``apply``.

The logic and the orders that keep the catalog truthful are in ``rs_assets.core.lifecycle``.
"""

from datetime import timedelta
from typing import Any

import dagster as dg
from pydantic import Field

from rs_assets.assets.reporting import fail_on, failure_list
from rs_assets.core.lifecycle.accounting import storage_report
from rs_assets.core.lifecycle.expiry import ExpiryReport, expire_collections
from rs_assets.core.lifecycle.sweep import abort_stale_uploads, sweep
from rs_assets.core.timeutil import utcnow
from rs_assets.resources import CatalogResource, ObjectStorage
from rs_assets.resources.services import services_of

GRACE_HOURS = 24.0


class ExpiryConfig(dg.Config):
    dry_run: bool = Field(False, description="List what would expire; delete and change nothing")
    collections: list[str] = Field(default_factory=list, description="Only these collections (default: all)")
    upload_grace_hours: float = Field(
        GRACE_HOURS, gt=0, description="Multipart uploads started longer ago than this are aborted"
    )


class SweepConfig(dg.Config):
    apply: bool = Field(
        False, description="Delete the orphans and abort the stale uploads (default: list them)"
    )
    grace_hours: float = Field(
        GRACE_HOURS, ge=0, description="Only objects and uploads older than this are candidates"
    )


def expiry_table(reports: list[ExpiryReport], limit: int = 50) -> str:
    rows = ["| collection | item | objects | bytes |", "| --- | --- | ---: | ---: |"]
    for report in reports:
        rows += [
            f"| {report.collection} | {e.item_id} | {len(e.objects)} | {e.bytes:,} |" for e in report.expired
        ]
    return "\n".join(rows[: limit + 2])


@dg.op(
    name="expire_items",
    description="Delete the objects of items whose expires has passed and mark the items unpublished.",
)
def expire_items(
    context: dg.OpExecutionContext, config: ExpiryConfig, storage: ObjectStorage, catalog: CatalogResource
) -> dg.Output[int]:
    def logged(report: ExpiryReport | None) -> None:
        if report is not None:
            context.log.info(
                f"{report.collection}: {len(report.expired)} items expired, {report.bytes:,} bytes, "
                f"{report.objects_deleted} objects deleted, {len(report.problems)} left alone"
            )

    services, now = services_of(storage, catalog), utcnow()
    reports, failures = expire_collections(
        services, config.collections, now, dry_run=config.dry_run, on_collection=logged
    )
    aborted = 0
    if not config.dry_run:
        aborted, refused = abort_stale_uploads(services, now - timedelta(hours=config.upload_grace_hours))
        failures += refused
    metadata: dict = {
        "dry_run": dg.MetadataValue.bool(config.dry_run),
        "items_expired": dg.MetadataValue.int(sum(len(r.expired) for r in reports)),
        "bytes_freed": dg.MetadataValue.int(0 if config.dry_run else sum(r.bytes for r in reports)),
        "objects_deleted": dg.MetadataValue.int(sum(r.objects_deleted for r in reports)),
        "stale_uploads_aborted": dg.MetadataValue.int(aborted),
        "items": dg.MetadataValue.md(expiry_table(reports)),
        "left_alone": failure_list([p for r in reports for p in r.problems]),
        "failures": failure_list(failures),
    }
    for report in reports:
        metadata[f"items_expired/{report.collection}"] = dg.MetadataValue.int(len(report.expired))
        metadata[f"bytes_freed/{report.collection}"] = dg.MetadataValue.int(report.bytes)
    fail_on(failures, f"expiry: {len(failures)} failures", metadata)
    return dg.Output(sum(len(r.expired) for r in reports), metadata=metadata)


@dg.job(name="lifecycle_expiry", description="Expiry of every collection (the reference's data lifecycle).")
def lifecycle_expiry() -> None:
    expire_items()


@dg.op(
    name="sweep_orphans",
    description="List objects under final keys that no item names, older than the grace period, and stale "
    "multipart uploads; delete and abort them only with apply.",
)
def sweep_orphans(
    context: dg.OpExecutionContext, config: SweepConfig, storage: ObjectStorage, catalog: CatalogResource
) -> dg.Output[int]:
    report = sweep(
        services_of(storage, catalog),
        utcnow(),
        timedelta(hours=config.grace_hours),
        apply=config.apply,
        on_step=context.log.info,
    )
    metadata = {
        "applied": dg.MetadataValue.bool(report.applied),
        "objects_listed": dg.MetadataValue.int(report.objects_listed),
        "items_read": dg.MetadataValue.int(report.items_read),
        "orphans": dg.MetadataValue.int(len(report.orphans)),
        "orphan_bytes": dg.MetadataValue.int(report.orphan_bytes),
        "stale_uploads": dg.MetadataValue.int(len(report.stale_uploads)),
        "objects_deleted": dg.MetadataValue.int(report.deleted),
        "uploads_aborted": dg.MetadataValue.int(report.aborted),
        "first_orphans": dg.MetadataValue.md(report.markdown()),
        "failures": failure_list(report.failures),
    }
    fail_on(report.failures, f"sweep: {len(report.failures)} failures", metadata)
    return dg.Output(len(report.orphans), metadata=metadata)


@dg.job(
    name="lifecycle_sweep",
    description="Orphan sweep of the rules' buckets: lists by default, deletes with the op's apply config.",
)
def lifecycle_sweep() -> None:
    sweep_orphans()


@dg.asset(
    name="storage_usage",
    group_name="lifecycle",
    kinds={"s3", "stac"},
    description="Objects and bytes per bucket, items and bytes per collection, and what expires within a day and "
    "a week: numeric metadata, so that the UI plots them over time.",
)
def storage_usage(
    context: dg.AssetExecutionContext, storage: ObjectStorage, catalog: CatalogResource
) -> dg.MaterializeResult:
    report = storage_report(
        services_of(storage, catalog), utcnow(), lambda name: context.log.info(f"counted {name}")
    )
    metadata: dict = {
        "items": dg.MetadataValue.int(sum(c.items for c in report.collections)),
        "bytes_in_items": dg.MetadataValue.int(sum(c.bytes for c in report.collections)),
        "objects": dg.MetadataValue.int(sum(b.objects for b in report.buckets)),
        "bytes_in_buckets": dg.MetadataValue.int(sum(b.bytes for b in report.buckets)),
        "expiring_within_a_day": dg.MetadataValue.int(sum(c.expiring_day for c in report.collections)),
        "expiring_within_a_week": dg.MetadataValue.int(sum(c.expiring_week for c in report.collections)),
        "usage": dg.MetadataValue.md(report.markdown()),
    }
    for c in report.collections:
        metadata[f"items/{c.collection}"] = dg.MetadataValue.int(c.items)
        metadata[f"bytes/{c.collection}"] = dg.MetadataValue.int(c.bytes)
    for b in report.buckets:
        metadata[f"objects/{b.bucket}"] = dg.MetadataValue.int(b.objects)
        metadata[f"bytes/{b.bucket}"] = dg.MetadataValue.int(b.bytes)
    return dg.MaterializeResult(metadata=metadata)


def _running(name: str, job: Any, cron: str, why: str) -> dg.ScheduleDefinition:
    return dg.ScheduleDefinition(
        name=name,
        job=job,
        cron_schedule=cron,
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description=why,
    )


def build_lifecycle() -> dg.Definitions:
    accounting = dg.define_asset_job("storage_accounting", selection=[storage_usage])
    return dg.Definitions(
        assets=[storage_usage],
        jobs=[lifecycle_expiry, lifecycle_sweep, accounting],
        schedules=[
            _running(
                "hourly_expiry", lifecycle_expiry, "17 * * * *", "Expires what has expired, every hour."
            ),
            _running(
                "hourly_storage_usage", accounting, "47 * * * *", "Materializes storage_usage every hour."
            ),
            _running(
                "daily_orphan_sweep",
                lifecycle_sweep,
                "37 3 * * *",
                "Lists orphans and stale uploads every day (deleting nothing): their count is the run's metadata.",
            ),
        ],
    )
