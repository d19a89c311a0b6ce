"""Catalog backends behind one interface: a STAC API with Transactions, or an embedded SQLite store."""

from .base import Catalog, OwnerNamespace
from .sqlite import SqliteCatalog
from .stac_api import StacApiCatalog

__all__ = ["Catalog", "OwnerNamespace", "SqliteCatalog", "StacApiCatalog"]
