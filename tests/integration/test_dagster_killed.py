"""Dagster killed with SIGKILL mid-run, then restarted: run monitoring fails the dead run within minutes, its pool
slot is freed, run retries re-execute it, and the station's queue moves again, without an operator."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import dagster as dg
import pytest
import requests

from rs_assets.core.catalog import OwnerNamespace, SqliteCatalog
from rs_assets.core.timeutil import utcnow
from rs_assets.simulator.config import SimStation
from tests.conftest import SimulatorFactory
from tests.integration.dagster_process import (
    dagster_dev,
    dagster_env,
    free_port,
    instance_home,
    kill_all,
    listening,
    processes_with,
    wait_until,
)
from tests.integration.platform import make_platform

JOB = "ins_session_staging"
POOL = "station-INS"


def runs_of(instance: dg.DagsterInstance, *statuses: dg.DagsterRunStatus) -> list[dg.DagsterRun]:
    return list(instance.get_runs(filters=dg.RunsFilter(job_name=JOB, statuses=list(statuses))))


def slots_held(instance: dg.DagsterInstance, run_id: str | None = None) -> list:
    claimed = instance.event_log_storage.get_concurrency_info(POOL).claimed_slots
    return [slot for slot in claimed if run_id is None or slot.run_id == run_id]


@pytest.mark.skipif(sys.platform != "linux", reason="the worker health check reads /proc")
def test_a_run_killed_with_dagster_is_failed_its_slot_freed_and_retried_after_restart(
    simulator_factory: SimulatorFactory, s3_endpoint: str, tmp_path: Path, unique: str
) -> None:
    sim = simulator_factory(
        SimStation(
            name="INS", kind="cadip", sessions=2, retransfers=0, channels=2, blocks_per_channel=3,
            chunk_size=1_500_000,
        ),
        history_end=utcnow(),
    )  # fmt: skip
    faults = f"{sim.url}/_sim/faults"
    requests.post(faults, json={"station": "INS", "faults": {"bytes_per_second": 60_000}}, timeout=10)
    platform = make_platform(s3_endpoint, None, tmp_path, unique, sim)
    home = instance_home(tmp_path / "dagster")
    marker = f"rs-killed-{unique}"
    env = dagster_env(platform.cli_env(tmp_path / "data"), home, marker, tmp_path)
    port = free_port()
    log = tmp_path / "dagster.log"

    with dg.DagsterInstance.from_config(str(home)) as instance:
        with dagster_dev(env, port, log):
            wait_until("the UI", 240, lambda: listening(port), log)
            running = wait_until(
                "a session run starting", 240, lambda: runs_of(instance, dg.DagsterRunStatus.STARTED), log
            )[0]
            wait_until("its station slot claimed", 60, lambda: slots_held(instance, running.run_id), log)
            time.sleep(3)
            assert kill_all(marker) > 0  # a crash of the machine: every Dagster process at once
            wait_until("every Dagster process gone", 30, lambda: not processes_with(marker), log)
        assert instance.get_run_by_id(running.run_id).status == dg.DagsterRunStatus.STARTED  # type: ignore[union-attr]
        assert slots_held(instance, running.run_id), "the dead run still holds its slot"

        requests.post(faults, json={"station": "INS", "faults": {}}, timeout=10)
        killed_at = time.monotonic()
        with dagster_dev(env, port, log):
            failed = wait_until(
                "run monitoring failing the dead run",
                180,
                lambda: instance.get_run_by_id(running.run_id).status == dg.DagsterRunStatus.FAILURE,  # type: ignore[union-attr]
                log,
            )
            assert failed
            detected = time.monotonic() - killed_at
            wait_until("its slot freed", 120, lambda: not slots_held(instance, running.run_id), log)
            retry = wait_until(
                "the retry of the dead run",
                120,
                lambda: list(
                    instance.get_runs(filters=dg.RunsFilter(tags={"dagster/parent_run_id": running.run_id}))
                ),
                log,
            )[0]
            wait_until(
                "every session run finishing",
                300,
                lambda: (
                    not runs_of(
                        instance,
                        dg.DagsterRunStatus.QUEUED,
                        dg.DagsterRunStatus.NOT_STARTED,
                        dg.DagsterRunStatus.STARTING,
                        dg.DagsterRunStatus.STARTED,
                    )
                    and instance.get_run_by_id(retry.run_id).status == dg.DagsterRunStatus.SUCCESS
                ),  # type: ignore[union-attr]
                log,
            )
        assert retry.tags["dagster/partition"] == running.tags["dagster/partition"]
        assert slots_held(instance) == []
        catalog = SqliteCatalog(tmp_path / "data" / "catalog.sqlite", OwnerNamespace(owner=platform.owner))
        for session in sim.data.stations["INS"].sessions:
            item = catalog.get_item("s01-cadip-session", session["SessionId"])
            assert item is not None and len(item["assets"]) == 6, session["SessionId"]
        print(f"dead run failed {detected:.0f} s after the restart began; retried as {retry.run_id}")
