"""The few S3 operations rs-assets needs, over any boto3 S3 client, with errors that name bucket and key."""

from __future__ import annotations

import base64
import builtins
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import IO, TYPE_CHECKING, Any

from boto3.exceptions import S3UploadFailedError
from botocore.exceptions import ClientError

from ..errors import RsAssetsError
from .direct_s3 import DirectS3

if TYPE_CHECKING:
    import aiohttp

MD5_META = "rs-md5"


class StorageError(RsAssetsError):
    """An S3 request failed; the message names the operation, bucket and key."""


@dataclass(frozen=True)
class ObjectInfo:
    bucket: str
    key: str
    size: int
    md5: str | None
    etag: str = ""
    modified: datetime | None = None

    @property
    def href(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


@dataclass(frozen=True)
class Upload:
    bucket: str
    key: str
    upload_id: str
    initiated: datetime | None


def split_href(href: str) -> tuple[str, str]:
    if not href.startswith("s3://"):
        raise StorageError(f"not an s3:// href: {href!r}")
    bucket, _, key = href[5:].partition("/")
    return bucket, key


class ObjectStore:
    """``direct``, when given, carries small PUTs and GETs (see ``direct_s3``); everything else goes through boto3."""

    def __init__(self, client: Any, direct: DirectS3 | None = None):
        self.client = client
        self.direct = direct

    def _fail(self, operation: str, bucket: str, key: str, exc: ClientError) -> StorageError:
        code = exc.response.get("Error", {}).get("Code", "?")
        return StorageError(f"s3 {operation} s3://{bucket}/{key} failed: {code}")

    def head(self, bucket: str, key: str) -> ObjectInfo | None:
        try:
            response = self.client.head_object(Bucket=bucket, Key=key)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return None
            raise self._fail("head", bucket, key, exc) from None
        metadata = {k.lower(): v for k, v in (response.get("Metadata") or {}).items()}
        return ObjectInfo(bucket, key, int(response["ContentLength"]), metadata.get(MD5_META))

    def put(
        self,
        bucket: str,
        key: str,
        data: bytes | bytearray | memoryview,
        md5_hex: str,
        metadata: dict[str, str] | None = None,
    ) -> None:
        if self.direct is not None:
            self.direct.put(bucket, key, bytes(data), md5_hex, {**(metadata or {}), MD5_META: md5_hex})
            return
        try:
            self.client.put_object(
                Bucket=bucket,
                Key=key,
                Body=bytes(data),
                ContentMD5=base64.b64encode(bytes.fromhex(md5_hex)).decode(),
                Metadata={**(metadata or {}), MD5_META: md5_hex},
            )
        except ClientError as exc:
            raise self._fail("put", bucket, key, exc) from None

    def put_json(self, bucket: str, key: str, document: Any) -> None:
        """A record of rs-assets' own (manifest, plan, check record) as compact JSON, checked by its MD5."""
        body = json.dumps(document, separators=(",", ":")).encode()
        self.put(bucket, key, body, hashlib.md5(body).hexdigest())

    async def put_async(
        self, http: aiohttp.ClientSession, bucket: str, key: str, data: bytes | bytearray, md5_hex: str
    ) -> None:
        """``put`` on an asyncio session; needs direct PUTs (an S3 endpoint URL)."""
        if self.direct is None:
            raise StorageError(f"s3 put s3://{bucket}/{key}: asyncio PUTs need an S3 endpoint URL")
        await self.direct.put_async(http, bucket, key, data, md5_hex, {MD5_META: md5_hex})

    def upload_file(
        self, bucket: str, key: str, path: str, single_put_limit: int = 32 * 1024 * 1024
    ) -> ObjectInfo:
        """Upload a local file (an archive member) with its MD5 recorded; large files go up in parts."""
        digest = hashlib.md5()
        size = 0
        with open(path, "rb") as handle:
            while chunk := handle.read(1 << 20):
                digest.update(chunk)
                size += len(chunk)
        md5_hex = digest.hexdigest()
        if size <= single_put_limit:
            with open(path, "rb") as handle:
                self.put(bucket, key, handle.read(), md5_hex)
        else:
            try:
                self.client.upload_file(path, bucket, key, ExtraArgs={"Metadata": {MD5_META: md5_hex}})
            except (ClientError, S3UploadFailedError) as exc:
                raise StorageError(f"s3 upload s3://{bucket}/{key} failed: {exc}") from None
        return ObjectInfo(bucket, key, size, md5_hex)

    def copy(self, bucket: str, key: str, to_bucket: str, to_key: str) -> None:
        """Server-side copy (multipart for large objects), metadata included."""
        try:
            self.client.copy({"Bucket": bucket, "Key": key}, to_bucket, to_key)
        except ClientError as exc:
            raise self._fail(f"copy to s3://{to_bucket}/{to_key} of", bucket, key, exc) from None

    def download_to(self, bucket: str, key: str, handle: IO[bytes]) -> None:
        try:
            self.client.download_fileobj(bucket, key, handle)
        except ClientError as exc:
            raise self._fail("get", bucket, key, exc) from None

    def read(self, bucket: str, key: str) -> bytes | None:
        """A (small) object's bytes, None when there is none."""
        if self.direct is not None:
            return self.direct.get(bucket, key)
        try:
            return self.client.get_object(Bucket=bucket, Key=key)["Body"].read()
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return None
            raise self._fail("get", bucket, key, exc) from None

    def delete(self, bucket: str, key: str) -> None:
        try:
            self.client.delete_object(Bucket=bucket, Key=key)
        except ClientError as exc:
            raise self._fail("delete", bucket, key, exc) from None

    def delete_many(self, bucket: str, keys: builtins.list[str]) -> builtins.list[str]:
        """Delete ``keys``, 1,000 per request (S3 DeleteObjects, quiet); the ones S3 refused, each with its reason.
        A key already gone counts as deleted."""
        refused: builtins.list[str] = []
        for start in range(0, len(keys), 1000):
            batch = keys[start : start + 1000]
            try:
                answer = self.client.delete_objects(
                    Bucket=bucket, Delete={"Objects": [{"Key": k} for k in batch], "Quiet": True}
                )
            except ClientError as exc:
                raise self._fail("delete", bucket, batch[0], exc) from None
            refused += [
                f"s3://{bucket}/{e.get('Key')}: {e.get('Code')} {e.get('Message', '')}".strip()
                for e in answer.get("Errors", [])
            ]
        return refused

    def list(self, bucket: str, prefix: str) -> Iterator[ObjectInfo]:
        paginator = self.client.get_paginator("list_objects_v2")
        try:
            for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
                for entry in page.get("Contents", []):
                    yield ObjectInfo(
                        bucket,
                        entry["Key"],
                        int(entry["Size"]),
                        None,
                        str(entry.get("ETag", "")).strip('"'),
                        entry.get("LastModified"),
                    )
        except ClientError as exc:
            raise self._fail("list", bucket, prefix, exc) from None

    # -- multipart: the completion is the commit point ---------------------------------------------------

    def uploads(self, bucket: str, prefix: str = "") -> Iterator[Upload]:
        """Multipart uploads in progress (never completed, never aborted) under ``prefix``."""
        markers: dict[str, str] = {}
        while True:
            try:
                response = self.client.list_multipart_uploads(Bucket=bucket, Prefix=prefix, **markers)
            except ClientError as exc:
                raise self._fail("list uploads", bucket, prefix, exc) from None
            for upload in response.get("Uploads", []):
                yield Upload(bucket, upload["Key"], upload["UploadId"], upload.get("Initiated"))
            following = {
                "KeyMarker": response.get("NextKeyMarker", ""),
                "UploadIdMarker": response.get("NextUploadIdMarker", ""),
            }
            if not response.get("IsTruncated") or following == markers:
                return
            markers = following

    def abort_stale_uploads(self, bucket: str, key: str) -> int:
        """Abort multipart uploads a killed run left on ``key``; they never became visible objects."""
        stale = [u for u in self.uploads(bucket, key) if u.key == key]
        for upload in stale:
            self.abort(bucket, key, upload.upload_id)
        return len(stale)

    def start_multipart(self, bucket: str, key: str, metadata: dict[str, str]) -> str:
        try:
            return self.client.create_multipart_upload(Bucket=bucket, Key=key, Metadata=metadata)["UploadId"]
        except ClientError as exc:
            raise self._fail("create multipart", bucket, key, exc) from None

    def upload_part(self, bucket: str, key: str, upload_id: str, number: int, data: bytes) -> dict[str, Any]:
        """Each part carries a CRC32 that S3 verifies, so a part corrupted on the way is refused."""
        try:
            response = self.client.upload_part(
                Bucket=bucket,
                Key=key,
                UploadId=upload_id,
                PartNumber=number,
                Body=data,
                ChecksumAlgorithm="CRC32",
            )
        except ClientError as exc:
            raise self._fail(f"upload part {number}", bucket, key, exc) from None
        return {"PartNumber": number, "ETag": response["ETag"]}

    def complete(self, bucket: str, key: str, upload_id: str, parts: builtins.list[dict[str, Any]]) -> None:
        try:
            self.client.complete_multipart_upload(
                Bucket=bucket,
                Key=key,
                UploadId=upload_id,
                MultipartUpload={"Parts": sorted(parts, key=lambda p: p["PartNumber"])},
            )
        except ClientError as exc:
            raise self._fail("complete multipart", bucket, key, exc) from None

    def abort(self, bucket: str, key: str, upload_id: str) -> None:
        try:
            self.client.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)
        except ClientError as exc:
            raise self._fail("abort multipart", bucket, key, exc) from None
