"""Crop against SeaweedFS and the STAC API: a converted GRD (radar geometry) and a map raster cut to a box, written
under the rules' bucket and published with a derived_from link that resolves; bad boxes write nothing."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import rioxarray  # noqa: F401  registers the .rio accessor
import xarray as xr
from click.testing import CliRunner

from rs_assets.assets.on_demand import crop_on_demand
from rs_assets.cli import main
from rs_assets.core.catalog import OwnerNamespace, StacApiCatalog
from rs_assets.core.storage.object_store import ObjectStore
from rs_assets.core.storage.trees import upload_store
from rs_assets.simulator.config import SimStation
from rs_assets.simulator.server import StationSimulator
from tests.conftest import SimulatorFactory
from tests.integration.platform import ACCESS_KEY, SECRET_KEY, Platform, make_platform
from tests.integration.test_processing import GRD_BBOX, GRD_COLLECTION, converted, publish_grd  # noqa: F401
from tests.stac_schemas import assert_publishable

MAP_COLLECTION = "s01siwgtc"
BOX = "12.2,41.3,12.5,41.6"


@pytest.fixture
def sim(simulator_factory: SimulatorFactory) -> StationSimulator:
    return simulator_factory(SimStation(name="ADGS", kind="auxip", products_per_day=1, days=1))


@pytest.fixture
def platform(
    s3_endpoint: str, stac_api_url: str, tmp_path: Path, unique: str, sim: StationSimulator
) -> Platform:
    return make_platform(s3_endpoint, stac_api_url, tmp_path, unique, sim)


def catalog_of(platform: Platform) -> StacApiCatalog:
    return StacApiCatalog(platform.catalog_url or "", OwnerNamespace(owner=platform.owner))


def open_tree(platform: Platform, href: str) -> xr.DataTree:
    return xr.open_datatree(
        href,
        engine="zarr",
        decode_coords="all",
        storage_options={
            "key": ACCESS_KEY,
            "secret": SECRET_KEY,
            "client_kwargs": {"endpoint_url": platform.endpoint, "region_name": "us-east-1"},
        },
    )


def publish_map_raster(platform: Platform, tmp_path: Path) -> tuple[str, xr.DataArray]:
    """A processed-like raster: 0.01 degree pixels over [12, 13] x [41, 42] in EPSG:4326."""
    x = np.arange(12.005, 13.0, 0.01)
    y = np.arange(41.995, 41.0, -0.01)
    values = np.arange(x.size * y.size, dtype=np.float32).reshape(y.size, x.size)
    raster = xr.DataArray(values, coords={"y": y, "x": x}, dims=("y", "x"), name="gtc").rio.write_crs(
        "EPSG:4326"
    )
    local = tmp_path / "MAP.zarr"
    xr.DataTree.from_dict({"/measurements": raster.to_dataset()}).to_zarr(local, consolidated=False)
    key = f"{platform.owner}/{MAP_COLLECTION}/MAP/MAP.zarr"
    upload_store(ObjectStore(platform.s3), local, platform.data_bucket, key)
    ring = [[12, 41], [13, 41], [13, 42], [12, 42], [12, 41]]
    item = {
        "type": "Feature",
        "stac_version": "1.1.0",
        "stac_extensions": [],
        "id": "MAP",
        "geometry": {"type": "Polygon", "coordinates": [ring]},
        "bbox": [12, 41, 13, 42],
        "properties": {"datetime": "2026-11-19T10:00:00.000Z", "product:type": "S01SIWGTC"},
        "links": [],
        "assets": {
            "product": {"href": f"s3://{platform.data_bucket}/{key}", "roles": ["data"]},
            "gtc": {"href": f"s3://{platform.data_bucket}/{key}/measurements/gtc", "roles": ["data"]},
        },
    }
    catalog = catalog_of(platform)
    catalog.ensure_collection(MAP_COLLECTION)
    catalog.upsert_items(MAP_COLLECTION, [item])
    return "MAP", raster


def crop_cli(platform: Platform, tmp_path: Path, *args: str):  # type: ignore[no-untyped-def]
    env = platform.cli_env(tmp_path / "data")
    return CliRunner().invoke(main, ["crop", *args], env=env, catch_exceptions=False)


def assert_lineage(platform: Platform, item: dict, collection: str, source: str) -> None:
    assert_publishable(item)
    [link] = [link for link in item["links"] if link["rel"] == "derived_from"]
    assert link["href"] == catalog_of(platform).item_url(collection, source)
    assert catalog_of(platform).get_item(collection, source) is not None


def test_a_map_raster_is_cut_to_the_box_in_its_own_crs(platform: Platform, tmp_path: Path) -> None:
    source, raster = publish_map_raster(platform, tmp_path)
    result = crop_cli(platform, tmp_path, f"{MAP_COLLECTION}/{source}", "--bbox", BOX, "--json")
    assert result.exit_code == 0, result.output
    cropped = json.loads(result.stdout)
    item = catalog_of(platform).get_item(MAP_COLLECTION, cropped["id"])
    assert item is not None
    assert_lineage(platform, item, MAP_COLLECTION, source)
    assert item["bbox"] == pytest.approx([12.2, 41.3, 12.5, 41.6])
    assert item["properties"]["rs:crop_bbox"] == [12.2, 41.3, 12.5, 41.6]
    out = open_tree(platform, cropped["store"])["measurements"].to_dataset()["gtc"]
    west, south, east, north = out.rio.bounds()
    assert (west, south, east, north) == pytest.approx((12.2, 41.3, 12.5, 41.6), abs=0.0101)
    assert out.shape == (30, 30) or out.shape == (31, 31)
    expected = raster.sel(x=out.x, y=out.y)
    assert np.array_equal(out.values, expected.values), "the pixels are the source's"
    assert cropped["store"].startswith(f"s3://{platform.data_bucket}/{platform.owner}/{MAP_COLLECTION}/")

    job = crop_on_demand.execute_in_process(
        run_config={
            "ops": {
                "crop_product": {"config": {"collection": MAP_COLLECTION, "item_id": source, "bbox": BOX}}
            }
        },
        resources=platform.resources(),
    )
    assert job.success and job.output_for_node("crop_product") == cropped["id"], (
        "the job makes the same product"
    )


def test_a_converted_grd_is_cut_to_the_tie_points_around_the_box(
    platform: Platform,
    tmp_path: Path,
    converted: Path,  # noqa: F811
) -> None:
    grd = publish_grd(platform, converted)
    west, south, *_ = GRD_BBOX
    box = (west + 1.0, south + 0.6, west + 1.6, south + 1.0)
    result = crop_cli(
        platform, tmp_path, f"{GRD_COLLECTION}/{grd}", "--bbox", ",".join(map(str, box)), "--json"
    )
    assert result.exit_code == 0, result.output
    cropped = json.loads(result.stdout)
    item = catalog_of(platform).get_item(GRD_COLLECTION, cropped["id"])
    assert item is not None
    assert_lineage(platform, item, GRD_COLLECTION, grd)
    whole = open_tree(
        platform, f"s3://{platform.data_bucket}/{platform.owner}/{GRD_COLLECTION}/{converted.name}"
    )
    cut = open_tree(platform, cropped["store"])
    product = next(n for n in cut.subtree if n.name == "measurements").parent
    original = whole[product.path]
    measured, full = product["measurements"].to_dataset(), original["measurements"].to_dataset()
    assert 0 < measured.sizes["azimuth_time"] < full.sizes["azimuth_time"]
    assert 0 < measured.sizes["ground_range"] < full.sizes["ground_range"]
    gcp = original["conditions/gcp"].to_dataset()
    inside = gcp.sel(
        azimuth_time=slice(measured.azimuth_time.values[0], measured.azimuth_time.values[-1]),
        ground_range=slice(measured.ground_range.values[0], measured.ground_range.values[-1]),
    )
    lat, lon = inside.latitude.values, inside.longitude.values
    assert lat.min() <= box[1] + 0.1 and lat.max() >= box[3] - 0.1, "the cut covers the box's latitudes"
    assert lon.min() <= box[0] + 0.1 and lon.max() >= box[2] - 0.1, "the cut covers the box's longitudes"
    assert cut["/"].attrs.keys() == whole["/"].attrs.keys()


@pytest.mark.parametrize(
    ("bbox", "message"),
    [
        ("1,2,3", "--bbox '1,2,3': give W,S,E,N"),
        ("13,41,12,42", "need -180 <= W < E <= 180"),
        ("100,10,101,11", "lies outside MAP's footprint"),
    ],
)
def test_a_bad_box_is_one_line_and_writes_nothing(
    platform: Platform, tmp_path: Path, bbox: str, message: str
) -> None:
    publish_map_raster(platform, tmp_path)
    before = platform.listing()
    result = crop_cli(platform, tmp_path, f"{MAP_COLLECTION}/MAP", "--bbox", bbox)
    assert result.exit_code == 1 and message in result.output, result.output
    assert "Traceback" not in result.output
    assert platform.listing() == before
    assert [i["id"] for i in catalog_of(platform).search([MAP_COLLECTION])] == ["MAP"]
