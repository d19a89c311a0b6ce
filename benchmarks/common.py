"""Helpers shared by the benchmarks: a simulator in its own process, timing, peak memory."""

from __future__ import annotations

import json
import os
import resource
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests
import yaml

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def simulator(config: dict, workdir: Path) -> Iterator[str]:
    """Run ``rs-assets simulate`` with ``config`` in its own process; yields its URL."""
    path = workdir / "simulator.yaml"
    path.write_text(yaml.safe_dump(config))
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "rs_assets.cli",
            "simulate",
            "--config",
            str(path),
            "--port",
            str(port),
            "--redirect-port",
            str(free_port()),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                requests.get(f"{url}/_sim/health", timeout=1).raise_for_status()
                break
            except requests.RequestException:
                time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


def settle() -> None:
    """Flush what earlier runs left to write back: gigabytes of dirty pages would slow the next run down."""
    os.sync()


def run_child(module: str, *args: str, env: dict[str, str] | None = None) -> dict:
    """Run ``python -m module args`` and return the JSON it prints last (its own timing and peak RSS)."""
    settle()
    out = subprocess.run(
        [sys.executable, "-m", module, *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        cwd=ROOT,
    )
    if out.returncode:
        raise SystemExit(f"{module} {' '.join(args[:1])} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def report(name: str, lines: list[str]) -> None:
    text = "\n".join(lines) + "\n"
    print(text, end="")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{name}.txt").write_text(text)


def stations_yaml(path: Path, url: str, *stations: dict) -> Path:
    """A stations file for simulated stations at ``url`` (secrets from the benchmark's environment)."""
    oauth = {
        "token_url": f"{url}/auth/token",
        "client_id": "rs-assets",
        "username": "operator",
        "client_secret_env": "RS_SIMULATOR_CLIENT_SECRET",
        "password_env": "RS_SIMULATOR_PASSWORD",
    }
    entries = [{"base_url": f"{url}/{s['name']}/odata/v1", "oauth2": oauth} | s for s in stations]
    path.write_text(yaml.safe_dump({"stations": entries}))
    return path
