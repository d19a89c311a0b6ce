"""The ``dagster.yaml`` of an rs-assets instance: on one machine (what ``scripts/dev`` runs, SQLite storage) or in
production (``scripts/prod``, storage on PostgreSQL through ``dagster-postgres``, its URL read from an environment
variable so that the password never lands in the file).

Pools serialise what must not run twice at once: one run per station talks to it (sessions, days and on-demand
staging alike; its downloads are bounded by ``max_parallel_downloads`` inside the run) and one catalog writer
(pgstac deadlocks on concurrent writers). Sensors tick in parallel threads, so a slow station never holds another
one's sensor up. Run monitoring (with ``LocalRunLauncher``'s worker health check) fails a run whose worker died
within a minute or two and frees its pool slots; run retries then re-execute the jobs that ask for them.
"""

from __future__ import annotations

from typing import Any

import yaml

MONITORING_POLL_SECONDS = 15
FREE_SLOTS_AFTER_END_SECONDS = 15


def instance_config(max_concurrent_runs: int = 6, postgres_url_env: str | None = None) -> dict[str, Any]:
    storage = (
        {"storage": {"postgres": {"postgres_url": {"env": postgres_url_env}}}} if postgres_url_env else {}
    )
    return storage | {
        "telemetry": {"enabled": False},
        "run_launcher": {"module": "rs_assets.deployment.launcher", "class": "LocalRunLauncher"},
        "concurrency": {
            "pools": {"default_limit": 1},
            "runs": {"max_concurrent_runs": max_concurrent_runs},
        },
        "run_monitoring": {
            "enabled": True,
            "start_timeout_seconds": 180,
            "cancel_timeout_seconds": 120,
            "max_resume_run_attempts": 0,
            "poll_interval_seconds": MONITORING_POLL_SECONDS,
            "free_slots_after_run_end_seconds": FREE_SLOTS_AFTER_END_SECONDS,
        },
        "run_retries": {"enabled": True, "max_retries": 0},
        "sensors": {"use_threads": True, "num_workers": 4},
    }


def instance_yaml(max_concurrent_runs: int = 6, postgres_url_env: str | None = None) -> str:
    return yaml.safe_dump(instance_config(max_concurrent_runs, postgres_url_env), sort_keys=False)
