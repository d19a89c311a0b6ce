"""Two AUXIPs and two PRIPs from a stations file alone: names derived from each station, a day staged from each
into its collections, ValCover staging across the AUXIPs that serve a type."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import dagster as dg
import pytest
import yaml

from rs_assets.core.catalog import OwnerNamespace, StacApiCatalog
from rs_assets.core.catalog.mapping import product_item_id
from rs_assets.core.timeutil import format_datetime, parse_datetime
from rs_assets.definitions import build_definitions
from rs_assets.settings import Settings
from rs_assets.simulator.config import SimStation
from rs_assets.simulator.server import StationSimulator
from tests.conftest import HISTORY_END, SimulatorFactory
from tests.integration.platform import Platform, make_platform, metadata

DAY = HISTORY_END.date().isoformat()
SERVED = {
    "ADGS": ["AUX_CAL", "AUX_PP2", "AUX_RESORB"],
    "LTA": ["AUX_ECMWFD", "AUX_UT1UTC", "AX___FRO_AX"],
    "PRIP": ["IW_GRDH_1S"],
    "PRIP_S3": ["OL_1_EFR___"],
}


@pytest.fixture
def sim(simulator_factory: SimulatorFactory) -> StationSimulator:
    return simulator_factory(
        SimStation(name="ADGS", kind="auxip", products_per_day=6, days=1, product_types=SERVED["ADGS"]),
        SimStation(name="LTA", kind="auxip", products_per_day=6, days=1, product_types=SERVED["LTA"]),
        SimStation(name="PRIP", kind="prip", products_per_day=2, days=1, product_types=SERVED["PRIP"]),
        SimStation(name="PRIP_S3", kind="prip", products_per_day=2, days=1, product_types=SERVED["PRIP_S3"]),
    )


@pytest.fixture
def platform(
    s3_endpoint: str, stac_api_url: str, tmp_path: Path, unique: str, sim: StationSimulator
) -> Platform:
    platform = make_platform(s3_endpoint, stac_api_url, tmp_path, unique, sim)
    document = yaml.safe_load(platform.stations_path.read_text())
    for entry in document["stations"]:
        entry["product_types"] = SERVED[entry["name"]]
        if entry["name"] == "PRIP_S3":
            entry["convert"] = False
    platform.stations_path.write_text(yaml.safe_dump(document))
    return platform


def definitions(platform: Platform) -> dg.Definitions:
    return build_definitions(
        Settings(mode="production", stations_file=platform.stations_path, partitions_start="2026-11-01")
    )


def test_every_station_gets_its_own_assets_jobs_sensors_and_pool(platform: Platform) -> None:
    defs = definitions(platform)
    graph = defs.resolve_asset_graph()
    keys = {key.to_user_string() for key in graph.get_all_asset_keys()}
    for station, prefix in (("ADGS", "adgs"), ("LTA", "lta")):
        assert {f"{prefix}/aux_files", f"{prefix}/aux_catalog", f"{prefix}/aux_unpacked"} <= keys
        assert graph.get(dg.AssetKey([prefix, "aux_files"])).pools == {f"station-{station}"}
    for station, prefix in (("PRIP", "prip"), ("PRIP_S3", "prip_s3")):
        assert {f"{prefix}/prip_products", f"{prefix}/prip_catalog", f"{prefix}/prip_unpacked"} <= keys
        assert graph.get(dg.AssetKey([prefix, "prip_products"])).pools == {f"station-{station}"}
    assert "prip/zarr_products" in keys and "prip_s3/zarr_products" not in keys, "PRIP_S3 does not convert"
    jobs = {job.name for job in defs.resolve_all_job_defs()}
    assert {"adgs_staging", "lta_staging", "prip_staging", "prip_s3_staging"} <= jobs
    assert {"aux_valcover_staging", "prip_valcover_staging", "convert_product_on_demand"} <= jobs
    sensors = {sensor.name for sensor in defs.sensors or []}
    assert {"adgs_new_products", "lta_new_products", "prip_new_products", "prip_s3_new_products"} <= sensors


def test_a_day_staged_from_each_station_lands_in_its_collections(platform: Platform) -> None:
    defs = definitions(platform)
    names = [f"{p}/{a}" for p in ("adgs", "lta") for a in ("aux_files", "aux_catalog")] + [
        f"{p}/{a}" for p in ("prip", "prip_s3") for a in ("prip_products", "prip_catalog")
    ]
    assets = [
        a for a in defs.assets or [] if isinstance(a, dg.AssetsDefinition) and a.key.to_user_string() in names
    ]
    result = dg.materialize(assets, partition_key=DAY, resources=platform.resources())
    assert result.success
    for name in names:
        if name.endswith(("aux_files", "prip_products")):
            assert metadata(result, name)["staged"] > 0, name
    catalog = StacApiCatalog(platform.catalog_url or "", OwnerNamespace(owner=platform.owner))
    types = {
        collection: {item["properties"]["product:type"] for item in catalog.search([collection], limit=1000)}
        for collection in ("s1-aux", "s2-aux", "s3-aux", "s1-prip-iw_grdh_1s", "s3-prip-ol_1_efr")
        if catalog.collection_exists(collection)
    }
    assert types["s1-aux"] <= set(SERVED["ADGS"]), types
    assert (types.get("s2-aux", set()) | types.get("s3-aux", set())) <= set(SERVED["LTA"]), types
    assert types["s1-prip-iw_grdh_1s"] == {"IW_GRDH_1S"} and types["s3-prip-ol_1_efr"] == {"OL_1_EFR___"}
    listing = platform.s3.list_objects_v2(Bucket=platform.system_bucket, Prefix="_rs-assets/manifests/")
    ledgers = {o["Key"] for o in listing.get("Contents", [])}
    assert {f"_rs-assets/manifests/{p}/{DAY}.json" for p in ("adgs/aux_files", "lta/aux_files")} <= ledgers


def test_valcover_staging_asks_only_the_auxips_that_serve_the_type(
    platform: Platform, sim: StationSimulator
) -> None:
    defs = definitions(platform)
    products, _ = sim.data.stations["LTA"].entity_set("Products", sim.data.now())
    wanted = next(p for p in products if any(a["Value"] == "AX___FRO_AX" for a in p["Attributes"]))
    job = defs.resolve_job_def("aux_valcover_staging")
    valid_from = parse_datetime(wanted["ContentDate"]["Start"])
    assert valid_from is not None
    config = {
        "start": format_datetime(valid_from + timedelta(seconds=1)),
        "end": format_datetime(valid_from + timedelta(seconds=2)),
        "product_type": "AX___FRO_AX",
        "collection": "s3-frames",
    }
    before = len(sim.requests)
    result = job.execute_in_process(
        run_config={"ops": {"stage_aux_valcover": {"config": config}}}, resources=platform.resources()
    )
    assert product_item_id(wanted["Name"]) in result.output_for_node("stage_aux_valcover")
    asked = {r["path"].split("/")[1] for r in list(sim.requests)[before:] if "/odata/" in r["path"]}
    assert asked == {"LTA"}, "ADGS does not serve AX___FRO_AX: it is not asked"
