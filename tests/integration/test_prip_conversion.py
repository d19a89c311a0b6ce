"""PRIP products end to end with a real Sentinel-1 SAFE product: staged, unzipped, converted, published."""

from __future__ import annotations

import io
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
import requests
import xarray as xr
from PIL import Image
from stac_pydantic import Item as StacItem

from rs_assets.assets.partitions import daily_partitions
from rs_assets.assets.prip import build_prip
from rs_assets.core.catalog import OwnerNamespace, StacApiCatalog
from rs_assets.core.lifecycle.expiry import run_expiry
from rs_assets.core.timeutil import parse_datetime, utcnow
from rs_assets.resources.services import services_of
from rs_assets.simulator.config import SimStation
from rs_assets.simulator.samples import S1_GRDH
from rs_assets.simulator.server import StationSimulator
from tests.conftest import HISTORY_END, SimulatorFactory
from tests.integration.platform import ACCESS_KEY, SECRET_KEY, Platform, make_platform, metadata
from tests.stac_schemas import assert_publishable

pytest.importorskip("eopf", reason="the eopf extra is installed by scripts/test")

DAY = HISTORY_END.date()
PRIP = build_prip(["PRIP"], daily_partitions("2026-11-01"))
ASSETS = {a.key.to_user_string(): a for a in PRIP.assets or []}  # type: ignore[union-attr]
STAGING = "s1-prip-iw_grdh_1s"
OUTPUT = "s01siwgrd"
SAMPLE = f"{S1_GRDH}.zip"
# From the sample's manifest.safe footprint (lat,lon pairs).
EXPECTED_BBOX = [11.865704, 40.876698, 15.321935, 42.780445]


@pytest.fixture
def sim(simulator_factory: SimulatorFactory) -> StationSimulator:
    return simulator_factory(
        SimStation(name="PRIP", kind="prip", products_per_day=1, days=1, samples=["s1-grdh"])
    )


@pytest.fixture
def platform(
    s3_endpoint: str, stac_api_url: str, tmp_path: Path, unique: str, sim: StationSimulator
) -> Platform:
    return make_platform(s3_endpoint, stac_api_url, tmp_path, unique, sim)


def catalog_of(platform: Platform) -> StacApiCatalog:
    assert platform.catalog_url
    return StacApiCatalog(platform.catalog_url, OwnerNamespace(owner=platform.owner))


def run(platform: Platform, *names: str, **resources: object) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [ASSETS[n] for n in names],
        partition_key=DAY.isoformat(),
        resources=platform.resources(**resources),  # type: ignore[arg-type]
        raise_on_error=False,
    )


def failure_of(result: dg.ExecuteInProcessResult, asset: str) -> str:
    step = dg.AssetKey.from_user_string(asset).to_python_identifier()
    failures = [e for e in result.all_events if e.is_step_failure and e.step_key == step]
    assert failures, f"{asset} did not fail"
    return str(failures[-1].step_failure_data.error.message)  # type: ignore[union-attr]


def generated_name(sim: StationSimulator) -> str:
    products, _ = sim.data.stations["PRIP"].entity_set("Products", sim.data.now())
    day = [p["Name"] for p in products if p["PublicationDate"].startswith(DAY.isoformat())]
    assert SAMPLE in day and len(day) == 2, day
    return next(n for n in day if n != SAMPLE)


def open_store(platform: Platform, href: str) -> xr.DataTree:
    return xr.open_datatree(
        href,
        engine="zarr",
        storage_options={
            "key": ACCESS_KEY,
            "secret": SECRET_KEY,
            "client_kwargs": {"endpoint_url": platform.endpoint, "region_name": "us-east-1"},
        },
    )


def assert_lineage_resolves(item: dict) -> None:
    """Every derived_from href answers: the staged SAFE item it points at stays, as a tombstone."""
    for link in (link for link in item["links"] if link["rel"] == "derived_from"):
        answer = requests.get(link["href"], timeout=10)
        assert answer.status_code == 200, f"{link['href']}: HTTP {answer.status_code}"
        source = answer.json()
        assert source["assets"] == {} and source["properties"]["unpublished"]
        assert source["properties"]["rs:superseded_by"].endswith(f"/items/{item['id']}")


def assert_tombstone(catalog: StacApiCatalog, collection: str, item_id: str) -> None:
    staged = catalog.get_item(collection, item_id)
    assert staged is not None and staged["assets"] == {} and staged["properties"]["unpublished"]
    assert_publishable(staged)


def assert_converted_item(platform: Platform, item: dict, staged_url: str) -> None:
    StacItem.model_validate(item)
    assert item["properties"]["product:type"] == "S01SIWGRD"
    assert item["bbox"] == pytest.approx(EXPECTED_BBOX)
    assert [link["href"] for link in item["links"] if link["rel"] == "derived_from"] == [staged_url]
    assert_lineage_resolves(item)
    assert "null" not in json.dumps(item["properties"]) and "MISSING" not in json.dumps(item["properties"])
    href = item["assets"]["product"]["href"]
    assert href == f"s3://{platform.data_bucket}/{platform.owner}/{OUTPUT}/{item['id']}.zarr"
    quicklook = item["assets"]["quicklook"]
    assert quicklook["type"] == "image/png" and "overview" in quicklook["roles"]
    png = platform.read(quicklook["href"].split("/", 3)[3])
    with Image.open(io.BytesIO(png)) as image:
        assert image.format == "PNG" and max(image.size) == 512
    tree = open_store(platform, href)
    discovery = tree.attrs["stac_discovery"]
    assert discovery["properties"]["sat:absolute_orbit"] == 30148
    product = next(iter(tree.children.values()))
    assert "grd" in product["measurements"].data_vars or "grd" in product["measurements"].children


def test_a_day_of_prip_products_is_staged_unzipped_converted_and_published(
    sim: StationSimulator, platform: Platform
) -> None:
    unreadable = generated_name(sim)
    result = run(
        platform, "prip/prip_products", "prip/prip_catalog", "prip/prip_unpacked", "prip/zarr_products"
    )
    assert metadata(result, "prip/prip_products")["staged"] == 2
    assert metadata(result, "prip/prip_unpacked")["normalized"] == 2
    message = failure_of(result, "prip/zarr_products")
    assert "1 of 2 products were not converted" in message
    assert f"{unreadable}: eopf could not convert" in message

    catalog = catalog_of(platform)
    staged_url = catalog.item_url(STAGING, SAMPLE)
    assert_tombstone(catalog, STAGING, SAMPLE)
    assert catalog.get_item(STAGING, unreadable) is not None, "a product that failed keeps its staged item"
    items = catalog.search([OUTPUT])
    assert len(items) == 1
    assert_converted_item(platform, items[0], staged_url)
    staged_keys = platform.listing(f"{platform.owner}/{STAGING}/")
    assert not [k for k in staged_keys if S1_GRDH in k], "a converted product's staged objects are deleted"
    assert any(unreadable.removesuffix(".zip") in k for k in staged_keys), "a failed one keeps them"

    again = run(platform, "prip/zarr_products")
    assert "1 of 1 products were not converted" in failure_of(again, "prip/zarr_products")
    assert len(catalog.search([OUTPUT])) == 1
    republished = run(platform, "prip/prip_catalog")
    assert metadata(republished, "prip/prip_catalog")["published"] == 0, (
        "a superseded item is not resurrected"
    )
    assert_tombstone(catalog, STAGING, SAMPLE)


def test_staged_objects_kept_for_the_configured_days_are_deleted_by_expiry_then(
    sim: StationSimulator, platform: Platform
) -> None:
    keep = {"keep_staged_days": 2}
    result = run(platform, "prip/prip_products", "prip/prip_catalog", "prip/prip_unpacked")
    assert result.success
    converted = run(platform, "prip/zarr_products", conversion=keep)
    assert "1 of 2 products were not converted" in failure_of(converted, "prip/zarr_products")
    catalog = catalog_of(platform)
    staged = catalog.get_item(STAGING, SAMPLE)
    assert staged is not None and staged["assets"] and "unpublished" not in staged["properties"]
    expires = parse_datetime(staged["properties"]["expires"])
    assert expires is not None and abs(expires - utcnow() - timedelta(days=2)) < timedelta(minutes=5)
    kept = [k for k in platform.listing(f"{platform.owner}/{STAGING}/") if S1_GRDH in k]
    assert kept, "the staged objects stay for the configured days"
    again = run(platform, "prip/zarr_products", conversion=keep)
    assert "1 of 1 products were not converted" in failure_of(again, "prip/zarr_products")
    assert len(catalog.search([OUTPUT])) == 1, "a superseded product is not converted again"

    resources = platform.resources()
    services = services_of(resources["storage"], resources["catalog"])  # type: ignore[arg-type]
    report = run_expiry(services, STAGING, utcnow() + timedelta(days=3))
    assert [e.item_id for e in report.expired] == [SAMPLE] and report.failures == []
    assert not [k for k in platform.listing(f"{platform.owner}/{STAGING}/") if S1_GRDH in k]
    assert_tombstone(catalog, STAGING, SAMPLE)
    assert_lineage_resolves(catalog.search([OUTPUT])[0])


def test_a_missing_converter_fails_its_products_and_loses_nothing(
    sim: StationSimulator, platform: Platform
) -> None:
    result = run(platform, "prip/prip_products", "prip/prip_catalog", "prip/prip_unpacked")
    assert result.success
    missing = {"converters": {"S01SIWGRD": "not_installed_pkg.zarr:convert"}}
    converted = run(platform, "prip/zarr_products", conversion=missing)
    message = failure_of(converted, "prip/zarr_products")
    assert "2 of 2 products were not converted" in message
    assert "converter not_installed_pkg.zarr:convert is not installed" in message
    catalog = catalog_of(platform)
    assert catalog.get_item(STAGING, SAMPLE) is not None
    assert not catalog.collection_exists(OUTPUT) or catalog.search([OUTPUT]) == []


def test_on_demand_conversion_of_a_stac_item_stages_it_and_runs_on_dask(
    sim: StationSimulator, platform: Platform, dask_cluster: Any
) -> None:
    feature_collection = {
        "type": "FeatureCollection",
        "features": [{"type": "Feature", "id": SAMPLE, "collection": STAGING, "properties": {}}],
    }
    job = next(j for j in PRIP.jobs or [] if getattr(j, "name", None) == "convert_product_on_demand")
    result = job.execute_in_process(
        run_config={"ops": {"convert_product": {"config": {"stac_input": json.dumps(feature_collection)}}}},
        resources=platform.resources(dask_scheduler=dask_cluster.scheduler_address),
        raise_on_error=False,
    )
    assert result.success, [str(e.step_failure_data.error) for e in result.all_events if e.is_step_failure]  # type: ignore[union-attr]
    item_id = result.output_for_node("convert_product")
    assert "run_job_on_worker" in dask_cluster.scheduler.task_prefixes, "the conversion ran on the cluster"
    catalog = catalog_of(platform)
    assert_tombstone(catalog, STAGING, SAMPLE)
    item = catalog.get_item(OUTPUT, item_id)
    assert item is not None
    assert_publishable(item)
    assert_converted_item(platform, item, catalog.item_url(STAGING, SAMPLE))
    downloads = [r["path"] for r in sim.requests if r["path"].endswith("$value")]
    assert len(downloads) == 1, "only the requested product was staged"


def test_prip_valcover_staging_selects_by_validity_and_stages_once(
    sim: StationSimulator, platform: Platform
) -> None:
    job = next(j for j in PRIP.jobs or [] if getattr(j, "name", None) == "prip_valcover_staging")
    config = {
        "start": "2021-12-23T05:11:30.000Z",
        "end": "2021-12-23T05:11:40.000Z",
        "product_type": "IW_GRDH_1S",
        "collection": "grd-valcover",
    }

    def stage() -> dg.ExecuteInProcessResult:
        return job.execute_in_process(
            run_config={"ops": {"stage_prip_valcover": {"config": config}}},
            resources=platform.resources(),
        )

    assert stage().output_for_node("stage_prip_valcover") == [SAMPLE]
    item = catalog_of(platform).get_item("grd-valcover", SAMPLE)
    assert item is not None and item["geometry"]["type"] == "Polygon"
    assert item["properties"]["sat:absolute_orbit"] == 30148
    assert stage().output_for_node("stage_prip_valcover") == []
    assert len([r for r in sim.requests if r["path"].endswith("$value")]) == 1
