"""Declarative automation shared by the families."""

import dagster as dg

# Dagster's run retries (the instance enables them): a run that failed on a transient outage (a station, S3, the
# catalog) or whose worker died is re-executed from its failure without an operator. Each retry skips what the
# failed run finished, so three cost little.
RUN_RETRIES = {"dagster/max_retries": "3", "dagster/retry_strategy": "FROM_FAILURE"}


def after_upstream() -> dg.AutomationCondition:
    """``eager()`` for every partition, not only the latest day: a sensor look-back or a backfill stages past
    days too, and their publication and normalization must follow just the same."""
    return (
        (
            dg.AutomationCondition.newly_missing() | dg.AutomationCondition.any_deps_updated()
        ).since_last_handled()
        & ~dg.AutomationCondition.any_deps_missing()
        & ~dg.AutomationCondition.any_deps_in_progress()
        & ~dg.AutomationCondition.in_progress()
    ).with_label("after upstream, any day")


def automation_sensor(name: str, target: dg.AssetSelection, interval: int = 30) -> dg.SensorDefinition:
    """A family's automation sensor, running from the start: nothing is materialized by hand that a family
    promises to follow up."""
    return dg.AutomationConditionSensorDefinition(
        name,
        target=target,
        default_status=dg.DefaultSensorStatus.RUNNING,
        minimum_interval_seconds=interval,
        run_tags=RUN_RETRIES,
    )
