"""The policy over a urllib3 pool: station searches and downloads, the token endpoint, S3 PUTs and GETs, the STAC
API. Every request is retried, renewed, redirected and resumed by the same rules (``policy``, ``hosts``,
``ranges``)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import urllib3
from urllib3.response import BaseHTTPResponse

from .auth import Authorizer, can_renew
from .errors import BadResponse, GaveUp, Refused
from .hosts import MAX_REDIRECTS, HostTrust, redirect_target
from .policy import RetryPolicy, Tries, verdict
from .ranges import Skipper, bytes_to_skip, check_length, range_header, resume_refused

# Connection refused or reset, timeouts, truncated bodies: all worth another try.
TRANSIENT = (urllib3.exceptions.HTTPError, OSError)

Headers = Mapping[str, str] | Callable[[], Mapping[str, str]]


def excerpt(response: BaseHTTPResponse) -> str:
    """The start of an error body on one line, for messages."""
    try:
        text = response.data.decode("utf-8", "replace")
    except TRANSIENT:
        return "<unreadable body>"
    return " ".join(text.split())[:200] or "<empty body>"


class SyncHttp:
    """``trust`` set: redirects are followed and credentials only go to trusted hosts; unset: a redirect is a
    final answer (a signed S3 request cannot follow one)."""

    def __init__(
        self,
        pool: urllib3.PoolManager,
        policy: RetryPolicy,
        *,
        trust: HostTrust | None = None,
        auth: Authorizer | None = None,
    ):
        self.pool = pool
        self.policy = policy
        self.trust = trust
        self.auth = auth

    def request(
        self,
        method: str,
        url: str,
        *,
        what: str,
        headers: Headers | None = None,
        body: bytes | None = None,
        stream: bool = False,
        timeout: float | None = None,
    ) -> BaseHTTPResponse:
        """One logical request; returns the first answer that is not to be retried (any status)."""
        tries = Tries(self.policy)
        renewed = False
        while True:
            authorization = self.auth.header() if self.auth else None
            sent = headers() if callable(headers) else headers or {}
            try:
                response = self._follow(method, url, sent, body, authorization, stream, timeout, what)
            except TRANSIENT as exc:
                self._wait(tries.failed(), what, url, type(exc).__name__, tries)
                continue
            step = verdict(response.status, can_renew=can_renew(self.auth, authorization, renewed))
            if step in ("ok", "final"):
                return response
            if step == "renew":
                response.drain_conn()
                response.release_conn()
                self.auth.invalidate(authorization)  # type: ignore[union-attr, arg-type]
                renewed = True
                continue
            delay = tries.failed(retry_after=response.headers.get("Retry-After"))
            if delay is None:
                raise GaveUp(
                    what,
                    f"HTTP {response.status} after {tries.count} tries",
                    url=response.url or url,
                    status=response.status,
                    detail=excerpt(response),
                )
            response.drain_conn()
            response.release_conn()
            time.sleep(delay)

    def stream(
        self,
        url: str,
        *,
        what: str,
        offset: int = 0,
        expected_size: int | None = None,
        chunk_size: int = 1 << 20,
    ) -> Iterator[bytes]:
        """A body from ``offset``, resumed with ``Range`` after a drop; shorter than ``expected_size`` is a drop."""
        position = offset
        tries = Tries(self.policy)
        while True:
            headers = {"Accept-Encoding": "identity", **range_header(position)}
            response = self.request("GET", url, what=what, headers=headers, stream=True)
            final_url = response.url or url
            if response.status == 416 and position > offset:
                response.close()
                raise resume_refused(what, final_url, position, expected_size)
            if response.status >= 300:
                raise Refused(
                    what,
                    f"HTTP {response.status}",
                    url=final_url,
                    status=response.status,
                    detail=excerpt(response),
                )
            start, complete = position, False
            try:
                skip = Skipper(bytes_to_skip(response.status, response.headers, position, what, final_url))
                while chunk := response.read1(chunk_size):
                    if chunk := skip(chunk):
                        position += len(chunk)
                        yield chunk
                complete = check_length(position, expected_size, what, url)
                if complete:
                    return
                failure = f"body ended at byte {position} of {expected_size}"
            except TRANSIENT as exc:
                failure = f"connection dropped at byte {position}: {type(exc).__name__}"
            finally:
                if complete:
                    response.release_conn()
                else:  # a connection left mid-body must not go back to the pool
                    response.close()
            self._wait(tries.failed(progressed=position > start), what, url, failure, tries)

    def _follow(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        body: bytes | None,
        authorization: str | None,
        stream: bool,
        timeout: float | None,
        what: str,
    ) -> BaseHTTPResponse:
        secret = {"Authorization": authorization} if authorization else {}
        # No timeout given means the pool's, never none at all (urllib3 reads None as "wait forever").
        timeouts: dict[str, Any] = {"timeout": timeout} if timeout is not None else {}
        for _ in range(MAX_REDIRECTS + 1):
            trusted = self.trust is None or self.trust.trusts(url)
            response = self.pool.request(
                method,
                url,
                body=body,
                headers={**headers, **secret} if trusted else dict(headers),
                preload_content=not stream,
                redirect=False,
                decode_content=False,
                **timeouts,
            )
            response.url = url
            target = redirect_target(url, response.status, response.headers.get("Location"))
            if self.trust is None or target is None:
                return response
            response.drain_conn()
            response.release_conn()
            url = target
            if response.status == 303:
                method, body = "GET", None
        raise BadResponse(what, f"more than {MAX_REDIRECTS} redirects", url=url)

    @staticmethod
    def _wait(delay: float | None, what: str, url: str, failure: str, tries: Tries) -> None:
        if delay is None:
            raise GaveUp(what, f"{failure}, gave up after {tries.count} tries", url=url)
        time.sleep(delay)
