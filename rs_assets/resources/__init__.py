"""Thin Dagster resources that hand out core objects (station clients, S3, catalog, Dask)."""

from rs_assets.resources.alerts import AlertsResource
from rs_assets.resources.catalog import CatalogResource
from rs_assets.resources.conversion import ConversionResource
from rs_assets.resources.dask import dask_for
from rs_assets.resources.processing import ProcessingResource
from rs_assets.resources.stations import StationsResource
from rs_assets.resources.storage import ObjectStorage

__all__ = [
    "AlertsResource",
    "CatalogResource",
    "ConversionResource",
    "ObjectStorage",
    "ProcessingResource",
    "StationsResource",
    "dask_for",
]
