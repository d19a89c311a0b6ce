"""The one HTTP policy, run against every transport that uses it: station searches, downloads over threads and
over asyncio, the token endpoint, S3 PUTs and GETs, the STAC API. Each scenario is a script of answers served by
a real HTTP server on 127.0.0.1; each transport must come through it the same way."""

from __future__ import annotations

import asyncio
import hashlib
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import aiohttp
import pytest
import urllib3
from botocore.credentials import Credentials

from rs_assets.core.catalog.stac_api import StacApiCatalog
from rs_assets.core.errors import CatalogError, RsAssetsError, StationAuthError, StationError
from rs_assets.core.http import RetryPolicy
from rs_assets.core.station.auth import BasicCredentials, OAuth2Credentials, TokenManager
from rs_assets.core.station.client import StationClient, StationConfig
from rs_assets.core.storage.direct_s3 import DirectS3, DirectS3Error

POLICY = RetryPolicy(attempts=4, backoff=0.01, max_backoff=0.02)
OK_BODY = json.dumps(
    {"value": [], "access_token": "tok", "expires_in": 300, "id": "i", "properties": {}}
).encode()

HTML_PAGE = b"<html><head><title>416 Requested Range Not Satisfiable</title></head><body>nginx</body></html>"
Answer = tuple[int, dict[str, str]] | str  # (status, headers) or "drop" or "ok"


class Script:
    """Answers in order; the last one repeats. Records every request but the token endpoint's."""

    def __init__(self) -> None:
        self.answers: list[Answer] = ["ok"]
        self.requests: list[dict[str, Any]] = []
        self.logins = 0

    def next(self) -> Answer:
        return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    script: Script

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        if self.path == "/auth/token":
            self.script.logins += 1
            return self._send(200, {}, json.dumps({"access_token": f"t{self.script.logins}"}).encode())
        self.script.requests.append(
            {"method": self.command, "path": self.path, "headers": dict(self.headers)}
        )
        answer = self.script.next()
        if answer == "drop":
            self.close_connection = True
            self.connection.close()
            return
        if answer == "ok":
            return self._send(200, {}, OK_BODY)
        if answer == "stall":
            time.sleep(2)
            return self._send(200, {}, OK_BODY)
        if answer == "short":  # announces the whole body, sends half, hangs up
            self.send_response(200)
            self.send_header("Content-Length", str(len(OK_BODY)))
            self.end_headers()
            self.wfile.write(OK_BODY[: len(OK_BODY) // 2])
            self.close_connection = True
            return
        status, headers = answer
        self._send(status, headers, HTML_PAGE if headers.get("Content-Type") == "text/html" else b"nope")

    def _send(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.send_response(status)
        for name, value in {"Content-Length": str(len(body)), **headers}.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_PUT = do_POST = do_DELETE = _answer

    def log_message(self, *args: object) -> None:
        pass


@dataclass
class Server:
    script: Script
    port: int

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@pytest.fixture
def server() -> Iterator[Server]:
    script = Script()
    handler = type("ScriptedHandler", (Handler,), {"script": script})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield Server(script, httpd.server_address[1])
    httpd.shutdown()
    httpd.server_close()


@dataclass
class Transport:
    name: str
    call: Callable[[Server], object]
    error: type[RsAssetsError]
    authorized: bool = False  # sends renewable credentials
    follows_redirects: bool = True


def _station(server: Server, credentials: Any = None) -> StationClient:
    credentials = credentials or OAuth2Credentials(f"{server.base}/auth/token", "client", "user", "s", "pw")
    return StationClient(
        StationConfig(name="INS", kind="auxip", base_url=server.base, credentials=credentials, retry=POLICY)
    )


def _fetch(client: StationClient) -> bytearray:
    async def go() -> bytearray:
        async with aiohttp.ClientSession() as http:
            return await client.fetch(http, "Products", "p1", len(OK_BODY))

    return asyncio.run(go())


def _direct(server: Server) -> DirectS3:
    return DirectS3(server.base, "us-east-1", Credentials("AKID", "SECRET"), retry=POLICY)


def _put_async(server: Server) -> None:
    data = b"x" * 100

    async def go() -> None:
        async with aiohttp.ClientSession() as http:
            await _direct(server).put_async(http, "b", "k", data, hashlib.md5(data).hexdigest(), {})

    asyncio.run(go())


def _put(server: Server) -> None:
    data = b"x" * 100
    _direct(server).put("b", "k", data, hashlib.md5(data).hexdigest(), {})


TRANSPORTS = [
    Transport("station search", lambda s: _station(s).products(None), StationError, authorized=True),
    Transport(
        "station download",
        lambda s: b"".join(_station(s).iter_download("Products", "p1", expected_size=len(OK_BODY))),
        StationError,
        authorized=True,
    ),
    Transport("station fetch on asyncio", lambda s: _fetch(_station(s)), StationError, authorized=True),
    Transport(
        "token endpoint",
        lambda s: TokenManager(
            "INS",
            OAuth2Credentials(f"{s.base}/token", "client", "user", "s", "pw"),
            urllib3.PoolManager(retries=False),
            POLICY,
        ).token(),
        StationError,
        follows_redirects=False,
    ),
    Transport("s3 put", _put, DirectS3Error, follows_redirects=False),
    Transport("s3 put on asyncio", _put_async, DirectS3Error, follows_redirects=False),
    Transport("s3 get", lambda s: _direct(s).get("b", "k"), DirectS3Error, follows_redirects=False),
    Transport("stac api", lambda s: StacApiCatalog(s.base, retry=POLICY).get_item("c", "i"), CatalogError),
]


@pytest.fixture(params=TRANSPORTS, ids=[t.name for t in TRANSPORTS])
def transport(request: pytest.FixtureRequest) -> Transport:
    return request.param


def test_retriable_statuses_are_tried_again_until_one_succeeds(transport: Transport, server: Server) -> None:
    server.script.answers = [(503, {}), (500, {}), (408, {}), "ok"]
    assert transport.call(server) is not None or transport.name.startswith("s3 put")
    assert len(server.script.requests) == 4


def test_retry_after_sets_the_wait(transport: Transport, server: Server) -> None:
    server.script.answers = [(429, {"Retry-After": "1"}), "ok"]
    started = time.monotonic()
    transport.call(server)
    assert time.monotonic() - started >= 0.9
    assert len(server.script.requests) == 2


def test_a_dropped_connection_is_tried_again(transport: Transport, server: Server) -> None:
    server.script.answers = ["drop", "drop", "ok"]
    transport.call(server)
    assert len(server.script.requests) == 3


def test_retries_run_out_with_an_error_naming_the_request_and_where(
    transport: Transport, server: Server
) -> None:
    server.script.answers = [(503, {})]
    with pytest.raises(transport.error) as raised:
        transport.call(server)
    assert len(server.script.requests) == POLICY.attempts
    assert "503" in str(raised.value)
    assert str(server.port) in str(raised.value) or "s3://b/k" in str(raised.value)


def test_a_refusal_is_final_after_one_try(transport: Transport, server: Server) -> None:
    server.script.answers = [(403, {})]
    with pytest.raises(transport.error, match="403"):
        transport.call(server)
    assert len(server.script.requests) == 1


def test_redirects_are_followed_by_clients_that_may_and_credentials_stay_home(
    transport: Transport, server: Server
) -> None:
    elsewhere = f"http://localhost:{server.port}/moved"
    server.script.answers = [(307, {"Location": elsewhere}), "ok"]
    if not transport.follows_redirects:
        with pytest.raises(transport.error):
            transport.call(server)
        assert len(server.script.requests) == 1
        return
    transport.call(server)
    first, second = server.script.requests
    assert second["path"] == "/moved" and second["headers"]["Host"] == f"localhost:{server.port}"
    assert "Authorization" not in second["headers"], "credentials went to a host nobody trusted"
    assert ("Authorization" in first["headers"]) == transport.authorized


AUTHORIZED = [t for t in TRANSPORTS if t.authorized]


@pytest.mark.parametrize("transport", AUTHORIZED, ids=[t.name for t in AUTHORIZED])
def test_one_401_renews_the_token_once_and_a_second_is_final(transport: Transport, server: Server) -> None:
    server.script.answers = [(401, {}), "ok"]
    transport.call(server)
    assert server.script.logins == 2
    assert [r["headers"]["Authorization"] for r in server.script.requests] == ["Bearer t1", "Bearer t2"]

    server.script.answers, server.script.requests, server.script.logins = [(401, {})], [], 0
    with pytest.raises(StationAuthError, match="refused our credentials"):
        transport.call(server)
    assert len(server.script.requests) == 2


def test_a_basic_auth_401_is_final_and_never_shows_the_password(server: Server) -> None:
    client = _station(server, BasicCredentials("ops", "hunter2"))
    server.script.answers = [(401, {})]
    with pytest.raises(StationAuthError) as raised:
        client.products(None)
    assert len(server.script.requests) == 1
    assert "hunter2" not in str(raised.value)


def test_a_station_that_stops_answering_times_out_by_its_read_timeout(server: Server) -> None:
    server.script.answers = ["stall"]
    config = StationConfig(name="INS", kind="auxip", base_url=server.base, retry=POLICY, read_timeout=0.3)
    with pytest.raises(StationError, match="ReadTimeoutError"):
        StationClient(config).products(None)
    assert len(server.script.requests) == POLICY.attempts


DOWNLOADS = [t for t in TRANSPORTS if t.name in ("station download", "station fetch on asyncio")]


@pytest.mark.parametrize("transport", DOWNLOADS, ids=[t.name for t in DOWNLOADS])
def test_a_short_body_whose_resume_is_refused_says_where_it_ended(
    transport: Transport, server: Server
) -> None:
    server.script.answers = ["short", (416, {"Content-Type": "text/html"})]
    with pytest.raises(StationError) as raised:
        transport.call(server)
    message = str(raised.value)
    assert f"body ended at {len(OK_BODY) // 2} of {len(OK_BODY)} bytes" in message
    assert "INS" in message and "p1" in message, "station and product are named"
    assert "<html" not in message and "nginx" not in message
    assert server.script.requests[1]["headers"]["Range"] == f"bytes={len(OK_BODY) // 2}-"
