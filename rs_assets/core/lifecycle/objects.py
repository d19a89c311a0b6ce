"""The objects an item's assets name, and their deletion: what expiry, conversion and the orphan sweep share.

Only ``s3://`` hrefs into the buckets the rules name are ours to delete; an href ending in ``/`` names a directory
(an unpacked SAFE), whose objects are listed first. Deletes go in S3 ``DeleteObjects`` batches, several in flight:
a server answers a batch only once every key of it is gone.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ..storage.object_store import ObjectStore, split_href

DELETE_BATCH = 500
DELETES_IN_FLIGHT = 8
ObjectRef = tuple[str, str]  # (bucket, key); a key ending in "/" is a directory


def item_objects(item: Mapping[str, Any], buckets: Collection[str]) -> tuple[list[ObjectRef], list[str]]:
    """The objects of ``item`` in ``buckets``, and its assets that point into S3 elsewhere (named, with href)."""
    objects: list[ObjectRef] = []
    outside: list[str] = []
    for name, asset in item.get("assets", {}).items():
        href = str(asset.get("href", ""))
        if not href.startswith("s3://"):
            continue  # a station's or another service's: nothing of ours
        bucket, key = split_href(href)
        if bucket in buckets and key:
            objects.append((bucket, key))
        else:
            outside.append(f"{name} at {href}")
    return objects, outside


def delete_objects(
    store: ObjectStore, objects: Iterable[ObjectRef], on_deleted: Callable[[int], None] | None = None
) -> tuple[int, list[str]]:
    """Delete ``objects`` (directories with everything under them); returns how many keys went and the refusals,
    each naming its key."""
    by_bucket: defaultdict[str, list[str]] = defaultdict(list)
    for bucket, key in objects:
        if key.endswith("/"):
            by_bucket[bucket] += [o.key for o in store.list(bucket, key)]
        else:
            by_bucket[bucket].append(key)
    batches = [
        (bucket, keys[start : start + DELETE_BATCH])
        for bucket, keys in sorted(by_bucket.items())
        for start in range(0, len(keys), DELETE_BATCH)
    ]
    deleted, refused = 0, []
    with ThreadPoolExecutor(DELETES_IN_FLIGHT, thread_name_prefix="delete") as pool:
        for (_, batch), failed in zip(
            batches, pool.map(lambda b: store.delete_many(*b), batches), strict=True
        ):
            refused += failed
            deleted += len(batch) - len(failed)
            if on_deleted:
                on_deleted(len(batch))
    return deleted, refused
