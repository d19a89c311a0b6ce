from typing import Literal

import dagster as dg

from rs_assets.core.catalog import Catalog, OwnerNamespace, SqliteCatalog, StacApiCatalog
from rs_assets.core.catalog.mapping import CollectionNames


class CatalogResource(dg.ConfigurableResource):
    """A STAC API with Transactions (production) or the embedded SQLite catalog (default)."""

    backend: Literal["sqlite", "stac_api"] = "sqlite"
    url: str | None = None
    sqlite_path: str | None = None
    owner: str = "copernicus"
    owner_prefix: bool = True
    aux_collections: str = CollectionNames.aux
    session_collections: str = CollectionNames.cadip
    prip_collections: str = CollectionNames.prip

    def names(self) -> CollectionNames:
        """The collection patterns of the settings (``RS_ASSETS_COLLECTION_*``), RS defaults otherwise."""
        return CollectionNames(
            aux=self.aux_collections, cadip=self.session_collections, prip=self.prip_collections
        )

    def wire_id(self, collection: str) -> str:
        return OwnerNamespace(owner=self.owner, prefixed=self.owner_prefix).wire_id(collection)

    def catalog(self) -> Catalog:
        naming = OwnerNamespace(owner=self.owner, prefixed=self.owner_prefix)
        if self.backend == "stac_api":
            if not self.url:
                raise dg.DagsterInvalidConfigError("CatalogResource(stac_api) needs url", [], None)
            return StacApiCatalog(self.url, naming)
        if not self.sqlite_path:
            raise dg.DagsterInvalidConfigError("CatalogResource(sqlite) needs sqlite_path", [], None)
        return SqliteCatalog(self.sqlite_path, naming)
