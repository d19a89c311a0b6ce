"""OAuth2 password grant with refresh, shared by every request to one station.

Tokens expire mid-run (20 minutes is common); the manager refreshes ahead of expiry and the client calls
``invalidate`` on a 401 so that the next request logs in again. Secrets live only in this object.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import urllib3

from .errors import StationAuthError, StationUnavailable
from .retry import RetryPolicy, is_retriable_status


@dataclass(frozen=True)
class OAuth2Credentials:
    token_url: str
    client_id: str
    username: str
    client_secret: str = field(default="", repr=False)
    password: str = field(default="", repr=False)
    scope: str | None = None
    token_request_authorization: str | None = field(default=None, repr=False)


class TokenManager:
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
        self._http = http
        self._retry = retry or RetryPolicy()
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

    def current(self) -> str | None:
        """The token if it is valid now, else None: never waits and never sends a request, so that an event
        loop can ask (it then calls ``token`` on a worker thread)."""
        expires_at = self._expires_at  # read before the token: a refresh writes the token first
        access = self._access
        return access if access is not None and time.monotonic() < expires_at else None

    def invalidate(self, token: str) -> None:
        """Forget ``token`` unless another thread already replaced it."""
        with self._lock:
            if self._access == token:
                self._access = None

    def _obtain(self) -> None:
        if self._refresh and time.monotonic() < self._refresh_expires_at:
            payload = {"grant_type": "refresh_token", "refresh_token": self._refresh}
            if self._post(payload, allow_refusal=True):
                self.refreshes += 1
                return
        creds = self._credentials
        payload = {"grant_type": "password", "username": creds.username, "password": creds.password}
        self._post(payload, allow_refusal=False)
        self.logins += 1

    def _post(self, payload: dict[str, str], *, allow_refusal: bool) -> bool:
        creds = self._credentials
        payload = {**payload, "client_id": creds.client_id, "client_secret": creds.client_secret}
        if creds.scope:
            payload["scope"] = creds.scope
        headers = {"Accept": "application/json"}
        if creds.token_request_authorization:
            headers["Authorization"] = creds.token_request_authorization
        grant = payload["grant_type"]
        for attempt in range(1, self._retry.attempts + 1):
            try:
                response = self._http.request(
                    "POST",
                    creds.token_url,
                    fields=payload,
                    encode_multipart=False,
                    headers=headers,
                    timeout=self._timeout,
                )
            except (urllib3.exceptions.HTTPError, OSError) as exc:
                if attempt == self._retry.attempts:
                    raise StationUnavailable(
                        self._station,
                        f"token endpoint unreachable: {type(exc).__name__}",
                        url=creds.token_url,
                    ) from None
                time.sleep(self._retry.delay(attempt))
                continue
            if is_retriable_status(response.status) and attempt < self._retry.attempts:
                time.sleep(self._retry.delay(attempt, response.headers.get("Retry-After")))
                continue
            if response.status != 200:
                if allow_refusal:
                    return False
                raise StationAuthError(
                    self._station,
                    f"{grant} grant refused with HTTP {response.status} (check the client id, username "
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
        return False
