"""AUX files: staged per publication day, published to the AUX collections, archives normalized."""

import dagster as dg

from rs_assets.assets.products import ProductFamily, build_product_family
from rs_assets.assets.valcover import build_family_jobs
from rs_assets.core.staging.products import aux_task

AUX = ProductFamily(
    kind="auxip",
    short="aux",
    staged="aux_files",
    published="aux_catalog",
    unpacked="aux_unpacked",
    group="auxip",
    what="AUX files",
    task=aux_task,
)


def build_auxip(stations: list[str], partitions: dg.PartitionsDefinition) -> dg.Definitions:
    """Each AUXIP station's assets, job and sensor; ValCover staging across them all."""
    return dg.Definitions.merge(
        *(build_product_family(AUX, station, partitions) for station in stations),
        build_family_jobs(AUX, stations),
    )
