"""One cursor sensor per station: a publication-date high-water mark, run requests capped per tick."""

from collections import defaultdict
from collections.abc import Callable
from datetime import timedelta

import dagster as dg

from rs_assets.core.discovery import Published, Watermark
from rs_assets.core.models import File, Product
from rs_assets.core.odata import F, Query
from rs_assets.core.timeutil import utcnow
from rs_assets.resources import StationsResource

OVERLAP = timedelta(minutes=10)
LOOKBACK = timedelta(days=2)
MAX_RUNS_PER_TICK = 20


def auxip_sensor(
    station: str,
    job_name: str,
    *,
    overlap: timedelta = OVERLAP,
    lookback: timedelta = LOOKBACK,
    max_runs: int = MAX_RUNS_PER_TICK,
) -> dg.SensorDefinition:
    """Requests the daily ``aux_files`` partitions that received newly published products."""

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
        client = stations.client(station)
        found = client.search(Query("Products", F("PublicationDate").gt(since)), Product)
        published = sorted(
            (Published(p.Id, p.PublicationDate) for p in found if p.PublicationDate),
            key=lambda p: p.published,
        )
        new, _ = mark.advance(published, overlap)
        by_day: defaultdict[str, list[Published]] = defaultdict(list)
        for item in new:
            by_day[item.published.date().isoformat()].append(item)
        days = sorted(by_day)[:max_runs]
        if len(by_day) > len(days):
            # Leave the days not requested for the next tick: advance the mark only over what was requested.
            last = max(p.published for p in by_day[days[-1]])
            published = [p for p in published if p.published <= last]
        _, following = mark.advance(published, overlap)
        requests = [
            dg.RunRequest(
                partition_key=day,
                run_key=f"{station}:{day}:{max(p.published for p in by_day[day]).isoformat()}:{len(by_day[day])}",
                tags={"rs/station": station},
            )
            for day in days
        ]
        context.log.info(
            f"{station}: {len(found)} products in the window, {len(new)} new, {len(requests)} runs"
        )
        return dg.SensorResult(run_requests=requests, cursor=following.to_json())

    return watch


def cadip_sensor(
    station: str,
    job_name: str,
    partitions: dg.DynamicPartitionsDefinition,
    key_of: Callable[[str, str], str],
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
        client = stations.client(station)
        files = client.search(Query("Files", F("PublicationDate").gt(since)), File)
        published = sorted(
            (Published(f.Id, f.PublicationDate) for f in files if f.PublicationDate),
            key=lambda p: p.published,
        )
        new, _ = mark.advance(published, overlap)
        session_of = {f.Id: f.SessionId for f in files}
        by_session: defaultdict[str, list[Published]] = defaultdict(list)
        for item in new:
            by_session[session_of[item.id]].append(item)
        ordered = sorted(by_session, key=lambda s: min(p.published for p in by_session[s]))[:max_runs]
        if len(by_session) > len(ordered):
            last = max(p.published for s in ordered for p in by_session[s])
            published = [p for p in published if p.published <= last]
        _, following = mark.advance(published, overlap)
        keys = [key_of(station, session_id) for session_id in ordered]
        known = (
            set(context.instance.get_dynamic_partitions(partitions.name or "")) if context.instance else set()
        )
        requests = [
            dg.RunRequest(
                partition_key=key,
                run_key=f"{key}:{max(p.published for p in by_session[s]).isoformat()}:{len(by_session[s])}",
                tags={"rs/station": station},
            )
            for key, s in zip(keys, ordered, strict=True)
        ]
        context.log.info(f"{station}: {len(new)} new files in {len(ordered)} sessions")
        return dg.SensorResult(
            run_requests=requests,
            dynamic_partitions_requests=[partitions.build_add_request([k for k in keys if k not in known])]
            if keys
            else [],
            cursor=following.to_json(),
        )

    return watch
