"""The data lifecycle in Dagster: expiry of every collection of the owner, and storage accounting, each hourly.

The logic and the order that keeps the catalog truthful are in ``rs_assets.core.lifecycle.expiry``.
"""

import dagster as dg
from pydantic import Field

from rs_assets.assets.reporting import fail_on, failure_list
from rs_assets.core.lifecycle.accounting import storage_report
from rs_assets.core.lifecycle.expiry import ExpiryReport, expire_collections
from rs_assets.core.timeutil import utcnow
from rs_assets.resources import CatalogResource, ObjectStorage
from rs_assets.resources.services import services_of


class ExpiryConfig(dg.Config):
    dry_run: bool = Field(False, description="List what would expire; delete and change nothing")
    collections: list[str] = Field(default_factory=list, description="Only these collections (default: all)")


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

    reports, failures = expire_collections(
        services_of(storage, catalog),
        config.collections,
        utcnow(),
        dry_run=config.dry_run,
        on_collection=logged,
    )
    metadata: dict = {
        "dry_run": dg.MetadataValue.bool(config.dry_run),
        "items_expired": dg.MetadataValue.int(sum(len(r.expired) for r in reports)),
        "bytes_freed": dg.MetadataValue.int(0 if config.dry_run else sum(r.bytes for r in reports)),
        "objects_deleted": dg.MetadataValue.int(sum(r.objects_deleted for r in reports)),
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


def build_lifecycle() -> dg.Definitions:
    schedule = dg.ScheduleDefinition(
        name="hourly_expiry",
        job=lifecycle_expiry,
        cron_schedule="17 * * * *",
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description="Expires what has expired, every hour.",
    )
    accounting = dg.define_asset_job("storage_accounting", selection=[storage_usage])
    hourly_usage = dg.ScheduleDefinition(
        name="hourly_storage_usage",
        job=accounting,
        cron_schedule="47 * * * *",
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description="Materializes storage_usage every hour.",
    )
    return dg.Definitions(
        assets=[storage_usage], jobs=[lifecycle_expiry, accounting], schedules=[schedule, hourly_usage]
    )
