"""The one ``Definitions`` of the rs_assets code location, built from settings."""

from __future__ import annotations

import dagster as dg
from dagster_aws.s3 import S3Resource

from rs_assets.assets.stations import station_specs
from rs_assets.resources import CatalogResource, ObjectStorage, StationsResource, dask_for
from rs_assets.settings import Settings


def build_resources(settings: Settings) -> dict[str, object]:
    s3 = S3Resource(
        endpoint_url=settings.s3_endpoint_url,
        region_name=settings.s3_region,
        aws_access_key_id=dg.EnvVar("AWS_ACCESS_KEY_ID"),
        aws_secret_access_key=dg.EnvVar("AWS_SECRET_ACCESS_KEY"),
    )
    if settings.catalog_url:
        catalog = CatalogResource(
            backend="stac_api",
            url=settings.catalog_url,
            owner=settings.catalog_owner,
            owner_prefix=settings.catalog_owner_prefix,
        )
    else:
        catalog = CatalogResource(
            backend="sqlite",
            sqlite_path=str(settings.catalog_sqlite_path),
            owner=settings.catalog_owner,
            owner_prefix=settings.catalog_owner_prefix,
        )
    return {
        "stations": StationsResource(
            stations_file=str(settings.stations_file) if settings.stations_file else None,
            simulator_url=None if settings.stations_file else settings.simulator_url,
        ),
        "storage": ObjectStorage(s3=s3, bucket=settings.staging_bucket),
        "catalog": catalog,
        "dask": dask_for(settings.dask_scheduler),
    }


def build_definitions(settings: Settings | None = None) -> dg.Definitions:
    settings = settings or Settings.from_env()
    stations = settings.stations()
    return dg.Definitions(
        assets=[*station_specs(stations)],
        resources=build_resources(settings),
    )


defs = build_definitions()
