"""Legacy SAFE products converted to EOPF Zarr, published with lineage: per PRIP station, ``{station}/zarr_products``
after its unpacked products; once for the family, the on-demand conversion of one product (the RS
``on_demand_conversion`` flow) and the automation sensor."""

from typing import Any

import dagster as dg
from pydantic import Field

from rs_assets.assets.automation import after_upstream, automation_sensor
from rs_assets.assets.products import ProductFamily, ledger_name
from rs_assets.assets.reporting import Progress, fail_on, failure_list
from rs_assets.assets.stations import asset_key, station_prefix
from rs_assets.core.conversion.convert import (
    Conversion,
    ConversionReport,
    requested_item,
    staged_or_stage,
)
from rs_assets.core.services import Services
from rs_assets.core.storage.ledger import manifest_key
from rs_assets.resources import CatalogResource, ConversionResource, ObjectStorage, StationsResource
from rs_assets.resources.services import CONVERSION_POOL, pool_lease, services_of


class ConvertProductConfig(dg.Config):
    stac_input: str = Field(
        description="The product's STAC item: its URL, a FeatureCollection (JSON) holding it, or its id"
    )
    staging_collection: str | None = Field(
        None, description="Collection of the staged SAFE item (default: the item's, else the PRIP default)"
    )
    station: str | None = Field(
        None, description="PRIP station to stage it from (default: the first that has it)"
    )


def _conversion(
    dask: Any, services: Services, storage: ObjectStorage, conversion: ConversionResource
) -> Conversion:
    """``dask`` is dagster-dask's resource when a cluster is configured, else None (convert in the run)."""
    return conversion.conversion(services, storage, dask.client if dask is not None else None)


def _float(value: float) -> dg.MetadataValue:
    return dg.MetadataValue.float(round(float(value), 2))


def conversion_metadata(report: ConversionReport, catalog: Any) -> dict[str, Any]:
    converted = report.converted
    return {
        "converted": dg.MetadataValue.int(len(converted)),
        "failed": dg.MetadataValue.int(len(report.failures)),
        "bytes_written": dg.MetadataValue.int(report.bytes),
        "source_bytes": dg.MetadataValue.int(report.source_bytes),
        "files_written": dg.MetadataValue.int(sum(c.written.files for c in converted)),
        "seconds": _float(report.seconds),
        "fetch_seconds": _float(sum(c.written.fetch_seconds for c in converted)),
        "convert_seconds": _float(sum(c.written.convert_seconds for c in converted)),
        "upload_seconds": _float(sum(c.written.upload_seconds for c in converted)),
        "MB/s (source)": _float(report.source_bytes / 1e6 / report.seconds if report.seconds else 0.0),
        "products": dg.MetadataValue.md(report.markdown()),
        "items": dg.MetadataValue.json([catalog.item_url(c.collection, c.item_id) for c in converted]),
        "failures": failure_list(report.failures),
        "staged_objects_deleted": dg.MetadataValue.int(sum(c.staged_objects_deleted for c in converted)),
        "staged_objects_left": failure_list(report.cleanup_failures),
    }


CONVERTED = "zarr_products"


def build_conversion(
    family: ProductFamily, station: str, partitions: dg.PartitionsDefinition
) -> dg.AssetsDefinition:
    """``{station}/zarr_products`` after the station's unpacked products."""
    converted_ledger = ledger_name(station, CONVERTED)

    @dg.asset(
        name=CONVERTED,
        key_prefix=[station_prefix(station)],
        partitions_def=partitions,
        deps=[asset_key(station, family.unpacked)],
        automation_condition=after_upstream(),
        pool=CONVERSION_POOL,
        group_name="conversion",
        kinds={"zarr", "s3", "stac"},
        description="Staged legacy SAFE products converted to EOPF Zarr (rules choose the converter), "
        "published with a derived_from link; the staged SAFE item then becomes a tombstone (no assets, unpublished) "
        "and its objects are deleted (or kept for the conversion resource's keep_staged_days).",
    )
    def zarr_products(
        context: dg.AssetExecutionContext,
        storage: ObjectStorage,
        catalog: CatalogResource,
        conversion: ConversionResource,
        dask: dg.ResourceParam[Any],
    ) -> dg.MaterializeResult:
        conv = _conversion(dask, services_of(storage, catalog), storage, conversion)
        progress = Progress(context.log, 0, f"convert {context.partition_key}")
        report, already = conv.convert_partition(
            storage.bucket,
            ledger_name(station, family.staged),
            converted_ledger,
            context.partition_key,
            on_planned=progress.planned,
            on_done=progress,
        )
        metadata = conversion_metadata(report, conv.catalog) | {
            "already_converted": dg.MetadataValue.int(already),
            "manifest": dg.MetadataValue.path(
                f"s3://{storage.bucket}/{manifest_key(converted_ledger, context.partition_key)}"
            ),
        }
        fail_on(
            report.failures,
            f"{len(report.failures)} of {progress.total} products were not converted",
            metadata,
        )
        return dg.MaterializeResult(metadata=metadata)

    return zarr_products


def build_conversion_jobs(
    family: ProductFamily,
    station_names: list[str],
    converted: list[dg.AssetsDefinition],
) -> dg.Definitions:
    """The on-demand conversion of one product, staged from whichever PRIP has it, and the automation."""

    @dg.op(
        name="convert_product",
        description="Stage one product if needed, unzip, convert, publish, clean up.",
    )
    def convert_product(
        context: dg.OpExecutionContext,
        config: ConvertProductConfig,
        stations: StationsResource,
        storage: ObjectStorage,
        catalog: CatalogResource,
        conversion: ConversionResource,
        dask: dg.ResourceParam[Any],
    ) -> dg.Output[str]:
        services = services_of(storage, catalog, pool_lease(context))
        conv = _conversion(dask, services, storage, conversion)
        requested = requested_item(config.stac_input)
        staged, collection = staged_or_stage(
            services,
            requested,
            config.staging_collection
            or str(requested.get("collection") or "").removeprefix(f"{catalog.owner}:")
            or None,
            [stations.client(name) for name in ([config.station] if config.station else station_names)],
            family.task,
        )
        report = conv.convert_many([(staged, collection)])
        metadata = conversion_metadata(report, conv.catalog)
        if report.failures:
            raise dg.Failure(report.failures[0], metadata=metadata)
        converted = report.converted[0]
        context.log.info(
            f"{requested['id']} -> {converted.collection}/{converted.item_id} ({converted.href})"
        )
        return dg.Output(converted.item_id, metadata=metadata)

    @dg.job(name="convert_product_on_demand", description="On-demand conversion of one product.")
    def on_demand() -> None:
        convert_product()

    sensors = []
    if converted:
        sensors.append(automation_sensor("conversion_automation", dg.AssetSelection.assets(*converted)))
    return dg.Definitions(jobs=[on_demand], sensors=sensors)
