"""Declarative automation shared by the families."""

import dagster as dg


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
        name, target=target, default_status=dg.DefaultSensorStatus.RUNNING, minimum_interval_seconds=interval
    )
