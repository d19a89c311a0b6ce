"""CADIP sessions: one dynamic partition per station and session, staged as its files arrive."""

from datetime import timedelta

import dagster as dg

from rs_assets.assets.reporting import Progress, staging_metadata
from rs_assets.core.cadip import (
    SessionStatus,
    completeness,
    earliest_eviction,
    plan_session,
    session_files_filter,
    sessions_at_risk,
)
from rs_assets.core.errors import RsAssetsError
from rs_assets.core.odata import F
from rs_assets.core.stac_mapping import CollectionNames, session_item
from rs_assets.core.staging import stage_all
from rs_assets.core.timeutil import format_stac_datetime, parse_datetime, utcnow
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


def build_cadip(names: CollectionNames, eviction_margin: timedelta = timedelta(hours=24)) -> dg.Definitions:
    @dg.asset(
        name="cadip_sessions",
        partitions_def=SESSIONS,
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
        client = stations.client(station)
        found = client.sessions(F("SessionId").eq(session_id))
        if not found:
            raise dg.Failure(
                f"station {station!r} has no session {session_id!r} (evicted, or never published)"
            )
        session = found[0]
        files = client.files(session_files_filter(session_id))
        plan = plan_session(session, files, catalog.owner, names, storage.rules())
        report = stage_all(
            client,
            storage.transfer(),
            plan.tasks,
            stations.stations().station(station).max_parallel_downloads,
            Progress(context.log, len(plan.tasks), f"{station} {session_id}"),
        )
        staged = {o.task.source.name: o.result.object.href for o in report.succeeded if o.result}
        cat = catalog.catalog()
        cat.ensure_collection(plan.collection)
        cat.upsert_items(
            plan.collection, [session_item(session, [f for f in files if f.Name in staged], staged)]
        )
        state = completeness(session, [f for f in files if f.Name in staged])
        eviction = earliest_eviction(files)
        metadata = staging_metadata(report) | {
            "complete": dg.MetadataValue.bool(state.complete),
            "completeness": dg.MetadataValue.md(state.as_table()),
            "files_staged": dg.MetadataValue.int(len(staged)),
            "earliest_eviction": dg.MetadataValue.text(format_stac_datetime(eviction) or "unknown"),
            "item": dg.MetadataValue.text(f"{cat.wire_id(plan.collection)}/{session_id}"),
        }
        if report.failed:
            names_failed = ", ".join(o.task.source.name for o in report.failed[:10])
            raise dg.Failure(
                f"{station} {session_id}: {len(report.failed)} files failed: {names_failed}",
                metadata=metadata,
            )
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
                parse_datetime(values.get("earliest_eviction") or None),
            )
        risky = sessions_at_risk(list(latest.values()), now, eviction_margin)
        table = "\n".join(
            ["| session | first eviction |", "| --- | --- |"]
            + [f"| {s.key} | {format_stac_datetime(s.earliest_eviction)} |" for s in risky]
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

    job = dg.define_asset_job("cadip_session_staging", selection=[cadip_sessions])
    automation = dg.AutomationConditionSensorDefinition(
        "cadip_automation",
        target=dg.AssetSelection.checks(eviction_watch),
        default_status=dg.DefaultSensorStatus.RUNNING,
        minimum_interval_seconds=60,
    )
    return dg.Definitions(
        assets=[cadip_sessions], asset_checks=[eviction_watch], jobs=[job], sensors=[automation]
    )


def cadip_sensors(stations: list[str]) -> list[dg.SensorDefinition]:
    return [cadip_sensor(name, "cadip_session_staging", SESSIONS, session_key) for name in stations]
