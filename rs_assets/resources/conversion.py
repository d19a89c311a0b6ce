from typing import Any

import dagster as dg
from pydantic import Field

from rs_assets.core.conversion.convert import Conversion, OutputRule, S3Endpoint
from rs_assets.core.conversion.converters import ConverterRegistry, default_registry, for_types
from rs_assets.core.services import Services
from rs_assets.resources.storage import ObjectStorage


class ConversionResource(dg.ConfigurableResource):
    """How legacy products become EOPF Zarr: converter rules, output collections, local scratch space.

    ``converters`` maps an EOPF type (or ``*``) to a ``package.module:function`` that takes precedence over
    eopf for it; ``outputs`` maps an EOPF type (or ``*``) to the collection its items go to.
    """

    converters: dict[str, str] = Field(default_factory=dict)
    outputs: dict[str, str] = Field(default_factory=dict)
    work_dir: str | None = Field(
        None,
        description="Local scratch space for conversions (default: RS_ASSETS_WORK_DIR, else the system's temp "
        "directory). Its path must not contain hh, hv, vv or vh: eopf reads Sentinel-1 polarisation codes "
        "from a SAFE's whole path.",
    )
    keep_staged_days: float = Field(
        0.0,
        ge=0,
        description="Days a converted product's staged SAFE objects stay in S3 (its superseded staged item keeps "
        "its assets until then, and expiry deletes them); 0 deletes them once the Zarr item is published.",
    )

    def registry(self) -> ConverterRegistry:
        registry = default_registry()
        for eopf_type, converter in sorted(self.converters.items(), key=lambda kv: kv[0] != "*"):
            registry.register(converter, for_types([eopf_type]), f"{converter} for {eopf_type}")
        return registry

    def output_rules(self) -> list[OutputRule]:
        return [
            OutputRule(product_type, collection or None) for product_type, collection in self.outputs.items()
        ]

    def conversion(self, services: Services, storage: ObjectStorage, dask_client: Any = None) -> Conversion:
        """Everything a conversion needs; with a Dask client, its jobs run on that cluster (workers reach the
        storage's endpoint with their own credentials)."""
        return Conversion(
            services=services,
            registry=self.registry(),
            outputs=self.output_rules(),
            work_dir=self.work_dir,
            client=dask_client,
            endpoint=S3Endpoint(storage.endpoint_url, storage.region_name),
            keep_staged_days=self.keep_staged_days,
        )
