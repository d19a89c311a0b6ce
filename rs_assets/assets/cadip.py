"""CADIP sessions, per station: one dynamic partition per session, staged as its files arrive.

Each station has its own ``{station}/cadip_sessions`` asset, partitions ``{STATION}_sessions`` (the session
ids), job ``{station}_session_staging`` and sensor ``{station}_new_session_files``; every step that talks to the
station runs in its pool (``station-{STATION}``).
"""

from datetime import date, datetime, timedelta

import dagster as dg

from rs_assets.assets.automation import RUN_RETRIES, automation_sensor
from rs_assets.assets.partitions import partition_day
from rs_assets.assets.reporting import Progress, fail_if_any, fail_on, failure_list, staging_metadata
from rs_assets.assets.stations import station_key, station_prefix
from rs_assets.core.catalog import Catalog
from rs_assets.core.errors import RsAssetsError
from rs_assets.core.services import Services
from rs_assets.core.staging.sessions import (
    SessionReport,
    SessionStatus,
    sessions_at_risk,
    sessions_published_on,
    stage_session,
)
from rs_assets.core.station.client import StationClient
from rs_assets.core.timeutil import format_item_datetime, parse_datetime, utcnow
from rs_assets.resources import CatalogResource, ObjectStorage, StationsResource
from rs_assets.resources.services import services_of, station_pool
from rs_assets.sensors.stations import cadip_sensor, session_publication_sensor

EVICTION_HORIZON = timedelta(days=8)  # stations evict after 7 days: older runs cannot be at risk any more


def session_partitions(station: str) -> dg.DynamicPartitionsDefinition:
    """A station's sessions, keyed by session id."""
    return dg.DynamicPartitionsDefinition(name=f"{station}_sessions")


def _eviction(value: object) -> datetime | None:
    """The ``earliest_eviction`` metadata back as a datetime; "unknown" (no file listed yet) is None."""
    try:
        return parse_datetime(value)
    except ValueError:
        return None


def session_metadata(report: SessionReport, catalog: Catalog) -> dict:
    return staging_metadata(report.staging) | {
        "complete": dg.MetadataValue.bool(report.state.complete),
        "completeness": dg.MetadataValue.md(report.state.as_table()),
        "files_staged": dg.MetadataValue.int(len(report.staged)),
        "earliest_eviction": dg.MetadataValue.text(
            format_item_datetime(report.earliest_eviction) or "unknown"
        ),
        "item": dg.MetadataValue.url(catalog.item_url(report.collection, report.session.SessionId)),
    }


def _stage(
    context: dg.AssetExecutionContext, client: StationClient, services: Services, session_id: str
) -> SessionReport:
    return stage_session(
        client,
        services,
        session_id,
        client.config.max_parallel_downloads,
        Progress(context.log, 0, f"{client.name} {session_id}"),
    )


def _latest_statuses(instance: dg.DagsterInstance, key: dg.AssetKey, now: datetime) -> list[SessionStatus]:
    """Each session's state as its newest materialization recorded it."""
    records_filter = dg.AssetRecordsFilter(
        asset_key=key, after_timestamp=(now - EVICTION_HORIZON).timestamp()
    )
    latest: dict[str, SessionStatus] = {}
    cursor = None
    while True:  # newest first, 10,000 at a time (the instance's cap)
        page = instance.fetch_materializations(records_filter, limit=10_000, cursor=cursor)
        for record in page.records:
            event = record.asset_materialization
            if event is None or event.partition is None or event.partition in latest:
                continue
            values = {k: v.value for k, v in event.metadata.items()}
            latest[event.partition] = SessionStatus(
                event.partition, bool(values.get("complete")), _eviction(values.get("earliest_eviction"))
            )
        if not page.has_more:
            return list(latest.values())
        cursor = page.cursor


def build_cadip_station(
    station: str, daily: dg.PartitionsDefinition, eviction_margin: timedelta
) -> dg.Definitions:
    """One CADIP station's session asset, discovery backfill, eviction watch, job and sensor."""
    prefix, pool, sessions = station_prefix(station), station_pool(station), session_partitions(station)

    @dg.asset(
        name="cadip_sessions",
        key_prefix=[prefix],
        partitions_def=sessions,
        deps=[station_key(station)],
        pool=pool,
        group_name="cadip",
        kinds={"s3", "stac"},
        description=f"Every file of one {station} downlink session staged to S3, and the session's catalog item.",
    )
    def cadip_sessions(
        context: dg.AssetExecutionContext,
        stations: StationsResource,
        storage: ObjectStorage,
        catalog: CatalogResource,
    ) -> dg.MaterializeResult:
        session_id, services = context.partition_key, services_of(storage, catalog)
        try:
            report = _stage(context, stations.client(station), services, session_id)
        except RsAssetsError as exc:
            raise dg.Failure(str(exc)) from None
        metadata = session_metadata(report, services.catalog)
        fail_if_any(report.staging, f"{station} {session_id}", metadata)
        return dg.MaterializeResult(metadata=metadata)

    @dg.asset(
        name="cadip_discovery",
        key_prefix=[prefix],
        partitions_def=daily,
        pool=pool,
        group_name="cadip",
        kinds={"odata"},
        description=f"Backfill over time: every session with files {station} published that day, staged as its "
        "cadip_sessions partition (past sessions are staged while the station still has them).",
    )
    def cadip_discovery(
        context: dg.AssetExecutionContext,
        stations: StationsResource,
        storage: ObjectStorage,
        catalog: CatalogResource,
    ) -> dg.MaterializeResult:
        day: date = partition_day(context)
        client, services = stations.client(station), services_of(storage, catalog)
        session_ids = sessions_published_on(client, day)
        context.instance.add_dynamic_partitions(sessions.name or "", session_ids)
        failures, complete = [], 0
        for session_id in session_ids:
            try:
                report = _stage(context, client, services, session_id)
            except RsAssetsError as exc:
                failures.append(f"{session_id}: {exc}")
                continue
            if report.staging.failed:
                failures.append(f"{session_id}: {len(report.staging.failed)} files failed")
                continue
            complete += report.state.complete
            context.log_event(
                dg.AssetMaterialization(
                    asset_key=cadip_sessions.key,
                    partition=session_id,
                    metadata=session_metadata(report, services.catalog),
                )
            )
        metadata = {
            "sessions": dg.MetadataValue.int(len(session_ids)),
            "complete": dg.MetadataValue.int(complete),
            "failures": failure_list(failures),
        }
        fail_on(failures, f"{station} {day}: {len(failures)} sessions failed", metadata)
        return dg.MaterializeResult(metadata=metadata)

    @dg.asset_check(
        asset=cadip_sessions,
        name="eviction_watch",
        automation_condition=dg.AutomationCondition.cron_tick_passed("*/10 * * * *"),
        description=f"Fails when a {station} session not completely staged is within {eviction_margin} of its "
        "first eviction.",
    )
    def eviction_watch(context: dg.AssetCheckExecutionContext) -> dg.AssetCheckResult:
        now = utcnow()
        statuses = _latest_statuses(context.instance, cadip_sessions.key, now)
        risky = sessions_at_risk(statuses, now, eviction_margin)
        table = "\n".join(
            ["| session | first eviction |", "| --- | --- |"]
            + [f"| {s.key} | {format_item_datetime(s.earliest_eviction)} |" for s in risky]
        )
        return dg.AssetCheckResult(
            passed=not risky,
            severity=dg.AssetCheckSeverity.ERROR,
            description=f"{len(risky)} partially staged {station} sessions are about to be evicted"
            if risky
            else None,
            metadata={
                "sessions_checked": dg.MetadataValue.int(len(statuses)),
                "at_risk": dg.MetadataValue.md(table),
            },
        )

    # The eviction watch looks at every session: it runs on its own schedule, not inside each session's run.
    job = dg.define_asset_job(
        f"{prefix}_session_staging",
        selection=dg.AssetSelection.assets(cadip_sessions).without_checks(),
        tags=RUN_RETRIES,
    )
    return dg.Definitions(
        assets=[cadip_sessions, cadip_discovery],
        asset_checks=[eviction_watch],
        jobs=[job],
        sensors=[
            cadip_sensor(station, job.name or "", sessions),
            session_publication_sensor(station, job.name or "", sessions, EVICTION_HORIZON),
        ],
    )


def build_cadip(
    station_names: list[str],
    daily: dg.PartitionsDefinition,
    eviction_margin: timedelta = timedelta(hours=24),
) -> dg.Definitions:
    """Every CADIP station's definitions, and one automation sensor for their eviction watches."""
    stations = [build_cadip_station(s, daily, eviction_margin) for s in station_names]
    checks = dg.AssetSelection.checks(*[c for d in stations for c in d.asset_checks or []])
    return dg.Definitions.merge(
        *stations, dg.Definitions(sensors=[automation_sensor("cadip_automation", checks, interval=60)])
    )
