"""Thin Dagster resources that hand out core objects (station clients, S3, catalog, Dask)."""

from .catalog import CatalogResource
from .conversion import ConversionResource
from .dask import dask_for
from .processing import ProcessingResource
from .stations import StationsResource
from .storage import ObjectStorage

__all__ = [
    "CatalogResource",
    "ConversionResource",
    "ObjectStorage",
    "ProcessingResource",
    "StationsResource",
    "dask_for",
]
