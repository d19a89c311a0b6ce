"""The station client against the simulator over real HTTP: paging, tokens, redirects, resume, limits."""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Callable

import aiohttp
import pytest
import requests

from rs_assets.core.errors import (
    BadStationResponse,
    NotFoundAtStation,
    SafetyLimitExceeded,
    StationUnavailable,
)
from rs_assets.core.station.client import StationClient, StationConfig
from rs_assets.core.station.models import Session
from rs_assets.core.station.odata import F, Query
from rs_assets.simulator.config import Faults, SimStation
from rs_assets.simulator.server import StationSimulator
from tests.conftest import FAST_RETRY, SimulatorFactory, client_for, one_file_station

Download = Callable[[StationClient, str, int], bytes]


def streamed(client: StationClient, file_id: str, size: int) -> bytes:
    return b"".join(client.iter_download("Files", file_id, expected_size=size))


def fetched(client: StationClient, file_id: str, size: int) -> bytes:
    """The asyncio path small files take (``SmallFiles``): the same station rules must hold."""

    async def fetch() -> bytes:
        async with aiohttp.ClientSession(auto_decompress=False) as http:
            return bytes(await client.fetch(http, "Files", file_id, size))

    return asyncio.run(fetch())


BOTH_DOWNLOADS = pytest.mark.parametrize("download", [streamed, fetched], ids=["streamed", "fetched"])


def truth(sim: StationSimulator, station: str, entity: str) -> set[str]:
    records, _ = sim.data.stations[station].entity_set(entity, sim.data.now())
    return {r["Id"] for r in records}


def station_requests(sim: StationSimulator, station: str) -> list[dict]:
    return [r for r in sim.requests if r["station"] == station]


def admin(sim: StationSimulator, path: str, body: dict) -> None:
    requests.post(f"{sim.url}/_sim/{path}", json=body, timeout=10).raise_for_status()


def test_paging_with_next_link_and_with_skip(simulator_factory: SimulatorFactory) -> None:
    sim = simulator_factory(
        SimStation(
            name="LINKS", kind="cadip", sessions=23, chunk_size=64, page_cap=7, next_link=True, retransfers=0
        ),
        SimStation(
            name="SKIPS", kind="cadip", sessions=23, chunk_size=64, page_cap=7, next_link=False, retransfers=0
        ),
    )
    for station in ("LINKS", "SKIPS"):
        client = client_for(sim, station, page_size=100)
        sessions = client.sessions(None)
        assert [s.Id for s in sessions] == sorted(
            {s.Id for s in sessions}, key=[s.Id for s in sessions].index
        )
        assert {s.Id for s in sessions} == truth(sim, station, "Sessions")
    link_queries = [r["query"] for r in station_requests(sim, "LINKS")]
    assert sum("%24skip=7" in q or "$skip=7" in q for q in link_queries) == 1
    assert len(station_requests(sim, "SKIPS")) == 5  # 7+7+7+2, then one empty page to be sure


def test_small_page_size_pages_with_skip(simulator_factory: SimulatorFactory) -> None:
    sim = simulator_factory(
        SimStation(name="INS", kind="cadip", sessions=10, chunk_size=64, blocks_per_channel=3)
    )
    client = client_for(sim, "INS", page_size=4)
    files = client.files(F("Channel").eq(1))
    assert len(files) == 30 and len({f.Id for f in files}) == 30


def test_safety_limit_raises_before_fetching_past_it(simulator_factory: SimulatorFactory) -> None:
    sim = simulator_factory(SimStation(name="INS", kind="cadip", sessions=30, chunk_size=64, retransfers=0))
    client = client_for(sim, "INS", page_size=10, safety_limit=15)
    with pytest.raises(SafetyLimitExceeded, match=r"station 'INS'.*more than the safety limit of 15"):
        client.sessions(None)
    sent = station_requests(sim, "INS")
    assert len(sent) == 2
    assert "%24top=6" in sent[-1]["query"]
    assert len(client.sessions(None, limit=12)) == 12


def test_token_expiring_mid_search_is_renewed(simulator_factory: SimulatorFactory) -> None:
    sim = simulator_factory(SimStation(name="INS", kind="cadip", sessions=20, chunk_size=64, retransfers=0))
    client = client_for(sim, "INS", page_size=5)
    admin(sim, "script", {"station": "INS", "statuses": [0, 401]})  # the second page finds the token dead
    sessions = client.sessions(None)
    assert {s.Id for s in sessions} == truth(sim, "INS", "Sessions")
    assert len(station_requests(sim, "INS")) == 4 + 1 + 1  # 4 full pages + the empty page + the one refused
    assert sim.tokens.refreshes == 1


def test_current_token_is_only_read_never_requested(simulator_factory: SimulatorFactory) -> None:
    """What the asyncio path asks first: it must not block the loop with a login."""
    sim = simulator_factory(SimStation(name="CUR", kind="cadip", sessions=1, chunk_size=64, retransfers=0))
    tokens = client_for(sim, "CUR")._http.auth
    assert tokens is not None
    assert tokens.current() is None
    assert sim.tokens.logins == 0
    header = tokens.header()
    assert tokens.current() == header and sim.tokens.logins == 1
    tokens.invalidate(header)
    assert tokens.current() is None


@BOTH_DOWNLOADS
def test_token_expiring_mid_download_is_renewed(
    simulator_factory: SimulatorFactory, download: Download
) -> None:
    size = 600_000
    faults = Faults(drop_rate=1.0, drop_after_bytes=200_000, bytes_per_second=400_000)
    sim, client, file = one_file_station(simulator_factory, size, faults, token_lifetime=1.0)
    started = time.monotonic()
    data = download(client, file.Id, file.Size)
    assert time.monotonic() - started > 1.0
    assert hashlib.md5(data).hexdigest() == sim.data.pattern.md5(file.Id, size)
    assert sim.tokens.refreshes + sim.tokens.logins >= 2


@BOTH_DOWNLOADS
def test_resume_after_dropped_connections_is_byte_identical(
    simulator_factory: SimulatorFactory, download: Download
) -> None:
    size = 3_000_000
    sim, client, file = one_file_station(
        simulator_factory, size, Faults(drop_rate=1.0, drop_after_bytes=700_000)
    )
    data = download(client, file.Id, file.Size)
    assert data == sim.data.pattern.read(file.Id, 0, size)
    ranges = [r for r in station_requests(sim, "INS") if r["path"].endswith("$value")]
    assert len(ranges) == 5  # 700k per response: 4 drops then the tail


@BOTH_DOWNLOADS
def test_redirect_to_untrusted_host_never_carries_the_token(
    simulator_factory: SimulatorFactory, download: Download
) -> None:
    sim = simulator_factory(
        SimStation(
            name="INS", kind="cadip", sessions=1, retransfers=0, chunk_size=5000, redirect_downloads=True
        )
    )
    redirect_port = int(sim.redirect_url.rsplit(":", 1)[1])
    for trusted, expect_auth in (((), False), ((f"127.0.0.1:{redirect_port}",), True)):
        client = client_for(sim, "INS", trusted_redirect_hosts=trusted)
        file = client.files(None)[0]
        since = time.time()
        data = download(client, file.Id, file.Size)
        assert data == sim.data.pattern.read(file.Id, 0, file.Size)
        received = [r for r in sim.requests if r["port"] == redirect_port and r["time"] >= since]
        assert len(received) == 1
        assert received[0]["authorization"] is expect_auth


def test_429_is_honoured_with_retry_after(simulator_factory: SimulatorFactory) -> None:
    sim = simulator_factory(
        SimStation(name="INS", kind="cadip", sessions=3, chunk_size=64, faults=Faults(retry_after=1))
    )
    client = client_for(sim, "INS")
    admin(sim, "script", {"station": "INS", "statuses": [429, 503]})
    started = time.monotonic()
    sessions = client.sessions(None)
    assert time.monotonic() - started >= 2.0  # two Retry-After: 1 waits
    assert {s.Id for s in sessions} == truth(sim, "INS", "Sessions")


def test_retries_run_out_with_a_clear_error(simulator_factory: SimulatorFactory) -> None:
    sim = simulator_factory(
        SimStation(name="INS", kind="cadip", sessions=1, chunk_size=64, faults=Faults(error_rate=1.0))
    )
    with pytest.raises(StationUnavailable, match=r"station 'INS'.*HTTP 503 after 5 tries"):
        client_for(sim, "INS").sessions(None)


@BOTH_DOWNLOADS
def test_gone_entity_fails_fast(simulator_factory: SimulatorFactory, download: Download) -> None:
    sim = simulator_factory(SimStation(name="INS", kind="cadip", sessions=1, chunk_size=64))
    with pytest.raises(NotFoundAtStation, match=r"station 'INS'.*download Files\(nope\): HTTP 404"):
        download(client_for(sim, "INS"), "nope", 64)
    assert len(station_requests(sim, "INS")) == 1


def test_rejected_query_fails_fast_with_the_station_message(simulator_factory: SimulatorFactory) -> None:
    sim = simulator_factory(SimStation(name="INS", kind="cadip", sessions=1, chunk_size=64))
    with pytest.raises(Exception, match=r"station 'INS'.*HTTP 400.*NoSuchField"):
        client_for(sim, "INS").sessions(F("NoSuchField").eq(1))


def test_malformed_station_json_names_the_station(simulator_factory: SimulatorFactory) -> None:
    sim = simulator_factory(SimStation(name="INS", kind="cadip", sessions=2, chunk_size=64, retransfers=0))
    sim.data.stations["INS"].sessions[0]["NumChannels"] = "many"
    with pytest.raises(BadStationResponse, match=r"station 'INS'.*malformed Session S1A_\d+: NumChannels"):
        client_for(sim, "INS").search(Query("Sessions"), Session)


def test_password_grant_refused_is_an_auth_error(simulator_factory: SimulatorFactory) -> None:
    from rs_assets.core.errors import StationAuthError

    sim = simulator_factory(SimStation(name="INS", kind="cadip", sessions=1, chunk_size=64))
    client = client_for(sim, "INS")
    client._http.auth._credentials = client._http.auth._credentials.__class__(  # type: ignore[union-attr]
        token_url=sim.token_url,
        client_id="rs-assets",
        username="operator",
        client_secret="simulator-secret",
        password="wrong",
    )
    with pytest.raises(StationAuthError) as caught:
        client.sessions(None)
    assert "wrong" not in str(caught.value) and "password grant refused with HTTP 400" in str(caught.value)


def _client(sim: StationSimulator, name: str, credentials: object) -> StationClient:
    return StationClient(
        StationConfig(
            name=name,
            kind="auxip",
            base_url=sim.station_url(name),
            credentials=credentials,
            retry=FAST_RETRY,  # type: ignore[arg-type]
        )
    )


def test_client_credentials_grant_public_clients_and_basic_auth_reach_their_stations(
    simulator_factory: SimulatorFactory,
) -> None:
    from rs_assets.core.station.auth import BasicCredentials, OAuth2Credentials

    sim = simulator_factory(
        SimStation(name="CC", kind="auxip", products_per_day=2, days=1),
        SimStation(name="BAS", kind="auxip", products_per_day=2, days=1, auth="basic"),
    )
    identity = sim.config.identity
    client_credentials = OAuth2Credentials(
        token_url=sim.token_url,
        client_id=identity.client_id,
        client_secret=identity.client_secret,
        grant="client_credentials",
    )
    public = OAuth2Credentials(
        token_url=sim.token_url,
        client_id=identity.public_client_id,
        username=identity.username,
        password=identity.password,
    )
    basic = BasicCredentials(identity.username, identity.password)
    for name, credentials in (("CC", client_credentials), ("CC", public), ("BAS", basic)):
        client = _client(sim, name, credentials)
        products = client.products(None)
        assert len(products) == len(truth(sim, name, "Products")) > 0
        body = b"".join(client.iter_download("Products", products[0].Id))
        assert len(body) == products[0].ContentLength
    token_posts = [r for r in sim.requests if r["path"] == "/auth/token"]
    assert len(token_posts) == 2, "basic auth asks no token endpoint"


def test_a_basic_auth_station_refusing_us_is_an_auth_error_without_the_password(
    simulator_factory: SimulatorFactory,
) -> None:
    from rs_assets.core.errors import StationAuthError
    from rs_assets.core.station.auth import BasicCredentials

    sim = simulator_factory(SimStation(name="BAS", kind="auxip", products_per_day=2, days=1, auth="basic"))
    client = _client(sim, "BAS", BasicCredentials(sim.config.identity.username, "not-the-password"))
    with pytest.raises(
        StationAuthError, match=r"station 'BAS'.*refused our credentials \(HTTP 401\)"
    ) as caught:
        client.products(None)
    assert "not-the-password" not in str(caught.value)
    assert len([r for r in sim.requests if r["path"].startswith("/BAS/")]) == 1, (
        "a refused password is not retried"
    )
