"""Thin Dagster resources that hand out core objects (station clients, S3, catalog, Dask)."""

from .catalog import CatalogResource
from .conversion import ConversionResource
from .dask import dask_for
from .stations import StationsResource
from .storage import ObjectStorage

__all__ = ["CatalogResource", "ConversionResource", "ObjectStorage", "StationsResource", "dask_for"]
