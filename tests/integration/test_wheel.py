"""The built wheel, installed alone in a clean environment (no dev groups, no extras), loads the code location:
every import the package makes is declared, and the extras are optional."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def uv(*args: str, cwd: Path = ROOT) -> str:
    python = os.environ.get("RS_BASE_PYTHON")
    if not python:
        pytest.skip("RS_BASE_PYTHON (an interpreter with uv) is set by scripts/test")
    done = subprocess.run([python, "-m", "uv", *args], cwd=cwd, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"uv {' '.join(args)}:\n{done.stderr[-3000:]}"
    return done.stdout


def test_the_wheel_alone_loads_the_definitions(tmp_path: Path) -> None:
    uv("build", "--wheel", "--out-dir", str(tmp_path / "dist"))
    [wheel] = list((tmp_path / "dist").glob("rs_assets-*.whl"))
    pins = tmp_path / "pins.txt"
    pins.write_text(uv("export", "--frozen", "--no-dev", "--all-extras", "--no-hashes", "--no-emit-project"))
    venv = tmp_path / "venv"
    uv("venv", "--python", os.environ["RS_BASE_PYTHON"], str(venv))
    uv("pip", "install", "--python", str(venv / "bin" / "python"), str(wheel), "--constraint", str(pins))
    installed = uv("pip", "list", "--python", str(venv / "bin" / "python"))
    for absent in ("pytest", "ruff", "moto", "eopf", "sarsen"):
        assert f"\n{absent} " not in installed, f"{absent} came with the wheel"
    script = (
        "import rs_assets.definitions as d; d.defs.validate_loadable(d.defs); "
        "print(len(list(d.defs.resolve_asset_graph().get_all_asset_keys())))"
    )
    loaded = subprocess.run(
        [str(venv / "bin" / "python"), "-c", script],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={"PATH": os.environ["PATH"], "HOME": str(tmp_path), "RS_ASSETS_DATA_DIR": str(tmp_path / "data")},
        timeout=300,
    )
    assert loaded.returncode == 0, loaded.stderr[-3000:]
    assert int(loaded.stdout.strip().splitlines()[-1]) > 10
