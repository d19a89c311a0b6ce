"""The README's run command brings up the embedded default, and the UI's GraphQL sees the code location."""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import socket
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import boto3
import dagster as dg
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
    assert health["stations"] == ["ADGS", "INS", "LTA", "MPS", "PRIP", "PRIP_S3"]
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
            "adgs/aux_files",
            "--from",
            days[0],
            "--to",
            days[-1],
            "--url",
            url,
            "--wait",
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert launched.returncode == 0, launched.stderr[-2000:]
    backfill = json.loads(launched.stdout)
    assert backfill["partitions"] == days
    assert (backfill["status"], backfill["materialized"], backfill["failed"]) == ("COMPLETED_SUCCESS", 3, 0)
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


MATERIALIZATIONS = """
query($path: [String!]!) { assetOrError(assetKey: {path: $path}) { ... on Asset {
  assetMaterializations(limit: 50) { partition metadataEntries { label
    ... on IntMetadataEntry { intValue } ... on BoolMetadataEntry { boolValue } } } } } }
"""


def _materializations(port: int, asset: str) -> list[dict]:
    body = requests.post(
        f"http://127.0.0.1:{port}/graphql",
        json={"query": MATERIALIZATIONS, "variables": {"path": asset.split("/")}},
        timeout=20,
    ).json()
    found = (body.get("data") or {}).get("assetOrError") or {}
    return [
        {
            "partition": m["partition"],
            **{e["label"]: e.get("intValue", e.get("boolValue")) for e in m["metadataEntries"]},
        }
        for m in found.get("assetMaterializations", [])
    ]


def _catalog_counts(data_dir: str) -> dict[str, int]:
    path = Path(data_dir) / "catalog.sqlite"
    if not path.exists():
        return {}
    with sqlite3.connect(path) as db:
        return dict(db.execute("SELECT collection, count(*) FROM items GROUP BY collection").fetchall())


def test_the_live_demo_stages_converts_and_publishes(dev: dict[str, int]) -> None:
    """What the README promises a newcomer within minutes, without editing anything: sessions, AUX files, and the
    PRIP's real product converted to Zarr, then terrain-corrected with the DEM the AUXIP publishes."""
    _graphql(dev["ui"], time.monotonic() + 300, dev["log"], dev["pid"])  # type: ignore[arg-type]
    deadline = time.monotonic() + 480
    seen: dict[str, object] = {}
    while time.monotonic() < deadline:
        ins, mps = (_materializations(dev["ui"], f"{s}/cadip_sessions") for s in ("ins", "mps"))
        seen = {
            "INS session complete": any(m.get("complete") for m in ins),
            "MPS session with files": any((m.get("files_staged") or 0) > 0 for m in mps),
            "AUX normalized": any(
                (m.get("normalized") or 0) > 0 for m in _materializations(dev["ui"], "adgs/aux_unpacked")
            ),
            "product converted": any(
                (m.get("converted") or 0) > 0 for m in _materializations(dev["ui"], "prip/zarr_products")
            ),
            "product terrain-corrected": any(
                (m.get("outputs_published") or 0) > 0
                for m in _materializations(dev["ui"], "processed_s1_terrain_correction")
            ),
        }
        if all(seen.values()):
            break
        time.sleep(10)
    assert all(seen.values()), f"{seen}\n{Path(dev['log']).read_text()[-3000:]}"  # type: ignore[arg-type]
    counts = _catalog_counts(dev["data"])  # type: ignore[arg-type]
    assert counts.get("copernicus:s01siwgrd") == 1, counts
    assert counts.get("copernicus:s01siwgtc") == 1, counts
    assert counts.get("copernicus:s01-cadip-session", 0) >= 1, counts
    assert sum(n for c, n in counts.items() if c.endswith("-aux")) >= 1, counts


CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def test_a_browser_sees_the_asset_graph_and_a_sessions_completeness(dev: dict[str, int]) -> None:
    """Headless Debian Chromium, driven by Playwright, on the running UI; screenshots under test-output/."""
    playwright = pytest.importorskip("playwright.sync_api")
    chromium = Path("/usr/bin/chromium")
    if not chromium.exists():
        pytest.fail("Debian's chromium is not installed: scripts/test installs it")
    url = f"http://127.0.0.1:{dev['ui']}"
    complete = [m for m in _materializations(dev["ui"], "ins/cadip_sessions") if m.get("complete")]
    assert complete, "the live demo test materializes sessions first"
    partition = complete[0]["partition"]
    shots = ROOT / "test-output" / "browser"
    shots.mkdir(parents=True, exist_ok=True)
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(chromium), args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1600, "height": 1000})
            page.goto(f"{url}/asset-groups")
            _dismiss_welcome(page)
            for group in ("auxip", "cadip", "prip", "conversion", "stations"):
                page.get_by_text(group, exact=True).first.wait_for(timeout=60_000)
            page.screenshot(path=str(shots / "asset-graph.png"))

            page.goto(
                f"{url}/assets/ins/cadip_sessions?view=partitions&partition={quote(partition, safe='')}"
            )
            _dismiss_welcome(page)
            label = page.get_by_text("completeness", exact=True).first
            label.wait_for(timeout=60_000)
            label.scroll_into_view_if_needed()
            text = page.inner_text("body")
            page.screenshot(path=str(shots / "cadip-session-partition.png"))
        finally:
            browser.close()
    assert partition in text
    channels = [line for line in text.splitlines() if "complete (" in line and "blocks)" in line]
    assert len(channels) >= 2, text[-2000:]
    assert (shots / "asset-graph.png").stat().st_size > 10_000
    assert (shots / "cadip-session-partition.png").stat().st_size > 10_000


def _dismiss_welcome(page) -> None:  # type: ignore[no-untyped-def]
    """A fresh instance greets first-time visitors with a newsletter dialog."""
    with contextlib.suppress(Exception):
        page.get_by_role("button", name="Skip").click(timeout=8_000)


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
    with dg.DagsterInstance.from_config(str(Path(dev["data"]) / "dagster")) as instance:  # type: ignore[arg-type]
        left = instance.get_runs(filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED]))
    assert left == [], f"runs left STARTED after Ctrl-C: {[r.run_id for r in left]}"
