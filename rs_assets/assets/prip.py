"""PRIP products: legacy SAFE products staged per publication day, published, unzipped, then converted."""

import dagster as dg

from rs_assets.assets.conversion import build_conversion, build_conversion_jobs
from rs_assets.assets.products import ProductFamily, build_product_family
from rs_assets.assets.valcover import build_family_jobs
from rs_assets.core.staging.products import prip_task

PRIP = ProductFamily(
    kind="prip",
    short="prip",
    staged="prip_products",
    published="prip_catalog",
    unpacked="prip_unpacked",
    group="prip",
    what="PRIP products",
    task=prip_task,
)


def build_prip(
    stations: list[str],
    partitions: dg.PartitionsDefinition,
    converting: list[str] | None = None,
) -> dg.Definitions:
    """Each PRIP station's assets, job and sensor, and the conversion of the ``converting`` ones (default: all);
    ValCover staging and on-demand conversion across them all."""
    converting = stations if converting is None else converting
    converted = [build_conversion(PRIP, station, partitions) for station in stations if station in converting]
    return dg.Definitions.merge(
        *(build_product_family(PRIP, station, partitions) for station in stations),
        build_family_jobs(PRIP, stations),
        build_conversion_jobs(PRIP, stations, converted),
        dg.Definitions(assets=converted),
    )
