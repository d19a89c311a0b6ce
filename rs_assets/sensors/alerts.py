"""The run-failure alert: every failed run of the code location, one webhook message each."""

import dagster as dg

from rs_assets.core.alerts import RunFailure, failure_message, station_of_job
from rs_assets.resources import AlertsResource


def run_failure_alerts(stations: list[str]) -> dg.SensorDefinition:
    @dg.run_failure_sensor(
        name="run_failure_alerts",
        default_status=dg.DefaultSensorStatus.RUNNING,
        minimum_interval_seconds=15,
        description="Posts each failed run (job, station, partition, reason, link) to RS_ASSETS_ALERT_WEBHOOK.",
    )
    def run_failure_alerts(context: dg.RunFailureSensorContext, alerts: AlertsResource) -> None:
        webhook = alerts.webhook()
        if webhook is None:
            return
        run = context.dagster_run
        selected = [key.path[0] for key in run.asset_selection or ()]
        station = station_of_job(run.job_name, stations) or next(
            (s for s in stations if s.lower() in selected), None
        )
        failure = RunFailure(
            run_id=run.run_id,
            job=run.job_name,
            station=station,
            partition=run.tags.get("dagster/partition"),
            reason=_reason(context),
            url=alerts.run_url(run.run_id),
        )
        webhook.post(failure_message(failure))
        context.log.info(f"alert posted for run {run.run_id} of {run.job_name}")

    return run_failure_alerts


def _reason(context: dg.RunFailureSensorContext) -> str:
    """What failed, from the failed steps' errors (the run's own failure only names the steps)."""
    steps = [
        f"{event.step_key}: {event.step_failure_data.error.message.strip()}"
        for event in context.get_step_failure_events()
        if event.step_failure_data.error is not None
    ]
    return "; ".join(steps) or context.failure_event.message or "the run failed"
