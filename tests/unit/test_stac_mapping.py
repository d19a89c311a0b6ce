import pystac
import pytest

from rs_assets.core.catalog.mapping import (
    CollectionNames,
    aux_item,
    bbox_of,
    platform_of_product,
    platform_of_satellite,
    prip_item,
    product_item_id,
    session_item,
)
from rs_assets.core.errors import RsAssetsError
from rs_assets.core.station.models import File, Product, Session
from rs_assets.core.timeutil import parse_datetime
from tests.stac_schemas import assert_publishable, validate_item

SESSION = Session.model_validate(
    {
        "Id": "a0",
        "SessionId": "S1A_20241114143038056552",
        "NumChannels": 2,
        "PublicationDate": "2024-11-14T14:31:00Z",
        "Satellite": "S1A",
        "DownlinkOrbit": 56552,
        "AcquisitionId": "56552_1",
        "DownlinkStart": "2024-11-14T14:30:38Z",
        "DownlinkStop": "2024-11-14T14:33:08Z",
    }
)


def _file(channel: int, block: int, final: bool) -> File:
    return File.model_validate(
        {
            "Id": f"f{channel}{block}",
            "Name": f"DCS_04_S1A_20241114143038056552_ch{channel}_DSDB_{block:05d}.raw",
            "SessionId": SESSION.SessionId,
            "Channel": channel,
            "BlockNumber": block,
            "FinalBlock": final,
            "PublicationDate": "2024-11-14T14:31:20Z",
            "EvictionDate": "2024-11-21T14:31:20Z",
            "Size": 314_571_600,
        }
    )


def test_session_item_follows_rs_names() -> None:
    files = [_file(2, 1, True), _file(1, 2, True), _file(1, 1, False)]
    hrefs = {f.Name: f"s3://b/copernicus/s01-cadip-session/{SESSION.SessionId}/{f.Name}" for f in files}
    item = session_item(SESSION, files, hrefs)
    pystac.Item.from_dict(item)
    assert_publishable(item)
    props = item["properties"]
    assert item["id"] == SESSION.SessionId and item["geometry"] is None
    assert props["datetime"] == props["start_datetime"] == "2024-11-14T14:30:38.000Z"
    assert props["end_datetime"] == "2024-11-14T14:33:08.000Z"
    assert (props["platform"], props["constellation"], props["sat:absolute_orbit"]) == (
        "sentinel-1a",
        "sentinel-1",
        56552,
    )
    assert props["cadip:acquisition_id"] == "56552_1"
    assert props["product:type"] == "S01CADU__", "rs-server's session product type, per mission"
    assert props["eopf:origin_datetime"] == props["published"]
    assert list(item["assets"]) == sorted(hrefs)
    asset = item["assets"][files[0].Name]
    assert asset["roles"] == ["cadu"] and asset["file:size"] == 314_571_600
    assert (asset["cadip:channel"], asset["cadip:block_number"], asset["cadip:final_block"]) == (2, 1, True)
    assert asset["eviction_datetime"] == "2024-11-21T14:31:20.000Z"


def test_retransfer_without_downlink_dates_still_has_a_datetime() -> None:
    session = SESSION.model_copy(update={"DownlinkStart": None, "DownlinkStop": None, "Retransfer": True})
    item = session_item(session, [], {})
    assert item["properties"]["datetime"] == "2024-11-14T14:31:00.000Z"
    assert "start_datetime" not in item["properties"]


AUX = Product.model_validate(
    {
        "Id": "p1",
        "Name": "S2B_OPER_AUX_ECMWFD_ADG__20241114T000000_V20241114T060000_20241115T180000.TGZ",
        "ContentLength": 1000,
        "OriginDate": "2024-11-14T00:00:00.000Z",
        "PublicationDate": "2024-11-14T01:00:00.000Z",
        "EvictionDate": "2024-11-21T01:00:00.000Z",
        "Checksum": [{"Algorithm": "MD5", "Value": "0123456789abcdef0123456789abcdef"}],
        "ContentDate": {"Start": "2024-11-14T06:00:00.000Z", "End": "2024-11-15T18:00:00.000Z"},
        "Attributes": [
            {"Name": "productType", "Value": "AUX_ECMWFD"},
            {"Name": "platformShortName", "Value": "SENTINEL-2"},
            {"Name": "platformSerialIdentifier", "Value": "B"},
        ],
    }
)


def test_aux_item_and_collection() -> None:
    item = aux_item(AUX, "s3://b/k")
    pystac.Item.from_dict(item)
    assert_publishable(item)
    assert item["id"] == AUX.Name.removesuffix(".TGZ"), "RS names AUX items without the file extension"
    props = item["properties"]
    assert props["product:type"] == "AUX_ECMWFD" and props["platform"] == "sentinel-2b"
    assert props["start_datetime"] == "2024-11-14T06:00:00.000Z"
    assert props["auxip:id"] == "p1"
    asset = item["assets"][AUX.Name]
    assert asset["file:checksum"] == "d5100123456789abcdef0123456789abcdef"
    assert CollectionNames().for_aux(platform_of_product(AUX)) == "s2-aux"
    assert CollectionNames().for_session(platform_of_satellite("S1A")) == "s01-cadip-session"


def test_prip_item_geometry_bbox_and_sat_fields() -> None:
    ring = [[10.0, 50.0], [12.5, 50.4], [12.1, 52.2], [9.6, 51.8], [10.0, 50.0]]
    product = AUX.model_copy(
        update={
            "Name": "S1A_IW_GRDH_1SDV_20241114T051122_20241114T051147_056552_06EF5A_1A2B.SAFE.zip",
            "GeoFootprint": {"type": "Polygon", "coordinates": [ring]},
            "Attributes": [
                *AUX.Attributes[:0],
                *Product.model_validate(
                    {
                        "Id": "x",
                        "Name": "x",
                        "ContentLength": 1,
                        "Attributes": [
                            {"Name": "productType", "Value": "IW_GRDH_1S"},
                            {"Name": "orbitNumber", "Value": 56552},
                            {"Name": "polarisationChannels", "Value": "VV&VH"},
                        ],
                    }
                ).Attributes,
            ],
        }
    )
    item = prip_item(product, "s3://b/k")
    pystac.Item.from_dict(item)
    checked = validate_item(item)
    assert any("/sar/" in uri for uri in checked) and any("/sat/" in uri for uri in checked)
    assert_publishable(item)
    assert item["id"] == product.Name, "PRIP ids are the product name, .SAFE.zip included"
    assert item["bbox"] == [9.6, 50.0, 12.5, 52.2]
    assert item["properties"]["sat:absolute_orbit"] == 56552
    assert item["properties"]["sar:polarizations"] == ["VV", "VH"]
    assert (item["properties"]["sar:instrument_mode"], item["properties"]["sar:frequency_band"]) == (
        "IW",
        "C",
    )
    assert item["properties"]["platform"] == "sentinel-1a"


def test_prip_and_aux_assets_are_keyed_and_roled_alike() -> None:
    prip = prip_item(AUX.model_copy(update={"Name": "S1A_IW_GRDH_1SDV_X.SAFE.zip"}), "s3://b/p")
    aux = aux_item(AUX, "s3://b/a")
    (prip_key, prip_asset), (aux_key, aux_asset) = [next(iter(i["assets"].items())) for i in (prip, aux)]
    assert (prip_key, aux_key) == ("S1A_IW_GRDH_1SDV_X.SAFE.zip", AUX.Name), "keyed by the staged file name"
    assert sorted(prip_asset) == sorted(aux_asset)
    assert prip_asset["roles"] == aux_asset["roles"] == ["data"]


def test_every_item_datetime_has_milliseconds_and_z() -> None:
    precise = AUX.model_copy(
        update={
            "PublicationDate": parse_datetime("2024-11-14T01:00:00.123456Z"),
            "Attributes": [
                *AUX.Attributes,
                Product.model_validate(
                    {
                        "Id": "x",
                        "Name": "x",
                        "ContentLength": 1,
                        "Attributes": [{"Name": "processingDate", "Value": "2024-11-14T00:30:00.5Z"}],
                    }
                ).Attributes[0],
            ],
        }
    )
    item = aux_item(precise, "s3://b/k")
    assert_publishable(item)
    assert item["properties"]["published"] == "2024-11-14T01:00:00.123Z"
    assert item["properties"]["processing:datetime"] == "2024-11-14T00:30:00.500Z"
    assert any("/processing/" in uri for uri in validate_item(item))


def test_an_unparsable_processing_date_names_the_product() -> None:
    bad = AUX.model_copy(
        update={
            "Attributes": [
                *AUX.Attributes,
                Product.model_validate(
                    {
                        "Id": "x",
                        "Name": "x",
                        "ContentLength": 1,
                        "Attributes": [{"Name": "processingDate", "Value": "yesterday"}],
                    }
                ).Attributes[0],
            ]
        }
    )
    with pytest.raises(RsAssetsError, match=f"{bad.Name}: processingDate 'yesterday'"):
        aux_item(bad, "s3://b/k")


def test_aux_ids_drop_only_eof_and_tgz() -> None:
    assert product_item_id("S1A_OPER_AUX_RESORB_OPOD_X.EOF") == "S1A_OPER_AUX_RESORB_OPOD_X"
    assert product_item_id("S2B_OPER_AUX_ECMWFD_X.tgz") == "S2B_OPER_AUX_ECMWFD_X"
    assert product_item_id("S1A_AUX_CAL_V2019.SAFE.zip") == "S1A_AUX_CAL_V2019.SAFE.zip"
    assert product_item_id(".EOF") == ".EOF"


def test_bad_satellite_and_empty_geometry_are_errors() -> None:
    with pytest.raises(RsAssetsError, match="S<mission><unit>"):
        platform_of_satellite("Sentinel")
    with pytest.raises(RsAssetsError, match="no coordinates"):
        bbox_of({"type": "Polygon", "coordinates": []})
