"""Checks an on-call engineer reads: do the objects of published items still exist with their recorded size, are
sessions staged within minutes of their publication, is each AUX day published by its deadline.

They run on their own cron (``checks_automation``), not inside the runs they judge.
"""

from datetime import timedelta

import dagster as dg

from rs_assets.assets.automation import automation_sensor
from rs_assets.assets.auxip import AUX
from rs_assets.assets.prip import PRIP
from rs_assets.assets.products import ledger_name
from rs_assets.assets.stations import asset_key
from rs_assets.core.errors import RsAssetsError
from rs_assets.core.lifecycle.integrity import IntegrityReport, check_integrity
from rs_assets.core.staging.sessions import late_files, session_ledger
from rs_assets.core.timeutil import last_due_day, utcnow
from rs_assets.resources import CatalogResource, ObjectStorage, StationsResource
from rs_assets.resources.services import services_of
from rs_assets.settings import StationsFile

INTEGRITY_SAMPLE = 20
INTEGRITY_CRON = "*/30 * * * *"
FRESHNESS_CRON = "*/10 * * * *"
LOOKBACK = timedelta(hours=6)  # how far back freshness looks for files published and not staged


def _listed(lines: list[str], limit: int = 50) -> dg.MetadataValue:
    more = [f"- ... and {len(lines) - limit} more"] if len(lines) > limit else []
    return dg.MetadataValue.md("\n".join([f"- {line}" for line in lines[:limit]] + more) or "none")


def integrity_check(asset: dg.AssetKey, ledger: str, restage: str) -> dg.AssetChecksDefinition:
    """``objects_intact`` on ``asset``, sampling the items of the ``ledger`` manifests; ``restage`` says what
    stages a broken item again."""

    @dg.asset_check(
        asset=asset,
        name="objects_intact",
        automation_condition=dg.AutomationCondition.cron_tick_passed(INTEGRITY_CRON),
        description=f"Samples {INTEGRITY_SAMPLE} published items and checks that their objects exist with the "
        "recorded size. A broken item is marked unpublished (rs:objects_lost) and the check fails until "
        f"{restage} stages it again.",
    )
    def objects_intact(storage: ObjectStorage, catalog: CatalogResource) -> dg.AssetCheckResult:
        report = check_integrity(services_of(storage, catalog), ledger, utcnow(), sample=INTEGRITY_SAMPLE)
        return _integrity_result(report)

    return objects_intact


def _integrity_result(report: IntegrityReport) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        passed=not report.broken,
        severity=dg.AssetCheckSeverity.ERROR,
        description=f"{len(report.broken)} items lost objects; re-stage partitions {', '.join(report.partitions)}"
        if report.broken
        else None,
        metadata={
            "items_checked": dg.MetadataValue.int(report.items_checked),
            "objects_checked": dg.MetadataValue.int(report.objects_checked),
            "broken": _listed(
                [f"{b.collection}/{b.item_id}: {'; '.join(b.problems)}" for b in report.broken]
            ),
            "marked_unpublished": dg.MetadataValue.int(report.marked),
            "partitions_to_restage": dg.MetadataValue.json(report.partitions),
        },
    )


def session_freshness_check(station: str, within: timedelta) -> dg.AssetChecksDefinition:
    minutes = within.total_seconds() / 60

    @dg.asset_check(
        asset=asset_key(station, "cadip_sessions"),
        name="files_staged_in_time",
        automation_condition=dg.AutomationCondition.cron_tick_passed(FRESHNESS_CRON),
        description=f"Fails when a file {station} published more than {minutes:g} minutes ago is not staged.",
    )
    def files_staged_in_time(
        stations: StationsResource, storage: ObjectStorage, catalog: CatalogResource
    ) -> dg.AssetCheckResult:
        try:
            late = late_files(
                stations.client(station),
                services_of(storage, catalog),
                utcnow(),
                within,
                max(within * 4, LOOKBACK),
            )
        except RsAssetsError as exc:
            return dg.AssetCheckResult(
                passed=False,
                severity=dg.AssetCheckSeverity.WARN,
                description=f"{station} could not be asked for its recent files: {exc}",
            )
        return dg.AssetCheckResult(
            passed=not late,
            severity=dg.AssetCheckSeverity.ERROR,
            description=f"{len(late)} {station} files not staged {minutes:g} minutes after publication"
            if late
            else None,
            metadata={"late_files": dg.MetadataValue.int(len(late)), "files": _listed(late)},
        )

    return files_staged_in_time


def day_published_check(asset: dg.AssetKey, station: str, deadline_hour: int) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=asset,
        name="day_published_in_time",
        automation_condition=dg.AutomationCondition.cron_tick_passed(f"5 {deadline_hour} * * *"),
        description=f"Fails when a day of {station} is not published by {deadline_hour:02d}:00 UTC the next day.",
    )
    def day_published_in_time(context: dg.AssetCheckExecutionContext) -> dg.AssetCheckResult:
        day = last_due_day(utcnow(), deadline_hour).isoformat()
        records = context.instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=asset, asset_partitions=[day]), limit=1
        ).records
        return dg.AssetCheckResult(
            passed=bool(records),
            severity=dg.AssetCheckSeverity.ERROR,
            description=None
            if records
            else f"{station} {day} was not published by {deadline_hour:02d}:00 UTC",
            metadata={"day": dg.MetadataValue.text(day)},
        )

    return day_published_in_time


def build_checks(
    stations: StationsFile, *, session_within: timedelta, aux_deadline_hour: int
) -> dg.Definitions:
    """Every station's checks, and the automation sensor that runs them on their cron."""
    checks: list[dg.AssetChecksDefinition] = []
    for family in (AUX, PRIP):
        for station in [s.name for s in stations.of_kind(family.kind)]:
            restage = f"a run of {asset_key(station, family.staged).to_user_string()}"
            published = asset_key(station, family.published)
            checks.append(integrity_check(published, ledger_name(station, family.staged), restage))
            if family is AUX:
                checks.append(day_published_check(published, station, aux_deadline_hour))
    for station in [s.name for s in stations.of_kind("cadip")]:
        sessions = asset_key(station, "cadip_sessions")
        restage = f"the {station} session publication sensor"
        checks += [
            integrity_check(sessions, session_ledger(station), restage),
            session_freshness_check(station, session_within),
        ]
    if not checks:
        return dg.Definitions()
    return dg.Definitions(
        asset_checks=checks,
        sensors=[automation_sensor("checks_automation", dg.AssetSelection.checks(*checks), interval=60)],
    )
