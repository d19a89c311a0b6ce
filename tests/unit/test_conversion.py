import json
from pathlib import Path

import pytest

from rs_assets.core.catalog.mapping import bbox_of
from rs_assets.core.catalog.zarr_item import converted_item, usable_geometry, without_placeholders
from rs_assets.core.conversion.convert import (
    POLARISATION_CODES,
    OutputRule,
    default_output_collection,
    measured_beams,
    requested_item,
    resolve_output_collection,
    safe_directory,
    work_directory,
)
from rs_assets.core.conversion.converters import (
    EOPF,
    ConverterUnavailable,
    ProductInfo,
    default_registry,
    for_types,
    load_converter,
)
from rs_assets.core.errors import RsAssetsError
from tests.stac_schemas import assert_publishable

GRDH = "S1B_IW_GRDH_1SDV_20211223T051122_20211223T051147_030148_039993_5371.SAFE"
RING = [[14.9, 40.8], [11.8, 41.2], [12.1, 42.7], [15.3, 42.3], [14.9, 40.8]]


def test_work_directories_never_name_a_polarisation_code(tmp_path: Path) -> None:
    """eopf 3.0.0 matches hh/hv/vv/vh against a measurement file's whole path: a code in the folder name
    stacked the VV raster twice and the real S1 product failed now and then."""
    folders = {work_directory(str(tmp_path / "work")) for _ in range(500)}
    assert len(folders) == 500 and all(f.is_dir() for f in folders)
    assert not [f for f in folders if any(code in f.name for code in POLARISATION_CODES)]
    with pytest.raises(RsAssetsError, match=r"/srv/archive_hv contains 'hv'.*RS_ASSETS_WORK_DIR"):
        work_directory("/srv/archive_hv")


def test_output_collection_exact_then_star_then_default() -> None:
    rules = [OutputRule("S01SIWGRH", "grd-h"), OutputRule("*", "everything-else")]
    assert resolve_output_collection("S01SIWGRD", rules, "dflt") == "grd-h"
    assert resolve_output_collection("S03OLCEFR", rules, "dflt") == "everything-else"
    assert resolve_output_collection("S03OLCEFR", [], "dflt") == "dflt"
    assert resolve_output_collection("S01SIWGRD", [OutputRule("S01SIWGRD")], "dflt") == "dflt"
    with pytest.raises(RsAssetsError, match="'\\*' must name a collection"):
        resolve_output_collection("S03OLCEFR", [OutputRule("*")], "dflt")
    with pytest.raises(RsAssetsError, match="no output collection for S03OLCEFR"):
        resolve_output_collection("S03OLCEFR", [OutputRule("S01SIWGRD", "x")], "dflt")
    assert default_output_collection("S01SIWGRH") == "s01siwgrd"
    assert default_output_collection("S03GNSL0_") == "s03gnsl0"


def test_registry_later_rules_win_and_unknown_converters_are_clear() -> None:
    registry = default_registry()
    grd = ProductInfo.of(GRDH)
    assert (grd.legacy_type, grd.eopf_type, grd.mission) == ("IW_GRDH_1S", "S01SIWGRD", "S01")
    assert registry.select(grd) == EOPF
    registry.register("pkg.native:grd", for_types(["S01SIWGRD"]), "native GRD")
    assert registry.select(grd) == "pkg.native:grd"
    assert registry.select(ProductInfo.of("S3A_OL_1_EFR____20230101T101010_x.SEN3")) == EOPF
    with pytest.raises(ConverterUnavailable, match=r"converter nope_pkg\.mod:f is not installed"):
        load_converter("nope_pkg.mod:f")
    with pytest.raises(ConverterUnavailable, match="has no function 'missing'"):
        load_converter("json:missing")
    with pytest.raises(RsAssetsError, match=r"package\.module:function"):
        load_converter("json")


def test_placeholders_geometry_and_bbox() -> None:
    assert without_placeholders({"a": "null", "b": ["MISSING", 1], "c": {"d": "x", "e": "null"}}) == {
        "b": [1],
        "c": {"d": "x"},
    }
    polygon = {"type": "Polygon", "coordinates": [RING]}
    assert usable_geometry(polygon)
    assert not usable_geometry({"type": "Polygon", "coordinates": [RING[:-1]]})
    assert not usable_geometry({"type": "Polygon", "coordinates": [[[0, 0], [0, 0], [0, 0], [0, 0]]]})
    assert not usable_geometry(None)
    assert bbox_of(polygon) == [11.8, 40.8, 15.3, 42.7]


def test_converted_item_fixes_what_eopf_gets_wrong() -> None:
    discovery = {
        "stac_version": "1.1.0",
        "stac_extensions": ["https://stac-extensions.github.io/sar/v1.3.0/schema.json"],
        "id": "SAR Standard L1 Product",
        "geometry": {"type": "Polygon", "coordinates": [RING]},
        "bbox": [15.3, 40.8, 11.8, 42.7],
        "properties": {"datetime": "2021-12-23T05:11:35Z", "product:type": "S01SEWSLC", "x": "MISSING"},
        "assets": {"grd": {"href": "/P/measurements/grd", "title": "grd"}, "odd": {"href": "relative"}},
    }
    staged = {"id": f"{GRDH}.zip", "geometry": None}
    item = converted_item(
        discovery,
        store_name="S01SIWGRD_X",
        store_href="s3://b/o/c/S01SIWGRD_X.zarr",
        product_type="S01SIWGRD",
        staged_item=staged,
        derived_from="http://cat/collections/c/items/x",
    )
    assert item["id"] == "S01SIWGRD_X"
    assert item["bbox"] == [11.8, 40.8, 15.3, 42.7]
    assert item["properties"]["product:type"] == "S01SIWGRD"
    assert "x" not in item["properties"]
    assert item["assets"]["grd"]["href"] == "s3://b/o/c/S01SIWGRD_X.zarr/P/measurements/grd"
    assert item["assets"]["product"]["href"] == "s3://b/o/c/S01SIWGRD_X.zarr"
    assert "odd" not in item["assets"]
    assert item["links"] == [
        {"rel": "derived_from", "href": "http://cat/collections/c/items/x", "type": "application/geo+json"}
    ]
    broken = {**discovery, "geometry": None}
    staged_polygon = {"type": "Polygon", "coordinates": [RING]}
    fallback = converted_item(
        broken,
        store_name="S",
        store_href="s3://b/S.zarr",
        product_type="S01SIWGRD",
        staged_item={"id": "s", "geometry": staged_polygon},
        derived_from="u",
    )
    assert fallback["geometry"] == staged_polygon
    with pytest.raises(RsAssetsError, match="usable geometry"):
        converted_item(
            broken,
            store_name="S",
            store_href="s3://b/S.zarr",
            product_type="S01SIWGRD",
            staged_item={"id": "s", "geometry": None},
            derived_from="u",
        )


def test_requested_item_forms() -> None:
    feature = {"type": "Feature", "id": "P.SAFE.zip", "properties": {}}
    assert (
        requested_item(json.dumps({"type": "FeatureCollection", "features": [feature]}))["id"] == "P.SAFE.zip"
    )
    assert requested_item(json.dumps(feature))["id"] == "P.SAFE.zip"
    assert requested_item(" P.SAFE.zip ") == {"id": "P.SAFE.zip"}
    with pytest.raises(RsAssetsError, match="exactly one item"):
        requested_item(json.dumps({"type": "FeatureCollection", "features": []}))
    with pytest.raises(RsAssetsError, match="not valid JSON"):
        requested_item("{nope")


def test_safe_directory_comes_from_the_unpacked_asset() -> None:
    item = {
        "id": f"{GRDH}.zip",
        "assets": {GRDH: {"href": f"s3://data/o/c/{GRDH}.zip/{GRDH}/"}},
    }
    assert safe_directory(item) == ("data", f"o/c/{GRDH}.zip/{GRDH}/", GRDH)
    with pytest.raises(RsAssetsError, match="no unpacked product directory"):
        safe_directory({"id": "x", "assets": {"x.zip": {"href": "s3://data/o/c/x/x.zip"}}})


def test_a_converted_item_declares_only_what_it_uses_and_validates() -> None:
    discovery = {
        "stac_extensions": [
            "https://stac-extensions.github.io/eo/v2.0.0/schema.json",
            "https://stac-extensions.github.io/eopf/v1.2.0/schema.json",
            "https://stac-extensions.github.io/sar/v1.3.0/schema.json",
            "https://stac-extensions.github.io/sat/v1.1.0/schema.json",
        ],
        "geometry": {"type": "Polygon", "coordinates": [RING]},
        "properties": {
            "datetime": "2021-12-23T05:11:35.093456Z",
            "eopf:datatake_id": "235923",
            "sar:beam_ids": "IW",
            "sar:instrument_mode": "IW",
            "sar:frequency_band": "C",
            "sar:polarizations": ["VV"],
            "sat:anx_datetime": "2021-12-23T04:33:35.556206",
        },
    }
    item = converted_item(
        discovery,
        store_name="S01SIWGRD_X",
        store_href="s3://b/o/c/S01SIWGRD_X.zarr",
        product_type="S01SIWGRD",
        staged_item={"id": "s", "geometry": None},
        derived_from="u",
    )
    assert not any("/eo/" in uri for uri in item["stac_extensions"]), "eo declared without an eo: field"
    assert "https://cs-si.github.io/eopf-stac-extension/v1.2.0/schema.json" in item["stac_extensions"]
    assert item["properties"]["sar:beam_ids"] == ["IW"]
    assert item["properties"]["sat:anx_datetime"] == "2021-12-23T04:33:35.556Z"
    assert item["properties"]["datetime"] == "2021-12-23T05:11:35.093Z"
    assert_publishable(item)


def test_a_slc_holding_one_swath_keeps_only_that_beam_although_its_manifest_names_three(
    tmp_path: Path,
) -> None:
    safe = tmp_path / "S1A_IW_SLC__1SDV_X.SAFE"
    (safe / "measurement").mkdir(parents=True)
    (safe / "measurement" / "s1a-iw1-slc-vv-20240101t000000-001.tiff").write_bytes(b"x")
    (safe / "annotation").mkdir()
    (safe / "annotation" / "s1a-iw2-slc-vv-20240101t000000-002.xml").write_bytes(b"x")
    assert measured_beams(safe) == ("IW1",)
    assert measured_beams(tmp_path / "S3A_SL_1_RBT.SEN3") == ()
    discovery = {
        "geometry": {"type": "Polygon", "coordinates": [RING]},
        "properties": {"datetime": "2024-01-01T00:00:00Z", "sar:beam_ids": ["IW1", "IW2", "IW3"]},
    }
    common = {
        "store_name": "S01SIWSLC_X",
        "store_href": "s3://b/o/c/S01SIWSLC_X.zarr",
        "product_type": "S01SIWSLC",
        "staged_item": {"id": "s", "geometry": None},
        "derived_from": "u",
    }
    assert converted_item(discovery, **common, beams=("IW1",))["properties"]["sar:beam_ids"] == ["IW1"]
    assert converted_item(discovery, **common)["properties"]["sar:beam_ids"] == ["IW1", "IW2", "IW3"]
