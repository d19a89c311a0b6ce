"""What a staging run wrote, kept in S3 so that publication can run (and re-run) on its own.

Staging writes the items whose objects are verified; publication reads them back. If the catalog is down,
staging still completes, and the next publication catches up without downloading anything again.
"""

from __future__ import annotations

import hashlib
import json
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from ..errors import RsAssetsError
from .object_store import ObjectStore

MANIFEST_PREFIX = "_rs-assets/manifests"
PUBLISHED_SUFFIX = ".published.json"  # beside a manifest: the ids its publication inserted


@dataclass(frozen=True)
class ManifestEntry:
    collection: str
    item: dict[str, Any]


def manifest_prefix(family: str) -> str:
    return f"{MANIFEST_PREFIX}/{family}/"


def manifest_key(family: str, partition: str) -> str:
    safe = partition.replace("/", "_")
    return f"{manifest_prefix(family)}{safe}.json"


def published_record_key(manifest: str) -> str:
    return f"{manifest.removesuffix('.json')}{PUBLISHED_SUFFIX}"


def write_manifest(store: ObjectStore, bucket: str, key: str, entries: list[ManifestEntry]) -> None:
    store.put_json(bucket, key, [{"collection": e.collection, "item": e.item} for e in entries])


def read_manifest(store: ObjectStore, bucket: str, key: str) -> list[ManifestEntry] | None:
    """None when no staging run wrote one yet."""
    body = store.read(bucket, key)
    if body is None:
        return None
    try:
        return [ManifestEntry(entry["collection"], entry["item"]) for entry in json.loads(body)]
    except (ValueError, KeyError, TypeError) as exc:
        raise RsAssetsError(f"manifest s3://{bucket}/{key} is unreadable: {exc}") from None


def merge(old: list[ManifestEntry] | None, new: list[ManifestEntry]) -> list[ManifestEntry]:
    """Entries of ``new`` replace those of ``old`` with the same collection and id; the rest are kept."""
    merged = {(e.collection, e.item["id"]): e for e in old or []}
    merged.update({(e.collection, e.item["id"]): e for e in new})
    return list(merged.values())


def add_to_manifest(store: ObjectStore, bucket: str, key: str, entries: list[ManifestEntry]) -> None:
    """Merge ``entries`` into the manifest at ``key``: a re-run adds to what earlier runs recorded."""
    if entries:
        write_manifest(store, bucket, key, merge(read_manifest(store, bucket, key), entries))


class Ledger:
    """The manifest of one partition plus an in-progress marker.

    The marker exists only while a staging run is under way, so finding it at the start means the previous
    run was killed: only then can objects exist that the manifest does not list, and only then is each key
    looked up before downloading. A clean history needs no lookup per file.
    """

    def __init__(self, store: ObjectStore, bucket: str, family: str, partition: str):
        self.store, self.bucket = store, bucket
        self.key = manifest_key(family, partition)
        self.marker = self.key.removesuffix(".json") + ".running"
        self._opening: Future[tuple[list[ManifestEntry], bool]] | None = None

    def begin_open(self) -> None:
        """Open in the background, so that its requests overlap the caller's station listing.

        If the listing then fails, the marker stays and the next run looks every key up: slower, never wrong.
        """
        if self._opening is None:
            worker = ThreadPoolExecutor(1, thread_name_prefix="ledger")
            self._opening = worker.submit(self._open)
            worker.shutdown(wait=False)

    def open(self) -> tuple[list[ManifestEntry], bool]:
        """(entries of the last runs, whether the previous run was interrupted); the marker is then set."""
        self.begin_open()
        assert self._opening is not None
        return self._opening.result()

    def _open(self) -> tuple[list[ManifestEntry], bool]:
        entries = read_manifest(self.store, self.bucket, self.key) or []
        interrupted = self.store.head(self.bucket, self.marker) is not None
        body = b"staging in progress"
        self.store.put(self.bucket, self.marker, body, hashlib.md5(body).hexdigest())
        return entries, interrupted

    def save(self, entries: list[ManifestEntry]) -> None:
        write_manifest(self.store, self.bucket, self.key, entries)

    def close(self, entries: list[ManifestEntry]) -> None:
        self.save(entries)
        self.store.delete(self.bucket, self.marker)
