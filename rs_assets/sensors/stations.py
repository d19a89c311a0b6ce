"""One cursor sensor per station: a publication-date high-water mark, run requests capped per tick; and per
CADIP station, a reconciliation that re-runs sessions whose staged files are not all in their item."""

import json
from datetime import timedelta

import dagster as dg

from rs_assets.core.errors import RsAssetsError
from rs_assets.core.staging.sessions import reconcile_sessions
from rs_assets.core.station.cursor import Published, Watermark, batch_new
from rs_assets.core.station.models import File, Product
from rs_assets.core.station.odata import F, Query
from rs_assets.core.timeutil import utcnow
from rs_assets.resources import CatalogResource, ObjectStorage, StationsResource
from rs_assets.resources.services import services_of

OVERLAP = timedelta(minutes=10)
LOOKBACK = timedelta(days=2)
MAX_RUNS_PER_TICK = 20
IN_FLIGHT = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
]


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


def in_flight_partitions(instance: dg.DagsterInstance, job_name: str) -> set[str]:
    runs = instance.get_runs(filters=dg.RunsFilter(job_name=job_name, statuses=IN_FLIGHT))
    return {r.tags["dagster/partition"] for r in runs if "dagster/partition" in r.tags}


def session_publication_sensor(
    station: str,
    job_name: str,
    partitions: dg.DynamicPartitionsDefinition,
    horizon: timedelta,
    *,
    interval: int = 120,
    max_runs: int = MAX_RUNS_PER_TICK,
) -> dg.SensorDefinition:
    """Re-runs the sessions whose staging manifest holds files their catalog item lacks (a run failed on the
    catalog, or was killed between the two): the re-run downloads nothing again and publishes the rest, or, once
    the station evicted the session, publishes from the manifest alone. Sessions with a run in flight wait."""

    @dg.sensor(
        name=f"{station.lower()}_session_publication",
        job_name=job_name,
        minimum_interval_seconds=interval,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=f"Finds {station} sessions whose staged files are not all in their catalog item and re-runs "
        "them.",
    )
    def reconcile(
        context: dg.SensorEvaluationContext, storage: ObjectStorage, catalog: CatalogResource
    ) -> dg.SensorResult | dg.SkipReason:
        known = json.loads(context.cursor) if context.cursor else {}
        try:
            found = reconcile_sessions(services_of(storage, catalog), station, known, utcnow() - horizon)
        except RsAssetsError as exc:
            return dg.SkipReason(f"{station}: sessions not reconciled this time: {exc}")
        busy = in_flight_partitions(context.instance, job_name)
        due = [s for s in found.behind if s not in busy][:max_runs]
        present = set(context.instance.get_dynamic_partitions(partitions.name or ""))
        unknown = [s for s in due if s not in present]  # staged outside Dagster (rs-assets stage-session)
        context.log.info(
            f"{station}: {len(found.in_sync)} sessions published in full, {len(found.behind)} behind, "
            f"{len(due)} re-run"
        )
        return dg.SensorResult(
            run_requests=[
                dg.RunRequest(
                    partition_key=s, tags={"rs/station": station, "rs/reason": "publication catch-up"}
                )
                for s in due
            ],
            dynamic_partitions_requests=[partitions.build_add_request(unknown)] if unknown else [],
            cursor=json.dumps(found.in_sync, separators=(",", ":")),
        )

    return reconcile
