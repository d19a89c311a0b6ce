"""Operator jobs outside the families' partitions: ``crop_on_demand`` cuts a Zarr product (a converted product or
a processed raster) to a bounding box and publishes it with lineage (``rs_assets.core.crop``);
``harvest_on_demand`` creates catalog-only items for what a station published over a window
(``rs_assets.core.staging.harvest``)."""

from datetime import timedelta
from pathlib import Path

import dagster as dg
from pydantic import Field

from rs_assets.assets.reporting import fail_on, failure_list
from rs_assets.core.crop import crop_item, parse_bbox
from rs_assets.core.staging.harvest import harvest_products, harvest_sessions
from rs_assets.core.staging.products import aux_task, prip_task
from rs_assets.core.timeutil import parse_datetime, utcnow
from rs_assets.resources import CatalogResource, ConversionResource, ObjectStorage, StationsResource
from rs_assets.resources.services import CONVERSION_POOL, pool_lease, services_of


class CropConfig(dg.Config):
    collection: str = Field(description="Collection of the item to crop (without owner prefix)")
    item_id: str = Field(description="The item to crop: a converted product or a processed raster")
    bbox: str = Field(description="W,S,E,N in degrees, e.g. 12.3,41.8,12.6,42.0")
    output_collection: str | None = Field(None, description="Where the cropped item goes (default: the same)")


@dg.op(
    name="crop_product",
    pool=CONVERSION_POOL,
    description="Cut a Zarr product to a lon/lat box, write it under the rules' bucket, publish it with derived_from.",
)
def crop_product(
    context: dg.OpExecutionContext,
    config: CropConfig,
    storage: ObjectStorage,
    catalog: CatalogResource,
    conversion: ConversionResource,
) -> dg.Output[str]:
    bbox = parse_bbox(config.bbox)
    cropped = crop_item(
        services_of(storage, catalog),
        config.collection,
        config.item_id,
        bbox,
        output_collection=config.output_collection,
        work_dir=Path(conversion.work_dir) if conversion.work_dir else None,
    )
    context.log.info(f"{config.item_id} cut to {config.bbox}: {cropped.item['id']} {cropped.shape}")
    services = catalog.catalog()
    return dg.Output(
        cropped.item["id"],
        metadata={
            "item": dg.MetadataValue.url(services.item_url(cropped.collection, cropped.item["id"])),
            "store": dg.MetadataValue.path(cropped.item["assets"]["product"]["href"]),
            "shape": dg.MetadataValue.json(cropped.shape),
            "bytes": dg.MetadataValue.int(cropped.bytes),
            "bbox": dg.MetadataValue.json(cropped.item["bbox"]),
        },
    )


@dg.job(
    name="crop_on_demand", description="Cut a Zarr product to a bounding box and publish it with lineage."
)
def crop_on_demand() -> None:
    crop_product()


class HarvestConfig(dg.Config):
    station: str = Field(description="The station (AUXIP, PRIP or CADIP) to harvest")
    begin: str | None = Field(None, description="Published from (default: hours before now)")
    end: str | None = Field(None, description="Published until, exclusive (default: now)")
    hours: float = Field(24.0, gt=0, description="The window's length when begin is not given")
    collection: str | None = Field(
        None, description="AUX or PRIP items into this collection (default: the rules')"
    )


@dg.op(
    name="harvest_station",
    description="Catalog-only items for what a station published over a window, their assets at the station.",
)
def harvest_station(
    context: dg.OpExecutionContext,
    config: HarvestConfig,
    stations: StationsResource,
    storage: ObjectStorage,
    catalog: CatalogResource,
) -> dg.Output[int]:
    now = utcnow()
    end = parse_datetime(config.end) or now
    begin = parse_datetime(config.begin) or end - timedelta(hours=config.hours)
    kind = stations.stations().station(config.station).kind
    services = services_of(storage, catalog, pool_lease(context))
    client = stations.client(config.station)
    with services.lease(config.station):
        if kind == "cadip":
            report = harvest_sessions(client, services, begin, end)
        else:
            task = aux_task if kind == "auxip" else prip_task
            report = harvest_products(client, services, begin, end, task, config.collection)
    metadata = {
        "harvested": dg.MetadataValue.int(report.count),
        "already_in_catalog": dg.MetadataValue.int(report.already),
        "retried": dg.MetadataValue.int(report.retried),
        "items": dg.MetadataValue.json(report.harvested),
        "failures": failure_list(report.failed),
    }
    fail_on(
        report.failed,
        f"{len(report.failed)} products of {config.station} not harvested (kept for the next run)",
        metadata,
    )
    return dg.Output(report.count, metadata=metadata)


@dg.job(name="harvest_on_demand", description="Catalog-only ingestion of a station's products or sessions.")
def harvest_on_demand() -> None:
    harvest_station()
