"""The README's run command brings up the embedded default, and the UI's GraphQL sees the code location."""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
QUERY = """
{ workspaceOrError { __typename ... on Workspace { locationEntries { name locationOrLoadError {
  __typename
  ... on RepositoryLocation { name repositories { name assetNodes { assetKey { path } } } }
  ... on PythonError { message }
} } } } }
"""


def _free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def _port_block(size: int) -> int:
    for _ in range(500):
        base = random.randrange(30000, 40000)
        if all(_free(base + i) and _free(base + 10000 + i) for i in range(size)):
            return base
    raise RuntimeError("no free port block")


def _listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture(scope="module")
def dev(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, int]]:
    base = _port_block(12)
    ports = {"ui": base, "sim": base + 1, "s3": base + 3}
    data_dir = str(tmp_path_factory.mktemp("dev-data"))
    ports["data"] = data_dir  # type: ignore[assignment]
    env = {
        **os.environ,
        "RS_ASSETS_DATA_DIR": data_dir,
        "RS_ASSETS_UI_PORT": str(ports["ui"]),
        "RS_ASSETS_SIM_PORT": str(ports["sim"]),
        "RS_ASSETS_S3_PORT": str(ports["s3"]),
    }
    for key in ("RS_ASSETS_S3_ENDPOINT", "RS_ASSETS_CATALOG_URL", "DAGSTER_HOME"):
        env.pop(key, None)
    log_path = tmp_path_factory.mktemp("dev-log") / "dev.log"
    log = log_path.open("w+")
    process = subprocess.Popen(
        [str(ROOT / "scripts" / "dev")],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    ports["pid"] = process.pid
    ports["log"] = log_path  # type: ignore[assignment]
    try:
        yield ports
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGINT)
            try:
                process.wait(timeout=90)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                raise
        log.close()


def _graphql(port: int, deadline: float, log: Path, pid: int) -> dict:
    last: object = None
    while time.monotonic() < deadline:
        if os.waitpid(pid, os.WNOHANG) != (0, 0):
            raise AssertionError(f"scripts/dev exited early:\n{log.read_text()[-3000:]}")
        try:
            response = requests.post(f"http://127.0.0.1:{port}/graphql", json={"query": QUERY}, timeout=10)
            body = response.json()
            entries = body["data"]["workspaceOrError"]["locationEntries"]
            if entries and entries[0]["locationOrLoadError"]:
                return body
            last = body
        except (requests.RequestException, KeyError, TypeError, ValueError) as exc:
            last = exc
        time.sleep(1)
    raise AssertionError(
        f"Dagster UI GraphQL never showed the code location: {last}\n{log.read_text()[-3000:]}"
    )


def test_ui_graphql_answers_with_the_code_location_loaded(dev: dict[str, int]) -> None:
    body = _graphql(dev["ui"], time.monotonic() + 300, dev["log"], dev["pid"])  # type: ignore[arg-type]
    entry = body["data"]["workspaceOrError"]["locationEntries"][0]
    location = entry["locationOrLoadError"]
    assert entry["name"] == "rs_assets"
    assert location["__typename"] == "RepositoryLocation", location
    keys = {
        "/".join(node["assetKey"]["path"]) for repo in location["repositories"] for node in repo["assetNodes"]
    }
    assert {"station/INS", "station/MPS", "station/ADGS", "station/PRIP"} <= keys


def test_simulator_and_s3_of_the_embedded_default_answer(dev: dict[str, int]) -> None:
    health = requests.get(f"http://127.0.0.1:{dev['sim']}/_sim/health", timeout=10).json()
    assert health["stations"] == ["ADGS", "INS", "MPS", "PRIP"]
    s3 = boto3.client(
        "s3",
        endpoint_url=f"http://127.0.0.1:{dev['s3']}",
        region_name="us-east-1",
        aws_access_key_id=os.environ.get("AWS_ACCESS_KEY_ID", "rsassets"),
        aws_secret_access_key=os.environ.get("AWS_SECRET_ACCESS_KEY", "rsassets-local-secret"),
    )
    assert "rs-staging" in [b["Name"] for b in s3.list_buckets()["Buckets"]]


BACKFILL = """
query($id: String!) { partitionBackfillOrError(backfillId: $id) {
  __typename ... on PartitionBackfill { id partitionNames }
} }
"""


def test_backfill_command_launches_on_the_running_instance(dev: dict[str, int]) -> None:
    _graphql(dev["ui"], time.monotonic() + 300, dev["log"], dev["pid"])  # type: ignore[arg-type]
    today = datetime.now(UTC).date()
    days = [(today - timedelta(days=n)).isoformat() for n in (2, 1, 0)]
    url = f"http://127.0.0.1:{dev['ui']}"
    launched = subprocess.run(
        [
            str(ROOT / ".venv" / "bin" / "rs-assets"),
            "backfill",
            "aux_files",
            "--from",
            days[0],
            "--to",
            days[-1],
            "--url",
            url,
            "--json",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    backfill = json.loads(launched.stdout)
    assert backfill["partitions"] == days
    body = requests.post(
        f"{url}/graphql", json={"query": BACKFILL, "variables": {"id": backfill["backfill_id"]}}, timeout=10
    ).json()
    found = body["data"]["partitionBackfillOrError"]
    assert found["__typename"] == "PartitionBackfill" and sorted(found["partitionNames"]) == days
    refused = subprocess.run(
        [
            str(ROOT / ".venv" / "bin" / "rs-assets"),
            "backfill",
            "no_such_asset",
            "--from",
            days[0],
            "--to",
            days[0],
            "--url",
            url,
        ],
        capture_output=True,
        text=True,
    )
    assert refused.returncode == 1 and "no_such_asset" in refused.stderr


def _processes_of(data_dir: str) -> list[str]:
    """Processes whose environment carries this dev instance's data folder: everything scripts/dev started."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            if (
                proc.name.isdigit()
                and f"RS_ASSETS_DATA_DIR={data_dir}".encode() in (proc / "environ").read_bytes()
            ):
                found.append((proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()[:120])
        except OSError:
            continue
    return found


def test_ctrl_c_stops_everything(dev: dict[str, int]) -> None:
    assert _processes_of(dev["data"])  # type: ignore[arg-type]
    os.killpg(dev["pid"], signal.SIGINT)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and (
        any(_listening(dev[k]) for k in ("ui", "sim", "s3")) or _processes_of(dev["data"])  # type: ignore[arg-type]
    ):
        time.sleep(0.5)
    assert not any(_listening(dev[k]) for k in ("ui", "sim", "s3"))
    assert _processes_of(dev["data"]) == []  # type: ignore[arg-type]
