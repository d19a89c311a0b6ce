"""PRIP products: legacy SAFE products staged per publication day, published, unzipped, then converted."""

import dagster as dg

from rs_assets.assets.conversion import build_conversion
from rs_assets.assets.products import ProductFamily, build_product_family
from rs_assets.core.products import prip_task
from rs_assets.core.stac_mapping import CollectionNames

PRIP = ProductFamily(
    staged="prip_products",
    published="prip_catalog",
    unpacked="prip_safe",
    group="prip",
    what="PRIP products",
    task=prip_task,
    staging_job="prip_staging",
    valcover_job="prip_valcover_staging",
)


def build_prip(station: str, partitions: dg.PartitionsDefinition, names: CollectionNames) -> dg.Definitions:
    return dg.Definitions.merge(
        build_product_family(PRIP, station, partitions, names),
        build_conversion(PRIP, station, partitions, names),
    )
