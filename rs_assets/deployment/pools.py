"""The run queue's pools for a stations file: one per station, the catalog writer, conversion and processing.

Dagster keeps per-pool limits in the instance's storage, not in ``dagster.yaml`` (whose
``concurrency.pools.default_limit`` covers any pool left unset), so they are applied to a running instance's
storage, as ``dagster instance concurrency set`` does, once per deployment and again whenever the stations file
changes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from rs_assets.core.errors import ConfigError
from rs_assets.resources.services import CATALOG_POOL, CONVERSION_POOL, PROCESSING_POOL, station_pool
from rs_assets.settings import StationsFile


def pool_limits(
    stations: StationsFile,
    *,
    conversion: int = 2,
    processing: int = 2,
    overrides: Mapping[str, int] | None = None,
) -> dict[str, int]:
    """Each station's pool at its ``max_parallel_runs``, one catalog writer, ``conversion`` and ``processing`` at
    once (one per Dask worker is a good start); ``overrides`` may change any of them, and name no other pool."""
    limits = {station_pool(s.name): s.max_parallel_runs for s in stations.stations}
    limits |= {CATALOG_POOL: 1, CONVERSION_POOL: conversion, PROCESSING_POOL: processing}
    unknown = sorted(set(overrides or {}) - set(limits))
    if unknown:
        raise ConfigError(
            f"pool limit for {', '.join(unknown)}: no such pool (the stations file names "
            f"{', '.join(s.name for s in stations.stations) or 'no station'}; pools: {', '.join(sorted(limits))})"
        )
    return limits | dict(overrides or {})


def parse_limits(texts: Iterable[str]) -> dict[str, int]:
    """``POOL=N`` pairs, as the command line gives them."""
    limits: dict[str, int] = {}
    for text in texts:
        pool, _, number = text.partition("=")
        if not pool or not number.isdigit() or int(number) < 1:
            raise ConfigError(
                f"pool limit {text!r}: expected POOL=N with N >= 1 (station-INS=2, conversion=4)"
            )
        limits[pool] = int(number)
    return limits


def apply_pool_limits(instance: Any, limits: Mapping[str, int]) -> None:
    """Set each pool's limit on ``instance`` (a ``DagsterInstance``)."""
    for pool, limit in sorted(limits.items()):
        instance.event_log_storage.set_concurrency_slots(pool, limit)
