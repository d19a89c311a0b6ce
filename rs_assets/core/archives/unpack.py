"""Unpacking AUX archives (zip, tar, tgz, tar.gz, nested tars) safely into a local directory.

Archives come from outside: every member is checked before a byte is written. Absolute paths, ``..``,
links and device files are refused; the total extracted size and the number of entries are bounded while
extracting (counting real bytes, not the sizes the archive claims), so a bomb stops at the bound.
"""

from __future__ import annotations

import shutil
import stat
import tarfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO

from ..errors import RsAssetsError

ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".tar", ".zip")
NESTED_SUFFIXES = (".tar.gz", ".tgz", ".tar")
_COPY_CHUNK = 1 << 20


class UnsafeArchive(RsAssetsError):
    """An archive member that would escape the target, is a link or device, or breaks a bound."""


def archive_suffix(name: str) -> str | None:
    lowered = name.lower()
    return next((s for s in ARCHIVE_SUFFIXES if lowered.endswith(s)), None)


def strip_archive_suffix(name: str) -> str:
    suffix = archive_suffix(name)
    return name[: -len(suffix)] if suffix else name


@dataclass
class Limits:
    max_total_bytes: int = 4 * 1024**3
    max_entries: int = 20_000
    max_depth: int = 3
    written: int = field(default=0, init=False)
    entries: int = field(default=0, init=False)

    def count_entry(self, archive: str, member: str) -> None:
        self.entries += 1
        if self.entries > self.max_entries:
            raise UnsafeArchive(f"{archive}: more than {self.max_entries} entries (stopped at {member!r})")

    def count_bytes(self, archive: str, member: str, amount: int) -> None:
        self.written += amount
        if self.written > self.max_total_bytes:
            raise UnsafeArchive(
                f"{archive}: extracts to more than {self.max_total_bytes} bytes (stopped in {member!r}); refusing a bomb"
            )


def _safe_target(root: Path, archive: str, member: str) -> Path:
    path = PurePosixPath(member.replace("\\", "/"))
    if path.is_absolute() or member.startswith(("/", "\\")) or (len(member) > 1 and member[1] == ":"):
        raise UnsafeArchive(f"{archive}: member {member!r} has an absolute path")
    if any(part == ".." for part in path.parts):
        raise UnsafeArchive(f"{archive}: member {member!r} escapes the target directory")
    target = (root / Path(*path.parts)).resolve() if path.parts else root.resolve()
    if not target.is_relative_to(root.resolve()):
        raise UnsafeArchive(f"{archive}: member {member!r} escapes the target directory")
    return target


def _copy(source: IO[bytes], target: Path, limits: Limits, archive: str, member: str) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("wb") as out:
        while chunk := source.read(_COPY_CHUNK):
            limits.count_bytes(archive, member, len(chunk))
            out.write(chunk)


def _extract_zip(path: Path, root: Path, limits: Limits) -> None:
    name = path.name
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            limits.count_entry(name, info.filename)
            target = _safe_target(root, name, info.filename)
            mode = info.external_attr >> 16
            if stat.S_ISLNK(mode):
                raise UnsafeArchive(f"{name}: member {info.filename!r} is a symbolic link")
            # Many zips carry only permission bits; refuse only an explicit non-regular file type.
            if stat.S_IFMT(mode) not in (0, stat.S_IFREG, stat.S_IFDIR):
                raise UnsafeArchive(f"{name}: member {info.filename!r} is not a regular file")
            if info.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            with archive.open(info) as source:
                _copy(source, target, limits, name, info.filename)


def _extract_tar(path: Path, root: Path, limits: Limits) -> None:
    name = path.name
    with tarfile.open(path, mode="r:*") as archive:
        for member in archive:
            limits.count_entry(name, member.name)
            target = _safe_target(root, name, member.name)
            if member.issym() or member.islnk():
                raise UnsafeArchive(f"{name}: member {member.name!r} is a link")
            if member.isdir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            if not member.isreg():
                raise UnsafeArchive(f"{name}: member {member.name!r} is a device, FIFO or other special file")
            source = archive.extractfile(member)
            if source is None:
                raise UnsafeArchive(f"{name}: member {member.name!r} cannot be read")
            _copy(source, target, limits, name, member.name)


def extract(path: Path, root: Path, limits: Limits | None = None) -> int:
    """Extract ``path`` and the tar archives nested in it into ``root``; returns how many nested ones.

    Nested archives are extracted in place (next to where they were) and then removed, as the RS workflow
    does, so that what is uploaded is the flat content.
    """
    limits = limits or Limits()
    root.mkdir(parents=True, exist_ok=True)
    _extract_one(path, root, limits)
    nested = 0
    for depth in range(limits.max_depth):
        found = [
            p for p in sorted(root.rglob("*")) if p.is_file() and p.name.lower().endswith(NESTED_SUFFIXES)
        ]
        if not found:
            return nested
        for archive in found:
            _extract_tar(archive, archive.parent, limits)
            archive.unlink()
            nested += 1
        if depth == limits.max_depth - 1 and any(
            p.is_file() and p.name.lower().endswith(NESTED_SUFFIXES) for p in root.rglob("*")
        ):
            raise UnsafeArchive(f"{path.name}: archives nested deeper than {limits.max_depth} levels")
    return nested


def _extract_one(path: Path, root: Path, limits: Limits) -> None:
    suffix = archive_suffix(path.name)
    try:
        if suffix == ".zip":
            _extract_zip(path, root, limits)
        elif suffix is not None:
            _extract_tar(path, root, limits)
        else:
            raise UnsafeArchive(f"{path.name}: not an archive (.zip, .tar, .tgz, .tar.gz)")
    except (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError) as exc:
        raise UnsafeArchive(f"{path.name}: corrupt or unreadable archive: {exc}") from None


def upload_root(root: Path) -> Path:
    """A single top-level directory (``X.SAFE/``) is the content itself; anything else uploads as is."""
    children = list(root.iterdir())
    if len(children) == 1 and children[0].is_dir():
        return children[0]
    return root


def files_under(root: Path) -> list[tuple[str, Path]]:
    """(relative posix path, local path) of every regular file, sorted."""
    return sorted((p.relative_to(root).as_posix(), p) for p in root.rglob("*") if p.is_file())


def clear(root: Path) -> None:
    shutil.rmtree(root, ignore_errors=True)
