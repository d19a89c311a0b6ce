"""HTTP client for one OData station (CADIP, AUXIP or PRIP): search with paging, streaming download.

What a station does wrong in the field is handled here: paging with ``$top``/``$skip`` and ``@odata.nextLink``,
a safety limit per query, answers that are not the interface's JSON. Retries, ``Retry-After``, redirects that must
not leak the token, the one token renewal after a 401 and ``Range`` resume are the ``http`` policy's, shared with
every other transport; this module turns its verdicts into errors that name the station.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Literal, TypeVar
from urllib.parse import urlencode, urljoin

import aiohttp
import urllib3

from ..errors import (
    BadStationResponse,
    NotFoundAtStation,
    SafetyLimitExceeded,
    StationAuthError,
    StationError,
    StationRequestError,
    StationUnavailable,
)
from ..http import AsyncHttp, BadResponse, GaveUp, HostTrust, Refused, RetryPolicy, SyncHttp, excerpt
from ..tracing import span
from .auth import BasicCredentials, OAuth2Credentials, authorizer
from .models import File, Product, Session, StationEntity, parse_entity
from .odata import PROFILES, CapabilityProfile, Expr, Query

StationKind = Literal["cadip", "auxip", "prip"]
EntityT = TypeVar("EntityT", bound=StationEntity)


@dataclass(frozen=True)
class StationConfig:
    name: str
    kind: StationKind
    base_url: str
    credentials: OAuth2Credentials | BasicCredentials | None = None
    profile: CapabilityProfile = PROFILES["default"]
    page_size: int = 1000
    safety_limit: int = 100_000
    trusted_redirect_hosts: tuple[str, ...] = ()
    max_parallel_downloads: int = 4
    connect_timeout: float = 10.0
    read_timeout: float = 120.0
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    product_types: tuple[str, ...] = ()

    @property
    def root(self) -> str:
        return self.base_url.rstrip("/")

    def serves(self, product_type: str) -> bool:
        """Whether a station can hold products of this type: the ones it lists, all when it lists none."""
        return not self.product_types or product_type.rstrip("_") in {
            t.rstrip("_") for t in self.product_types
        }


class StationClient:
    def __init__(self, config: StationConfig):
        self.config = config
        self._pool = urllib3.PoolManager(
            num_pools=8,
            maxsize=max(config.max_parallel_downloads * 2, 10),
            retries=False,
            timeout=urllib3.Timeout(connect=config.connect_timeout, read=config.read_timeout),
        )
        auth = authorizer(config.name, config.credentials, self._pool, config.retry)
        trust = HostTrust(config.root, config.trusted_redirect_hosts)
        self._http = SyncHttp(self._pool, config.retry, trust=trust, auth=auth)
        self._aio = AsyncHttp(config.retry, trust=trust, auth=auth)

    @property
    def name(self) -> str:
        return self.config.name

    def close(self) -> None:
        self._pool.clear()

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
        with span("station.search", **{"rs.station": self.name, "odata.entity": query.entity}) as current:
            found = self._search(query, model, limit)
            current.set_attribute("rs.results", len(found))
            return found

    def _search(self, query: Query, model: type[EntityT], limit: int | None) -> list[EntityT]:
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
        if params:
            url = f"{url}?{urlencode(params)}"
        with self._errors():
            response = self._http.request("GET", url, what=describe)
        if response.status >= 300:
            raise self._final(describe, response.url or url, response.status, excerpt(response))
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
        with self._errors():
            yield from self._http.stream(
                url, what=what, offset=offset, expected_size=expected_size, chunk_size=chunk_size
            )

    async def fetch(
        self, http: aiohttp.ClientSession, entity: Literal["Files", "Products"], entity_id: str, size: int
    ) -> bytearray:
        """A small entity's whole body over an asyncio session, with ``iter_download``'s rules. Thousands of
        small files cost a fraction of the CPU they cost on threads."""
        url = self.download_url(entity, entity_id)
        with self._errors():
            return await self._aio.fetch(http, url, what=f"download {entity}({entity_id})", size=size)

    @contextmanager
    def _errors(self) -> Iterator[None]:
        """The transport's verdicts as station errors naming this station."""
        try:
            yield
        except GaveUp as exc:
            raise StationUnavailable(self.name, str(exc), url=exc.url, status=exc.status) from None
        except Refused as exc:
            raise self._final(exc.what, exc.url, exc.status or 0, exc.detail, exc.reason) from None
        except BadResponse as exc:
            raise BadStationResponse(self.name, str(exc), url=exc.url, status=exc.status) from None

    def _final(self, what: str, url: str, status: int, detail: str, reason: str = "") -> StationError:
        if status == 401:
            return StationAuthError(
                self.name,
                f"{what}: the station refused our credentials (HTTP 401): {detail}",
                url=url,
                status=401,
            )
        error = NotFoundAtStation if status in (404, 410) else StationRequestError
        said = f"{what}: {reason or f'HTTP {status}'}" + (f": {detail}" if detail else "")
        return error(self.name, said, url=url, status=status)
