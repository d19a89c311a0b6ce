"""A malicious archive staged in S3 is refused by normalization: nothing written, item untouched."""

from __future__ import annotations

import io
import stat
import tarfile
import zipfile
from pathlib import Path

import pytest

from rs_assets.core.archives.normalization import normalize_item
from rs_assets.core.archives.unpack import Limits, UnsafeArchive
from rs_assets.core.catalog import OwnerNamespace, SqliteCatalog
from rs_assets.core.storage.object_store import ObjectStore
from tests.integration.platform import s3_client


def _zip(members: dict[str, tuple[bytes, int]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, (data, mode) in members.items():
            info = zipfile.ZipInfo(name)
            info.external_attr = mode << 16
            archive.writestr(info, data, compress_type=zipfile.ZIP_DEFLATED)
    return buffer.getvalue()


def _tar_symlink() -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        ok = tarfile.TarInfo("X/ok.txt")
        ok.size = 2
        archive.addfile(ok, io.BytesIO(b"ok"))
        link = tarfile.TarInfo("X/passwd")
        link.type = tarfile.SYMTYPE
        link.linkname = "/etc/passwd"
        archive.addfile(link)
    return buffer.getvalue()


REG = stat.S_IFREG | 0o644
CASES = {
    "traversal.zip": _zip({"X/ok.txt": (b"ok", REG), "X/../../../escaped.txt": (b"evil", REG)}),
    "symlink.tar.gz": _tar_symlink(),
    "bomb.zip": _zip({"X/zeros.bin": (bytes(40 * 1024 * 1024), REG)}),
}


class SmallLimits(Limits):
    def __init__(self) -> None:
        super().__init__(max_total_bytes=8 * 1024 * 1024)


@pytest.mark.parametrize("name", sorted(CASES))
def test_malicious_archive_is_refused_with_nothing_written(
    s3_endpoint: str, tmp_path: Path, unique: str, name: str
) -> None:
    client = s3_client(s3_endpoint)
    bucket = f"evil-{unique}"
    client.create_bucket(Bucket=bucket)
    key = f"copernicus/s1-aux/{name}/{name}"
    client.put_object(Bucket=bucket, Key=key, Body=CASES[name])
    catalog = SqliteCatalog(tmp_path / "c.sqlite", OwnerNamespace())
    catalog.ensure_collection("s1-aux")
    item = {
        "type": "Feature",
        "stac_version": "1.1.0",
        "id": name,
        "geometry": None,
        "properties": {"datetime": "2024-11-14T00:00:00Z"},
        "links": [],
        "assets": {name: {"href": f"s3://{bucket}/{key}", "roles": ["data"]}},
    }
    catalog.upsert_items("s1-aux", [item])
    with pytest.raises(UnsafeArchive):
        normalize_item(item, "s1-aux", ObjectStore(client), catalog, SmallLimits)
    keys = [o["Key"] for o in client.list_objects_v2(Bucket=bucket).get("Contents", [])]
    assert keys == [key]
    stored = catalog.get_item("s1-aux", name)
    assert stored is not None and list(stored["assets"]) == [name]
