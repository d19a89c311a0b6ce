from collections.abc import Callable
from typing import Any

import dagster as dg

from rs_assets.resources.alerts import AlertsResource
from rs_assets.resources.catalog import CatalogResource
from rs_assets.resources.conversion import ConversionResource
from rs_assets.resources.dask import dask_for
from rs_assets.resources.processing import ProcessingResource
from rs_assets.resources.stations import StationsResource
from rs_assets.resources.storage import DEFAULT_RULES, ObjectStorage
from rs_assets.settings import ALERT_WEBHOOK_VAR, DEFAULT_PROCESSORS, Settings


def build_resources(settings: Settings, secret: Callable[[str], Any] = dg.EnvVar) -> dict[str, Any]:
    """The code location's resources; ``secret`` names how S3 keys and the alert webhook are read (``dg.EnvVar`` keeps them out
    of Dagster's stored config; the CLI, outside Dagster, passes ``os.environ.get``)."""
    names = {
        "aux_collections": settings.collection_aux,
        "session_collections": settings.collection_cadip,
        "prip_collections": settings.collection_prip,
    }
    if settings.catalog_url:
        catalog = CatalogResource(
            backend="stac_api",
            url=settings.catalog_url,
            owner=settings.catalog_owner,
            owner_prefix=settings.catalog_owner_prefix,
            **names,
        )
    else:
        catalog = CatalogResource(
            backend="sqlite",
            sqlite_path=str(settings.catalog_sqlite_path),
            owner=settings.catalog_owner,
            owner_prefix=settings.catalog_owner_prefix,
            **names,
        )
    return {
        "stations": StationsResource(
            stations_file=str(settings.stations_file) if settings.stations_file else None,
            simulator_url=None if settings.stations_file else settings.simulator_url,
        ),
        "storage": ObjectStorage(
            endpoint_url=settings.s3_endpoint_url,
            region_name=settings.s3_region,
            aws_access_key_id=secret("AWS_ACCESS_KEY_ID"),
            aws_secret_access_key=secret("AWS_SECRET_ACCESS_KEY"),
            bucket=settings.staging_bucket,
            bucket_rules_file=str(settings.bucket_rules_file or DEFAULT_RULES),
        ),
        "catalog": catalog,
        "conversion": ConversionResource(keep_staged_days=settings.keep_staged_days),
        "processing": ProcessingResource(processors_file=str(settings.processors_file or DEFAULT_PROCESSORS)),
        "dask": dask_for(settings.dask_scheduler),
        "alerts": AlertsResource(
            webhook_url=secret(ALERT_WEBHOOK_VAR) if settings.alert_webhook else None, ui_url=settings.ui_url
        ),
    }
