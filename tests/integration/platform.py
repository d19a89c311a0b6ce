"""Real-service wiring shared by the family tests: S3 buckets, catalog, resources pointed at a simulator."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import boto3
import dagster as dg
import yaml

from rs_assets.resources import (
    CatalogResource,
    ConversionResource,
    ObjectStorage,
    ProcessingResource,
    StationsResource,
    dask_for,
)
from rs_assets.settings import SIMULATOR_PASSWORD_ENV, SIMULATOR_SECRET_ENV
from rs_assets.simulator.server import StationSimulator
from tests.conftest import TEST_S3_KEYS

ACCESS_KEY, SECRET_KEY = TEST_S3_KEYS


def s3_client(endpoint: str):  # type: ignore[no-untyped-def]
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
    )


def stations_file(simulator: StationSimulator, path: Path, **overrides: object) -> Path:
    """A stations YAML pointing at ``simulator``; its secrets go where the file says, in the environment."""
    os.environ.setdefault(SIMULATOR_SECRET_ENV, simulator.config.identity.client_secret)
    os.environ.setdefault(SIMULATOR_PASSWORD_ENV, simulator.config.identity.password)
    entries = [
        {
            "name": s.name,
            "kind": s.kind,
            "base_url": simulator.station_url(s.name),
            "profile": s.profile,
            "max_parallel_downloads": 4,
            "oauth2": {
                "token_url": simulator.token_url,
                "client_id": simulator.config.identity.client_id,
                "username": simulator.config.identity.username,
                "client_secret_env": SIMULATOR_SECRET_ENV,
                "password_env": SIMULATOR_PASSWORD_ENV,
            },
        }
        | overrides
        for s in simulator.config.stations
    ]
    path.write_text(yaml.safe_dump({"stations": entries}))
    return path


@dataclass
class Platform:
    """Buckets of one test (a data bucket chosen by the rules, and the system bucket), a catalog owner."""

    endpoint: str
    catalog_url: str | None
    sqlite_path: Path | None
    owner: str
    data_bucket: str
    system_bucket: str
    rules_file: Path
    stations_path: Path

    @property
    def s3(self):  # type: ignore[no-untyped-def]
        return s3_client(self.endpoint)

    def resources(
        self,
        *,
        catalog_url: str | None = None,
        conversion: dict[str, object] | None = None,
        processing: dict[str, object] | None = None,
        dask_scheduler: str | None = None,
    ) -> dict[str, object]:
        url = catalog_url or self.catalog_url
        catalog = (
            CatalogResource(backend="stac_api", url=url, owner=self.owner)
            if url
            else CatalogResource(backend="sqlite", sqlite_path=str(self.sqlite_path), owner=self.owner)
        )
        return {
            "stations": StationsResource(stations_file=str(self.stations_path)),
            "storage": ObjectStorage(
                endpoint_url=self.endpoint,
                region_name="us-east-1",
                aws_access_key_id=ACCESS_KEY,
                aws_secret_access_key=SECRET_KEY,
                bucket=self.system_bucket,
                bucket_rules_file=str(self.rules_file),
                part_size_mib=5,
            ),
            "catalog": catalog,
            "conversion": ConversionResource(**(conversion or {})),  # type: ignore[arg-type]
            "processing": ProcessingResource(**({"adf_poll_seconds": 0.5} | (processing or {}))),  # type: ignore[arg-type]
            "dask": dask_for(dask_scheduler),
        }

    def cli_env(self, data_dir: Path) -> dict[str, str]:
        """The settings the ``rs-assets`` command reads, for this platform."""
        return {
            "RS_ASSETS_MODE": "production",
            "RS_ASSETS_STATIONS_FILE": str(self.stations_path),
            "RS_ASSETS_S3_ENDPOINT": self.endpoint,
            "RS_ASSETS_STAGING_BUCKET": self.system_bucket,
            "RS_ASSETS_BUCKET_RULES": str(self.rules_file),
            "RS_ASSETS_CATALOG_URL": self.catalog_url or "",
            "RS_ASSETS_OWNER": self.owner,
            "RS_ASSETS_DATA_DIR": str(data_dir),
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
        }

    def listing(self, prefix: str = "") -> dict[str, int]:
        paginator = self.s3.get_paginator("list_objects_v2")
        return {
            obj["Key"]: obj["Size"]
            for page in paginator.paginate(Bucket=self.data_bucket, Prefix=prefix)
            for obj in page.get("Contents", [])
        }

    def read(self, key: str) -> bytes:
        return self.s3.get_object(Bucket=self.data_bucket, Key=key)["Body"].read()


def make_platform(
    endpoint: str, catalog_url: str | None, tmp: Path, unique: str, simulator: StationSimulator
) -> Platform:
    data, system = f"data-{unique}", f"sys-{unique}"
    client = s3_client(endpoint)
    for bucket in (data, system):
        client.create_bucket(Bucket=bucket)
    rules = tmp / "rules.csv"
    rules.write_text(f"owner,collection,product_type,expiration_days,bucket\n*,*,*,30,{data}\n")
    return Platform(
        endpoint=endpoint,
        catalog_url=catalog_url,
        sqlite_path=tmp / "catalog.sqlite",
        owner=f"o{unique}",
        data_bucket=data,
        system_bucket=system,
        rules_file=rules,
        stations_path=stations_file(simulator, tmp / "stations.yaml"),
    )


def instance() -> dg.DagsterInstance:
    return dg.DagsterInstance.ephemeral()


def metadata(result: dg.ExecuteInProcessResult, asset: str) -> dict:
    """The metadata of ``asset``'s last materialization in ``result``; failing steps named when there is none."""
    events = [e for e in result.get_asset_materialization_events() if e.asset_key.to_user_string() == asset]
    assert events, (
        f"{asset} was not materialized: {[e.event_type_value for e in result.all_events if e.is_failure]}"
    )
    return {k: v.value for k, v in events[-1].materialization.metadata.items()}
