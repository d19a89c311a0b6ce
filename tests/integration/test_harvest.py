"""``rs-assets harvest``: catalog-only items pointing at the station, nothing downloaded; failed ingestions kept
and retried by the next run; staging later upgrades harvested items to staged ones."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from rs_assets.cli import main
from rs_assets.core.catalog import OwnerNamespace, StacApiCatalog
from rs_assets.core.catalog.mapping import HARVESTED, product_item_id
from rs_assets.core.staging.harvest import record_key
from rs_assets.simulator.config import SimStation
from rs_assets.simulator.server import StationSimulator
from tests.conftest import HISTORY_END, SimulatorFactory
from tests.integration.platform import Platform, make_platform
from tests.integration.test_fetching import attribute, downloads, products, stage_aux_day

DAY = (HISTORY_END - timedelta(days=1)).date()


@pytest.fixture
def sim(simulator_factory: SimulatorFactory) -> StationSimulator:
    return simulator_factory(
        SimStation(name="ADGS", kind="auxip", products_per_day=12, days=2, product_scale=0.05),
        SimStation(name="INS", kind="cadip", sessions=1, days=1, retransfers=0, channels=1, blocks_per_channel=3, chunk_size=3000),
    )  # fmt: skip


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


def window(day: object) -> list[str]:
    return ["--begin", f"{day}T00:00:00Z", "--end", f"{day}T23:59:59.999Z"]


def test_harvest_creates_items_at_the_station_retries_failures_and_staging_upgrades_them(  # type: ignore[no-untyped-def]
    cli, sim: StationSimulator, platform: Platform
) -> None:
    catalog = StacApiCatalog(platform.catalog_url or "", OwnerNamespace(owner=platform.owner))
    day = [p for p in products(sim, "ADGS") if p["PublicationDate"].startswith(DAY.isoformat())]
    refused = str(attribute(day[0], "productType"))
    failing = {p["Name"] for p in day if attribute(p, "productType") == refused}
    rules = platform.rules_file.read_text()
    platform.rules_file.write_text(f"{rules}*,*,{refused},30,fake_bucket\n")

    first = cli("harvest", "ADGS", *window(DAY), "--json")
    assert first.exit_code == 1, first.output
    report = json.loads(first.stdout)
    assert {f.split(":")[0] for f in report["failed"]} == failing and "fake_bucket" in report["failed"][0]
    harvested = {i for ids in report["harvested"].values() for i in ids}
    assert harvested == {product_item_id(p["Name"]) for p in day if p["Name"] not in failing}
    assert platform.listing() == {} and downloads(sim) == 0, "nothing downloaded"
    by_name = {product_item_id(p["Name"]): p for p in day}
    for collection, ids in report["harvested"].items():
        for item_id in ids:
            item = catalog.get_item(collection, item_id)
            assert item is not None and item["properties"][HARVESTED] == "ADGS"
            (asset,) = item["assets"].values()
            assert asset["href"] == f"{sim.station_url('ADGS')}/Products({by_name[item_id]['Id']})/$value"
            assert "expires" not in item["properties"]
    assert platform.s3.head_object(Bucket=platform.system_bucket, Key=record_key("ADGS"))

    platform.rules_file.write_text(rules)
    second = cli("harvest", "ADGS", *window(DAY - timedelta(days=1)), "--json")
    assert second.exit_code == 0, second.output
    again = json.loads(second.stdout)
    assert again["retried"] == len(failing) and again["failed"] == []
    assert {product_item_id(n) for n in failing} <= {i for ids in again["harvested"].values() for i in ids}
    listed = platform.s3.list_objects_v2(Bucket=platform.system_bucket, Prefix=record_key("ADGS"))
    assert listed["KeyCount"] == 0, "nothing left to retry"
    third = json.loads(cli("harvest", "ADGS", *window(DAY), "--json").stdout)
    assert third["already_in_catalog"] == len(day) and not third["harvested"].get("s1-aux")

    stage_aux_day(platform)
    for p in day:
        item = catalog.get_item(f"s{p['Name'][1]}-aux", product_item_id(p["Name"]))
        assert item is not None and HARVESTED not in item["properties"], p["Name"]
        assert all(a["href"].startswith(f"s3://{platform.data_bucket}/") for a in item["assets"].values())


def test_a_harvested_session_is_upgraded_by_staging(cli, sim: StationSimulator, platform: Platform) -> None:  # type: ignore[no-untyped-def]
    catalog = StacApiCatalog(platform.catalog_url or "", OwnerNamespace(owner=platform.owner))
    session_id = sim.data.stations["INS"].sessions[0]["SessionId"]
    result = cli("harvest", "INS", "--rel-time", str(24 * 60), "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["harvested"] == {"s01-cadip-session": [session_id]}
    item = catalog.get_item("s01-cadip-session", session_id)
    assert item is not None and item["properties"][HARVESTED] == "INS" and len(item["assets"]) == 3
    assert all("/Files(" in a["href"] for a in item["assets"].values()) and platform.listing() == {}

    assert cli("stage-session", "INS", session_id).exit_code == 0
    staged = catalog.get_item("s01-cadip-session", session_id)
    assert staged is not None and HARVESTED not in staged["properties"]
    assert (
        all(a["href"].startswith("s3://") for a in staged["assets"].values()) and len(staged["assets"]) == 3
    )


def test_the_harvest_job_creates_the_same_items_from_the_ui(
    sim: StationSimulator, platform: Platform
) -> None:
    from rs_assets.assets.on_demand import harvest_on_demand

    result = harvest_on_demand.execute_in_process(
        run_config={
            "ops": {
                "harvest_station": {
                    "config": {"station": "ADGS", "begin": f"{DAY}T00:00:00Z", "end": f"{DAY}T23:59:59.999Z"}
                }
            }
        },
        resources=platform.resources(),
    )
    assert result.success
    day = [p for p in products(sim, "ADGS") if p["PublicationDate"].startswith(DAY.isoformat())]
    assert result.output_for_node("harvest_station") == len(day)
    catalog = StacApiCatalog(platform.catalog_url or "", OwnerNamespace(owner=platform.owner))
    for p in day:
        item = catalog.get_item(f"s{p['Name'][1]}-aux", product_item_id(p["Name"]))
        assert item is not None and item["properties"][HARVESTED] == "ADGS"
    assert platform.listing() == {} and downloads(sim) == 0
