"""Traces in Dagster: the running step for the spans core makes (``rs_assets.core.tracing``), and the sensors that
write each finished run's span and its steps' spans from the run's event log.

Both are installed only when an OTLP endpoint is configured; otherwise the code location has neither.
"""

import dagster as dg

from rs_assets.core import tracing

STEP_EVENTS = {
    dg.DagsterEventType.STEP_START,
    dg.DagsterEventType.STEP_SUCCESS,
    dg.DagsterEventType.STEP_FAILURE,
}


def running_step() -> tuple[str, str] | None:
    """(run id, step key) of the step executing in the calling thread, if any."""
    try:
        context = dg.OpExecutionContext.get()
    except dg.DagsterInvariantViolationError:  # a sensor, a schedule, a thread a step started
        return None
    return (context.run_id, str(context.op_handle)) if context is not None else None


def steps_of(instance: dg.DagsterInstance, run_id: str, run_end: float) -> list[tracing.Interval]:
    started: dict[str, float] = {}
    steps: list[tracing.Interval] = []
    for entry in instance.all_logs(run_id, of_type=STEP_EVENTS):
        key, event = entry.step_key or "", entry.dagster_event
        if event is None:
            continue
        if event.event_type == dg.DagsterEventType.STEP_START:
            started[key] = entry.timestamp
        elif key in started:
            failed = event.event_type == dg.DagsterEventType.STEP_FAILURE
            steps.append(
                tracing.Interval(
                    key, started.pop(key), entry.timestamp, "the step failed" if failed else None
                )
            )
    steps += [tracing.Interval(key, start, run_end, "the step did not end") for key, start in started.items()]
    return steps


def record(context: dg.RunStatusSensorContext, failure: str | None) -> None:
    run = context.dagster_run
    stats = context.instance.get_run_stats(run.run_id)
    start = stats.start_time or stats.launch_time or stats.enqueued_time
    end = stats.end_time or start
    if start is None or end is None:
        return
    tracing.record_run(
        tracing.Interval("run", start, end, failure),
        steps_of(context.instance, run.run_id, end),
        run.run_id,
        **{
            "dagster.run_id": run.run_id,
            "dagster.job": run.job_name,
            "dagster.partition": run.tags.get("dagster/partition"),
        },
    )


def trace_sensors() -> list[dg.SensorDefinition]:
    """One sensor per way a run ends, and the running step registered for core's spans; nothing without an OTLP
    endpoint."""
    if not tracing.enabled():
        return []
    tracing.set_step_provider(running_step)
    ends = {
        dg.DagsterRunStatus.SUCCESS: None,
        dg.DagsterRunStatus.FAILURE: "the run failed",
        dg.DagsterRunStatus.CANCELED: "the run was canceled",
    }

    def sensor_for(status: dg.DagsterRunStatus, failure: str | None) -> dg.SensorDefinition:
        @dg.run_status_sensor(
            name=f"trace_{status.value.lower()}_runs",
            run_status=status,
            default_status=dg.DefaultSensorStatus.RUNNING,
            minimum_interval_seconds=10,
            description="Writes the run's span and its steps' spans to the OTLP endpoint.",
        )
        def traced(context: dg.RunStatusSensorContext) -> None:
            record(context, failure)

        return traced

    return [sensor_for(status, failure) for status, failure in ends.items()]
