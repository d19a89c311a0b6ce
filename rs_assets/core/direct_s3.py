"""Small-object PUTs and GETs signed with SigV4 (``sigv4``), sent over a urllib3 pool or an asyncio session.

boto3's request pipeline (events, handlers, parsers) costs about three times the CPU of the request itself.
For thousands of small AUX files staged, or the hundreds of small objects of a Zarr store fetched, on two shared
cores, that is the difference that counts. Integrity is the same: a PUT's body MD5 travels as ``Content-MD5``,
which the server checks, and the signature covers the body's SHA-256; a GET's size is checked by the caller
against the listing. Only for S3 endpoints given as URLs (path-style addressing).
"""

from __future__ import annotations

import asyncio
import base64
import re
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, urlsplit

import aiohttp
import urllib3

from .errors import RsAssetsError
from .retry import RetryPolicy, is_retriable_status
from .sigv4 import S3Signer, canonical_host

_CODE = re.compile(rb"<Code>([^<]+)</Code>")


class DirectS3Error(RsAssetsError):
    """The S3 endpoint refused or kept failing a request; names the operation, bucket and key."""


class DirectS3:
    def __init__(
        self,
        endpoint_url: str,
        region: str,
        credentials: object,
        pool_size: int = 64,
        retry: RetryPolicy | None = None,
    ):
        parts = urlsplit(endpoint_url.rstrip("/"))
        self.origin, self.path = f"{parts.scheme}://{parts.netloc}", parts.path
        self.host = canonical_host(endpoint_url)
        self.signer = S3Signer(credentials, region)
        self.pool = urllib3.PoolManager(maxsize=pool_size, retries=False, timeout=urllib3.Timeout(30, 120))
        self.retry = retry or RetryPolicy(attempts=5, backoff=0.2, max_backoff=5.0)

    def _signed(
        self, bucket: str, key: str, data: bytes | bytearray, md5_hex: str, metadata: Mapping[str, str]
    ) -> tuple[str, dict[str, str]]:
        path = f"{self.path}/{bucket}/{quote(key, safe='/~')}"
        headers = {
            "Content-MD5": base64.b64encode(bytes.fromhex(md5_hex)).decode(),
            "Content-Length": str(len(data)),
            **{f"x-amz-meta-{name}": value for name, value in metadata.items()},
        }
        return f"{self.origin}{path}", self.signer.sign("PUT", self.host, path, headers, data)

    def _refused(
        self, operation: str, bucket: str, key: str, status: int, body: bytes | None
    ) -> DirectS3Error:
        code = _CODE.search(body or b"")
        reason = code[1].decode() if code else f"HTTP {status}"
        return DirectS3Error(f"s3 {operation} s3://{bucket}/{key} failed: {reason}")

    def _send(
        self, operation: str, bucket: str, key: str, sign: Any, body: bytes | None
    ) -> urllib3.BaseHTTPResponse:
        """One request, retried on connection errors and retriable statuses; signed anew per attempt."""
        for attempt in range(1, self.retry.attempts + 1):
            url, headers = sign()
            try:
                response = self.pool.request(operation.upper(), url, body=body, headers=headers)
            except urllib3.exceptions.HTTPError as exc:
                if attempt == self.retry.attempts:
                    raise DirectS3Error(
                        f"s3 {operation} s3://{bucket}/{key} failed: {type(exc).__name__}"
                    ) from None
                time.sleep(self.retry.delay(attempt))
                continue
            if not is_retriable_status(response.status) or attempt == self.retry.attempts:
                return response
            time.sleep(self.retry.delay(attempt, response.headers.get("Retry-After")))
        raise AssertionError("unreachable")

    def put(self, bucket: str, key: str, data: bytes, md5_hex: str, metadata: Mapping[str, str]) -> None:
        response = self._send(
            "put", bucket, key, lambda: self._signed(bucket, key, data, md5_hex, metadata), data
        )
        if response.status not in (200, 201, 204):
            raise self._refused("put", bucket, key, response.status, response.data)

    def get(self, bucket: str, key: str) -> bytes | None:
        """A small object's bytes in one GET; None when there is no such object."""
        path = f"{self.path}/{bucket}/{quote(key, safe='/~')}"
        response = self._send(
            "get",
            bucket,
            key,
            lambda: (f"{self.origin}{path}", self.signer.sign("GET", self.host, path, {}, b"")),
            None,
        )
        if response.status == 200:
            return response.data
        if response.status == 404:
            return None
        raise self._refused("get", bucket, key, response.status, response.data)

    async def put_async(
        self,
        http: aiohttp.ClientSession,
        bucket: str,
        key: str,
        data: bytes | bytearray,
        md5_hex: str,
        metadata: Mapping[str, str],
    ) -> None:
        """``put`` on an asyncio session: same signing, checks, retries and errors."""
        for attempt in range(1, self.retry.attempts + 1):
            url, headers = self._signed(bucket, key, data, md5_hex, metadata)
            try:
                async with http.put(url, data=data, headers=headers) as response:
                    status, answer = response.status, await response.read()
                    retry_after = response.headers.get("Retry-After")
            except (aiohttp.ClientError, OSError) as exc:  # OSError covers timeouts
                if attempt == self.retry.attempts:
                    raise DirectS3Error(f"s3 put s3://{bucket}/{key} failed: {type(exc).__name__}") from None
                await asyncio.sleep(self.retry.delay(attempt))
                continue
            if status in (200, 201, 204):
                return
            if not is_retriable_status(status) or attempt == self.retry.attempts:
                raise self._refused("put", bucket, key, status, answer)
            await asyncio.sleep(self.retry.delay(attempt, retry_after))
