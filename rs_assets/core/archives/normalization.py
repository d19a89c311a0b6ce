"""Replace an item's archive assets with their extracted content in S3, as the RS AUX workflow's ``process_asset`` does.

Order matters for safety: extract and upload the content, publish the updated item, and only then delete
the archive. A run killed at any point leaves either the old item with its archive, or the new item with
its content (and perhaps an archive left over, which the next run removes).
"""

from __future__ import annotations

import copy
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..catalog import Catalog
from ..errors import RsAssetsError
from ..storage.ledger import ManifestEntry
from ..storage.object_store import ObjectStore, split_href
from .unpack import Limits, archive_suffix, extract, files_under, strip_archive_suffix, upload_root

Item = dict[str, Any]


@dataclass
class NormalizedItem:
    item_id: str
    archives: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    nested: int = 0
    bytes: int = 0


def archive_assets(item: Item) -> list[str]:
    return [
        name
        for name, asset in item.get("assets", {}).items()
        if archive_suffix(name) and asset.get("href", "").startswith("s3://")
    ]


def normalize_item(
    item: Item, collection: str, store: ObjectStore, catalog: Catalog, limits_factory: type[Limits] = Limits
) -> NormalizedItem:
    result = NormalizedItem(item["id"])
    updated = copy.deepcopy(item)
    archives: list[tuple[str, str]] = []
    with tempfile.TemporaryDirectory(prefix="rs-normalize-") as tmp:
        for name in archive_assets(item):
            asset = updated["assets"].pop(name)
            bucket, key = split_href(asset["href"])
            local = Path(tmp) / name
            with local.open("wb") as handle:
                store.download_to(bucket, key, handle)
            extracted = Path(tmp) / f"extracted-{len(archives)}"
            result.nested += extract(local, extracted, limits_factory())
            local.unlink()
            stem = strip_archive_suffix(name)
            prefix = f"{key.rsplit('/', 1)[0]}/{stem}/"
            total = 0
            for relative, path in files_under(upload_root(extracted)):
                info = store.upload_file(bucket, prefix + relative, str(path))
                result.files.append(info.key)
                total += info.size
            updated["assets"][stem] = {
                **{k: v for k, v in asset.items() if k not in ("file:checksum", "file:size", "type")},
                "href": f"s3://{bucket}/{prefix}",
                "type": "application/x-directory",
                "file:size": total,
                "title": stem,
            }
            result.bytes += total
            archives.append((bucket, key))
            result.archives.append(name)
    catalog.upsert_items(collection, [updated])
    for bucket, key in archives:
        store.delete(bucket, key)
    return result


def leftover_archives(original: Item, current: Item, store: ObjectStore) -> list[str]:
    """Archives of ``original`` that ``current`` no longer references but S3 still holds (a killed run)."""
    referenced = {asset.get("href") for asset in current.get("assets", {}).values()}
    left = []
    for name in archive_assets(original):
        href = original["assets"][name]["href"]
        if href not in referenced and store.head(*split_href(href)) is not None:
            left.append(href)
    return left


@dataclass
class NormalizationReport:
    archives: int = 0
    normalized: list[NormalizedItem] = field(default_factory=list)
    leftovers_removed: int = 0
    failures: list[str] = field(default_factory=list)

    @property
    def files(self) -> int:
        return sum(len(n.files) for n in self.normalized)

    @property
    def nested(self) -> int:
        return sum(n.nested for n in self.normalized)

    @property
    def bytes(self) -> int:
        return sum(n.bytes for n in self.normalized)


def normalize_staged(
    entries: Sequence[ManifestEntry],
    store: ObjectStore,
    catalog: Catalog,
    on_done: Callable[[str | None], None] | None = None,
) -> NormalizationReport:
    """Normalize the published items of a staging ledger that still carry archives; one failure loses no other.

    The catalog's current item is the truth: an item already normalized is left alone, and an archive a
    killed run left behind (no longer referenced by the item) is removed.
    """
    report = NormalizationReport()
    for entry in entries:
        if not archive_assets(entry.item):
            continue
        report.archives += 1
        error = None
        try:
            current = catalog.get_item(entry.collection, entry.item["id"])
            if current is None:
                raise RsAssetsError("not in the catalog yet (it has not been published)")
            if archive_assets(current):
                report.normalized.append(normalize_item(current, entry.collection, store, catalog))
            for href in leftover_archives(entry.item, current, store):
                store.delete(*split_href(href))
                report.leftovers_removed += 1
        except RsAssetsError as exc:
            error = f"{entry.item['id']}: {exc}"
            report.failures.append(error)
        if on_done:
            on_done(error)
    return report
