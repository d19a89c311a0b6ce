"""The policy over an aiohttp session: thousands of small station downloads and S3 PUTs on one event loop, by the
same rules as ``sync``. Credentials that need a token request are obtained on a worker thread, never on the loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping

import aiohttp

from .auth import Authorizer, can_renew
from .errors import BadResponse, GaveUp, Refused
from .hosts import MAX_REDIRECTS, HostTrust, redirect_target
from .policy import RetryPolicy, Tries, verdict
from .ranges import Skipper, bytes_to_skip, check_length, range_header, resume_refused

TRANSIENT = (aiohttp.ClientError, OSError)  # OSError covers timeouts

Headers = Mapping[str, str] | Callable[[], Mapping[str, str]]


def _one_line(raw: bytes) -> str:
    return " ".join(raw.decode("utf-8", "replace").split())[:200] or "<empty body>"


class AsyncHttp:
    """``trust`` set: redirects are followed and credentials only go to trusted hosts; unset: a redirect is a
    final answer."""

    def __init__(
        self, policy: RetryPolicy, *, trust: HostTrust | None = None, auth: Authorizer | None = None
    ):
        self.policy = policy
        self.trust = trust
        self.auth = auth

    async def fetch(self, session: aiohttp.ClientSession, url: str, *, what: str, size: int) -> bytearray:
        """A whole body of exactly ``size`` bytes, resumed with ``Range`` after a drop."""
        body = bytearray()
        tries = Tries(self.policy)
        renewed = False
        while True:
            start = len(body)
            authorization = await self._authorization()
            retry_after = None
            try:
                status, headers, final_url, detail = await self._get_into(
                    session, url, authorization, body, what
                )
            except TRANSIENT as exc:
                failure = f"connection dropped at byte {len(body)}: {type(exc).__name__}"
            else:
                step = verdict(status, can_renew=can_renew(self.auth, authorization, renewed))
                if step == "ok":
                    if check_length(len(body), size, what, url):
                        return body
                    failure = f"body ended at byte {len(body)} of {size}"
                elif step == "renew":
                    await asyncio.to_thread(self.auth.invalidate, authorization)  # type: ignore[union-attr, arg-type]
                    renewed = True
                    continue
                elif step == "retry":
                    failure, retry_after = f"HTTP {status}", headers.get("Retry-After")
                elif status == 416 and body:
                    raise resume_refused(what, final_url, len(body), size)
                else:
                    raise Refused(what, f"HTTP {status}", url=final_url, status=status, detail=detail)
            delay = tries.failed(progressed=len(body) > start, retry_after=retry_after)
            if delay is None:
                raise GaveUp(what, f"{failure}, gave up after {tries.count} tries", url=url)
            await asyncio.sleep(delay)

    async def request(
        self,
        session: aiohttp.ClientSession,
        method: str,
        url: str,
        *,
        what: str,
        headers: Headers,
        data: bytes | bytearray | None = None,
    ) -> tuple[int, bytes]:
        """One logical request without a body to keep: the first answer not to be retried, (status, body)."""
        tries = Tries(self.policy)
        while True:
            sent = headers() if callable(headers) else headers
            try:
                async with session.request(
                    method, url, data=data, headers=sent, allow_redirects=False
                ) as response:
                    status, answer = response.status, await response.read()
                    retry_after = response.headers.get("Retry-After")
            except TRANSIENT as exc:
                delay = tries.failed()
                if delay is None:
                    raise GaveUp(
                        what, f"{type(exc).__name__}, gave up after {tries.count} tries", url=url
                    ) from None
                await asyncio.sleep(delay)
                continue
            if verdict(status, can_renew=False) != "retry":
                return status, answer
            delay = tries.failed(retry_after=retry_after)
            if delay is None:
                raise GaveUp(
                    what,
                    f"HTTP {status} after {tries.count} tries",
                    url=url,
                    status=status,
                    detail=_one_line(answer),
                )
            await asyncio.sleep(delay)

    async def _authorization(self) -> str | None:
        if self.auth is None:
            return None
        return self.auth.current() or await asyncio.to_thread(self.auth.header)

    async def _get_into(
        self, session: aiohttp.ClientSession, url: str, authorization: str | None, body: bytearray, what: str
    ) -> tuple[int, Mapping[str, str], str, str]:
        """One GET (redirects followed), its 2xx bytes appended to ``body``: (status, headers, url, detail)."""
        for _ in range(MAX_REDIRECTS + 1):
            sent = {"Accept-Encoding": "identity", **range_header(len(body))}
            if authorization and (self.trust is None or self.trust.trusts(url)):
                sent["Authorization"] = authorization
            async with session.get(url, headers=sent, allow_redirects=False) as response:
                target = redirect_target(url, response.status, response.headers.get("Location"))
                if target is not None and self.trust is not None:
                    url = target
                    continue
                if response.status >= 300:
                    return response.status, response.headers, url, _one_line(await response.read())
                skip = Skipper(bytes_to_skip(response.status, response.headers, len(body), what, url))
                async for chunk in response.content.iter_any():
                    body += skip(chunk)
                return response.status, response.headers, url, ""
        raise BadResponse(what, f"more than {MAX_REDIRECTS} redirects", url=url)
