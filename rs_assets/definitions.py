"""The one ``Definitions`` of the rs_assets code location, built from settings."""

import dagster as dg

from rs_assets.assets.auxip import build_auxip
from rs_assets.assets.cadip import build_cadip, cadip_sensors
from rs_assets.assets.partitions import daily_partitions
from rs_assets.assets.prip import build_prip
from rs_assets.assets.stations import station_specs
from rs_assets.core.errors import ConfigError
from rs_assets.core.stac_mapping import CollectionNames
from rs_assets.resources import (
    CatalogResource,
    ConversionResource,
    ObjectStorage,
    StationsResource,
    dask_for,
)
from rs_assets.resources.storage import DEFAULT_RULES
from rs_assets.settings import Settings


def build_resources(settings: Settings) -> dict[str, object]:
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
        "storage": ObjectStorage(
            endpoint_url=settings.s3_endpoint_url,
            region_name=settings.s3_region,
            aws_access_key_id=dg.EnvVar("AWS_ACCESS_KEY_ID"),
            aws_secret_access_key=dg.EnvVar("AWS_SECRET_ACCESS_KEY"),
            bucket=settings.staging_bucket,
            bucket_rules_file=str(settings.bucket_rules_file or DEFAULT_RULES),
        ),
        "catalog": catalog,
        "conversion": ConversionResource(),
        "dask": dask_for(settings.dask_scheduler),
    }


def build_definitions(settings: Settings | None = None) -> dg.Definitions:
    settings = settings or Settings.from_env()
    stations = settings.stations()
    names = CollectionNames()
    daily = daily_partitions(settings.partitions_start)
    families: list[dg.Definitions] = []
    for kind, build in (("auxip", build_auxip), ("prip", build_prip)):
        found = stations.of_kind(kind)
        if len(found) > 1:
            raise ConfigError(
                f"one {kind.upper()} station is supported, the stations file has {len(found)}: "
                + ", ".join(s.name for s in found)
            )
        if found:
            families.append(build(found[0].name, daily, names))
    cadips = [s.name for s in stations.of_kind("cadip")]
    if cadips:
        families.append(build_cadip(names, cadips, daily))
        families.append(dg.Definitions(sensors=cadip_sensors(cadips)))
    return dg.Definitions.merge(
        dg.Definitions(assets=[*station_specs(stations)], resources=build_resources(settings)),
        *families,
    )


defs = build_definitions()
