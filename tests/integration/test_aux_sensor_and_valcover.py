"""The AUXIP sensor (cursor, cap, no duplicates) and on-demand ValCover staging."""

from __future__ import annotations

import random
import threading
import time
from datetime import timedelta
from pathlib import Path

import dagster as dg
import pytest

from rs_assets.core.catalog import OwnerNamespace, StacApiCatalog
from rs_assets.core.catalog.mapping import product_item_id
from rs_assets.core.timeutil import parse_datetime
from rs_assets.resources import StationsResource
from rs_assets.sensors.stations import products_sensor
from rs_assets.simulator.config import SimStation
from rs_assets.simulator.server import StationSimulator
from tests.conftest import SimulatorFactory
from tests.integration.platform import Platform, make_platform
from tests.integration.test_aux_files import AUX

VALCOVER = next(j for j in AUX.jobs or [] if getattr(j, "name", None) == "aux_valcover_staging")


@pytest.fixture
def sim(simulator_factory: SimulatorFactory) -> StationSimulator:
    return simulator_factory(
        SimStation(name="ADGS", kind="auxip", products_per_day=40, days=2, product_scale=0.05)
    )


@pytest.fixture
def platform(
    s3_endpoint: str, stac_api_url: str, tmp_path: Path, unique: str, sim: StationSimulator
) -> Platform:
    return make_platform(s3_endpoint, stac_api_url, tmp_path, unique, sim)


def tick(sensor: dg.SensorDefinition, platform: Platform, cursor: str | None) -> dg.SensorResult:
    resources = {"stations": StationsResource(stations_file=str(platform.stations_path))}
    with dg.build_sensor_context(cursor=cursor, resources=resources) as context:
        result = sensor(context)
    assert isinstance(result, dg.SensorResult)
    return result


def station_requests(sim: StationSimulator) -> int:
    return sum(1 for r in sim.requests if r["station"] == "ADGS")


def test_sensor_requests_each_day_once_and_then_only_new_data(
    sim: StationSimulator, platform: Platform
) -> None:
    sensor = products_sensor("ADGS", "adgs_staging", lookback=timedelta(days=30))
    products, _ = sim.data.stations["ADGS"].entity_set("Products", sim.data.now())
    days = sorted({p["PublicationDate"][:10] for p in products})

    first = tick(sensor, platform, None)
    assert sorted(r.partition_key for r in first.run_requests or []) == days
    assert station_requests(sim) <= 2

    before = station_requests(sim)
    quiet = tick(sensor, platform, first.cursor)
    assert quiet.run_requests == []
    assert station_requests(sim) - before <= 2

    station = sim.data.stations["ADGS"]
    latest = max(parse_datetime(p["PublicationDate"]) for p in products)
    station.publish_aux(random.Random(7), latest + timedelta(minutes=3))  # a product published after the mark
    fresh = tick(sensor, platform, quiet.cursor)
    assert [r.partition_key for r in fresh.run_requests or []] == [
        (latest + timedelta(minutes=3)).date().isoformat()
    ]
    first_keys = {r.run_key for r in first.run_requests or []}
    assert not first_keys & {r.run_key for r in fresh.run_requests or []}
    assert tick(sensor, platform, fresh.cursor).run_requests == []


def test_capped_ticks_lose_and_duplicate_nothing(sim: StationSimulator, platform: Platform) -> None:
    sensor = products_sensor("ADGS", "adgs_staging", lookback=timedelta(days=30), max_runs=1)
    products, _ = sim.data.stations["ADGS"].entity_set("Products", sim.data.now())
    days = sorted({p["PublicationDate"][:10] for p in products})
    requested: list[str] = []
    cursor = None
    for _ in range(len(days) + 2):
        result = tick(sensor, platform, cursor)
        assert len(result.run_requests or []) <= 1
        requested += [r.partition_key for r in result.run_requests or []]
        cursor = result.cursor
    assert requested == days


def valcover_config(product: dict, collection: str, latest: bool = False) -> dict:
    start = parse_datetime(product["ContentDate"]["Start"])
    end = parse_datetime(product["ContentDate"]["End"])
    assert start and end
    middle = start + (end - start) / 2
    product_type = next(a["Value"] for a in product["Attributes"] if a["Name"] == "productType")
    return {
        "start": (middle - timedelta(minutes=30)).isoformat(),
        "end": (middle + timedelta(minutes=30)).isoformat(),
        "product_type": product_type,
        "collection": collection,
        "latest": latest,
    }


def expected_valcover(sim: StationSimulator, config: dict) -> list[dict]:
    products, _ = sim.data.stations["ADGS"].entity_set("Products", sim.data.now())
    start, end = parse_datetime(config["start"]), parse_datetime(config["end"])
    return [
        p
        for p in products
        if any(a["Name"] == "productType" and a["Value"] == config["product_type"] for a in p["Attributes"])
        and parse_datetime(p["ContentDate"]["Start"]) < start
        and parse_datetime(p["ContentDate"]["End"]) > end
    ]


def test_valcover_job_stages_what_the_catalog_lacks(sim: StationSimulator, platform: Platform) -> None:
    products, _ = sim.data.stations["ADGS"].entity_set("Products", sim.data.now())
    job = VALCOVER
    config = valcover_config(products[5], "valcover-aux")
    wanted = expected_valcover(sim, config)
    assert wanted
    result = job.execute_in_process(
        run_config={"ops": {"stage_aux_valcover": {"config": config}}}, resources=platform.resources()
    )
    assert result.success
    ids = sorted(product_item_id(p["Name"]) for p in wanted)
    assert sorted(result.output_for_node("stage_aux_valcover")) == ids
    catalog = StacApiCatalog(platform.catalog_url or "", OwnerNamespace(owner=platform.owner))
    assert catalog.existing_ids("valcover-aux", ids) == set(ids)

    again = job.execute_in_process(
        run_config={"ops": {"stage_aux_valcover": {"config": config}}}, resources=platform.resources()
    )
    assert again.output_for_node("stage_aux_valcover") == []


def test_latest_valcover_keeps_the_most_recent(sim: StationSimulator, platform: Platform) -> None:
    products, _ = sim.data.stations["ADGS"].entity_set("Products", sim.data.now())
    job = VALCOVER
    config = valcover_config(products[3], "latest-aux", latest=True)
    wanted = expected_valcover(sim, config)
    newest = max(
        wanted, key=lambda p: next(a["Value"] for a in p["Attributes"] if a["Name"] == "processingDate")
    )
    result = job.execute_in_process(
        run_config={"ops": {"stage_aux_valcover": {"config": config}}}, resources=platform.resources()
    )
    assert result.output_for_node("stage_aux_valcover") == [product_item_id(newest["Name"])]


def test_valcover_window_that_ends_before_it_starts_is_refused(platform: Platform) -> None:
    job = VALCOVER
    config = {
        "start": "2026-11-20T00:00:00Z",
        "end": "2026-11-19T00:00:00Z",
        "product_type": "AUX_PP2",
        "collection": "x",
    }
    result = job.execute_in_process(
        run_config={"ops": {"stage_aux_valcover": {"config": config}}},
        resources=platform.resources(),
        raise_on_error=False,
    )
    assert not result.success
    assert "ends" in str(result.all_events[-1].message) or any(
        "before it starts" in str(e.event_specific_data) for e in result.all_events
    )


def test_an_on_demand_job_waits_for_its_stations_pool_and_then_stages(
    sim: StationSimulator, platform: Platform
) -> None:
    """The ValCover job runs in no pool of its own: its search and downloads take ADGS's slot, so with the slot
    held elsewhere (a daily staging run of ADGS) it touches nothing until the slot is free."""
    products, _ = sim.data.stations["ADGS"].entity_set("Products", sim.data.now())
    config = valcover_config(products[5], "pooled-aux")
    wanted = expected_valcover(sim, config)
    assert wanted
    with dg.instance_for_test(overrides={"concurrency": {"pools": {"default_limit": 1}}}) as instance:
        storage = instance.event_log_storage
        storage.initialize_concurrency_limit_to_default("station-ADGS")
        assert storage.claim_concurrency_slot("station-ADGS", "another-run", "adgs_aux_files").is_claimed
        outcome: dict[str, dg.ExecuteInProcessResult] = {}

        def run() -> None:
            outcome["result"] = VALCOVER.execute_in_process(
                run_config={"ops": {"stage_aux_valcover": {"config": config}}},
                resources=platform.resources(),
                instance=instance,
            )

        before = station_requests(sim)
        worker = threading.Thread(target=run)
        worker.start()
        time.sleep(4)
        assert worker.is_alive(), "the job must wait for the station's slot"
        assert station_requests(sim) == before, "nothing is asked of ADGS while another step holds its slot"
        storage.free_concurrency_slot_for_step("another-run", "adgs_aux_files")
        worker.join(timeout=120)
        result = outcome["result"]
        assert result.success
        ids = sorted(product_item_id(p["Name"]) for p in wanted)
        assert sorted(result.output_for_node("stage_aux_valcover")) == ids
        assert station_requests(sim) > before
        assert storage.get_concurrency_info("station-ADGS").claimed_slots == [], "the job freed its slot"
        logs = [e.message for e in instance.all_logs(result.run_id) if e.message]
        assert any("waiting for a slot of pool station-ADGS" in m for m in logs)


def test_a_station_that_ignores_the_validity_terms_gets_only_the_window_staged(
    simulator_factory: SimulatorFactory, s3_endpoint: str, stac_api_url: str, tmp_path: Path, unique: str
) -> None:
    lax = simulator_factory(
        SimStation(
            name="ADGS",
            kind="auxip",
            products_per_day=40,
            days=2,
            product_scale=0.05,
            ignored_filter_terms=["ContentDate"],
        )
    )
    platform = make_platform(s3_endpoint, stac_api_url, tmp_path, unique, lax)
    products, _ = lax.data.stations["ADGS"].entity_set("Products", lax.data.now())
    config = valcover_config(products[5], "lax-aux")
    wanted = expected_valcover(lax, config)
    of_type = [p for p in products if product_type_of(p) == config["product_type"]]
    assert wanted and len(of_type) > len(wanted), "the lax station returns more than the window holds"
    result = VALCOVER.execute_in_process(
        run_config={"ops": {"stage_aux_valcover": {"config": config}}}, resources=platform.resources()
    )
    assert result.success
    assert sorted(result.output_for_node("stage_aux_valcover")) == sorted(
        product_item_id(p["Name"]) for p in wanted
    )
    downloaded = {r["path"] for r in lax.requests if r["path"].endswith("$value")}
    assert len(downloaded) == len(wanted), "nothing outside the window is downloaded"
    materialized = [e for e in result.all_events if e.event_type_value == "STEP_OUTPUT"]
    notes = materialized[0].event_specific_data.metadata["outside_the_selection"].value  # type: ignore[union-attr]
    assert "ADGS returned" in notes and "does not strictly contain the window" in notes


def product_type_of(product: dict) -> str:
    return next(a["Value"] for a in product["Attributes"] if a["Name"] == "productType")


def test_valcover_stages_again_an_item_the_lifecycle_expired(
    sim: StationSimulator, platform: Platform
) -> None:
    from tests.integration.test_aux_files import expire_now

    products, _ = sim.data.stations["ADGS"].entity_set("Products", sim.data.now())
    config = valcover_config(products[5], "valcover-aux")
    run = {"ops": {"stage_aux_valcover": {"config": config}}}
    first = VALCOVER.execute_in_process(run_config=run, resources=platform.resources())
    ids = sorted(first.output_for_node("stage_aux_valcover"))
    assert ids
    expire_now(platform, "valcover-aux", ids[0])
    again = VALCOVER.execute_in_process(run_config=run, resources=platform.resources())
    assert again.output_for_node("stage_aux_valcover") == [ids[0]]
    item = StacApiCatalog(platform.catalog_url or "", OwnerNamespace(owner=platform.owner)).get_item(
        "valcover-aux", ids[0]
    )
    assert item is not None and item["assets"] and "unpublished" not in item["properties"]
