"""AUXIP and PRIP products: staged per publication day, published to the catalog, archives unpacked.

Both families have the same shape: per station, a staging asset per day, publication as its own retryable step,
archive normalization after it and a station sensor, every name derived from the station (``adgs/aux_files``,
``adgs_aux_staging``, ``adgs_new_products``, pool ``station-ADGS``); per family, an on-demand ValCover job
that searches every station of the kind, and the automation sensor. ``ProductFamily`` names them.
"""

from dataclasses import dataclass

import dagster as dg
from pydantic import Field

from rs_assets.assets.automation import after_upstream, automation_sensor
from rs_assets.assets.partitions import partition_day
from rs_assets.assets.reporting import Progress, fail_if_any, fail_on, failure_list, staging_metadata
from rs_assets.assets.stations import station_key
from rs_assets.core.archives.normalization import archive_assets, normalize_staged
from rs_assets.core.catalog.mapping import CollectionNames
from rs_assets.core.catalog.publication import publish
from rs_assets.core.staging.parallel import stage_recorded
from rs_assets.core.staging.products import TaskFactory, ValCoverWindow, plan, published_on, stage_valcover
from rs_assets.core.storage.ledger import Ledger, manifest_key, read_manifest
from rs_assets.core.timeutil import parse_datetime
from rs_assets.resources import CatalogResource, ObjectStorage, StationsResource
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


def station_prefix(station: str) -> str:
    """What every name of a station's definitions starts with (``ADGS`` -> ``adgs``)."""
    return station.lower()


def asset_key(station: str, name: str) -> dg.AssetKey:
    return dg.AssetKey([station_prefix(station), name])


def ledger_name(station: str, name: str) -> str:
    """The manifests of a station's asset (``adgs/aux_files``), as its key reads."""
    return asset_key(station, name).to_user_string()


class ProductsConfig(dg.Config):
    product_types: list[str] = Field(
        default_factory=list, description="Only these product types (e.g. AUX_PP2)"
    )
    missions: list[str] = Field(default_factory=list, description="Only these missions (S1, S2, S3)")


class ValCoverConfig(dg.Config):
    start: str = Field(description="Window start, e.g. 2025-08-07T11:51:12.509Z")
    stations: list[str] = Field(default_factory=list, description="Only these stations (default: every one)")
    end: str = Field(description="Window end")
    product_type: str = Field(description="Product type, e.g. AUX_PP2 or IW_GRDH_1S")
    collection: str = Field(description="Target catalog collection (without owner prefix)")
    latest: bool = Field(False, description="LatestValCover: keep only the most recently created product")
    delta_before: float = Field(0.0, description="dTa margin in seconds")
    delta_after: float = Field(0.0, description="dTb margin in seconds")


def build_product_family(
    family: ProductFamily, station: str, partitions: dg.PartitionsDefinition, names: CollectionNames
) -> dg.Definitions:
    """One station's staging, publication and normalization assets, its staging job and its sensor."""
    prefix = station_prefix(station)
    ledger = ledger_name(station, family.staged)

    @dg.asset(
        name=family.staged,
        key_prefix=[prefix],
        partitions_def=partitions,
        deps=[station_key(station)],
        pool=f"station-{station}",
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
        client = stations.client(station)
        rules, owner = storage.rules(), catalog.owner
        ledger_ = Ledger(storage.store(), storage.bucket, ledger, context.partition_key)
        ledger_.begin_open()
        products = client.products(published_on(day, config.product_types, config.missions))
        context.log.info(f"{station}: {len(products)} products published on {day}")
        tasks, planning_errors = plan(products, owner, names, rules, task=family.task)
        report = stage_recorded(
            client,
            storage.transfer(),
            tasks,
            client.config.max_parallel_downloads,
            ledger_,
            Progress(context.log, len(tasks), f"{station} {day}"),
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
        pool="catalog",
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
        report = publish(cat, entries)
        table = "\n".join(
            ["| collection | new | already there |", "| --- | ---: | ---: |"]
            + [
                f"| {cat.wire_id(c)} | {len(report.published[c])} | {len(report.already[c])} |"
                for c in sorted(report.published)
            ]
        )
        return dg.MaterializeResult(
            metadata={
                "published": dg.MetadataValue.int(report.published_count),
                "already_published": dg.MetadataValue.int(report.already_count),
                "collections": dg.MetadataValue.md(table),
                "items": dg.MetadataValue.json(
                    [cat.item_url(c, i) for c in sorted(report.published) for i in report.published[c]][:50]
                ),
                "catalog": dg.MetadataValue.text(catalog.url or str(catalog.sqlite_path)),
            }
        )

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

    staging_job = dg.define_asset_job(f"{prefix}_staging", selection=[staged])
    return dg.Definitions(
        assets=[staged, published, unpacked],
        jobs=[staging_job],
        sensors=[products_sensor(station, staging_job.name)],
    )


def build_family_jobs(
    family: ProductFamily, names: CollectionNames, station_names: list[str]
) -> dg.Definitions:
    """What a family has once whatever its stations: ValCover staging across them, and the automation."""

    @dg.op(
        name=f"stage_{family.short}_valcover",
        description=f"Stage the {family.what} whose validity strictly contains a window, from every {family.kind.upper()} "
        "that serves the product type.",
    )
    def valcover_op(
        context: dg.OpExecutionContext,
        config: ValCoverConfig,
        stations: StationsResource,
        storage: ObjectStorage,
        catalog: CatalogResource,
    ) -> dg.Output[list[str]]:
        start, end = parse_datetime(config.start), parse_datetime(config.end)
        if start is None or end is None:
            raise dg.Failure("start and end are required")
        window = ValCoverWindow(start, end, config.product_type, config.delta_before, config.delta_after)
        staged = stage_valcover(
            [stations.client(name) for name in config.stations or station_names],
            storage.transfer(),
            catalog.catalog(),
            window,
            latest=config.latest,
            collection=config.collection,
            owner=catalog.owner,
            names=names,
            rules=storage.rules(),
            task=family.task,
            on_planned=lambda n: context.log.info(
                f"ValCover {config.product_type} [{config.start}, {config.end}]: {n} to stage"
            ),
        )
        items = staged.items
        metadata = staging_metadata(staged.report) | {
            "selected": dg.MetadataValue.int(len(staged.selected)),
            "already_in_catalog": dg.MetadataValue.int(len(staged.already)),
            "stations": dg.MetadataValue.json(staged.stations),
            "items": dg.MetadataValue.json(
                [{"id": i["id"], "assets": {k: a["href"] for k, a in i["assets"].items()}} for i in items]
            ),
        }
        fail_if_any(staged.report, "ValCover staging", metadata)
        return dg.Output([i["id"] for i in items], metadata=metadata)

    @dg.job(
        name=family.valcover_job,
        description=f"On-demand ValCover/LatestValCover staging of {family.what} (the RS on-demand staging flows).",
    )
    def valcover_staging() -> None:
        valcover_op()

    automation = automation_sensor(
        f"{family.group}_automation",
        dg.AssetSelection.assets(
            *[asset_key(s, n) for s in station_names for n in (family.published, family.unpacked)]
        ),
    )
    return dg.Definitions(jobs=[valcover_staging], sensors=[automation])
