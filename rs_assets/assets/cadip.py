"""CADIP sessions: one dynamic partition per station and session, staged as its files arrive."""

from datetime import date, datetime, timedelta

import dagster as dg

from rs_assets.assets.automation import automation_sensor
from rs_assets.assets.reporting import Progress, fail_if_any, fail_on, failure_list, staging_metadata
from rs_assets.assets.stations import station_key
from rs_assets.core.catalog.mapping import CollectionNames
from rs_assets.core.errors import RsAssetsError
from rs_assets.core.staging.sessions import (
    SessionReport,
    SessionStatus,
    sessions_at_risk,
    sessions_published_on,
    stage_session,
)
from rs_assets.core.timeutil import format_item_datetime, parse_datetime, utcnow
from rs_assets.resources import CatalogResource, ObjectStorage, StationsResource
from rs_assets.sensors.stations import cadip_sensor

SESSIONS = dg.DynamicPartitionsDefinition(name="cadip_sessions")
EVICTION_HORIZON = timedelta(days=8)  # stations evict after 7 days: older runs cannot be at risk any more
SEPARATOR = ":"


def session_key(station: str, session_id: str) -> str:
    return f"{station}{SEPARATOR}{session_id}"


def split_session_key(key: str) -> tuple[str, str]:
    station, sep, session_id = key.partition(SEPARATOR)
    if not sep or not station or not session_id:
        raise RsAssetsError(f"partition key {key!r} is not STATION{SEPARATOR}SESSION_ID")
    return station, session_id


def _eviction(value: object) -> datetime | None:
    """The ``earliest_eviction`` metadata back as a datetime; "unknown" (no file listed yet) is None."""
    try:
        return parse_datetime(value)
    except ValueError:
        return None


def session_metadata(report: SessionReport, catalog: CatalogResource) -> dict:
    return staging_metadata(report.staging) | {
        "complete": dg.MetadataValue.bool(report.state.complete),
        "completeness": dg.MetadataValue.md(report.state.as_table()),
        "files_staged": dg.MetadataValue.int(len(report.staged)),
        "earliest_eviction": dg.MetadataValue.text(
            format_item_datetime(report.earliest_eviction) or "unknown"
        ),
        "item": dg.MetadataValue.url(catalog.catalog().item_url(report.collection, report.session.SessionId)),
    }


def build_cadip(
    names: CollectionNames,
    station_names: list[str],
    daily: dg.PartitionsDefinition,
    eviction_margin: timedelta = timedelta(hours=24),
) -> dg.Definitions:
    @dg.asset(
        name="cadip_sessions",
        partitions_def=SESSIONS,
        deps=[station_key(name) for name in station_names],
        group_name="cadip",
        kinds={"s3", "stac"},
        description="Every file of one downlink session staged to S3, and the session's catalog item.",
    )
    def cadip_sessions(
        context: dg.AssetExecutionContext,
        stations: StationsResource,
        storage: ObjectStorage,
        catalog: CatalogResource,
    ) -> dg.MaterializeResult:
        station, session_id = split_session_key(context.partition_key)
        try:
            report = _stage(context, station, session_id, stations, storage, catalog)
        except RsAssetsError as exc:
            raise dg.Failure(str(exc)) from None
        metadata = session_metadata(report, catalog)
        fail_if_any(report.staging, f"{station} {session_id}", metadata)
        return dg.MaterializeResult(metadata=metadata)

    def _stage(
        context: dg.AssetExecutionContext | dg.OpExecutionContext,
        station: str,
        session_id: str,
        stations: StationsResource,
        storage: ObjectStorage,
        catalog: CatalogResource,
    ) -> SessionReport:
        client = stations.client(station)
        return stage_session(
            client,
            storage.transfer(),
            catalog.catalog(),
            catalog.owner,
            names,
            storage.rules(),
            session_id,
            client.config.max_parallel_downloads,
            Progress(context.log, 0, f"{station} {session_id}"),
        )

    @dg.asset(
        name="cadip_discovery",
        partitions_def=dg.MultiPartitionsDefinition(
            {"day": daily, "station": dg.StaticPartitionsDefinition(station_names)}
        ),
        group_name="cadip",
        kinds={"odata"},
        description="Backfill over time: every session with files published that day at that station, staged "
        "as its cadip_sessions partition (past sessions are staged while the station still has them).",
    )
    def cadip_discovery(
        context: dg.AssetExecutionContext,
        stations: StationsResource,
        storage: ObjectStorage,
        catalog: CatalogResource,
    ) -> dg.MaterializeResult:
        keys = context.partition_key.keys_by_dimension  # type: ignore[attr-defined]
        station, day = keys["station"], date.fromisoformat(keys["day"])
        session_ids = sessions_published_on(stations.client(station), day)
        partition_keys = [session_key(station, s) for s in session_ids]
        context.instance.add_dynamic_partitions(SESSIONS.name or "", partition_keys)
        failures, complete = [], 0
        for session_id, key in zip(session_ids, partition_keys, strict=True):
            try:
                report = _stage(context, station, session_id, stations, storage, catalog)
            except RsAssetsError as exc:
                failures.append(f"{session_id}: {exc}")
                continue
            if report.staging.failed:
                failures.append(f"{session_id}: {len(report.staging.failed)} files failed")
                continue
            complete += report.state.complete
            context.log_event(
                dg.AssetMaterialization(
                    asset_key=cadip_sessions.key, partition=key, metadata=session_metadata(report, catalog)
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
        description=f"Fails when a session not completely staged is within {eviction_margin} of its first eviction.",
    )
    def eviction_watch(context: dg.AssetCheckExecutionContext) -> dg.AssetCheckResult:
        now = utcnow()
        records_filter = dg.AssetRecordsFilter(
            asset_key=cadip_sessions.key, after_timestamp=(now - EVICTION_HORIZON).timestamp()
        )
        records: list[dg.EventLogRecord] = []
        cursor = None
        while True:  # newest first, 10,000 at a time (the instance's cap)
            page = context.instance.fetch_materializations(records_filter, limit=10_000, cursor=cursor)
            records += page.records
            if not page.has_more:
                break
            cursor = page.cursor
        latest: dict[str, SessionStatus] = {}
        for record in records:  # newest first
            event = record.asset_materialization
            if event is None or event.partition is None or event.partition in latest:
                continue
            values = {k: v.value for k, v in event.metadata.items()}
            latest[event.partition] = SessionStatus(
                event.partition,
                bool(values.get("complete")),
                _eviction(values.get("earliest_eviction")),
            )
        risky = sessions_at_risk(list(latest.values()), now, eviction_margin)
        table = "\n".join(
            ["| session | first eviction |", "| --- | --- |"]
            + [f"| {s.key} | {format_item_datetime(s.earliest_eviction)} |" for s in risky]
        )
        return dg.AssetCheckResult(
            passed=not risky,
            severity=dg.AssetCheckSeverity.ERROR,
            description=f"{len(risky)} partially staged sessions are about to be evicted" if risky else None,
            metadata={
                "sessions_checked": dg.MetadataValue.int(len(latest)),
                "at_risk": dg.MetadataValue.md(table),
            },
        )

    # The eviction watch looks at every session: it runs on its own schedule, not inside each session's run.
    job = dg.define_asset_job(
        "cadip_session_staging", selection=dg.AssetSelection.assets(cadip_sessions).without_checks()
    )
    automation = automation_sensor("cadip_automation", dg.AssetSelection.checks(eviction_watch), interval=60)
    return dg.Definitions(
        assets=[cadip_sessions, cadip_discovery],
        asset_checks=[eviction_watch],
        jobs=[job],
        sensors=[automation],
    )


def cadip_sensors(stations: list[str]) -> list[dg.SensorDefinition]:
    return [cadip_sensor(name, "cadip_session_staging", SESSIONS, session_key) for name in stations]
