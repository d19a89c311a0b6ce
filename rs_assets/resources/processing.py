import os
from typing import Any

import dagster as dg
from pydantic import Field

from rs_assets.core.conversion.convert import S3Endpoint
from rs_assets.core.processing.adfs import AuxipStager
from rs_assets.core.processing.process import Processing, Processor
from rs_assets.core.services import Services
from rs_assets.core.staging.products import aux_task
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
        self, services: Services, storage: ObjectStorage, stations: StationsResource, dask_client: Any = None
    ) -> Processing:
        """Everything a run needs; with a Dask client (dagster-dask's resource), each run's job goes to a worker."""
        auxips = [stations.client(s.name) for s in stations.stations().of_kind("auxip")]
        return Processing(
            services=services,
            stager=AuxipStager(auxips, services, aux_task),
            work_dir=self.work_dir or os.environ.get("RS_ASSETS_WORK_DIR"),
            client=dask_client,
            endpoint=S3Endpoint(storage.endpoint_url, storage.region_name),
            poll_seconds=self.adf_poll_seconds,
        )
