"""Run and step spans from Dagster's own events, so that no asset opens them itself.

``rs-assets instance-config`` attaches ``SpanHandler`` to the instance's Dagster logger (``python_logs:
dagster_handler_config``): every event of a run reaches it as a log record carrying ``dagster_meta`` (run id,
job, step key, tags and the event), in the process where the event happens: the run worker for the run's start
and end, the process executing a step for the step's. Without an OTLP endpoint (``rs_assets.core.tracing``) it
does nothing.
"""

import logging
from typing import Any

from opentelemetry.trace import Span, StatusCode

from rs_assets.core import tracing

RUN_ENDS = {"RUN_SUCCESS": None, "RUN_FAILURE": "the run failed", "RUN_CANCELED": "the run was canceled"}
STEP_ENDS = {"STEP_SUCCESS": None, "STEP_FAILURE": "the step failed"}


class SpanHandler(logging.Handler):
    def __init__(self, level: int = logging.DEBUG) -> None:
        super().__init__(level=level)
        self.on = tracing.enabled()
        self.runs: dict[str, Span] = {}
        self.steps: dict[tuple[str, str], Span] = {}

    def emit(self, record: logging.LogRecord) -> None:
        meta: dict[str, Any] | None = getattr(record, "dagster_meta", None)
        event = (meta or {}).get("dagster_event")
        if not self.on or meta is None or event is None or not meta.get("run_id"):
            return
        try:
            self._on_event(event.event_type.name, meta)
        except Exception:  # a span lost is never a run failed
            self.handleError(record)

    def _on_event(self, kind: str, meta: dict[str, Any]) -> None:
        run_id, step = meta["run_id"], meta.get("step_key") or ""
        attributes = {
            "dagster.run_id": run_id,
            "dagster.job": meta.get("job_name"),
            "dagster.partition": (meta.get("job_tags") or {}).get("dagster/partition"),
        }
        if kind == "RUN_START":
            self.runs[run_id] = tracing.start_run_span(run_id, **attributes)
        elif kind in RUN_ENDS and run_id in self.runs:
            _end(self.runs.pop(run_id), RUN_ENDS[kind])
        elif kind == "STEP_START":
            span = tracing.start_span(
                f"step {step}", tracing.run_context(run_id), **attributes, **{"dagster.step": step}
            )
            self.steps[(run_id, step)] = span
            tracing.enter_step(span)
        elif kind in STEP_ENDS and (run_id, step) in self.steps:
            tracing.enter_step(None)
            _end(self.steps.pop((run_id, step)), STEP_ENDS[kind])


def _end(span: Span, failure: str | None) -> None:
    if failure:
        span.set_status(StatusCode.ERROR, failure)
    span.end()
