"""Directory trees (a SAFE directory, a Zarr store) to and from S3, in parallel, each object checked.

A store is uploaded with its root metadata last, so that it only becomes openable once complete.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from ..errors import RsAssetsError
from .object_store import ObjectStore

ROOT_METADATA = frozenset({"zarr.json", ".zattrs", ".zgroup", ".zmetadata"})
PARALLEL_IO = 16
SINGLE_GET = 8 * 1024 * 1024


def fetch_tree(store: ObjectStore, bucket: str, prefix: str, target: Path) -> int:
    """Every object under ``prefix`` into ``target``, each checked against its listed size."""
    objects = {o.key: o for o in store.list(bucket, prefix) if not o.key.endswith("/")}
    if not objects:
        raise RsAssetsError(f"no objects under s3://{bucket}/{prefix}: nothing to fetch")
    for key in objects:
        relative = key[len(prefix) :]
        if relative.startswith("/") or ".." in Path(relative).parts:
            raise RsAssetsError(f"refusing object key {key!r}: it escapes the product directory")
    for folder in sorted({(target / key[len(prefix) :]).parent for key in objects}):
        folder.mkdir(parents=True, exist_ok=True)  # once each, not once per object

    def fetch(info: Any) -> int:
        local = target / info.key[len(prefix) :]
        if info.size <= SINGLE_GET:  # one GET: the managed download costs a HEAD and a thread pool per object
            local.write_bytes(store.read(bucket, info.key) or b"")
        else:
            with local.open("wb") as handle:
                store.download_to(bucket, info.key, handle)
        if local.stat().st_size != info.size:
            raise RsAssetsError(
                f"s3://{bucket}/{info.key}: fetched {local.stat().st_size} bytes, the listing says {info.size}"
            )
        return info.size

    with ThreadPoolExecutor(PARALLEL_IO) as pool:
        return sum(pool.map(fetch, objects.values()))


def upload_store(store: ObjectStore, local: Path, bucket: str, key: str) -> tuple[int, int]:
    """Upload a store directory with its root metadata last; objects a previous write left are removed."""
    files = sorted(p for p in local.rglob("*") if p.is_file())
    roots = [p for p in files if p.parent == local and p.name in ROOT_METADATA]
    body = [p for p in files if p not in roots]

    def put(path: Path) -> int:
        return store.upload_file(bucket, f"{key}/{path.relative_to(local).as_posix()}", str(path)).size

    with ThreadPoolExecutor(PARALLEL_IO) as pool:
        earlier = pool.submit(lambda: [o.key for o in store.list(bucket, f"{key}/")])
        size = sum(pool.map(put, body))
    size += sum(put(p) for p in roots)
    written = {f"{key}/{p.relative_to(local).as_posix()}" for p in files}
    for stale in [k for k in earlier.result() if k not in written]:
        store.delete(bucket, stale)
    return len(files), size
