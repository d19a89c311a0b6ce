"""The core's ``Services`` from a run's resources, and the lease that puts a step's station work in the station's
Dagster pool.

Dagster pools are declared per op: a step that reaches a station only for part of its work (an on-demand job's
search and staging, ADF staging inside processing) holds that station's slot for that part alone. It claims the
slot through the instance's concurrency-slot storage, as Dagster's executor does for a pooled op, under a step key
of its own (``{op}:{pool}``), and frees it when the part ends; a run that dies with a slot held is cleaned up
with the run's other slots.
"""

import time
from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg

from rs_assets.core.services import Lease, Placement, Services, no_lease
from rs_assets.resources.catalog import CatalogResource
from rs_assets.resources.storage import ObjectStorage

WAIT_LOG_SECONDS = 30.0
CATALOG_POOL = "catalog"  # one writer: pgstac deadlocks on concurrent writers to a collection
CONVERSION_POOL = "conversion"
PROCESSING_POOL = "processing"


def station_pool(station: str) -> str:
    """The pool of every step that talks to the station: its limit bounds the steps hitting it at once."""
    return f"station-{station}"


def services_of(storage: ObjectStorage, catalog: CatalogResource, lease: Lease = no_lease) -> Services:
    return Services(
        store=storage.store(),
        transfer=storage.transfer(),
        catalog=catalog.catalog(),
        placement=Placement(catalog.owner, catalog.names(), storage.rules()),
        bookkeeping=storage.bucket,
        lease=lease,
    )


def pool_lease(context: dg.OpExecutionContext | dg.AssetExecutionContext) -> Lease:
    """A lease on ``station-{STATION}`` for the step of ``context``; unlimited pools are not waited for."""
    op = context.op_execution_context if isinstance(context, dg.AssetExecutionContext) else context
    instance, run_id, step = context.instance, context.run.run_id, str(op.op_handle)
    storage = instance.event_log_storage

    def limited(pool: str) -> bool:
        if not storage.supports_global_concurrency_limits:
            return False
        granularity = getattr(storage.get_pool_config().pool_granularity, "value", "op")
        if granularity == "run":  # the run queue enforces pools before a run starts, as for pooled ops
            return False
        if pool not in {p.name for p in storage.get_pool_limits()}:
            storage.initialize_concurrency_limit_to_default(pool)  # the instance's default_limit, if any
        return pool in {p.name for p in storage.get_pool_limits()}

    @contextmanager
    def lease(station: str) -> Iterator[None]:
        pool = station_pool(station)
        if not limited(pool):
            yield
            return
        key, started, told = f"{step}:{pool}", time.monotonic(), 0.0
        try:
            while not (status := storage.claim_concurrency_slot(pool, run_id, key)).is_claimed:
                waited = time.monotonic() - started
                if waited - told >= WAIT_LOG_SECONDS or not told:
                    context.log.info(f"waiting for a slot of pool {pool} ({waited:.0f} s)")
                    told = waited or 0.001
                time.sleep(min(status.sleep_interval or 1.0, 5.0))
            yield
        finally:
            storage.free_concurrency_slot_for_step(run_id, key)

    return lease
