"""Deterministic bytes for simulated files: fast patterned chunks, and real archives for products."""

from __future__ import annotations

import hashlib
import io
import random
import stat
import tarfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

from rs_assets.core.archives.unpack import strip_archive_suffix

_PATTERN_SIZE = 4 * 1024 * 1024
_EPOCH = (2024, 1, 1, 0, 0, 0)


class PatternContent:
    """Content of a CADIP chunk: a seeded 4 MiB pattern rotated per file, served at any offset in O(1).

    Rotation keeps two files' bytes different while serving gigabytes at memory speed, so the simulator is
    never the bottleneck of a staging benchmark.
    """

    def __init__(self, seed: int):
        pattern = random.Random(seed).randbytes(_PATTERN_SIZE)
        self._doubled = memoryview(pattern + pattern)

    @staticmethod
    def shift(key: str) -> int:
        return int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big") % _PATTERN_SIZE

    def iter_range(self, key: str, start: int, stop: int, chunk: int = 1 << 20) -> Iterator[memoryview]:
        shift = self.shift(key)
        position = start
        while position < stop:
            offset = (position + shift) % _PATTERN_SIZE
            length = min(chunk, stop - position, _PATTERN_SIZE)
            yield self._doubled[offset : offset + length]
            position += length

    def read(self, key: str, start: int, stop: int) -> bytes:
        return b"".join(bytes(part) for part in self.iter_range(key, start, stop))

    def md5(self, key: str, size: int) -> str:
        digest = hashlib.md5()
        for part in self.iter_range(key, 0, size):
            digest.update(part)
        return digest.hexdigest()


def _payload(rng: random.Random, size: int, text: bool) -> bytes:
    if not text:
        return rng.randbytes(size)
    words = [b"<value>", b"</value>", b"12.5", b"orbit", b"state", b"vector", b"\n"]
    out = bytearray()
    while len(out) < size:
        out += rng.choice(words) + b" "
    return bytes(out[:size])


def _tar_bytes(members: dict[str, bytes], compress: bool) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz" if compress else "w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = 1_704_067_200
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(data))
    if compress:
        # gzip headers carry a timestamp: pin it so the same seed gives the same bytes and MD5.
        raw = bytearray(buffer.getvalue())
        raw[4:8] = b"\x00\x00\x00\x00"
        return bytes(raw)
    return buffer.getvalue()


def _zip_bytes(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            info = zipfile.ZipInfo(name, date_time=_EPOCH)
            info.external_attr = (stat.S_IFREG | 0o644) << 16
            archive.writestr(info, data, zipfile.ZIP_DEFLATED)
    return buffer.getvalue()


def zip_directory(root: Path) -> bytes:
    """A SAFE directory as a station serves it: ``X.SAFE.zip`` holding ``X.SAFE/...``, byte-stable."""
    return _zip_bytes(
        {
            f"{root.name}/{p.relative_to(root).as_posix()}": p.read_bytes()
            for p in sorted(root.rglob("*"))
            if p.is_file()
        }
    )


def archive_members(name: str, seed: int, scale: float) -> dict[str, bytes]:
    """The files an AUX product holds once fully unpacked (nested archives included): the test oracle."""
    rng = random.Random(f"{seed}:{name}")
    stem = strip_archive_suffix(name)
    size = max(64, int(rng.randint(2_000, 60_000) * scale))
    members = {
        f"{stem}/manifest.safe": _payload(rng, 512, text=True),
        f"{stem}/data/{stem.lower()[:24]}.xml": _payload(rng, size, text=True),
    }
    if rng.random() < 0.5:
        members[f"{stem}/data/coefficients.bin"] = _payload(rng, size // 2 + 1, text=False)
    return members


def nested_member(name: str, seed: int) -> str | None:
    """Name of the nested tar.gz some archives carry, decided by the product name; None for flat ones."""
    return "inner/tables.tar.gz" if random.Random(f"nest:{seed}:{name}").random() < 0.4 else None


def nested_members(name: str, seed: int) -> dict[str, bytes]:
    rng = random.Random(f"inner:{seed}:{name}")
    return {
        "tables/table_a.csv": _payload(rng, 900, text=True),
        "tables/table_b.csv": _payload(rng, 700, text=True),
    }


def build_product(name: str, seed: int, scale: float) -> bytes:
    """Bytes of an AUX or PRIP product: a real zip/tar/tgz archive, or a plain file for other names."""
    members = archive_members(name, seed, scale)
    nested = nested_member(name, seed)
    if nested:
        members[f"{strip_archive_suffix(name)}/{nested}"] = _tar_bytes(
            nested_members(name, seed), compress=True
        )
    lowered = name.lower()
    if lowered.endswith(".zip"):
        return _zip_bytes(members)
    if lowered.endswith((".tgz", ".tar.gz")):
        return _tar_bytes(members, compress=True)
    if lowered.endswith(".tar"):
        return _tar_bytes(members, compress=False)
    return b"".join(members.values())
