import io
import stat
import tarfile
import zipfile
from pathlib import Path

import pytest

from rs_assets.core.archives.unpack import (
    Limits,
    UnsafeArchive,
    extract,
    files_under,
    strip_archive_suffix,
    upload_root,
)


def zip_with(path: Path, members: dict[str, bytes], modes: dict[str, int] | None = None) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (modes or {}).get(name, stat.S_IFREG | 0o644) << 16
            archive.writestr(info, data, compress_type=zipfile.ZIP_DEFLATED)
    return path


def tar_with(path: Path, members: list[tarfile.TarInfo], data: dict[str, bytes] | None = None) -> Path:
    with tarfile.open(path, "w:gz") as archive:
        for info in members:
            payload = (data or {}).get(info.name)
            if payload is not None:
                info.size = len(payload)
            archive.addfile(info, io.BytesIO(payload) if payload is not None else None)
    return path


def entry(name: str, kind: bytes = tarfile.REGTYPE, link: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = link
    return info


@pytest.fixture
def sandbox(tmp_path: Path) -> tuple[Path, Path]:
    """A target inside a sandbox: anything written beside the target is a escape."""
    target = tmp_path / "sandbox" / "target"
    target.parent.mkdir()
    return tmp_path / "sandbox", target


def assert_nothing_outside(sandbox: Path, target: Path) -> None:
    outside = [p for p in sandbox.rglob("*") if not p.is_relative_to(target) and p != target]
    assert outside == []


@pytest.mark.parametrize(
    ("members", "message"),
    [
        ({"../evil.txt": b"x"}, "escapes the target"),
        ({"ok/../../evil.txt": b"x"}, "escapes the target"),
        ({"/etc/evil.txt": b"x"}, "absolute path"),
        ({"C:/evil.txt": b"x"}, "absolute path"),
    ],
)
def test_zip_traversal_is_refused(
    sandbox: tuple[Path, Path], tmp_path: Path, members: dict, message: str
) -> None:
    root, target = sandbox
    with pytest.raises(UnsafeArchive, match=message):
        extract(zip_with(tmp_path / "bad.zip", members), target)
    assert_nothing_outside(root, target)


def test_zip_symlink_is_refused(sandbox: tuple[Path, Path], tmp_path: Path) -> None:
    _root, target = sandbox
    archive = zip_with(tmp_path / "link.zip", {"link": b"/etc/passwd"}, {"link": stat.S_IFLNK | 0o777})
    with pytest.raises(UnsafeArchive, match="symbolic link"):
        extract(archive, target)
    assert not (target / "link").exists()


@pytest.mark.parametrize(
    ("info", "message"),
    [
        (entry("link", tarfile.SYMTYPE, "/etc/passwd"), "is a link"),
        (entry("hard", tarfile.LNKTYPE, "../../etc/passwd"), "is a link"),
        (entry("dev", tarfile.CHRTYPE), "device"),
        (entry("fifo", tarfile.FIFOTYPE), "device"),
        (entry("../up.txt"), "escapes the target"),
        (entry("/abs.txt"), "absolute path"),
    ],
)
def test_tar_links_devices_and_traversal_are_refused(
    sandbox: tuple[Path, Path], tmp_path: Path, info: tarfile.TarInfo, message: str
) -> None:
    root, target = sandbox
    data = {info.name: b"payload"} if info.type == tarfile.REGTYPE else None
    with pytest.raises(UnsafeArchive, match=message):
        extract(tar_with(tmp_path / "bad.tar.gz", [info], data), target)
    assert_nothing_outside(root, target)


def test_zip_bomb_stops_at_the_bound(sandbox: tuple[Path, Path], tmp_path: Path) -> None:
    root, target = sandbox
    bomb = zip_with(tmp_path / "bomb.zip", {"zeros.bin": bytes(50 * 1024 * 1024)})
    assert bomb.stat().st_size < 200_000
    with pytest.raises(UnsafeArchive, match="refusing a bomb"):
        extract(bomb, target, Limits(max_total_bytes=10 * 1024 * 1024))
    assert sum(p.stat().st_size for p in target.rglob("*") if p.is_file()) <= 10 * 1024 * 1024 + (1 << 20)
    assert_nothing_outside(root, target)


def test_too_many_entries(sandbox: tuple[Path, Path], tmp_path: Path) -> None:
    _, target = sandbox
    archive = zip_with(tmp_path / "many.zip", {f"f{i}.txt": b"x" for i in range(30)})
    with pytest.raises(UnsafeArchive, match="more than 20 entries"):
        extract(archive, target, Limits(max_entries=20))


def test_nested_tar_bomb_inside_a_zip_counts_toward_the_same_bound(
    sandbox: tuple[Path, Path], tmp_path: Path
) -> None:
    _, target = sandbox
    inner = tar_with(tmp_path / "inner.tar.gz", [entry("zeros.bin")], {"zeros.bin": bytes(8 * 1024 * 1024)})
    outer = zip_with(tmp_path / "outer.zip", {"X/inner.tar.gz": inner.read_bytes(), "X/a.txt": b"a" * 1000})
    with pytest.raises(UnsafeArchive, match="refusing a bomb"):
        extract(outer, target, Limits(max_total_bytes=4 * 1024 * 1024))


def test_nested_tars_are_extracted_in_place(tmp_path: Path) -> None:
    inner = tar_with(
        tmp_path / "t.tgz",
        [entry("tables/a.csv"), entry("tables/b.csv")],
        {"tables/a.csv": b"a", "tables/b.csv": b"b"},
    )
    outer = zip_with(
        tmp_path / "X.SAFE.zip", {"X.SAFE/manifest.safe": b"m", "X.SAFE/inner/t.tgz": inner.read_bytes()}
    )
    target = tmp_path / "out"
    assert extract(outer, target) == 1
    root = upload_root(target)
    assert root.name == "X.SAFE"
    assert [name for name, _ in files_under(root)] == [
        "inner/tables/a.csv",
        "inner/tables/b.csv",
        "manifest.safe",
    ]


def test_corrupt_archive_is_a_clear_error(tmp_path: Path) -> None:
    broken = tmp_path / "broken.zip"
    broken.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(UnsafeArchive, match=r"broken\.zip: corrupt or unreadable"):
        extract(broken, tmp_path / "out")


@pytest.mark.parametrize(
    ("name", "stem"),
    [
        ("a.zip", "a"),
        ("a.SAFE.zip", "a.SAFE"),
        ("b.TGZ", "b"),
        ("c.tar.gz", "c"),
        ("d.TAR", "d"),
        ("e.EOF", "e.EOF"),
    ],
)
def test_suffixes_case_insensitive(name: str, stem: str) -> None:
    assert strip_archive_suffix(name) == stem
