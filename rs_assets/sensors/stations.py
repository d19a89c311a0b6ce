"""One cursor sensor per station: a publication-date high-water mark, run requests capped per tick."""

from datetime import timedelta

import dagster as dg

from rs_assets.core.station.cursor import Published, Watermark, batch_new
from rs_assets.core.station.models import File, Product
from rs_assets.core.station.odata import F, Query
from rs_assets.core.timeutil import utcnow
from rs_assets.resources import StationsResource

OVERLAP = timedelta(minutes=10)
LOOKBACK = timedelta(days=2)
MAX_RUNS_PER_TICK = 20


def _run_key(key: str, batch: list[Published]) -> str:
    """The cursor is the primary guard; the key (newest publication and count) stops a replayed tick too."""
    return f"{key}:{max(p.published for p in batch).isoformat()}:{len(batch)}"


def products_sensor(
    station: str,
    job_name: str,
    *,
    overlap: timedelta = OVERLAP,
    lookback: timedelta = LOOKBACK,
    max_runs: int = MAX_RUNS_PER_TICK,
) -> dg.SensorDefinition:
    """Requests the daily partitions (AUX files, PRIP products) that received newly published products."""

    @dg.sensor(
        name=f"{station.lower()}_new_products",
        job_name=job_name,
        minimum_interval_seconds=30,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=f"Watches {station} for newly published products and stages their publication days.",
    )
    def watch(context: dg.SensorEvaluationContext, stations: StationsResource) -> dg.SensorResult:
        mark = Watermark.from_json(context.cursor)
        since = mark.query_from(overlap, utcnow() - lookback)
        found = stations.client(station).search(Query("Products", F("PublicationDate").gt(since)), Product)
        by_day, following = batch_new(
            mark,
            [
                (Published(p.Id, p.PublicationDate), p.PublicationDate.date().isoformat())
                for p in found
                if p.PublicationDate
            ],
            overlap,
            max_runs,
        )
        requests = [
            dg.RunRequest(
                partition_key=day, run_key=_run_key(f"{station}:{day}", batch), tags={"rs/station": station}
            )
            for day, batch in sorted(by_day.items())
        ]
        context.log.info(f"{station}: {len(found)} products in the window, new ones on {len(requests)} days")
        return dg.SensorResult(run_requests=requests, cursor=following.to_json())

    return watch


def cadip_sensor(
    station: str,
    job_name: str,
    partitions: dg.DynamicPartitionsDefinition,
    *,
    overlap: timedelta = OVERLAP,
    lookback: timedelta = LOOKBACK,
    max_runs: int = MAX_RUNS_PER_TICK,
) -> dg.SensorDefinition:
    """Adds a partition per new session and requests a run whenever a session has newly published files.

    Files drive it (not Sessions): retransfers may have no session PublicationDate, and a session grows
    while the satellite downlinks, so each batch of new files re-stages its session (finished files skip).
    """

    @dg.sensor(
        name=f"{station.lower()}_new_session_files",
        job_name=job_name,
        minimum_interval_seconds=15,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=f"Watches {station} for newly published session files and stages their sessions.",
    )
    def watch(context: dg.SensorEvaluationContext, stations: StationsResource) -> dg.SensorResult:
        mark = Watermark.from_json(context.cursor)
        since = mark.query_from(overlap, utcnow() - lookback)
        files = stations.client(station).search(Query("Files", F("PublicationDate").gt(since)), File)
        by_session, following = batch_new(
            mark,
            [(Published(f.Id, f.PublicationDate), f.SessionId) for f in files if f.PublicationDate],
            overlap,
            max_runs,
        )
        known = (
            set(context.instance.get_dynamic_partitions(partitions.name or "")) if context.instance else set()
        )
        fresh = [session_id for session_id in by_session if session_id not in known]
        requests = [
            dg.RunRequest(partition_key=s, run_key=_run_key(s, batch), tags={"rs/station": station})
            for s, batch in by_session.items()
        ]
        context.log.info(
            f"{station}: {sum(map(len, by_session.values()))} new files in {len(requests)} sessions"
        )
        return dg.SensorResult(
            run_requests=requests,
            dynamic_partitions_requests=[partitions.build_add_request(fresh)] if fresh else [],
            cursor=following.to_json(),
        )

    return watch
