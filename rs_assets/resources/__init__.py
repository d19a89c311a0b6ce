"""Thin Dagster resources that hand out core objects (station clients, S3, catalog, Dask)."""

from .catalog import CatalogResource
from .dask import dask_for
from .stations import StationsResource
from .storage import ObjectStorage

__all__ = ["CatalogResource", "ObjectStorage", "StationsResource", "dask_for"]
