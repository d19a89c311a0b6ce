"""Small-object PUTs and GETs signed with SigV4 (``sigv4``), sent over a urllib3 pool or an asyncio session.

boto3's request pipeline (events, handlers, parsers) costs about three times the CPU of the request itself.
For thousands of small AUX files staged, or the hundreds of small objects of a Zarr store fetched, on two shared
cores, that is the difference that counts. Integrity is the same: a PUT's body MD5 travels as ``Content-MD5``,
which the server checks, and the signature covers the body's SHA-256; a GET's size is checked by the caller
against the listing. Only for S3 endpoints given as URLs (path-style addressing).
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from urllib.parse import quote, urlsplit

import aiohttp
import urllib3

from ..errors import RsAssetsError
from ..http import AsyncHttp, HttpError, RetryPolicy, SyncHttp
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
        policy = retry or RetryPolicy(attempts=5, backoff=0.2, max_backoff=5.0)
        self.pool = urllib3.PoolManager(maxsize=pool_size, retries=False, timeout=urllib3.Timeout(30, 120))
        self.http = SyncHttp(self.pool, policy)
        self.aio = AsyncHttp(policy)

    def _put_headers(
        self, bucket: str, key: str, data: bytes | bytearray, md5_hex: str, metadata: Mapping[str, str]
    ) -> Callable[[], dict[str, str]]:
        """Signed anew for every try: a retry after a long ``Retry-After`` must not carry a stale date."""
        headers = {
            "Content-MD5": base64.b64encode(bytes.fromhex(md5_hex)).decode(),
            "Content-Length": str(len(data)),
            **{f"x-amz-meta-{name}": value for name, value in metadata.items()},
        }
        path = self._path(bucket, key)
        return lambda: self.signer.sign("PUT", self.host, path, headers, data)

    def _path(self, bucket: str, key: str) -> str:
        return f"{self.path}/{bucket}/{quote(key, safe='/~')}"

    def _refused(
        self, operation: str, bucket: str, key: str, status: int, body: bytes | None
    ) -> DirectS3Error:
        code = _CODE.search(body or b"")
        reason = code[1].decode() if code else f"HTTP {status}"
        return DirectS3Error(f"s3 {operation} s3://{bucket}/{key} failed: {reason}")

    @contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except HttpError as exc:
            raise DirectS3Error(f"s3 {exc.what} failed: {exc.reason}") from None

    def put(self, bucket: str, key: str, data: bytes, md5_hex: str, metadata: Mapping[str, str]) -> None:
        with self._errors():
            response = self.http.request(
                "PUT",
                f"{self.origin}{self._path(bucket, key)}",
                what=f"put s3://{bucket}/{key}",
                headers=self._put_headers(bucket, key, data, md5_hex, metadata),
                body=data,
            )
        if response.status not in (200, 201, 204):
            raise self._refused("put", bucket, key, response.status, response.data)

    def get(self, bucket: str, key: str) -> bytes | None:
        """A small object's bytes in one GET; None when there is no such object."""
        path = self._path(bucket, key)
        with self._errors():
            response = self.http.request(
                "GET",
                f"{self.origin}{path}",
                what=f"get s3://{bucket}/{key}",
                headers=lambda: self.signer.sign("GET", self.host, path, {}, b""),
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
        with self._errors():
            status, answer = await self.aio.request(
                http,
                "PUT",
                f"{self.origin}{self._path(bucket, key)}",
                what=f"put s3://{bucket}/{key}",
                headers=self._put_headers(bucket, key, data, md5_hex, metadata),
                data=data,
            )
        if status not in (200, 201, 204):
            raise self._refused("put", bucket, key, status, answer)
