"""The operator's CLI against the simulator, SeaweedFS and the STAC API, with the code location's settings."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner, Result

from rs_assets.cli import main
from rs_assets.core.catalog import OwnerNamespace, StacApiCatalog
from rs_assets.core.catalog.mapping import product_item_id
from rs_assets.simulator.config import SimStation
from rs_assets.simulator.samples import S1_GRDH
from rs_assets.simulator.server import StationSimulator
from tests.conftest import SimulatorFactory
from tests.integration.platform import Platform, make_platform


@pytest.fixture
def sim(simulator_factory: SimulatorFactory) -> StationSimulator:
    return simulator_factory(
        SimStation(name="INS", kind="cadip", sessions=2, retransfers=0, chunk_size=200_000),
        SimStation(name="ADGS", kind="auxip", products_per_day=30, days=2, product_scale=0.1),
        SimStation(name="PRIP", kind="prip", products_per_day=0, days=1, samples=["s1-grdh"]),
    )


@pytest.fixture
def platform(
    s3_endpoint: str, stac_api_url: str, tmp_path: Path, unique: str, sim: StationSimulator
) -> Platform:
    return make_platform(s3_endpoint, stac_api_url, tmp_path, unique, sim)


@pytest.fixture
def cli(platform: Platform, tmp_path: Path):  # type: ignore[no-untyped-def]
    env = platform.cli_env(tmp_path / "data")

    def run(*args: str) -> Result:
        return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)

    return run


def catalog_of(platform: Platform) -> StacApiCatalog:
    assert platform.catalog_url
    return StacApiCatalog(platform.catalog_url, OwnerNamespace(owner=platform.owner))


def test_stage_session_then_search_the_catalog(cli, sim: StationSimulator, platform: Platform) -> None:  # type: ignore[no-untyped-def]
    sessions, _ = sim.data.stations["INS"].entity_set("Sessions", sim.data.now())
    session_id = sessions[0]["SessionId"]
    result = cli("stage-session", "INS", session_id, "--json")
    assert result.exit_code == 0, result.output
    staged = json.loads(result.stdout)
    assert staged["complete"] is True and staged["failed"] == []
    assert staged["staged"] == staged["files"] > 0
    keys = platform.listing(f"{platform.owner}/s01-cadip-session/{session_id}/")
    assert len(keys) == staged["files"]

    again = cli("stage-session", "INS", session_id, "--json")
    assert json.loads(again.stdout)["skipped"] == staged["files"]

    table = cli("stage-session", "INS", session_id)
    assert "complete" in table.stdout and "channel" in table.stdout

    found = cli("catalog", "search", "s01-cadip-session", "--json")
    assert found.exit_code == 0
    features = json.loads(found.stdout)["features"]
    assert [f["id"] for f in features] == [session_id]
    assert len(features[0]["assets"]) == staged["files"]
    listed = cli("catalog", "collections", "--json")
    assert f"{platform.owner}:s01-cadip-session" in json.loads(listed.stdout)
    assert session_id in cli("catalog", "search", "s01-cadip-session").stdout
    for absent in ("no-such-collection", "../../etc/passwd"):
        refused = cli("catalog", "search", absent)
        assert refused.exit_code == 1, refused.output
        assert (
            f"no collection {absent!r} in the catalog" in refused.output and "Traceback" not in refused.output
        )

    missing = cli("stage-session", "INS", "S1A_nope")
    assert missing.exit_code == 1
    assert "station 'INS' has no session 'S1A_nope'" in missing.output


def test_stage_session_where_every_file_fails_says_why_and_publishes_nothing(
    cli, sim: StationSimulator, platform: Platform
) -> None:  # type: ignore[no-untyped-def]
    session_id = sim.data.stations["INS"].sessions[1]["SessionId"]
    requests.post(
        f"{sim.url}/_sim/faults",
        json={"station": "INS", "faults": {"drop_rate": 1.0, "drop_after_bytes": 0}},
        timeout=10,
    ).raise_for_status()
    result = cli("stage-session", "INS", session_id)
    assert result.exit_code == 1
    failed = [line for line in result.stderr.splitlines() if line.startswith("failed: ")]
    assert failed and all("DCS_" in line and "INS" in line for line in failed), result.stderr
    assert "no item published" in result.stdout
    assert catalog_of(platform).get_item("s01-cadip-session", session_id) is None


def valcover_window(sim: StationSimulator) -> tuple[list[dict], str, list[str]]:
    """ADGS's products, the first one's type, and a window (as CLI options) its validity strictly contains."""
    products, _ = sim.data.stations["ADGS"].entity_set("Products", sim.data.now())
    target = products[0]
    product_type = next(a["Value"] for a in target["Attributes"] if a["Name"] == "productType")
    start, end = target["ContentDate"]["Start"], target["ContentDate"]["End"]
    inside = (start[:11] + "23:59:00.000Z") if start[:10] != end[:10] else start
    window = ["--start", inside, "--end", inside] if inside != start else ["--start", start, "--end", start]
    return products, product_type, window


def test_valcover_staging_of_aux_files(cli, sim: StationSimulator, platform: Platform) -> None:  # type: ignore[no-untyped-def]
    products, product_type, window = valcover_window(sim)
    args = ["valcover", "ADGS", "--type", product_type, "--collection", "cli-valcover"]
    result = cli(*args, *window, "--json")
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    staged = [s["id"] for s in payload["staged"]]
    expected = sorted(
        p["Name"]
        for p in products
        if any(a["Name"] == "productType" and a["Value"] == product_type for a in p["Attributes"])
        and p["ContentDate"]["Start"] < window[1] < p["ContentDate"]["End"]
    )
    assert sorted(payload["selected"]) == expected
    assert sorted(staged) == sorted(product_item_id(name) for name in expected)
    assert catalog_of(platform).existing_ids("cli-valcover", staged) == set(staged)
    again = json.loads(cli(*args, *window, "--json").stdout)
    assert again["staged"] == [] and sorted(again["already_in_catalog"]) == sorted(staged)

    refused = cli("valcover", "INS", "--type", "X", "--collection", "c", *window)
    assert refused.exit_code == 1 and "CADIP station" in refused.output


def test_valcover_table_shows_each_products_real_outcome(
    cli, sim: StationSimulator, platform: Platform
) -> None:  # type: ignore[no-untyped-def]
    _, product_type, window = valcover_window(sim)
    requests.post(
        f"{sim.url}/_sim/faults",
        json={"station": "ADGS", "faults": {"drop_rate": 1.0, "drop_after_bytes": 0}},
        timeout=10,
    ).raise_for_status()
    result = cli("valcover", "ADGS", "--type", product_type, "--collection", "cli-failing", *window)
    assert result.exit_code == 1
    rows = [line for line in result.stdout.splitlines() if line.strip().startswith(("S1", "S2", "S3", "│ S"))]
    assert rows, result.stdout
    assert all("failed:" in row for row in rows), "every product failed: none is listed as staged"
    assert not any(row.rstrip(" │").endswith("staged") for row in rows)


def test_convert_one_product_by_id(cli, sim: StationSimulator, platform: Platform) -> None:  # type: ignore[no-untyped-def]
    pytest.importorskip("eopf")
    result = cli("convert", f"{S1_GRDH}.zip", "--json")
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["collection"] == f"{platform.owner}:s01siwgrd"
    assert payload["store"].startswith(f"s3://{platform.data_bucket}/{platform.owner}/s01siwgrd/")
    assert payload["quicklook"].endswith("_quicklook.png")
    catalog = catalog_of(platform)
    item = catalog.get_item("s01siwgrd", payload["id"])
    assert item is not None and item["properties"]["product:type"] == "S01SIWGRD"
    staged = catalog.get_item("s1-prip-iw_grdh_1s", f"{S1_GRDH}.zip")
    assert staged is not None and staged["assets"] == {}, "the staged item stays as a tombstone"
    assert staged["properties"]["rs:superseded_by"].endswith(f"/items/{payload['id']}")
    search = cli("catalog", "search", "s01siwgrd", "--type", "S01SIWGRD", "--json")
    assert [f["id"] for f in json.loads(search.stdout)["features"]] == [payload["id"]]

    unknown = cli("convert", "S1A_IW_GRDH_1SDV_nope.SAFE.zip")
    assert unknown.exit_code == 1
    assert "neither staged" in unknown.output and "'PRIP'" in unknown.output


def test_stations_check_reports_each_station(cli) -> None:  # type: ignore[no-untyped-def]
    result = cli("stations", "check", "--json")
    assert result.exit_code == 0, result.output
    rows = {r["name"]: r["status"] for r in json.loads(result.stdout)}
    assert rows == {"INS": "reachable", "ADGS": "reachable", "PRIP": "reachable"}


def test_lifecycle_run_and_storage_report(cli, sim: StationSimulator, platform: Platform) -> None:  # type: ignore[no-untyped-def]
    sessions, _ = sim.data.stations["INS"].entity_set("Sessions", sim.data.now())
    session_id = sessions[0]["SessionId"]
    assert cli("stage-session", "INS", session_id).exit_code == 0
    catalog = catalog_of(platform)
    item = catalog.get_item("s01-cadip-session", session_id)
    assert item is not None
    staged = platform.listing(f"{platform.owner}/s01-cadip-session/{session_id}/")
    item["properties"]["expires"] = "2026-01-01T00:00:00.000Z"
    catalog.upsert_items("s01-cadip-session", [item])

    report = json.loads(cli("storage", "report", "--json").stdout)
    usage = next(c for c in report["collections"] if c["collection"].endswith("s01-cadip-session"))
    assert usage["items"] == 1 and usage["bytes"] == sum(staged.values()) == usage["expiring_day"]

    listed = cli("lifecycle", "run", "--dry-run", "--collection", "s01-cadip-session", "--json")
    assert listed.exit_code == 0, listed.output
    plan = json.loads(listed.stdout)["collections"]["s01-cadip-session"]
    assert plan["items"] == [session_id] and plan["objects_deleted"] == 0
    assert platform.listing(f"{platform.owner}/s01-cadip-session/{session_id}/") == staged

    done = cli("lifecycle", "run", "--collection", "s01-cadip-session")
    assert done.exit_code == 0 and "1 items expired" in done.stdout
    assert platform.listing(f"{platform.owner}/s01-cadip-session/{session_id}/") == {}
    expired = catalog.get_item("s01-cadip-session", session_id)
    assert expired is not None and expired["assets"] == {} and expired["properties"]["unpublished"]

    unknown = cli("lifecycle", "run", "--collection", "no-such-collection")
    assert unknown.exit_code == 1 and "does not exist" in unknown.output


def test_lifecycle_sweep_lists_a_planted_orphan_and_deletes_it_only_with_apply(  # type: ignore[no-untyped-def]
    cli, sim: StationSimulator, platform: Platform
) -> None:
    sessions, _ = sim.data.stations["INS"].entity_set("Sessions", sim.data.now())
    assert cli("stage-session", "INS", sessions[0]["SessionId"]).exit_code == 0
    orphan = f"{platform.owner}/s01-cadip-session/left-behind.raw"
    platform.s3.put_object(Bucket=platform.data_bucket, Key=orphan, Body=b"o" * 13)
    upload = platform.s3.create_multipart_upload(Bucket=platform.data_bucket, Key=f"{orphan}.part")[
        "UploadId"
    ]
    staged = platform.listing()
    time.sleep(1.1)  # S3 keeps modification times in seconds

    listed = cli("lifecycle", "sweep", "--grace-hours", "0", "--json")
    assert listed.exit_code == 0, listed.output
    found = json.loads(listed.stdout)
    assert [o["href"] for o in found["orphans"]] == [f"s3://{platform.data_bucket}/{orphan}"]
    assert [u["href"] for u in found["stale_uploads"]] == [f"s3://{platform.data_bucket}/{orphan}.part"]
    assert found["objects_deleted"] == 0 and platform.listing() == staged
    assert (
        "1 orphans (13 bytes), 1 stale uploads (listed only"
        in cli("lifecycle", "sweep", "--grace-hours", "0").stdout
    )
    assert json.loads(cli("lifecycle", "sweep", "--json").stdout)["orphans"] == [], "younger than a day"

    applied = cli("lifecycle", "sweep", "--grace-hours", "0", "--apply")
    assert applied.exit_code == 0 and "1 deleted, 1 aborted" in applied.stdout, applied.output
    assert platform.listing() == {k: v for k, v in staged.items() if k != orphan}
    assert upload not in [
        u["UploadId"]
        for u in platform.s3.list_multipart_uploads(Bucket=platform.data_bucket).get("Uploads", [])
    ]
    bad = cli("lifecycle", "sweep", "--grace-hours", "-1")
    assert bad.exit_code == 2 and "grace-hours" in bad.output
