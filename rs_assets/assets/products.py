"""AUXIP and PRIP products: staged per publication day, published to the catalog, archives unpacked.

Both families have the same shape: per station, a staging asset per day, publication as its own retryable step,
archive normalization after it and a station sensor, every name derived from the station (``adgs/aux_files``,
``adgs_staging``, ``adgs_new_products``, pool ``station-ADGS``). What a family has once, whatever its stations
(ValCover staging, automation), is in ``assets/valcover.py``. ``ProductFamily`` names them all.
"""

from dataclasses import dataclass

import dagster as dg
from pydantic import Field

from rs_assets.assets.automation import RUN_RETRIES, after_upstream
from rs_assets.assets.partitions import partition_day
from rs_assets.assets.reporting import Progress, fail_if_any, fail_on, failure_list, staging_metadata
from rs_assets.assets.stations import asset_key, station_key, station_prefix
from rs_assets.core.archives.normalization import archive_assets, normalize_staged
from rs_assets.core.catalog.publication import publish_ledger
from rs_assets.core.errors import RsAssetsError
from rs_assets.core.staging.parallel import expired_tasks, stage_recorded
from rs_assets.core.staging.products import TaskFactory, plan, published_on
from rs_assets.core.storage.ledger import Ledger, manifest_key, read_manifest
from rs_assets.resources import CatalogResource, ObjectStorage, StationsResource
from rs_assets.resources.services import CATALOG_POOL, services_of, station_pool
from rs_assets.sensors.stations import products_sensor


@dataclass(frozen=True)
class ProductFamily:
    """The names one family's definitions take, and how its products become staging tasks."""

    kind: str
    short: str
    staged: str
    published: str
    unpacked: str
    group: str
    what: str
    task: TaskFactory

    @property
    def valcover_job(self) -> str:
        return f"{self.short}_valcover_staging"


def ledger_name(station: str, name: str) -> str:
    """The manifests of a station's asset (``adgs/aux_files``), as its key reads."""
    return asset_key(station, name).to_user_string()


class ProductsConfig(dg.Config):
    product_types: list[str] = Field(
        default_factory=list, description="Only these product types (e.g. AUX_PP2)"
    )
    missions: list[str] = Field(default_factory=list, description="Only these missions (S1, S2, S3)")


def build_product_family(
    family: ProductFamily, station: str, partitions: dg.PartitionsDefinition
) -> dg.Definitions:
    """One station's staging, publication and normalization assets, its staging job and its sensor."""
    prefix = station_prefix(station)
    ledger = ledger_name(station, family.staged)

    @dg.asset(
        name=family.staged,
        key_prefix=[prefix],
        partitions_def=partitions,
        deps=[station_key(station)],
        pool=station_pool(station),
        group_name=family.group,
        kinds={"s3"},
        description=f"Every product {station} published on the partition's day, staged to S3 and verified (size, MD5).",
    )
    def staged(
        context: dg.AssetExecutionContext,
        config: ProductsConfig,
        stations: StationsResource,
        storage: ObjectStorage,
        catalog: CatalogResource,
    ) -> dg.MaterializeResult:
        day = partition_day(context)
        client, services = stations.client(station), services_of(storage, catalog)
        ledger_ = Ledger(services.store, storage.bucket, ledger, context.partition_key)
        ledger_.begin_open()
        products = client.products(published_on(day, config.product_types, config.missions))
        context.log.info(f"{station}: {len(products)} products published on {day}")
        tasks, planning_errors = plan(products, services.placement, task=family.task)
        try:
            restage = expired_tasks(services.catalog, tasks)
        except RsAssetsError as exc:  # staging never waits for the catalog: the next run re-stages them
            context.log.warning(f"expired items not looked up, none staged again this time: {exc}")
            restage = set()
        report = stage_recorded(
            client,
            services.transfer,
            tasks,
            client.config.max_parallel_downloads,
            ledger_,
            Progress(context.log, len(tasks), f"{station} {day}"),
            restage=restage,
        )
        metadata = staging_metadata(report) | {
            "manifest": dg.MetadataValue.path(f"s3://{storage.bucket}/{ledger_.key}")
        }
        fail_on(planning_errors, f"{len(planning_errors)} products could not be planned", metadata)
        fail_if_any(report, f"{station} {day}", metadata)
        return dg.MaterializeResult(metadata=metadata)

    @dg.asset(
        name=family.published,
        key_prefix=[prefix],
        partitions_def=partitions,
        deps=[staged],
        pool=CATALOG_POOL,
        automation_condition=after_upstream(),
        group_name=family.group,
        kinds={"stac"},
        description=f"Catalog items of the staged {family.what}: only new ones, only once their objects are verified.",
    )
    def published(
        context: dg.AssetExecutionContext, storage: ObjectStorage, catalog: CatalogResource
    ) -> dg.MaterializeResult:
        store, cat = storage.store(), catalog.catalog()
        key = manifest_key(ledger, context.partition_key)
        entries = read_manifest(store, storage.bucket, key)
        if entries is None:
            raise dg.Failure(
                f"no staging manifest s3://{storage.bucket}/{key}: materialize {ledger} for {context.partition_key} first"
            )
        report = publish_ledger(cat, store, storage.bucket, key, entries)
        table = "\n".join(
            ["| collection | new | already there |", "| --- | ---: | ---: |"]
            + [
                f"| {cat.wire_id(c)} | {len(report.published[c])} | {len(report.already[c])} |"
                for c in sorted(report.published)
            ]
        )
        metadata = {
            "published": dg.MetadataValue.int(report.published_count),
            "already_published": dg.MetadataValue.int(report.already_count),
            "objects_missing": dg.MetadataValue.int(len(report.missing)),
            "collections": dg.MetadataValue.md(table),
            "items": dg.MetadataValue.json(
                [cat.item_url(c, i) for c in sorted(report.published) for i in report.published[c]][:50]
            ),
            "catalog": dg.MetadataValue.text(catalog.url or str(catalog.sqlite_path)),
            "failures": failure_list(report.missing),
        }
        fail_on(report.missing, f"{len(report.missing)} staged items have objects missing", metadata)
        return dg.MaterializeResult(metadata=metadata)

    @dg.asset(
        name=family.unpacked,
        key_prefix=[prefix],
        partitions_def=partitions,
        deps=[published],
        automation_condition=after_upstream(),
        group_name=family.group,
        kinds={"s3", "stac"},
        description=f"Archived {family.what} (zip, tar, tgz, nested tars) replaced by their content, items updated.",
    )
    def unpacked(
        context: dg.AssetExecutionContext, storage: ObjectStorage, catalog: CatalogResource
    ) -> dg.MaterializeResult:
        store, cat = storage.store(), catalog.catalog()
        entries = read_manifest(store, storage.bucket, manifest_key(ledger, context.partition_key)) or []
        progress = Progress(
            context.log,
            sum(1 for e in entries if archive_assets(e.item)),
            f"normalize {context.partition_key}",
        )
        report = normalize_staged(entries, store, cat, progress)
        failures = report.failures
        metadata = {
            "archives": dg.MetadataValue.int(report.archives),
            "normalized": dg.MetadataValue.int(len(report.normalized)),
            "files_written": dg.MetadataValue.int(report.files),
            "nested_archives": dg.MetadataValue.int(report.nested),
            "bytes": dg.MetadataValue.int(report.bytes),
            "leftover_archives_removed": dg.MetadataValue.int(report.leftovers_removed),
            "failures": failure_list(failures),
        }
        fail_on(failures, f"{len(failures)} archives could not be normalized", metadata)
        return dg.MaterializeResult(metadata=metadata)

    staging_job = dg.define_asset_job(f"{prefix}_staging", selection=[staged], tags=RUN_RETRIES)
    return dg.Definitions(
        assets=[staged, published, unpacked],
        jobs=[staging_job],
        sensors=[products_sensor(station, staging_job.name)],
    )
