"""The simulator answers like a strict station: 400 for what real stations reject, never a silent ignore."""

from __future__ import annotations

import pytest
import requests

from rs_assets.simulator.config import SimStation
from rs_assets.simulator.server import StationSimulator
from tests.conftest import SimulatorFactory


@pytest.fixture
def sim(simulator_factory: SimulatorFactory) -> StationSimulator:
    return simulator_factory(
        SimStation(name="INS", kind="cadip", sessions=12, chunk_size=1024, page_cap=5),
        SimStation(name="ADGS", kind="auxip", products_per_day=6, days=1),
        SimStation(name="MPS", kind="cadip", profile="mps", sessions=2, chunk_size=1024),
    )


@pytest.fixture
def token(sim: StationSimulator) -> str:
    identity = sim.config.identity
    response = requests.post(
        sim.token_url,
        data={
            "grant_type": "password",
            "client_id": identity.client_id,
            "client_secret": identity.client_secret,
            "username": identity.username,
            "password": identity.password,
        },
        timeout=10,
    )
    assert response.status_code == 200
    return response.json()["access_token"]


def get(sim: StationSimulator, token: str, station: str, entity: str, **params: str) -> requests.Response:
    return requests.get(
        f"{sim.station_url(station)}/{entity}",
        params=params,
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )


REJECTED = [
    "PublicationDate gte 2020-01-01T00:00:00.000Z",
    "PublicationDate lte 2030-01-01T00:00:00.000Z",
    "PublicationDate ge 2020-01-01T00:00:00.000Z",
    "PublicationDate le 2030-01-01T00:00:00.000Z",
    "not(Retransfer eq true)",
    "concat(SessionId,'x') eq 'y'",
    "indexof(SessionId,'S1') eq 0",
    "length(SessionId) eq 24",
    "tolower(Satellite) eq 's1a'",
    "SessionId in ('a', 'b')",
    "NoSuchField eq 1",
    "SessionId eq",
    "SessionId eq 'unterminated",
]


@pytest.mark.parametrize("expression", REJECTED)
def test_rejected_filters_answer_400(sim: StationSimulator, token: str, expression: str) -> None:
    response = get(sim, token, "INS", "Sessions", **{"$filter": expression})
    assert response.status_code == 400, response.text
    assert response.json()["error"]["message"]


def test_mps_accepts_ge_but_not_le(sim: StationSimulator, token: str) -> None:
    assert (
        get(
            sim, token, "MPS", "Sessions", **{"$filter": "PublicationDate ge 2020-01-01T00:00:00Z"}
        ).status_code
        == 200
    )
    assert (
        get(
            sim, token, "MPS", "Sessions", **{"$filter": "PublicationDate le 2030-01-01T00:00:00Z"}
        ).status_code
        == 400
    )


@pytest.mark.parametrize(
    "params",
    [
        {"$top": "-1"},
        {"$top": "ten"},
        {"$skip": "x"},
        {"$orderby": "Nope asc"},
        {"$expand": "Files"},
        {"$search": "x"},
    ],
)
def test_bad_query_options_answer_400(sim: StationSimulator, token: str, params: dict[str, str]) -> None:
    assert get(sim, token, "INS", "Sessions", **params).status_code == 400


def test_no_match_is_200_with_empty_value(sim: StationSimulator, token: str) -> None:
    response = get(sim, token, "INS", "Sessions", **{"$filter": "SessionId eq 'S9Z_nothing'"})
    assert response.status_code == 200
    assert response.json()["value"] == []


def test_top_is_capped_and_next_link_given(sim: StationSimulator, token: str) -> None:
    body = get(sim, token, "INS", "Sessions", **{"$top": "100", "$orderby": "SessionId asc"}).json()
    assert len(body["value"]) == 5
    assert "$skip=5" in requests.utils.unquote(body["@odata.nextLink"])
    small = get(sim, token, "INS", "Sessions", **{"$top": "3"}).json()
    assert len(small["value"]) == 3 and "@odata.nextLink" not in small


def test_attributes_only_when_expanded(sim: StationSimulator, token: str) -> None:
    plain = get(sim, token, "ADGS", "Products", **{"$top": "1"}).json()["value"][0]
    expanded = get(sim, token, "ADGS", "Products", **{"$top": "1", "$expand": "Attributes"}).json()["value"][
        0
    ]
    assert "Attributes" not in plain and expanded["Attributes"]


def test_requests_without_a_valid_token_are_401(sim: StationSimulator) -> None:
    assert requests.get(f"{sim.station_url('INS')}/Sessions", timeout=10).status_code == 401
    bad = requests.get(
        f"{sim.station_url('INS')}/Sessions", headers={"Authorization": "Bearer nope"}, timeout=10
    )
    assert bad.status_code == 401


def test_token_endpoint_refuses_bad_credentials(sim: StationSimulator) -> None:
    identity = sim.config.identity
    form = {
        "grant_type": "password",
        "client_id": identity.client_id,
        "client_secret": identity.client_secret,
    }
    assert (
        requests.post(sim.token_url, data={**form, "username": "x", "password": "y"}, timeout=10).status_code
        == 400
    )
    assert requests.post(sim.token_url, data={**form, "client_secret": "no"}, timeout=10).status_code == 401


def test_range_requests(sim: StationSimulator, token: str) -> None:
    file = get(sim, token, "INS", "Files", **{"$top": "1"}).json()["value"][0]
    url = f"{sim.station_url('INS')}/Files({file['Id']})/$value"
    headers = {"Authorization": f"Bearer {token}"}
    whole = requests.get(url, headers=headers, timeout=10)
    assert whole.status_code == 200 and len(whole.content) == file["Size"]
    part = requests.get(url, headers={**headers, "Range": "bytes=100-"}, timeout=10)
    assert part.status_code == 206 and part.content == whole.content[100:]
    assert part.headers["Content-Range"] == f"bytes 100-{file['Size'] - 1}/{file['Size']}"
    beyond = requests.get(url, headers={**headers, "Range": f"bytes={file['Size']}-"}, timeout=10)
    assert beyond.status_code == 416


def test_same_seed_same_data(simulator_factory: SimulatorFactory) -> None:
    stations = [SimStation(name="ADGS", kind="auxip", products_per_day=4, days=1)]
    first = simulator_factory(*stations).data.stations["ADGS"].products
    second = simulator_factory(*stations).data.stations["ADGS"].products
    assert [(p["Name"], p["Checksum"]) for p in first] == [(p["Name"], p["Checksum"]) for p in second]
