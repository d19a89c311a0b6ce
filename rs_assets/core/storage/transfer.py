"""Station -> S3 streaming without local disk: verified, resumable, and invisible until complete.

Small files go up in one PUT (S3 checks its Content-MD5); large ones as multipart uploads whose completion is
the commit point, so a final key only ever holds a whole, verified object. An object already present with the
expected size and MD5 is not downloaded again. Batches of small files run on one asyncio loop (``SmallFiles``).
"""

from __future__ import annotations

import asyncio
import hashlib
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Self

import aiohttp

from ..errors import RsAssetsError
from ..station.client import StationClient
from .object_store import MD5_META, ObjectInfo, ObjectStore

MiB = 1024 * 1024


class VerificationError(RsAssetsError):
    """The bytes received do not match what the station announced (size or MD5)."""


@dataclass(frozen=True)
class TransferSettings:
    part_size: int = 32 * MiB
    upload_concurrency: int = 4
    read_chunk: int = 1 * MiB
    small_max: int = 8 * MiB  # held whole in memory between the station and S3


@dataclass(frozen=True)
class Source:
    """What to fetch from a station, and what it must turn out to be."""

    entity: Literal["Files", "Products"]
    entity_id: str
    name: str
    size: int
    md5: str | None = None


@dataclass(frozen=True)
class TransferResult:
    object: ObjectInfo
    skipped: bool
    seconds: float

    @property
    def transferred_bytes(self) -> int:
        return 0 if self.skipped else self.object.size


def file_md5(path: Path) -> str:
    digest = hashlib.md5()
    with path.open("rb") as handle:
        while chunk := handle.read(MiB):
            digest.update(chunk)
    return digest.hexdigest()


def is_verified(existing: ObjectInfo | None, source: Source) -> bool:
    if existing is None or existing.size != source.size:
        return False
    return source.md5 is None or existing.md5 == source.md5.lower()


class Transfer:
    def __init__(self, store: ObjectStore, settings: TransferSettings | None = None):
        self.store = store
        self.settings = settings or TransferSettings()

    def is_small(self, source: Source) -> bool:
        """Whether ``SmallFiles`` can take ``source``: it needs an S3 endpoint URL to PUT to directly."""
        return self.store.direct is not None and source.size <= self.settings.small_max

    def stage(
        self, client: StationClient, source: Source, bucket: str, key: str, *, check_existing: bool = True
    ) -> TransferResult:
        """Copy ``source`` to ``s3://bucket/key`` unless a verified copy is there.

        ``check_existing=False`` skips the lookup when the caller knows the key is free (its ledger says no
        earlier run was interrupted), which saves one request per file on large batches.
        """
        started = time.monotonic()
        existing = self.store.head(bucket, key) if check_existing else None
        if is_verified(existing, source):
            assert existing is not None
            return TransferResult(existing, skipped=True, seconds=time.monotonic() - started)
        stream = client.iter_download(
            source.entity, source.entity_id, expected_size=source.size, chunk_size=self.settings.read_chunk
        )
        where = self.describe(client, source, bucket, key)
        if source.size <= self.settings.part_size:
            info = self._single(stream, source, bucket, key, where)
        else:
            info = self._multipart(stream, source, bucket, key, where)
        return TransferResult(info, skipped=False, seconds=time.monotonic() - started)

    def to_file(self, client: StationClient, source: Source, path: Path) -> TransferResult:
        """Copy ``source`` to a local ``path`` unless a verified copy is there, through the same resumable
        download; the file appears under its name only once whole and verified (``.part`` until then)."""
        started = time.monotonic()
        if (
            path.exists()
            and path.stat().st_size == source.size
            and (source.md5 is None or file_md5(path) == source.md5.lower())
        ):
            return TransferResult(
                ObjectInfo("", str(path), source.size, source.md5), True, time.monotonic() - started
            )
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f"{path.name}.part")
        digest, received = hashlib.md5(), 0
        where = f"station {client.name!r} {source.entity}({source.entity_id}) {source.name} -> {path}"
        try:
            with partial.open("wb") as handle:
                for chunk in client.iter_download(
                    source.entity,
                    source.entity_id,
                    expected_size=source.size,
                    chunk_size=self.settings.read_chunk,
                ):
                    handle.write(chunk)
                    digest.update(chunk)
                    received += len(chunk)
            self.verify(received, digest.hexdigest(), source, where)
            partial.replace(path)
        except OSError as exc:
            raise RsAssetsError(f"{where}: {exc.strerror or exc}") from None
        finally:
            partial.unlink(missing_ok=True)
        info = ObjectInfo("", str(path), received, digest.hexdigest())
        return TransferResult(info, skipped=False, seconds=time.monotonic() - started)

    @staticmethod
    def describe(client: StationClient, source: Source, bucket: str, key: str) -> str:
        return f"station {client.name!r} {source.entity}({source.entity_id}) {source.name} -> s3://{bucket}/{key}"

    def verify(self, received: int, digest: str | None, source: Source, where: str) -> None:
        if received != source.size:
            raise VerificationError(f"{where}: received {received} bytes, station announced {source.size}")
        if source.md5 and digest != source.md5.lower():
            raise VerificationError(
                f"{where}: MD5 {digest} does not match the station's {source.md5.lower()}"
            )

    def _single(
        self, stream: Iterator[bytes], source: Source, bucket: str, key: str, where: str
    ) -> ObjectInfo:
        buffer = bytearray()
        digest = hashlib.md5()
        for chunk in stream:
            buffer += chunk
            digest.update(chunk)
        self.verify(len(buffer), digest.hexdigest(), source, where)
        self.store.put(bucket, key, buffer, digest.hexdigest())
        return ObjectInfo(bucket, key, len(buffer), digest.hexdigest())

    def _multipart(
        self, stream: Iterator[bytes], source: Source, bucket: str, key: str, where: str
    ) -> ObjectInfo:
        settings = self.settings
        self.store.abort_stale_uploads(bucket, key)
        # The station's MD5, when it gives one, is recorded up front: completion only happens if it matched.
        metadata = {MD5_META: source.md5.lower()} if source.md5 else {}
        upload_id = self.store.start_multipart(bucket, key, metadata)
        # Only a checksum the station gives can be verified: without one, hashing gigabytes is wasted CPU.
        digest = hashlib.md5() if source.md5 else None
        received = 0
        # Memory stays at (concurrency + 1) parts whatever the file size.
        slots = threading.BoundedSemaphore(settings.upload_concurrency)
        pending: list[Future[dict]] = []
        completed = False
        try:
            with ThreadPoolExecutor(settings.upload_concurrency, thread_name_prefix="s3-part") as pool:

                def submit(number: int, part: bytes) -> None:
                    slots.acquire()
                    future = pool.submit(self.store.upload_part, bucket, key, upload_id, number, part)
                    future.add_done_callback(lambda _: slots.release())
                    pending.append(future)

                chunks: list[memoryview] = []
                buffered = 0
                number = 1
                for chunk in stream:
                    if digest:
                        digest.update(chunk)
                    received += len(chunk)
                    view = memoryview(chunk)
                    while view:
                        head, view = (
                            view[: settings.part_size - buffered],
                            view[settings.part_size - buffered :],
                        )
                        chunks.append(head)
                        buffered += len(head)
                        if buffered == settings.part_size:
                            submit(number, b"".join(chunks))  # the one copy a part costs
                            chunks, buffered, number = [], 0, number + 1
                    for future in [f for f in pending if f.done()]:
                        future.result()
                if chunks:
                    submit(number, b"".join(chunks))
                parts = [future.result() for future in pending]
            self.verify(received, digest.hexdigest() if digest else None, source, where)
            self.store.complete(bucket, key, upload_id, parts)
            completed = True
        finally:
            if not completed:
                self.store.abort(bucket, key, upload_id)
        return ObjectInfo(bucket, key, received, digest.hexdigest() if digest else None)


class SmallFiles:
    """Many small files on one asyncio loop: up to ``parallel`` station downloads and as many S3 PUTs at once,
    at most ``2 * parallel`` bodies in memory. A station connection is free again as soon as its body is in.

    Threads spent most of a small file's time handing the GIL around and parsing HTTP in Python: on the
    benchmark machine 2,000 AUX files took 2.8 s of CPU on eight threads, 1.7 s here.
    """

    def __init__(self, transfer: Transfer, client: StationClient, parallel: int):
        if transfer.store.direct is None:
            raise RsAssetsError("small-file staging needs an S3 endpoint URL (direct PUTs)")
        self.transfer, self.client = transfer, client
        self.station = asyncio.Semaphore(max(1, parallel))
        self.s3 = asyncio.Semaphore(max(1, parallel))
        self.held = asyncio.Semaphore(2 * max(1, parallel))

    async def __aenter__(self) -> Self:
        config = self.client.config
        self.http = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0),
            timeout=aiohttp.ClientTimeout(sock_connect=config.connect_timeout, sock_read=config.read_timeout),
            auto_decompress=False,
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.http.close()

    async def stage(self, source: Source, bucket: str, key: str, *, check_existing: bool) -> TransferResult:
        async with self.held:
            started = time.monotonic()
            if check_existing:
                existing = await asyncio.to_thread(self.transfer.store.head, bucket, key)
                if is_verified(existing, source):
                    assert existing is not None
                    return TransferResult(existing, skipped=True, seconds=time.monotonic() - started)
            async with self.station:
                body = await self.client.fetch(self.http, source.entity, source.entity_id, source.size)
            md5 = hashlib.md5(body).hexdigest()
            self.transfer.verify(
                len(body), md5, source, self.transfer.describe(self.client, source, bucket, key)
            )
            async with self.s3:
                await self.transfer.store.put_async(self.http, bucket, key, body, md5)
            info = ObjectInfo(bucket, key, len(body), md5)
            return TransferResult(info, skipped=False, seconds=time.monotonic() - started)
