"""AUX files: staged per publication day, published to the AUX collections, archives normalized."""

import dagster as dg

from rs_assets.assets.products import ProductFamily, build_product_family
from rs_assets.core.products import aux_task
from rs_assets.core.stac_mapping import CollectionNames

AUX = ProductFamily(
    staged="aux_files",
    published="aux_catalog",
    unpacked="aux_archives",
    group="auxip",
    what="AUX files",
    task=aux_task,
    staging_job="aux_staging",
    valcover_job="aux_valcover_staging",
)


def build_auxip(station: str, partitions: dg.PartitionsDefinition, names: CollectionNames) -> dg.Definitions:
    return build_product_family(AUX, station, partitions, names)
