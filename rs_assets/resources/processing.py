from typing import Any

import dagster as dg
from pydantic import Field

from rs_assets.core.processing.adfs import AuxipStager
from rs_assets.core.processing.payload import S3Access
from rs_assets.core.processing.process import Processing, Processor
from rs_assets.core.products import aux_task
from rs_assets.core.stac_mapping import CollectionNames
from rs_assets.resources.catalog import CatalogResource
from rs_assets.resources.stations import StationsResource
from rs_assets.resources.storage import ObjectStorage
from rs_assets.settings import DEFAULT_PROCESSORS, ProcessorsFile, load_processors_file


class ProcessingResource(dg.ConfigurableResource):
    """The configured processors, and what their runs use: ADFs staged from every AUXIP, scratch space."""

    processors_file: str = Field(
        str(DEFAULT_PROCESSORS), description="Processors YAML (RS_ASSETS_PROCESSORS_FILE)"
    )
    work_dir: str | None = Field(
        None,
        description="Local scratch space for runs (default: RS_ASSETS_WORK_DIR, else the temp directory)",
    )
    adf_poll_seconds: float = Field(10.0, description="Pause between searches while waiting for a late ADF")

    def processors(self) -> ProcessorsFile:
        return load_processors_file(self.processors_file)

    def processor(self, name: str) -> Processor:
        return self.processors().processor(name)

    def processing(
        self, storage: ObjectStorage, catalog: CatalogResource, stations: StationsResource, dask: Any = None
    ) -> Processing:
        """Everything a run needs; with dagster-dask's resource, the processors compute on that cluster."""
        cat, store, rules = catalog.catalog(), storage.store(), storage.rules()
        auxips = [stations.client(s.name) for s in stations.stations().of_kind("auxip")]
        env = {
            name: value
            for name, value in (
                ("AWS_ACCESS_KEY_ID", storage.aws_access_key_id),
                ("AWS_SECRET_ACCESS_KEY", storage.aws_secret_access_key),
                ("AWS_SESSION_TOKEN", storage.aws_session_token),
                ("AWS_DEFAULT_REGION", storage.region_name),
            )
            if value
        }
        client = getattr(dask, "client", None)
        return Processing(
            store=store,
            catalog=cat,
            rules=rules,
            owner=catalog.owner,
            access=S3Access(storage.endpoint_url, storage.region_name),
            stager=AuxipStager(
                auxips, storage.transfer(), cat, catalog.owner, CollectionNames(), rules, aux_task
            ),
            work_dir=self.work_dir,
            dask_address=client.scheduler.address if client is not None else None,
            env=env,
            poll_seconds=self.adf_poll_seconds,
        )
