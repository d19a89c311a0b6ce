"""One cursor sensor per station: a publication-date high-water mark, run requests capped per tick."""

from collections import defaultdict
from datetime import timedelta

import dagster as dg

from rs_assets.core.discovery import Published, Watermark
from rs_assets.core.models import Product
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
