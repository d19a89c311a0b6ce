"""The one ``Definitions`` of the rs_assets code location, built from settings."""

from datetime import timedelta

import dagster as dg

from rs_assets.assets.auxip import build_auxip
from rs_assets.assets.cadip import build_cadip
from rs_assets.assets.checks import build_checks
from rs_assets.assets.lifecycle import build_lifecycle
from rs_assets.assets.on_demand import crop_on_demand, harvest_on_demand
from rs_assets.assets.partitions import daily_partitions
from rs_assets.assets.prip import build_prip
from rs_assets.assets.processing import build_processing
from rs_assets.assets.stations import station_specs
from rs_assets.deployment.tracing import trace_sensors
from rs_assets.resources.from_settings import build_resources
from rs_assets.sensors.alerts import run_failure_alerts
from rs_assets.settings import Settings


def build_definitions(settings: Settings | None = None) -> dg.Definitions:
    settings = settings or Settings.from_env()
    stations = settings.stations()
    daily = daily_partitions(settings.partitions_start)
    families: list[dg.Definitions] = []
    auxips, prips = stations.of_kind("auxip"), stations.of_kind("prip")
    if auxips:
        families.append(build_auxip([s.name for s in auxips], daily))
    if prips:
        families.append(build_prip([s.name for s in prips], daily, [s.name for s in prips if s.convert]))
    cadips = [s.name for s in stations.of_kind("cadip")]
    if cadips:
        families.append(build_cadip(cadips, daily))
    built = dg.Definitions.merge(*families) if families else dg.Definitions()
    produced = {a.key.to_user_string(): a for a in built.assets or [] if isinstance(a, dg.AssetsDefinition)}
    families.append(build_processing(settings.processors(), produced))
    families.append(build_lifecycle())
    families.append(
        build_checks(
            stations,
            session_within=timedelta(minutes=settings.session_freshness_minutes),
            aux_deadline_hour=settings.aux_day_deadline_hour,
        )
    )
    # One process per run: every step of our jobs is I/O- or eopf-bound, and on small machines the
    # multiprocess executor's extra interpreter per step costs more than it parallelises.
    return dg.Definitions.merge(
        dg.Definitions(
            assets=[*station_specs(stations)],
            jobs=[crop_on_demand, harvest_on_demand],
            sensors=[run_failure_alerts([s.name for s in stations.stations]), *trace_sensors()],
            resources=build_resources(settings),
            executor=dg.in_process_executor,
        ),
        *families,
    )


defs = build_definitions()
