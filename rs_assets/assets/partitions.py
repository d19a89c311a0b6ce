from datetime import date

import dagster as dg


def daily_partitions(start: str) -> dg.DailyPartitionsDefinition:
    """Days by station publication date; today is included so that near-real-time data has a partition."""
    return dg.DailyPartitionsDefinition(start_date=start, end_offset=1)


def partition_day(context: dg.AssetExecutionContext) -> date:
    return date.fromisoformat(context.partition_key)
