from datetime import UTC, datetime

import pytest

from rs_assets.core.errors import BadStationResponse
from rs_assets.core.station.models import File, Product, Session, parse_entity
from rs_assets.core.timeutil import format_datetime, parse_datetime


@pytest.mark.parametrize(
    ("text", "micro"),
    [
        ("2024-11-14T14:30:38Z", 0),
        ("2024-11-14T14:30:38", 0),
        ("2024-11-14T14:30:38.5Z", 500_000),
        ("2024-11-14T14:30:38.056Z", 56_000),
        ("2024-11-14T14:30:38.056552", 56_552),
        ("2024-11-14T14:30:38.0565527Z", 56_552),
        ("2024-11-14T15:30:38.0565527+01:00", 56_552),
    ],
)
def test_datetimes_with_0_to_7_fractional_digits(text: str, micro: int) -> None:
    assert parse_datetime(text) == datetime(2024, 11, 14, 14, 30, 38, micro, tzinfo=UTC)


def test_null_and_empty_datetimes_are_none_and_garbage_is_an_error() -> None:
    assert parse_datetime(None) is None
    assert parse_datetime("") is None
    with pytest.raises(ValueError, match="not an ISO 8601"):
        parse_datetime("yesterday")


def test_format_is_milliseconds_with_z() -> None:
    assert (
        format_datetime(datetime(2025, 8, 7, 11, 51, 12, 509_999, tzinfo=UTC)) == "2025-08-07T11:51:12.509Z"
    )


SESSION = {
    "Id": "3f1c4d2e-0000-4000-8000-000000000001",
    "SessionID": "S1A_20241114143038056552",
    "NumChannels": "2",
    "PublicationDate": "2024-11-14T14:31:00.1234567Z",
    "Satellite": "S1A",
    "DownlinkOrbit": 56552,
    "AcquisitionId": 56552,
    "Retransfer": True,
    "DownlinkStart": None,
    "QualityInfo": [{"Channel": 1, "TotalChunks": "19", "TotalVolume": 5_976_860_400}],
    "SomethingNew": "kept",
}


def test_session_tolerates_station_spellings_and_null_dates() -> None:
    session = parse_entity(Session, SESSION, station="INS")
    assert session.SessionId == "S1A_20241114143038056552"
    assert session.NumChannels == 2
    assert session.AcquisitionId == "56552"
    assert session.DownlinkStart is None and session.DownlinkStop is None
    assert session.QualityInfo[0].TotalChunks == 19
    assert session.model_extra == {"SomethingNew": "kept"}


def test_acquisition_id_is_never_cast_to_a_number() -> None:
    session = parse_entity(Session, {**SESSION, "AcquisitionId": "56552_1"}, station="INS")
    assert session.AcquisitionId == "56552_1"


def test_file_size_as_string_and_session_id_spelling() -> None:
    raw = {
        "Id": "f1",
        "Name": "DCS_04_S1A_20241114143038056552_ch2_DSDB_00001.raw",
        "SessionID": "S1A_20241114143038056552",
        "Channel": 2,
        "BlockNumber": "1",
        "FinalBlock": False,
        "PublicationDate": "2024-11-14T14:31:10",
        "EvictionDate": "2024-11-21T14:31:10.000Z",
        "Size": "314571600",
    }
    file = parse_entity(File, raw, station="MPS")
    assert (file.Size, file.BlockNumber, file.SessionId) == (314_571_600, 1, "S1A_20241114143038056552")


def test_product_checksum_and_attributes() -> None:
    raw = {
        "Id": "p1",
        "Name": "S1A_AUX_PP2_V20241114T000000_G20241114T120000.SAFE.zip",
        "ContentLength": "12345",
        "Checksum": [{"Algorithm": "MD5", "Value": "ABCDEF0123456789ABCDEF0123456789"}],
        "ContentDate": {"Start": "2024-11-14T00:00:00.000Z", "End": "2024-11-15T00:00:00.000Z"},
        "Attributes": [{"Name": "productType", "ValueType": "String", "Value": "AUX_PP2"}],
    }
    product = parse_entity(Product, raw, station="ADGS")
    assert product.ContentLength == 12345
    assert product.md5 == "abcdef0123456789abcdef0123456789"
    assert product.attribute("productType") == "AUX_PP2"
    assert product.attribute("missing", "x") == "x"


def test_malformed_entity_names_station_entity_and_field() -> None:
    with pytest.raises(BadStationResponse) as caught:
        parse_entity(
            File,
            {
                "Id": "f1",
                "Name": "DCS_x.raw",
                "SessionId": "S",
                "Channel": "two",
                "BlockNumber": 1,
                "Size": 1,
            },
            station="INS",
        )
    message = str(caught.value)
    assert "station 'INS'" in message and "File DCS_x.raw" in message and "Channel" in message
