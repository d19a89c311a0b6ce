"""Dagster's default run launcher, plus the worker health check that run monitoring needs on one machine.

Without a health check, a run whose worker died with the processes around it (``kill -9`` of Dagster, a reboot)
stays STARTED for ever, and holds its pool slots, so its station's queue never moves again. Run monitoring asks
the launcher whether the worker lives; the default launcher cannot answer, this one can when the worker runs on
this machine (``dg dev``, the single-host topology): the worker recorded its pid when it started ("Started
process for run"), and a live process with that pid that started no later than that record is the worker. A
dead worker makes monitoring fail the run; the instance then frees its slots and run retries re-execute it.

The health check types are not exported by ``dagster`` itself; they come from its launcher module.
"""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg
from dagster._core.launcher.base import CheckRunHealthResult, WorkerStatus

STARTED_PROCESS = "Started process for run"
CLOCK_SLACK_SECONDS = 2.0


def process_start_time(pid: int, proc: Path = Path("/proc")) -> float | None:
    """When process ``pid`` started (epoch seconds), or None when there is no such live process."""
    try:
        stat = (proc / str(pid) / "stat").read_text()
        boot = next(
            float(line.split()[1])
            for line in (proc / "stat").read_text().splitlines()
            if line.startswith("btime ")
        )
    except (OSError, StopIteration, ValueError):
        return None
    fields = stat.rsplit(")", 1)[1].split()  # after the command name, which may hold spaces
    if fields[0] in ("Z", "X"):  # a zombie is dead
        return None
    return boot + int(fields[19]) / os.sysconf("SC_CLK_TCK")


def worker_alive(pid: int, recorded_at: float, proc: Path = Path("/proc")) -> bool:
    """The process that recorded itself as a run's worker at ``recorded_at`` still runs (not a later one that
    was given the same pid)."""
    started = process_start_time(pid, proc)
    return started is not None and started <= recorded_at + CLOCK_SLACK_SECONDS


class LocalRunLauncher(dg.DefaultRunLauncher):
    """``DefaultRunLauncher`` whose run workers run on this machine, with worker health checks."""

    @property
    def supports_check_run_worker_health(self) -> bool:
        return True

    def check_run_worker_health(self, run: dg.DagsterRun) -> CheckRunHealthResult:
        records = self._instance.all_logs(run.run_id, of_type=dg.DagsterEventType.ENGINE_EVENT)
        started = [r for r in records if (r.message or "").startswith(STARTED_PROCESS)]
        if not started:
            return CheckRunHealthResult(WorkerStatus.RUNNING, "no worker pid recorded yet")
        record = started[-1]  # a resumed run records its new worker last
        event = record.dagster_event
        pid_value = event.engine_event_data.metadata.get("pid") if event and event.engine_event_data else None
        try:
            pid = int(str(pid_value.value)) if pid_value is not None else 0
        except ValueError:
            pid = 0
        if not pid:
            return CheckRunHealthResult(WorkerStatus.RUNNING, "the worker's pid could not be read")
        if worker_alive(pid, record.timestamp):
            return CheckRunHealthResult(WorkerStatus.RUNNING, run_worker_id=str(pid))
        return CheckRunHealthResult(
            WorkerStatus.FAILED,
            f"the run worker (pid {pid}) is gone: killed, or its machine restarted",
            run_worker_id=str(pid),
        )
