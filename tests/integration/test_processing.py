"""Processing on real services: a converted Sentinel-1 GRD terrain-corrected with a DEM the AUXIP publishes.

The full chain (PRIP staging, conversion, declarative automation, processing) runs on both catalogs. The
failure cases start from a converted product published directly (converted once per module), so that each
of them costs a processor run, not a conversion.
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path
from typing import Any

import dagster as dg
import numpy as np
import pytest
import xarray as xr
import yaml
from stac_pydantic import Item as StacItem

from rs_assets.assets.partitions import daily_partitions
from rs_assets.assets.prip import build_prip
from rs_assets.assets.processing import build_processing, process_on_demand
from rs_assets.core.catalog import Catalog, OwnerNamespace, SqliteCatalog, StacApiCatalog
from rs_assets.core.catalog.zarr_item import converted_item, read_stac_discovery
from rs_assets.core.storage.object_store import ObjectStore, split_href
from rs_assets.core.storage.trees import upload_store
from rs_assets.settings import DEFAULT_PROCESSORS, load_processors_file
from rs_assets.simulator.config import SimStation
from rs_assets.simulator.samples import S1_GRDH, s1_grdh
from rs_assets.simulator.server import StationSimulator
from tests.conftest import HISTORY_END, SimulatorFactory
from tests.integration.platform import ACCESS_KEY, SECRET_KEY, Platform, make_platform, metadata
from tests.stac_schemas import assert_publishable

pytest.importorskip("sarsen", reason="the processing extra is installed by scripts/test")

ROOT = Path(__file__).resolve().parents[2]
DAY = HISTORY_END.date().isoformat()
PROCESSED = "processed_s1_terrain_correction"
GRD_COLLECTION = "s01siwgrd"
GTC_COLLECTION = "s01siwgtc"
DEM_COLLECTION = "s1-aux"
DEM_NAME = "S1__AUX_DEM_V20000101T000000_21000101T000000_ROME30.TIF"
# Rome's DEM (sarsen sdist) and the GRD sample's footprint (its manifest.safe).
DEM_BOUNDS = (12.4499, 41.9501, 12.5499, 42.0501)
GRD_BBOX = (11.865704, 40.876698, 15.321935, 42.780445)


def definitions(processors: Path = DEFAULT_PROCESSORS) -> dict[str, dg.AssetsDefinition]:
    prip = build_prip(["PRIP"], daily_partitions("2026-11-01"))
    assets = {a.key.to_user_string(): a for a in prip.assets or []}  # type: ignore[union-attr]
    processing = build_processing(load_processors_file(processors), assets)
    return assets | {a.key.to_user_string(): a for a in processing.assets or []}  # type: ignore[union-attr]


@pytest.fixture
def sim(simulator_factory: SimulatorFactory) -> StationSimulator:
    return simulator_factory(
        SimStation(name="PRIP", kind="prip", products_per_day=0, days=1, samples=["s1-grdh"]),
        SimStation(name="ADGS", kind="auxip", products_per_day=3, days=1, samples=["dem-rome"]),
    )


@pytest.fixture(autouse=True)
def importable_test_units(monkeypatch: pytest.MonkeyPatch) -> None:
    """The runner's child process imports test processing units (tests.processing_units) from the repo."""
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))


def catalog_of(platform: Platform) -> Catalog:
    naming = OwnerNamespace(owner=platform.owner)
    if platform.catalog_url:
        return StacApiCatalog(platform.catalog_url, naming)
    assert platform.sqlite_path
    return SqliteCatalog(platform.sqlite_path, naming)


def open_output(platform: Platform, href: str) -> xr.Dataset:
    tree = xr.open_datatree(
        href,
        engine="zarr",
        decode_coords="all",
        storage_options={
            "key": ACCESS_KEY,
            "secret": SECRET_KEY,
            "client_kwargs": {"endpoint_url": platform.endpoint, "region_name": "us-east-1"},
        },
    )
    return tree["measurements"].to_dataset()


def overlaps(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def resolves(catalog: Catalog, href: str) -> bool:
    collection, item_id = href.split("/collections/", 1)[1].split("/items/")
    owner = catalog.naming.owner + ":"
    return catalog.get_item(collection.removeprefix(owner), item_id) is not None


def assert_terrain_corrected(platform: Platform, catalog: Catalog, item: dict[str, Any], grd_id: str) -> None:
    StacItem.model_validate(item)
    properties = item["properties"]
    assert properties["product:type"] == "S01SIWGTC"
    assert properties["processing:software"]["S1TerrainCorrection"] == "1.0.0"
    assert properties["processing:software"]["tasktable s1-terrain-correction"] == "1.0"
    assert properties["rs:tasktable"] == {"name": "s1-terrain-correction", "version": "1.0"}
    assert properties["expires"]
    links = [link["href"] for link in item["links"] if link["rel"] == "derived_from"]
    assert links == [catalog.item_url(GRD_COLLECTION, grd_id), catalog.item_url(DEM_COLLECTION, DEM_NAME)]
    assert all(resolves(catalog, href) for href in links)
    href = item["assets"]["product"]["href"]
    assert (
        href
        == f"s3://{platform.data_bucket}/{platform.owner}/{GTC_COLLECTION}/{item['id']}/{item['id']}.zarr"
    )
    raster = open_output(platform, href)["gtc"]
    assert raster.rio.crs.to_epsg() == 9707
    bounds = raster.rio.bounds()
    assert overlaps(bounds, GRD_BBOX) and overlaps(bounds, DEM_BOUNDS)
    assert raster.shape == (360, 360)
    assert bool(np.isfinite(raster.values).all()), "finite everywhere on the DEM, which the product covers"
    assert overlaps(tuple(item["bbox"]), DEM_BOUNDS)
    payload = platform.read(split_href(item["assets"]["payload"]["href"])[1]).decode()
    assert SECRET_KEY not in payload and ACCESS_KEY not in payload
    assert yaml.safe_load(payload)["workflow"][0]["processing_unit"] == "TerrainCorrection"


@pytest.mark.parametrize("backend", ["stac_api", "sqlite"])
def test_a_newly_converted_grd_is_terrain_corrected_with_a_dem_staged_from_the_auxip(
    backend: str, s3_endpoint: str, stac_api_url: str, tmp_path: Path, unique: str, sim: StationSimulator
) -> None:
    platform = make_platform(
        s3_endpoint, stac_api_url if backend == "stac_api" else None, tmp_path, unique, sim
    )
    assets = definitions()
    instance = dg.DagsterInstance.ephemeral()
    resources = platform.resources()
    upstream = ["prip/prip_products", "prip/prip_catalog", "prip/prip_unpacked", "prip/zarr_products"]
    automation = dg.Definitions(assets=list(assets.values()), resources=resources)
    with warnings.catch_warnings():  # Dagster's own evaluation calls a beta parameter internally
        warnings.simplefilter("ignore", dg.BetaWarning)
        before = dg.evaluate_automation_conditions(defs=automation, instance=instance)
    result = dg.materialize(
        [assets[n] for n in upstream], partition_key=DAY, resources=resources, instance=instance
    )
    assert metadata(result, "prip/zarr_products")["converted"] == 1
    catalog = catalog_of(platform)
    assert not catalog.collection_exists(DEM_COLLECTION), "the DEM is at the AUXIP only"

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.BetaWarning)
        requested = dg.evaluate_automation_conditions(
            defs=automation, instance=instance, cursor=before.cursor
        )
    partitions = requested.get_requested_partitions(dg.AssetKey(PROCESSED))
    assert DAY in partitions, "the converted product triggers its processing"

    processed = dg.materialize([assets[PROCESSED]], partition_key=DAY, resources=resources, instance=instance)
    meta = metadata(processed, PROCESSED)
    assert meta["processed"] == 1 and meta["outputs_published"] == 1 and meta["failed"] == 0
    assert "TerrainCorrection" in meta["units"] and "S01SIWGTC" in meta["units"]
    searches = json.loads(meta["adf_queries"].removeprefix("```json\n").removesuffix("\n```"))
    assert searches[0]["filter"]["args"][0]["args"][1] == "AUX_DEM"
    assert searches[0]["found"] == DEM_NAME and "ADGS: 1 selected, 1 staged" in searches[0]["notes"][0]
    assert "processing_unit: TerrainCorrection" in meta["payload"]

    dem = catalog.get_item(DEM_COLLECTION, DEM_NAME)
    assert dem is not None, "the DEM was staged into its ADF collection"
    grd_id = catalog.search([GRD_COLLECTION])[0]["id"]
    outputs = catalog.search([GTC_COLLECTION])
    assert len(outputs) == 1
    assert_terrain_corrected(platform, catalog, outputs[0], grd_id)

    again = dg.materialize([assets[PROCESSED]], partition_key=DAY, resources=resources, instance=instance)
    assert metadata(again, PROCESSED)["already_processed"] == 1
    assert metadata(again, PROCESSED)["processed"] == 0
    assert [i["id"] for i in catalog.search([GTC_COLLECTION])] == [outputs[0]["id"]]
    downloads = [
        r["path"] for r in sim.requests if r["path"].startswith("/ADGS/") and r["path"].endswith("$value")
    ]
    assert len(downloads) == 1, "the DEM was staged once"


# -- from a converted product published directly ---------------------------------------------------------


@pytest.fixture(scope="module")
def converted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample converted once for the module, as zarr_products would."""
    from rs_assets.core.conversion.converters import convert_with_eopf

    return convert_with_eopf(s1_grdh(), tmp_path_factory.mktemp("converted"))


@pytest.fixture
def platform(
    s3_endpoint: str, stac_api_url: str, tmp_path: Path, unique: str, sim: StationSimulator
) -> Platform:
    return make_platform(s3_endpoint, stac_api_url, tmp_path, unique, sim)


def publish_grd(platform: Platform, converted: Path) -> str:
    """The converted store in S3 and its item in the GRD collection, as after a conversion."""
    store = ObjectStore(platform.s3)
    key = f"{platform.owner}/{GRD_COLLECTION}/{converted.name}"
    upload_store(store, converted, platform.data_bucket, key)
    name = converted.name.removesuffix(".zarr")
    item = converted_item(
        read_stac_discovery(store, platform.data_bucket, key),
        store_name=name,
        store_href=f"s3://{platform.data_bucket}/{key}",
        product_type="S01SIWGRD",
        staged_item={"id": f"{S1_GRDH}.zip", "geometry": None},
        derived_from="https://prip.example/Products(1)",
    )
    catalog = catalog_of(platform)
    catalog.ensure_collection(GRD_COLLECTION)
    catalog.upsert_items(GRD_COLLECTION, [item])
    return name


def processors_file(tmp_path: Path, tasktable: dict[str, Any] | None = None, **fields: Any) -> Path:
    """The shipped processor, with its tasktable and fields replaced as a test needs."""
    shipped = yaml.safe_load(DEFAULT_PROCESSORS.read_text())["processors"][0]
    path = DEFAULT_PROCESSORS.parent / shipped["tasktable"]
    if tasktable is not None:
        path = tmp_path / "tasktable.json"
        path.write_text(json.dumps(tasktable))
    entry = shipped | {"tasktable": str(path.resolve())} | fields
    target = tmp_path / "processors.yaml"
    target.write_text(yaml.safe_dump({"processors": [entry]}))
    return target


def shipped_tasktable() -> dict[str, Any]:
    return json.loads((ROOT / "rs_assets/processors/tasktables/s1_terrain_correction.json").read_text())


def process(platform: Platform, processors: Path, *inputs: str, **config: Any) -> dg.ExecuteInProcessResult:
    return process_on_demand.execute_in_process(
        run_config={
            "ops": {
                "process_products": {
                    "config": {"processor": "s1_terrain_correction", "input_items": list(inputs)} | config
                }
            }
        },
        resources=platform.resources(processing={"processors_file": str(processors)}),
        raise_on_error=False,
    )


def failure(result: dg.ExecuteInProcessResult) -> str:
    failures = [e for e in result.all_events if e.is_step_failure]
    assert failures, "the run did not fail"
    return str(failures[-1].step_failure_data.error.message)  # type: ignore[union-attr]


def assert_nothing_published(platform: Platform) -> None:
    catalog = catalog_of(platform)
    assert not catalog.collection_exists(GTC_COLLECTION) or catalog.search([GTC_COLLECTION]) == []
    assert platform.listing(f"{platform.owner}/{GTC_COLLECTION}/") == {}, "nothing left under final keys"


def station_downloads(sim: StationSimulator, station: str) -> int:
    return len(
        [r for r in sim.requests if r["path"].startswith(f"/{station}/") and r["path"].endswith("$value")]
    )


def test_on_demand_processing_of_a_published_grd_in_rtc_mode(
    platform: Platform, sim: StationSimulator, converted: Path, tmp_path: Path
) -> None:
    grd = publish_grd(platform, converted)
    result = process(platform, processors_file(tmp_path), f"{GRD_COLLECTION}/{grd}", processing_mode="rtc")
    assert result.success, failure(result)
    [item_id] = result.output_for_node("process_products")
    assert item_id == grd.replace("S01SIWGRD", "S01SIWRTC")
    item = catalog_of(platform).get_item("s01siwrtc", item_id)
    assert item is not None and item["properties"]["rs:processing_mode"] == "rtc"
    assert_publishable(item)
    raster = open_output(platform, item["assets"]["product"]["href"])["rtc"]
    assert raster.rio.crs.to_epsg() == 9707 and raster.attrs["long_name"] == "terrain-corrected gamma nought"


def test_an_adf_that_no_alternative_finds_fails_naming_it_and_every_query(
    platform: Platform, sim: StationSimulator, converted: Path, tmp_path: Path
) -> None:
    tasktable = shipped_tasktable()
    dem = next(entry for entry in tasktable["io"] if entry["name"] == "DEM")
    first = dem["alternatives"][0]
    dem["alternatives"] = [
        first
        | {
            "query": first["query"]
            | {"parameters": first["query"]["parameters"] | {"product_type": "AUX_DEM90"}}
        },
        first
        | {
            "order": 2,
            "timeout_seconds": 2,
            "query": first["query"]
            | {"parameters": first["query"]["parameters"] | {"product_type": "AUX_DEM_NEVER"}},
        },
    ]
    grd = publish_grd(platform, converted)
    result = process(platform, processors_file(tmp_path, tasktable), f"{GRD_COLLECTION}/{grd}")
    message = failure(result)
    assert "ADF DEM: no alternative found an item" in message
    # types the processor maps to no collection are looked for in {satellite}-aux-{type} (RS behaviour)
    assert "alternative 1 (LatestValCover in sentinel-1b-aux-aux_dem90)" in message and "AUX_DEM90" in message
    assert "alternative 2 (LatestValCover in sentinel-1b-aux-aux_dem_never)" in message
    assert "ADGS: 0 selected, 0 staged" in message and "waited 2 s" in message
    assert_nothing_published(platform)


def test_a_processor_whose_module_is_absent_fails_naming_it_before_anything_is_staged(
    platform: Platform, sim: StationSimulator, converted: Path, tmp_path: Path
) -> None:
    grd = publish_grd(platform, converted)
    missing = processors_file(tmp_path, modules={"TerrainCorrection": "not_installed_processors.terrain"})
    message = failure(process(platform, missing, f"{GRD_COLLECTION}/{grd}"))
    assert "processor s1_terrain_correction" in message
    assert "module 'not_installed_processors.terrain'" in message and "not installed" in message
    assert station_downloads(sim, "ADGS") == 0, "no ADF was staged"
    assert not catalog_of(platform).collection_exists(DEM_COLLECTION)
    assert_nothing_published(platform)


def test_a_unit_that_fails_while_writing_publishes_nothing_and_leaves_nothing(
    platform: Platform, sim: StationSimulator, converted: Path, tmp_path: Path
) -> None:
    grd = publish_grd(platform, converted)
    failing = processors_file(tmp_path, modules={"TerrainCorrection": "tests.processing_units"})
    message = failure(process(platform, failing, f"{GRD_COLLECTION}/{grd}"))
    assert "the processor failed" in message and "detector calibration diverged" in message
    assert_nothing_published(platform)


@pytest.mark.parametrize(
    ("inputs", "config", "expected"),
    [
        (
            ["s01siwgrd/S01SIWGRD_NOT_THERE"],
            {},
            "input S01SIWGRD (s01siwgrd/S01SIWGRD_NOT_THERE): no such item",
        ),
        (["elsewhere/X", "s01siwgrd/Y"], {}, "is not COLLECTION/ITEM"),
        ([], {"processing_mode": "sar"}, "unknown processing mode 'sar'; modes: gtc, rtc"),
        ([], {"pipeline": "ard"}, "no pipeline 'ard'; pipelines: terrain_correction"),
        ([], {"output_collections": {}}, None),
    ],
)
def test_bad_requests_fail_clearly_and_write_nothing(
    platform: Platform,
    sim: StationSimulator,
    converted: Path,
    tmp_path: Path,
    inputs: list[str],
    config: dict[str, Any],
    expected: str | None,
) -> None:
    grd = publish_grd(platform, converted)
    if expected is None:  # an output type no collection rule maps
        processors, expected = (
            processors_file(tmp_path, outputs={"S01SIWRTC": "rtc-only"}),
            "no output collection for S01SIWGTC",
        )
    else:
        processors = processors_file(tmp_path)
    if inputs == ["elsewhere/X", "s01siwgrd/Y"]:
        inputs = ["S01SIWGRD=elsewhere"]
    message = failure(process(platform, processors, *(inputs or [f"{GRD_COLLECTION}/{grd}"]), **config))
    assert expected in message
    assert station_downloads(sim, "ADGS") == 0
    assert_nothing_published(platform)


def test_an_input_whose_objects_are_gone_is_refused(
    platform: Platform, sim: StationSimulator, converted: Path, tmp_path: Path
) -> None:
    grd = publish_grd(platform, converted)
    platform.s3.delete_object(
        Bucket=platform.data_bucket, Key=f"{platform.owner}/{GRD_COLLECTION}/{grd}.zarr/zarr.json"
    )
    message = failure(process(platform, processors_file(tmp_path), f"{GRD_COLLECTION}/{grd}"))
    assert (
        f"input S01SIWGRD ({GRD_COLLECTION}/{grd}): its product" in message and "is not in storage" in message
    )
    assert_nothing_published(platform)


def test_with_a_dask_cluster_the_run_goes_to_a_worker(
    platform: Platform, sim: StationSimulator, converted: Path, tmp_path: Path, dask_cluster: Any
) -> None:
    grd = publish_grd(platform, converted)
    result = process_on_demand.execute_in_process(
        run_config={
            "ops": {
                "process_products": {
                    "config": {
                        "processor": "s1_terrain_correction",
                        "input_items": [f"{GRD_COLLECTION}/{grd}"],
                    }
                }
            }
        },
        resources=platform.resources(dask_scheduler=dask_cluster.scheduler_address),
        raise_on_error=False,
    )
    assert result.success, failure(result)
    assert "run_job_on_worker" in dask_cluster.scheduler.task_prefixes, "the run went to the cluster"
    [item_id] = result.output_for_node("process_products")
    item = catalog_of(platform).get_item(GTC_COLLECTION, item_id)
    assert item is not None
    raster = open_output(platform, item["assets"]["product"]["href"])["gtc"]
    assert bool(np.isfinite(raster.values).all())


def test_the_cli_runs_a_processor_against_the_platform(
    platform: Platform, sim: StationSimulator, converted: Path, tmp_path: Path
) -> None:
    from click.testing import CliRunner

    from rs_assets.cli import main

    grd = publish_grd(platform, converted)
    env = platform.cli_env(tmp_path / "data")

    def cli(*args: str) -> Any:
        return CliRunner().invoke(main, ["process", *args], env=env, catch_exceptions=False)

    done = cli("run", "s1_terrain_correction", "--input", f"{GRD_COLLECTION}/{grd}", "--json")
    assert done.exit_code == 0, done.output
    answer = json.loads(done.stdout)
    [published] = answer["published"]
    assert published["id"] == grd.replace("S01SIWGRD", "S01SIWGTC")
    assert answer["adfs"] == {"DEM": f"{DEM_COLLECTION}/{DEM_NAME}"}
    assert answer["payload"].endswith(f"/{published['id']}/payload.yaml")
    assert catalog_of(platform).get_item(GTC_COLLECTION, published["id"]) is not None

    again = cli("run", "s1_terrain_correction", "--input", f"{GRD_COLLECTION}/{grd}")
    assert again.exit_code == 0 and "outputs already published, nothing done" in again.stdout
    for bad, expected in [
        (
            ["run", "s1_terrain_correction", "--input", f"{GRD_COLLECTION}/NOT_THERE"],
            "no such item in the catalog",
        ),
        (["run", "sar_processor", "--input", f"{GRD_COLLECTION}/{grd}"], "unknown processor 'sar_processor'"),
        (["run", "s1_terrain_correction", "--input", "nothing"], "is not COLLECTION/ITEM"),
        (
            ["run", "s1_terrain_correction", "--input", f"{GRD_COLLECTION}/{grd}", "--mode", "x"],
            "unknown processing mode 'x'",
        ),
    ]:
        result = cli(*bad)
        assert result.exit_code == 1, result.output
        assert expected in result.output and "Traceback" not in result.output
