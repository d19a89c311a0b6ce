"""How a station's requests are authorized: an ``Authorization`` header from OAuth2 (password or client-credentials
grant, confidential or public client) or HTTP basic, shared by every request to one station.

OAuth2 tokens expire mid-run (20 minutes is common); the manager refreshes ahead of expiry and the client calls
``invalidate`` on a 401 so that the next request logs in again. Basic credentials cannot be renewed: a 401 is
final. Secrets live only in these objects and never reach a message.
"""

from __future__ import annotations

import base64
import threading
import time
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import urlencode

import urllib3

from ..errors import StationAuthError, StationUnavailable
from ..http import GaveUp, RetryPolicy, SyncHttp


@dataclass(frozen=True)
class OAuth2Credentials:
    """``grant`` ``password`` needs a username and password; a public client has no secret."""

    token_url: str
    client_id: str
    username: str = ""
    client_secret: str = field(default="", repr=False)
    password: str = field(default="", repr=False)
    scope: str | None = None
    token_request_authorization: str | None = field(default=None, repr=False)
    grant: Literal["password", "client_credentials"] = "password"


@dataclass(frozen=True)
class BasicCredentials:
    username: str
    password: str = field(repr=False)


class BasicAuth:
    """HTTP basic: the same header on every request; nothing to renew."""

    renewable = False

    def __init__(self, credentials: BasicCredentials):
        raw = f"{credentials.username}:{credentials.password}".encode()
        self._header = f"Basic {base64.b64encode(raw).decode()}"

    def header(self) -> str:
        return self._header

    def current(self) -> str:
        return self._header

    def invalidate(self, header: str) -> None:
        """Nothing to renew: the client reports the 401."""


class TokenManager:
    """OAuth2 bearer tokens: obtained, refreshed ahead of expiry, renewed once after a 401."""

    renewable = True

    def __init__(
        self,
        station: str,
        credentials: OAuth2Credentials,
        http: urllib3.PoolManager,
        retry: RetryPolicy | None = None,
        timeout: float = 30.0,
    ):
        self._station = station
        self._credentials = credentials
        self._http = SyncHttp(http, retry or RetryPolicy())
        self._timeout = timeout
        self._lock = threading.Lock()
        self._access: str | None = None
        self._refresh: str | None = None
        self._expires_at = 0.0
        self._refresh_expires_at = 0.0
        self.logins = 0
        self.refreshes = 0

    def token(self) -> str:
        with self._lock:
            if self._access is None or time.monotonic() >= self._expires_at:
                self._obtain()
            assert self._access is not None
            return self._access

    def header(self) -> str:
        return f"Bearer {self.token()}"

    def current(self) -> str | None:
        """The header if the token is valid now, else None: never waits and never sends a request, so that an
        event loop can ask (it then calls ``header`` on a worker thread)."""
        expires_at = self._expires_at  # read before the token: a refresh writes the token first
        access = self._access
        return f"Bearer {access}" if access is not None and time.monotonic() < expires_at else None

    def invalidate(self, header: str) -> None:
        """Forget the token of ``header`` unless another thread already replaced it."""
        with self._lock:
            if self._access is not None and header == f"Bearer {self._access}":
                self._access = None

    def _obtain(self) -> None:
        if self._refresh and time.monotonic() < self._refresh_expires_at:
            payload = {"grant_type": "refresh_token", "refresh_token": self._refresh}
            if self._post(payload, allow_refusal=True):
                self.refreshes += 1
                return
        creds = self._credentials
        payload = (
            {"grant_type": "password", "username": creds.username, "password": creds.password}
            if creds.grant == "password"
            else {"grant_type": "client_credentials"}
        )
        self._post(payload, allow_refusal=False)
        self.logins += 1

    def _post(self, payload: dict[str, str], *, allow_refusal: bool) -> bool:
        creds = self._credentials
        payload = {**payload, "client_id": creds.client_id}
        if creds.client_secret:  # a public client has none
            payload["client_secret"] = creds.client_secret
        if creds.scope:
            payload["scope"] = creds.scope
        headers = {"Accept": "application/json", "Content-Type": "application/x-www-form-urlencoded"}
        if creds.token_request_authorization:
            headers["Authorization"] = creds.token_request_authorization
        grant = payload["grant_type"]
        try:
            response = self._http.request(
                "POST",
                creds.token_url,
                what=f"{grant} grant at the token endpoint",
                headers=headers,
                body=urlencode(payload).encode(),
                timeout=self._timeout,
            )
        except GaveUp as exc:
            raise StationUnavailable(
                self._station, str(exc), url=creds.token_url, status=exc.status
            ) from None
        if response.status != 200:
            if allow_refusal:
                return False
            raise StationAuthError(
                self._station,
                f"{grant} grant refused with HTTP {response.status} (check the client id, the username "
                "and the secrets' environment variables)",
                url=creds.token_url,
                status=response.status,
            )
        try:
            body = response.json()
            access = body["access_token"]
        except (ValueError, KeyError):
            raise StationAuthError(
                self._station, "token endpoint answered without an access_token", url=creds.token_url
            ) from None
        lifetime = float(body.get("expires_in") or 300)
        now = time.monotonic()
        self._access = access
        self._expires_at = now + max(lifetime - min(30.0, lifetime / 10), 0.0)
        self._refresh = body.get("refresh_token")
        refresh_lifetime = float(body.get("refresh_expires_in") or lifetime * 4)
        self._refresh_expires_at = now + refresh_lifetime * 0.9
        return True


Authorizer = TokenManager | BasicAuth


def authorizer(
    station: str,
    credentials: OAuth2Credentials | BasicCredentials | None,
    http: urllib3.PoolManager,
    retry: RetryPolicy,
) -> Authorizer | None:
    if isinstance(credentials, OAuth2Credentials):
        return TokenManager(station, credentials, http, retry)
    if isinstance(credentials, BasicCredentials):
        return BasicAuth(credentials)
    return None
