"""AWS Signature Version 4 for S3 requests with a body in memory, at a fraction of botocore's cost.

botocore builds an ``AWSRequest``, re-parses its URL and derives the signing key with four HMACs on every
request: 127 us per small PUT on the benchmark machine, a sixth of the client's CPU for 2,000 AUX files.
Here the key is derived once per day and credentials, and the canonical request is built from what the
caller already knows. The result is byte-identical to botocore's ``S3SigV4Auth`` (checked by a unit test),
the payload's SHA-256 is always signed, as botocore does without a streaming body.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

ALGORITHM = "AWS4-HMAC-SHA256"
_DEFAULT_PORTS = {"http": 80, "https": 443}


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def canonical_host(url: str) -> str:
    """``host[:port]`` as S3 sees it in the Host header: a default port is left out."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    if parts.port and parts.port != _DEFAULT_PORTS.get(parts.scheme):
        return f"{host}:{parts.port}"
    return host


class S3Signer:
    """Signs requests to one S3 endpoint; ``credentials`` are botocore's (static or refreshable)."""

    def __init__(self, credentials: Any, region: str, service: str = "s3"):
        self.credentials, self.region, self.service = credentials, region, service
        self._key: tuple[tuple[str, str], bytes] | None = None

    def _signing_key(self, secret: str, day: str) -> bytes:
        if self._key is None or self._key[0] != (secret, day):
            key = _hmac(f"AWS4{secret}".encode(), day)
            for part in (self.region, self.service, "aws4_request"):
                key = _hmac(key, part)
            self._key = ((secret, day), key)
        return self._key[1]

    def sign(
        self,
        method: str,
        host: str,
        path: str,
        headers: Mapping[str, str],
        payload: bytes | bytearray | memoryview,
        now: datetime | None = None,
    ) -> dict[str, str]:
        """``headers`` plus the date, payload hash, token and Authorization headers.

        ``path`` is already percent-encoded (S3 does not encode it twice); every header given is signed.
        """
        frozen = self.credentials.get_frozen_credentials()
        stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
        day = stamp[:8]
        signed = dict(headers)
        signed["X-Amz-Date"] = stamp
        if frozen.token:
            signed["X-Amz-Security-Token"] = frozen.token
        signed["X-Amz-Content-SHA256"] = hashlib.sha256(payload).hexdigest()
        canonical = sorted(
            [(name.lower(), " ".join(str(value).split())) for name, value in signed.items()]
            + [("host", host)]
        )
        names = ";".join(name for name, _ in canonical)
        request = "\n".join(
            [
                method,
                path,
                "",
                "".join(f"{name}:{value}\n" for name, value in canonical),
                names,
                signed["X-Amz-Content-SHA256"],
            ]
        )
        scope = f"{day}/{self.region}/{self.service}/aws4_request"
        to_sign = f"{ALGORITHM}\n{stamp}\n{scope}\n{hashlib.sha256(request.encode()).hexdigest()}"
        signature = hmac.new(
            self._signing_key(frozen.secret_key, day), to_sign.encode(), hashlib.sha256
        ).hexdigest()
        signed["Authorization"] = (
            f"{ALGORITHM} Credential={frozen.access_key}/{scope}, SignedHeaders={names}, Signature={signature}"
        )
        return signed
