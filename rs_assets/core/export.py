"""Export (GeoSPaaS's ``publish``): items and their objects to another S3 endpoint and bucket, and optionally
another STAC API, with the remote hrefs written into the exported items.

The order that keeps a target truthful: the target is asked first (a bucket that refuses the credentials stops
the export with nothing written); per item, every object is copied and verified (size and MD5) before the item is
written (``{prefix}/{collection}/{item id}/{item id}.json`` beside its objects, then the target catalog); an
object already there with the same size and MD5 is not copied again, so a re-run is cheap and an export
interrupted midway is finished by the next one.
"""

from __future__ import annotations

import copy as copying
import hashlib
import tempfile
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from .catalog import Catalog
from .catalog.mapping import declare_used_extensions
from .errors import RsAssetsError
from .storage.object_store import ObjectStore, split_href

Item = dict[str, Any]
DATA_RELS = frozenset({"self", "collection", "parent", "root"})  # the source catalog's own links


@dataclass(frozen=True)
class ExportTarget:
    store: ObjectStore
    endpoint: str
    bucket: str
    prefix: str = ""
    catalog: Catalog | None = None

    def key(self, collection: str, item_id: str, relative: str) -> str:
        return "/".join(p for p in (self.prefix.strip("/"), collection, item_id, relative) if p)


@dataclass
class Exported:
    collection: str
    item_id: str
    objects: int = 0
    copied: int = 0
    bytes: int = 0
    error: str | None = None


@dataclass
class ExportReport:
    exported: list[Exported] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def failed(self) -> list[Exported]:
        return [e for e in self.exported if e.error]


def check_target(target: ExportTarget) -> None:
    """The target bucket answers with these credentials, or an error naming endpoint, bucket and the refusal."""
    try:
        target.store.client.list_objects_v2(Bucket=target.bucket, MaxKeys=1)
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "?")
        raise RsAssetsError(
            f"export target {target.endpoint} bucket {target.bucket!r} refused the request ({code}): nothing exported"
        ) from None
    except BotoCoreError as exc:
        raise RsAssetsError(
            f"export target {target.endpoint} bucket {target.bucket!r} did not answer ({type(exc).__name__}): "
            "nothing exported"
        ) from None


def export_items(
    source: ObjectStore,
    entries: Sequence[tuple[str, Item]],
    target: ExportTarget,
    buckets: Collection[str],
    on_done: Callable[[Exported], None] | None = None,
) -> ExportReport:
    """Export ``(collection, item)`` entries; one item's failure never stops the others."""
    started = time.monotonic()
    check_target(target)
    report = ExportReport()
    for collection, item in entries:
        exported = Exported(collection, item["id"])
        try:
            remote = _export_one(source, collection, item, target, buckets, exported)
            target.store.put_json(
                target.bucket, target.key(collection, item["id"], f"{item['id']}.json"), remote
            )
            if target.catalog is not None:
                target.catalog.ensure_collection(collection)
                target.catalog.upsert_items(collection, [remote])
        except RsAssetsError as exc:
            exported.error = str(exc)
        report.exported.append(exported)
        if on_done:
            on_done(exported)
    report.seconds = time.monotonic() - started
    return report


def _export_one(
    source: ObjectStore,
    collection: str,
    item: Item,
    target: ExportTarget,
    buckets: Collection[str],
    exported: Exported,
) -> Item:
    remote = copying.deepcopy(item)
    for name, asset in remote.get("assets", {}).items():
        href = str(asset.get("href", ""))
        if not href.startswith("s3://"):
            continue
        bucket, key = split_href(href)
        if bucket not in buckets:
            raise RsAssetsError(
                f"item {item['id']}: asset {name} at {href} is outside the configured buckets"
            )
        folder = key.rstrip("/").rsplit("/", 1)[0] + "/"
        listed = list(source.list(bucket, key)) if key.endswith("/") else [source.head(bucket, key)]
        if not listed or listed[0] is None:
            raise RsAssetsError(f"item {item['id']}: asset {name} has no object at {href}")
        for info in listed:
            assert info is not None
            to = target.key(collection, item["id"], info.key.removeprefix(folder))
            exported.objects += 1
            if _copy_across(source, info.bucket, info.key, info.size, info.md5, target, to):
                exported.copied += 1
                exported.bytes += info.size
        relative = key.removeprefix(folder)
        asset["href"] = f"s3://{target.bucket}/{target.key(collection, item['id'], relative)}"
        asset.pop("alternate", None)
    remote["links"] = [link for link in remote.get("links", []) if link.get("rel") not in DATA_RELS]
    remote.pop("collection", None)
    return declare_used_extensions(remote)


def _copy_across(
    source: ObjectStore,
    bucket: str,
    key: str,
    size: int,
    md5: str | None,
    target: ExportTarget,
    to: str,
) -> bool:
    """Copy one object to the other endpoint through a spooled temporary file; True when bytes moved."""
    existing = target.store.head(target.bucket, to)
    if existing is not None and existing.size == size and (md5 is None or existing.md5 == md5):
        return False
    with tempfile.NamedTemporaryFile(prefix="rs-export-") as spool:
        source.download_to(bucket, key, spool)
        spool.flush()
        digest = hashlib.md5()
        spool.seek(0)
        while chunk := spool.read(1 << 20):
            digest.update(chunk)
        if spool.tell() != size or (md5 is not None and digest.hexdigest() != md5):
            raise RsAssetsError(
                f"s3://{bucket}/{key}: read {spool.tell()} bytes or MD5 differ from what S3 lists"
            )
        written = target.store.upload_file(target.bucket, to, spool.name)
    landed = target.store.head(target.bucket, to)
    if landed is None or landed.size != size or written.md5 != digest.hexdigest():
        raise RsAssetsError(
            f"export of s3://{bucket}/{key} to {target.endpoint} s3://{target.bucket}/{to} did not verify"
        )
    return True
