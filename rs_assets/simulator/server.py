"""The simulator's HTTP server: OData endpoints per station, an OAuth2 token endpoint, faults on demand.

Stations live under ``/{station}/odata/v1``; ``/auth/token`` issues tokens; ``/_sim/*`` lets tests and
benchmarks inspect requests (was an Authorization header sent?), count them and change faults at run time.
A second listener receives the 307 redirects of stations configured with ``redirect_downloads``.
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import random
import re
import secrets
import socket
import threading
import time
from collections import Counter, deque
from collections.abc import Iterable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from rs_assets.simulator.config import Faults, SimulatorConfig
from rs_assets.simulator.data import SimulatorData, StationData, public
from rs_assets.simulator.odata_filter import (
    CAPABILITIES,
    FilterRejected,
    compile_query,
    parse_orderby,
    without_terms,
)

log = logging.getLogger(__name__)

_SEARCH = re.compile(r"^/(?P<station>[A-Za-z0-9_-]+)/odata/v1/(?P<entity>Sessions|Files|Products)$")
_VALUE = re.compile(
    r"^/(?:_redirected/)?(?P<station>[A-Za-z0-9_-]+)(?:/odata/v1)?/(?P<entity>Files|Products)\((?P<id>[^)]+)\)/\$value$"
)
_INDEX = re.compile(r"^/(?P<station>[A-Za-z0-9_-]+)/index/(?P<name>[^/]*)$")
_RANGE = re.compile(r"^bytes=(\d+)-(\d*)$")
_SYSTEM_OPTIONS = {"$filter", "$orderby", "$top", "$skip", "$expand", "$count", "$format"}


class _Tokens:
    def __init__(self, lifetime: float):
        self.lifetime = lifetime
        self._access: dict[str, float] = {}
        self._refresh: dict[str, float] = {}
        self._lock = threading.Lock()
        self.logins = 0
        self.refreshes = 0

    def issue(self, *, refresh: bool) -> dict[str, Any]:
        access, refresh_token = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
        now = time.monotonic()
        with self._lock:
            self._access[access] = now + self.lifetime
            self._refresh[refresh_token] = now + self.lifetime * 4
            if refresh:
                self.refreshes += 1
            else:
                self.logins += 1
        return {
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": self.lifetime,
            "refresh_token": refresh_token,
            "refresh_expires_in": self.lifetime * 4,
        }

    def valid(self, token: str) -> bool:
        with self._lock:
            return self._access.get(token, 0.0) > time.monotonic()

    def revoke_all(self) -> int:
        """Invalidate every access token, as a station does when its tokens die earlier than announced."""
        with self._lock:
            count = len(self._access)
            self._access.clear()
            return count

    def use_refresh(self, token: str) -> bool:
        with self._lock:
            return self._refresh.pop(token, 0.0) > time.monotonic()


class StationSimulator:
    """Runs the simulator on 127.0.0.1 in background threads; use as a context manager or start/stop."""

    def __init__(
        self, config: SimulatorConfig, *, host: str = "127.0.0.1", port: int = 0, redirect_port: int = 0
    ):
        self.config = config
        self.data = SimulatorData(config)
        self.tokens = _Tokens(config.token_lifetime)
        self.faults: dict[str, Faults] = {s.name: s.faults for s in config.stations}
        self.requests: deque[dict[str, Any]] = deque(maxlen=20_000)
        self.counts: Counter[str] = Counter()
        self.bodies: Counter[str] = Counter()  # entity id -> bodies served to their last byte
        self.scripted: dict[str, deque[int]] = {s.name: deque() for s in config.stations}
        self._rng = random.Random(config.seed)
        self._lock = threading.Lock()
        self._server = _Server((host, port), self._handler(redirect=False))
        self._redirect_server = _Server((host, redirect_port), self._handler(redirect=True))
        self._threads: list[threading.Thread] = []

    # -- lifecycle ----------------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def redirect_url(self) -> str:
        host, port = self._redirect_server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def token_url(self) -> str:
        return f"{self.url}/auth/token"

    def station_url(self, name: str) -> str:
        return f"{self.url}/{name}/odata/v1"

    def start(self) -> StationSimulator:
        for server in (self._server, self._redirect_server):
            thread = threading.Thread(
                target=server.serve_forever, args=(0.05,), name=f"simulator-{server.server_port}", daemon=True
            )
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        for server in (self._server, self._redirect_server):
            server.shutdown()
            server.server_close()

    def serve_forever(self) -> None:
        self.start()
        try:
            while True:
                time.sleep(3600)
        finally:
            self.stop()

    def __enter__(self) -> StationSimulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- helpers used by handlers -------------------------------------------------------------------------

    def draw(self, rate: float) -> bool:
        if rate <= 0:
            return False
        with self._lock:
            return self._rng.random() < rate

    def count_body(self, entity_id: str) -> None:
        with self._lock:
            self.bodies[entity_id] += 1

    def record(self, entry: dict[str, Any]) -> None:
        with self._lock:
            self.requests.append(entry)
            if entry.get("station"):
                self.counts[entry["station"]] += 1

    def _handler(self, *, redirect: bool) -> type[BaseHTTPRequestHandler]:
        simulator = self

        class Handler(_Handler):
            sim = simulator
            is_redirect_target = redirect

        return Handler


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128


class _Handler(BaseHTTPRequestHandler):
    sim: StationSimulator
    is_redirect_target: bool
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server_version = "rs-assets-simulator/1"

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.address_string(), *args)

    # -- dispatch -----------------------------------------------------------------------------------------

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_HEAD(self) -> None:
        self._dispatch("HEAD")

    def _dispatch(self, method: str) -> None:
        parts = urlsplit(self.path)
        path, query = parts.path, parts.query
        entry = {
            "port": self.server.server_address[1],
            "method": method,
            "path": path,
            "query": query,
            "authorization": "Authorization" in self.headers,
            "station": None,
            "time": time.time(),
        }
        try:
            if path.startswith("/_sim/"):
                self._admin(method, path, query)
                return
            if self.is_redirect_target:
                match = _VALUE.match(path)
                if not match or not path.startswith("/_redirected/"):
                    self._error(404, "not found")
                    return
                entry["station"] = match["station"]
                self.sim.record(entry)
                self._download(self._station(match["station"]), match["entity"], match["id"], redirected=True)
                return
            if path == "/auth/token" and method == "POST":
                self.sim.record(entry)
                self._token()
                return
            index = _INDEX.match(path)
            if index:
                self._index(index["station"], index["name"])
                return
            match = _SEARCH.match(path) or _VALUE.match(path)
            if not match:
                self._error(404, f"no resource at {path}")
                return
            station = self._station(match["station"])
            if station is None:
                return
            entry["station"] = station.station.name
            self.sim.record(entry)
            if not self._pass_faults(station.station.name) or not self._authorised(station.station.auth):
                return
            if "id" in match.groupdict() and match["id"] is not None:
                self._download(station, match["entity"], match["id"], redirected=False)
            else:
                self._search(station, match["entity"], query)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _station(self, name: str) -> StationData | None:
        station = self.sim.data.stations.get(name)
        if station is None:
            self._error(404, f"unknown station {name!r}")
        return station

    # -- auth ---------------------------------------------------------------------------------------------

    def _token(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
        identity = self.sim.config.identity
        confidential = (
            form.get("client_id") == identity.client_id
            and form.get("client_secret") == identity.client_secret
        )
        public = form.get("client_id") == identity.public_client_id and "client_secret" not in form
        if not (confidential or public):
            self._json(401, {"error": "invalid_client"})
            return
        grant = form.get("grant_type")
        if grant == "client_credentials" and confidential:
            self._json(200, self.sim.tokens.issue(refresh=False))
        elif grant == "password":
            if form.get("username") != identity.username or form.get("password") != identity.password:
                self._json(400, {"error": "invalid_grant", "error_description": "bad username or password"})
                return
            self._json(200, self.sim.tokens.issue(refresh=False))
        elif grant == "refresh_token":
            if not self.sim.tokens.use_refresh(form.get("refresh_token", "")):
                self._json(400, {"error": "invalid_grant", "error_description": "refresh token expired"})
                return
            self._json(200, self.sim.tokens.issue(refresh=True))
        else:
            self._json(400, {"error": "unsupported_grant_type"})

    def _authorised(self, scheme: str) -> bool:
        header = self.headers.get("Authorization", "")
        if scheme == "basic":
            identity = self.sim.config.identity
            expected = base64.b64encode(f"{identity.username}:{identity.password}".encode()).decode()
            if header == f"Basic {expected}":
                return True
            self._json(
                401, {"error": "invalid_credentials"}, headers={"WWW-Authenticate": 'Basic realm="station"'}
            )
            return False
        if header.startswith("Bearer ") and self.sim.tokens.valid(header[7:]):
            return True
        self._json(
            401, {"error": "invalid_token"}, headers={"WWW-Authenticate": 'Bearer error="invalid_token"'}
        )
        return False

    # -- faults -------------------------------------------------------------------------------------------

    def _pass_faults(self, station: str) -> bool:
        faults = self.sim.faults[station]
        with self.sim._lock:
            scripted = self.sim.scripted[station].popleft() if self.sim.scripted[station] else None
        if scripted:  # 0 lets that request through untouched
            headers = {"Retry-After": str(faults.retry_after)} if scripted in (429, 503) else {}
            self._json(scripted, {"error": "scripted failure"}, headers=headers)
            return False
        if faults.latency:
            time.sleep(faults.latency)
        if self.sim.draw(faults.throttle_rate):
            self._json(429, {"error": "too many requests"}, headers={"Retry-After": str(faults.retry_after)})
            return False
        if self.sim.draw(faults.error_rate):
            self._json(503, {"error": "injected failure"})
            return False
        return True

    # -- OData search -------------------------------------------------------------------------------------

    def _search(self, station: StationData, entity: str, query: str) -> None:
        now = self.sim.data.now()
        try:
            records, fields = station.entity_set(entity, now)
        except KeyError:
            self._error(404, f"station {station.station.name} has no {entity}")
            return
        params = parse_qs(query, keep_blank_values=True)
        try:
            options = self._options(params, entity)
            capabilities = CAPABILITIES[station.station.profile]
            if "$filter" in options:
                text = without_terms(options["$filter"], station.station.ignored_filter_terms)
                predicate, since = compile_query(text, fields, capabilities)
                if since is not None:
                    records, _ = station.published_since(entity, now, since)
                records = [r for r in records if predicate(r)]
            if "$orderby" in options:
                for key, descending in reversed(parse_orderby(options["$orderby"], fields)):
                    records = sorted(
                        records,
                        key=lambda r, k=key: (r.get(k) is not None, r.get(k) or ""),
                        reverse=descending,
                    )
            top = int(options.get("$top", station.station.page_cap))
            skip = int(options.get("$skip", 0))
        except FilterRejected as exc:
            self._error(400, str(exc))
            return
        cap = min(top, station.station.page_cap)
        page = records[skip : skip + cap]
        expand = options.get("$expand") == "Attributes"
        body: dict[str, Any] = {
            "@odata.context": f"$metadata#{entity}",
            "value": [self._present(r, entity, expand) for r in page],
        }
        if options.get("$count") == "true":
            body["@odata.count"] = len(records)
        if station.station.next_link and top > cap and skip + cap < len(records):
            # Server-driven paging: the station capped the page below what was asked.
            following = {k: v[0] for k, v in params.items()} | {
                "$skip": str(skip + cap),
                "$top": str(top - cap),
            }
            base = f"{self.sim.url}/{station.station.name}/odata/v1/{entity}"
            body["@odata.nextLink"] = f"{base}?{urlencode(following)}"
        self._json(200, body)

    @staticmethod
    def _options(params: dict[str, list[str]], entity: str) -> dict[str, str]:
        options: dict[str, str] = {}
        for key, values in params.items():
            if key.startswith("$") and key not in _SYSTEM_OPTIONS:
                raise FilterRejected(f"unsupported system query option {key}")
            if len(values) != 1:
                raise FilterRejected(f"query option {key} given {len(values)} times")
            options[key] = values[0]
        for key in ("$top", "$skip"):
            if key in options and not options[key].isdigit():
                raise FilterRejected(f"{key} must be a non-negative integer, got {options[key]!r}")
        if "$expand" in options and not (entity == "Products" and options["$expand"] == "Attributes"):
            raise FilterRejected(f"$expand={options['$expand']} is not supported on {entity}")
        if options.get("$count", "true") not in ("true", "false"):
            raise FilterRejected("$count must be true or false")
        return options

    @staticmethod
    def _present(record: dict[str, Any], entity: str, expand: bool) -> dict[str, Any]:
        shown = public(record)
        if entity == "Products" and not expand:
            shown.pop("Attributes", None)
        return shown

    # -- downloads ----------------------------------------------------------------------------------------

    def _download(
        self, station: StationData | None, entity: str, entity_id: str, *, redirected: bool
    ) -> None:
        if station is None:
            return
        record = station.find_download(entity, entity_id, self.sim.data.now())
        if record is None:
            self._error(404, f"no {entity} with Id {entity_id} at {station.station.name}")
            return
        if station.station.redirect_downloads and not redirected:
            location = (
                f"{self.sim.redirect_url}/_redirected/{station.station.name}/{entity}({entity_id})/$value"
            )
            self._send(307, b"", headers={"Location": location})
            return
        blob = station.blobs.get(entity_id, b"")
        size = record["_size"] if entity == "Files" else len(blob)
        start, stop = 0, size
        status = 200
        header_range = self.headers.get("Range")
        if header_range:
            match = _RANGE.match(header_range.strip())
            if not match or int(match[1]) >= size:
                self._send(416, b"", headers={"Content-Range": f"bytes */{size}"})
                return
            start = int(match[1])
            stop = min(int(match[2]) + 1, size) if match[2] else size
            status = 206
        parts: Iterable[bytes | memoryview] = (
            station.pattern.iter_range(entity_id, start, stop)
            if entity == "Files"
            else (memoryview(blob)[start:stop],)
        )
        headers = {
            "Content-Type": "application/octet-stream",
            "Content-Disposition": f'attachment; filename="{record["Name"]}"',
            "Accept-Ranges": "bytes",
        }
        if status == 206:
            headers["Content-Range"] = f"bytes {start}-{stop - 1}/{size}"
        whole = self._stream(status, stop - start, parts, headers, self.sim.faults[station.station.name])
        if whole and stop == size and self.command != "HEAD":
            self.sim.count_body(entity_id)

    def _stream(
        self,
        status: int,
        length: int,
        parts: Iterable[bytes | memoryview],
        headers: dict[str, str],
        faults: Faults,
    ) -> bool:
        """Whether the body was sent whole (not dropped by a fault)."""
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(length))
        self.end_headers()
        if self.command == "HEAD":
            return True
        drop_at = (
            faults.drop_after_bytes
            if self.sim.draw(faults.drop_rate) and length > faults.drop_after_bytes
            else None
        )
        pace = faults.bytes_per_second
        sent = 0
        for part in parts:
            view = memoryview(part)
            step = min(len(view), 64 * 1024) if pace else len(view)
            for offset in range(0, len(view), step or 1):
                piece = view[offset : offset + step]
                if drop_at is not None and sent + len(piece) > drop_at:
                    self.wfile.write(piece[: drop_at - sent])
                    self.wfile.flush()
                    self._drop()
                    return False
                self.wfile.write(piece)
                sent += len(piece)
                if pace:
                    time.sleep(len(piece) / pace)
        return True

    def _drop(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def _index(self, name: str, file_name: str) -> None:
        """A plain file index of a station's products (what rclone's http backend reads), for benchmarks."""
        station = self.sim.data.stations.get(name)
        if station is None or not station.station.public_index or station.station.kind == "cadip":
            self._error(404, f"no public index for {name!r}")
            return
        now = self.sim.data.now()
        if not file_name:
            records, _ = station.entity_set("Products", now)
            links = "".join(f'<a href="{r["Name"]}">{r["Name"]}</a>\n' for r in records)
            self._send(
                200, f"<html><body><pre>\n{links}</pre></body></html>".encode(), content_type="text/html"
            )
            return
        record = station.find_by_name(file_name, now)
        if record is None:
            self._error(404, f"no product {file_name!r}")
            return
        blob = station.blobs[record["Id"]]
        self._stream(
            200, len(blob), (memoryview(blob),), {"Content-Type": "application/octet-stream"}, Faults()
        )

    # -- admin --------------------------------------------------------------------------------------------

    def _admin(self, method: str, path: str, query: str) -> None:
        sim = self.sim
        if path == "/_sim/health":
            self._json(200, {"status": "ok", "stations": sorted(sim.data.stations)})
        elif path == "/_sim/stats":
            self._json(
                200,
                {
                    "requests": dict(sim.counts),
                    "bodies_served": dict(sim.bodies),
                    "logins": sim.tokens.logins,
                    "refreshes": sim.tokens.refreshes,
                },
            )
        elif path == "/_sim/requests":
            since = float(parse_qs(query).get("since", ["0"])[0])
            self._json(200, {"requests": [r for r in list(sim.requests) if r["time"] >= since]})
        elif path == "/_sim/faults" and method == "POST":
            body = self._read_json()
            sim.faults[body["station"]] = Faults.model_validate(body.get("faults", {}))
            self._json(200, {"station": body["station"], "faults": sim.faults[body["station"]].model_dump()})
        elif path == "/_sim/script" and method == "POST":
            body = self._read_json()
            sim.scripted[body["station"]].extend(int(status) for status in body["statuses"])
            self._json(200, {"station": body["station"], "queued": len(sim.scripted[body["station"]])})
        elif path == "/_sim/revoke-tokens" and method == "POST":
            self._json(200, {"revoked": sim.tokens.revoke_all()})
        elif path == "/_sim/token-lifetime" and method == "POST":
            sim.tokens.lifetime = float(self._read_json()["seconds"])
            self._json(200, {"token_lifetime": sim.tokens.lifetime})
        else:
            self._error(404, f"no admin resource {method} {path}")

    def _read_json(self) -> dict[str, Any]:
        length = int(self.headers.get("Content-Length") or 0)
        return json.loads(self.rfile.read(length) or b"{}")

    # -- responses ----------------------------------------------------------------------------------------

    def _error(self, status: int, message: str) -> None:
        self._json(status, {"error": {"code": str(status), "message": message}})

    def _json(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        self._send(
            status, json.dumps(body, default=str).encode(), content_type="application/json", headers=headers
        )

    def _send(
        self,
        status: int,
        payload: bytes,
        *,
        content_type: str = "text/plain",
        headers: dict[str, str] | None = None,
    ) -> None:
        self.send_response(status, HTTPStatus(status).phrase)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)
