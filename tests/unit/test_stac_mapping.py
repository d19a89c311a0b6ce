import pystac
import pytest

from rs_assets.core.catalog.mapping import (
    CollectionNames,
    aux_item,
    bbox_of,
    platform_of_product,
    platform_of_satellite,
    prip_item,
    session_item,
)
from rs_assets.core.errors import RsAssetsError
from rs_assets.core.station.models import File, Product, Session

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
    props = item["properties"]
    assert item["id"] == SESSION.SessionId and item["geometry"] is None
    assert props["datetime"] == props["start_datetime"] == "2024-11-14T14:30:38.000000Z"
    assert props["end_datetime"] == "2024-11-14T14:33:08.000000Z"
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
    assert asset["eviction_datetime"] == "2024-11-21T14:31:20.000000Z"


def test_retransfer_without_downlink_dates_still_has_a_datetime() -> None:
    session = SESSION.model_copy(update={"DownlinkStart": None, "DownlinkStop": None, "Retransfer": True})
    item = session_item(session, [], {})
    assert item["properties"]["datetime"] == "2024-11-14T14:31:00.000000Z"
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
    props = item["properties"]
    assert props["product:type"] == "AUX_ECMWFD" and props["platform"] == "sentinel-2b"
    assert props["start_datetime"] == "2024-11-14T06:00:00.000000Z"
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
    assert item["bbox"] == [9.6, 50.0, 12.5, 52.2]
    assert item["properties"]["sat:absolute_orbit"] == 56552
    assert item["properties"]["sar:polarizations"] == ["VV", "VH"]
    assert item["properties"]["platform"] == "sentinel-1a"


def test_bad_satellite_and_empty_geometry_are_errors() -> None:
    with pytest.raises(RsAssetsError, match="S<mission><unit>"):
        platform_of_satellite("Sentinel")
    with pytest.raises(RsAssetsError, match="no coordinates"):
        bbox_of({"type": "Polygon", "coordinates": []})
