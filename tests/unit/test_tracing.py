"""Tracing is on only when an OTLP endpoint is configured, and a run's trace is found by its run id."""

from __future__ import annotations

import uuid

import pytest

from rs_assets.core.tracing import enabled, run_context, run_ids, step_ids


@pytest.mark.parametrize(
    ("environ", "on"),
    [
        ({}, False),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, True),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"}, True),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_SDK_DISABLED": "true"}, False),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_TRACES_EXPORTER": "none"}, False),
        ({"OTEL_SERVICE_NAME": "rs-assets"}, False),
    ],
)
def test_spans_are_exported_only_when_an_otlp_endpoint_is_configured(
    environ: dict[str, str], on: bool
) -> None:
    assert enabled(environ) is on


def test_a_runs_trace_id_is_its_run_id_and_every_process_derives_the_same_parent() -> None:
    run_id = str(uuid.uuid4())
    trace_id, span_id = run_ids(run_id)
    assert trace_id == uuid.UUID(run_id).int and span_id == run_ids(run_id)[1] != 0
    from opentelemetry import trace

    parent = trace.get_current_span(run_context(run_id)).get_span_context()
    assert (parent.trace_id, parent.span_id, parent.is_remote) == (trace_id, span_id, True)
    assert run_ids("not-a-uuid")[0] != 0


def test_each_step_of_a_run_has_its_own_span_id_in_the_runs_trace() -> None:
    run_id = str(uuid.uuid4())
    trace_id, run_span = run_ids(run_id)
    first, second = step_ids(run_id, "adgs__aux_files"), step_ids(run_id, "adgs__aux_catalog")
    assert first[0] == second[0] == trace_id
    assert len({first[1], second[1], run_span}) == 3
    assert step_ids(run_id, "adgs__aux_files") == first
