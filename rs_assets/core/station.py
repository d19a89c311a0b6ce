"""HTTP client for one OData station (CADIP, AUXIP or PRIP): search with paging, streaming download.

Everything a station does wrong in the field is handled here once: paging with ``$top``/``$skip`` and
``@odata.nextLink``, a safety limit per query, token expiry, retriable failures with backoff, ``Retry-After``,
redirects that must not leak the token, and downloads that resume with ``Range`` after a dropped connection.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Literal, TypeVar
from urllib.parse import urlencode, urljoin, urlsplit

import aiohttp
import urllib3
from urllib3.response import BaseHTTPResponse

from .auth import OAuth2Credentials, TokenManager
from .errors import (
    BadStationResponse,
    NotFoundAtStation,
    SafetyLimitExceeded,
    StationRequestError,
    StationUnavailable,
)
from .models import File, Product, Session, StationEntity, parse_entity
from .odata import PROFILES, CapabilityProfile, Expr, Query
from .retry import RetryPolicy, is_retriable_status

StationKind = Literal["cadip", "auxip", "prip"]
EntityT = TypeVar("EntityT", bound=StationEntity)

_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_MAX_REDIRECTS = 5
# Connection refused or reset, timeouts, truncated bodies: all worth another try.
_TRANSIENT = (urllib3.exceptions.HTTPError, OSError)
_ASYNC_TRANSIENT = (aiohttp.ClientError, OSError)  # OSError covers timeouts


@dataclass(frozen=True)
class StationConfig:
    name: str
    kind: StationKind
    base_url: str
    credentials: OAuth2Credentials | None = None
    profile: CapabilityProfile = PROFILES["default"]
    page_size: int = 1000
    safety_limit: int = 100_000
    trusted_redirect_hosts: tuple[str, ...] = ()
    max_parallel_downloads: int = 4
    connect_timeout: float = 10.0
    read_timeout: float = 120.0
    retry: RetryPolicy = field(default_factory=RetryPolicy)

    @property
    def root(self) -> str:
        return self.base_url.rstrip("/")


def _netloc(url: str) -> str:
    parts = urlsplit(url)
    return f"{(parts.hostname or '').lower()}:{parts.port or (443 if parts.scheme == 'https' else 80)}"


class StationClient:
    def __init__(self, config: StationConfig):
        self.config = config
        self._http = urllib3.PoolManager(
            num_pools=8,
            maxsize=max(config.max_parallel_downloads * 2, 10),
            retries=False,
            timeout=urllib3.Timeout(connect=config.connect_timeout, read=config.read_timeout),
        )
        self._tokens = (
            TokenManager(config.name, config.credentials, self._http, config.retry)
            if config.credentials
            else None
        )
        self._home = _netloc(config.root)
        self._trusted = {self._home} | {self._normalise_host(h) for h in config.trusted_redirect_hosts}

    @property
    def name(self) -> str:
        return self.config.name

    def close(self) -> None:
        self._http.clear()

    # -- search -------------------------------------------------------------------------------------------

    def sessions(self, filter: Expr | None, *, limit: int | None = None) -> list[Session]:
        return self.search(Query("Sessions", filter), Session, limit=limit)

    def files(self, filter: Expr | None, *, limit: int | None = None) -> list[File]:
        return self.search(Query("Files", filter), File, limit=limit)

    def products(self, filter: Expr | None, *, limit: int | None = None) -> list[Product]:
        return self.search(Query("Products", filter, expand="Attributes"), Product, limit=limit)

    def search(self, query: Query, model: type[EntityT], *, limit: int | None = None) -> list[EntityT]:
        """All entities matching ``query``, or SafetyLimitExceeded before any page past the limit is fetched.

        ``limit`` asks for at most that many (no error when more match); the safety limit is the station's
        ceiling on what one query may pull, and exceeding it is an error because results would be lost.
        """
        safety = self.config.safety_limit
        ceiling = min(limit, safety) if limit is not None else safety
        strict = limit is None or limit > safety
        params = query.params(self.config.profile)
        base = f"{self.config.root}/{query.entity}"
        describe = f"{query.entity} $filter={params.get('$filter', '')!r}"
        results: list[EntityT] = []
        next_link: str | None = None
        skip = 0
        while True:
            room = ceiling - len(results)
            top = min(self.config.page_size, room + 1 if strict else room)
            if top <= 0:
                return results
            if next_link:
                body = self._get_json(next_link, None, describe)
            else:
                body = self._get_json(base, {**params, "$top": str(top), "$skip": str(skip)}, describe)
            values = body.get("value", body.get("responses"))
            if not isinstance(values, list):
                raise BadStationResponse(self.name, f"{describe}: response has no 'value' list", url=base)
            if strict and len(values) > room:
                raise SafetyLimitExceeded(
                    self.name,
                    f"{describe} matches more than the safety limit of {safety} entities; narrow the query "
                    "(shorter time window, product type) or raise safety_limit for this station",
                    url=base,
                )
            results.extend(parse_entity(model, raw, station=self.name, url=base) for raw in values[:room])
            link = body.get("@odata.nextLink")
            if link:
                next_link = urljoin(next_link or base, link)
            elif not values or next_link:
                return results
            else:
                # A short page may be the station's own cap rather than the end: ask once more to be sure.
                skip += len(values)

    def _get_json(self, url: str, params: dict[str, str] | None, describe: str) -> dict:
        response = self._send("GET", url, params=params, what=describe)
        try:
            body = response.json()
        except ValueError:
            raise BadStationResponse(
                self.name, f"{describe}: response is not JSON ({response.data[:120]!r})", url=url
            ) from None
        if not isinstance(body, dict):
            raise BadStationResponse(self.name, f"{describe}: response is not a JSON object", url=url)
        return body

    # -- download -----------------------------------------------------------------------------------------

    def download_url(self, entity: Literal["Files", "Products"], entity_id: str) -> str:
        return f"{self.config.root}/{entity}({entity_id})/$value"

    def iter_download(
        self,
        entity: Literal["Files", "Products"],
        entity_id: str,
        *,
        offset: int = 0,
        expected_size: int | None = None,
        chunk_size: int = 1 << 20,
    ) -> Iterator[bytes]:
        """Stream an entity's bytes from ``offset``, resuming with ``Range`` after a dropped connection.

        A station that ignores ``Range`` (200 instead of 206) is tolerated by skipping what was already read.
        A body shorter than ``expected_size`` counts as a drop, never as success.
        """
        url = self.download_url(entity, entity_id)
        what = f"download {entity}({entity_id})"
        position = offset
        failures = 0
        while True:
            headers = {"Accept-Encoding": "identity"}
            if position:
                headers["Range"] = f"bytes={position}-"
            response = self._send("GET", url, headers=headers, stream=True, what=what)
            attempt_start = position
            complete = False
            try:
                to_skip = self._bytes_to_skip(response.status, response.headers, position, what)
                while chunk := response.read1(chunk_size):
                    if to_skip:
                        if len(chunk) <= to_skip:
                            to_skip -= len(chunk)
                            continue
                        chunk, to_skip = chunk[to_skip:], 0
                    position += len(chunk)
                    yield chunk
                if expected_size is None or position >= expected_size:
                    if expected_size is not None and position > expected_size:
                        raise BadStationResponse(
                            self.name,
                            f"{what}: got {position} bytes, station announced {expected_size}",
                            url=url,
                        )
                    complete = True
                    return
                failure = f"body ended at byte {position} of {expected_size}"
            except _TRANSIENT as exc:
                failure = f"connection dropped at byte {position}: {type(exc).__name__}"
            finally:
                if complete:
                    response.release_conn()
                else:  # a connection left mid-body must not go back to the pool
                    response.close()
            # A link that drops but keeps making progress is not failing: only stalls count.
            failures = 1 if position > attempt_start else failures + 1
            if failures >= self.config.retry.attempts:
                raise StationUnavailable(
                    self.name, f"{what}: {failure}, gave up after {failures} tries", url=url
                )
            time.sleep(self.config.retry.delay(failures))

    def _bytes_to_skip(self, status: int, headers: Mapping[str, str], position: int, what: str) -> int:
        if not position:
            return 0
        if status == 200:
            return position
        content_range = headers.get("Content-Range", "")
        if not content_range.startswith(f"bytes {position}-"):
            raise BadStationResponse(
                self.name, f"{what}: asked for bytes {position}- and got Content-Range {content_range!r}"
            )
        return 0

    async def fetch(
        self, http: aiohttp.ClientSession, entity: Literal["Files", "Products"], entity_id: str, size: int
    ) -> bytearray:
        """A small entity's whole body over an asyncio session, with ``iter_download``'s rules: the token only
        to trusted hosts, retries with backoff and ``Retry-After``, one token refresh on 401, ``Range`` resume
        after a drop, and a body of exactly ``size`` bytes. Thousands of small files cost a fraction of the CPU
        they cost on threads."""
        url = self.download_url(entity, entity_id)
        what = f"download {entity}({entity_id})"
        policy = self.config.retry
        body = bytearray()
        stalls = 0
        auth_retried = False
        while True:
            start = len(body)
            token = await self._token_async()
            retry_after = None
            try:
                status, headers, final_url, detail = await self._fetch_into(http, url, token, body, what)
            except _ASYNC_TRANSIENT as exc:
                failure = f"connection dropped at byte {len(body)}: {type(exc).__name__}"
            else:
                if status < 300:
                    if len(body) == size:
                        return body
                    if len(body) > size:
                        raise BadStationResponse(
                            self.name, f"{what}: got {len(body)} bytes, station announced {size}", url=url
                        )
                    failure = f"body ended at byte {len(body)} of {size}"
                elif status == 401 and self._tokens and token and not auth_retried:
                    await asyncio.to_thread(self._tokens.invalidate, token)
                    auth_retried = True
                    continue
                elif is_retriable_status(status):
                    failure, retry_after = f"HTTP {status}", headers.get("Retry-After")
                else:
                    error = NotFoundAtStation if status in (404, 410) else StationRequestError
                    raise error(self.name, f"{what}: HTTP {status}: {detail}", url=final_url, status=status)
            stalls = 1 if len(body) > start else stalls + 1
            if stalls >= policy.attempts:
                raise StationUnavailable(
                    self.name, f"{what}: {failure}, gave up after {stalls} tries", url=url
                )
            await asyncio.sleep(policy.delay(stalls, retry_after))

    async def _token_async(self) -> str | None:
        """The bearer token without blocking the loop: logging in or refreshing runs on a worker thread."""
        if self._tokens is None:
            return None
        return self._tokens.current() or await asyncio.to_thread(self._tokens.token)

    async def _fetch_into(
        self, http: aiohttp.ClientSession, url: str, token: str | None, body: bytearray, what: str
    ) -> tuple[int, Mapping[str, str], str, str]:
        """One request (redirects followed), its 2xx bytes appended to ``body``: (status, headers, url, detail)."""
        for _ in range(_MAX_REDIRECTS + 1):
            sent = {"Accept-Encoding": "identity"}
            if body:
                sent["Range"] = f"bytes={len(body)}-"
            if token and _netloc(url) in self._trusted:
                sent["Authorization"] = f"Bearer {token}"
            async with http.get(url, headers=sent, allow_redirects=False) as response:
                location = response.headers.get("Location")
                if response.status in _REDIRECTS and location:
                    url = urljoin(url, location)
                    continue
                if response.status >= 300:
                    text = (await response.read()).decode("utf-8", "replace")
                    detail = " ".join(text.split())[:200] or "<empty body>"
                    return response.status, response.headers, url, detail
                to_skip = self._bytes_to_skip(response.status, response.headers, len(body), what)
                async for chunk in response.content.iter_any():
                    if to_skip:
                        if len(chunk) <= to_skip:
                            to_skip -= len(chunk)
                            continue
                        chunk, to_skip = chunk[to_skip:], 0
                    body += chunk
                return response.status, response.headers, url, ""
        raise StationRequestError(self.name, f"more than {_MAX_REDIRECTS} redirects", url=url)

    # -- transport ----------------------------------------------------------------------------------------

    def _send(
        self,
        method: str,
        url: str,
        *,
        params: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        stream: bool = False,
        what: str,
    ) -> BaseHTTPResponse:
        """One logical request: retries, token refresh on 401, and redirects that guard the token."""
        policy = self.config.retry
        if params:
            url = f"{url}?{urlencode(params)}"
        auth_retried = False
        attempt = 0
        while True:
            attempt += 1
            token = self._tokens.token() if self._tokens else None
            try:
                response, final_url = self._follow(method, url, headers or {}, token, stream)
            except _TRANSIENT as exc:
                if attempt >= policy.attempts:
                    raise StationUnavailable(
                        self.name, f"{what}: {type(exc).__name__} after {attempt} tries", url=url
                    ) from None
                time.sleep(policy.delay(attempt))
                continue
            status = response.status
            if status < 300:
                return response
            detail = _excerpt(response)
            response.release_conn()
            if status == 401 and self._tokens and token and not auth_retried:
                self._tokens.invalidate(token)
                auth_retried = True
                attempt -= 1
                continue
            if is_retriable_status(status):
                if attempt >= policy.attempts:
                    raise StationUnavailable(
                        self.name,
                        f"{what}: HTTP {status} after {attempt} tries",
                        url=final_url,
                        status=status,
                    )
                time.sleep(policy.delay(attempt, response.headers.get("Retry-After")))
                continue
            error = NotFoundAtStation if status in (404, 410) else StationRequestError
            raise error(self.name, f"{what}: HTTP {status}: {detail}", url=final_url, status=status)

    def _follow(
        self, method: str, url: str, headers: dict[str, str], token: str | None, stream: bool
    ) -> tuple[BaseHTTPResponse, str]:
        for _ in range(_MAX_REDIRECTS + 1):
            sent = dict(headers)
            if token and _netloc(url) in self._trusted:
                sent["Authorization"] = f"Bearer {token}"
            response = self._http.request(
                method, url, headers=sent, preload_content=not stream, redirect=False, decode_content=False
            )
            location = response.headers.get("Location")
            if response.status not in _REDIRECTS or not location:
                return response, url
            url = urljoin(url, location)
            response.drain_conn()
            response.release_conn()
        raise StationRequestError(self.name, f"more than {_MAX_REDIRECTS} redirects", url=url)

    @staticmethod
    def _normalise_host(host: str) -> str:
        return _netloc(host if "://" in host else f"http://{host}")


def _excerpt(response: BaseHTTPResponse) -> str:
    try:
        text = response.data.decode("utf-8", "replace")
    except _TRANSIENT:
        return "<unreadable body>"
    return " ".join(text.split())[:200] or "<empty body>"
