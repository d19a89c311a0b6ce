"""OpenTelemetry spans for runs, steps, station requests, transfers and catalog calls.

Spans are exported over OTLP/HTTP only when the standard variables name an endpoint
(``OTEL_EXPORTER_OTLP_ENDPOINT`` or ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``; ``OTEL_SERVICE_NAME``,
``OTEL_EXPORTER_OTLP_HEADERS`` and the rest as the SDK reads them). Without them the API's no-op tracer stands in
and a span costs a function call.

A span's parent is the span current in its thread, else the step running in this process: Dagster runs one step
at a time per process (in-process executor, run worker or step worker), and the threads and event loops that
stage files in parallel start with no context of their own. Every step of a run shares one trace, whose id is the
run id, wherever the step executes.

Attributes are chosen here, never copied from a request: station, product, session, collection, item, bucket and
key, counts and sizes; never a URL, a header, a token or a credential.
"""

from __future__ import annotations

import hashlib
import os
import threading
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace

TRACER = "rs_assets"
ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
Attribute = str | int | float | bool

_setup_lock = threading.Lock()
_configured = False
_exporting = False
_forced = threading.local()
_step: trace.Span | None = None  # the step running in this process, parent of spans made outside any span


def enabled(environ: Mapping[str, str] | None = None) -> bool:
    environ = os.environ if environ is None else environ
    if environ.get("OTEL_SDK_DISABLED", "").lower() == "true":
        return False
    if environ.get("OTEL_TRACES_EXPORTER", "otlp").lower() == "none":
        return False
    return any(environ.get(name) for name in ENDPOINT_VARIABLES)


def setup() -> None:
    """Install the OTLP exporter once per process, when the environment asks for it."""
    global _configured, _exporting
    if _configured:
        return
    with _setup_lock:
        if _configured:
            return
        _configured = True
        if not enabled():
            return
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        service = os.environ.get("OTEL_SERVICE_NAME") or "rs-assets"
        provider = TracerProvider(
            resource=Resource.create({"service.name": service}), id_generator=_run_id_generator()
        )
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        trace.set_tracer_provider(provider)
        _exporting = True


def _clean(attributes: Mapping[str, Any]) -> dict[str, Attribute]:
    return {k: v for k, v in attributes.items() if isinstance(v, str | int | float | bool)}


@contextmanager
def span(name: str, **attributes: Any) -> Iterator[trace.Span]:
    """A span under the current one (or the running step); exceptions are recorded on it and re-raised.
    Without an endpoint it is the API's invalid span, touching nothing: staging opens one per file."""
    setup()
    if not _exporting:
        yield trace.INVALID_SPAN
        return
    parent = None
    if not trace.get_current_span().get_span_context().is_valid and _step is not None:
        parent = trace.set_span_in_context(_step)
    tracer = trace.get_tracer(TRACER)
    with tracer.start_as_current_span(name, context=parent, attributes=_clean(attributes)) as current:
        yield current


def run_ids(run_id: str) -> tuple[int, int]:
    """(trace id, span id) of a run's span: the trace id is the run id (a UUID), so the trace is found by run."""
    digest = hashlib.sha256(run_id.encode()).hexdigest()
    try:
        trace_id = uuid.UUID(run_id).int
    except ValueError:
        trace_id = int(digest[:32], 16)
    return trace_id, int(digest[32:48], 16) or 1


def run_context(run_id: str) -> otel_context.Context:
    """A context whose parent is the run's span, for a step executing in any process."""
    trace_id, span_id = run_ids(run_id)
    parent = trace.SpanContext(trace_id, span_id, is_remote=True, trace_flags=trace.TraceFlags(1))
    return trace.set_span_in_context(trace.NonRecordingSpan(parent))


def start_run_span(run_id: str, **attributes: Any) -> trace.Span:
    """The run's own span, with the ids ``run_context`` names (the caller ends it)."""
    setup()
    _forced.ids = run_ids(run_id)
    try:
        return trace.get_tracer(TRACER).start_span(
            "run", context=otel_context.Context(), attributes=_clean(attributes)
        )
    finally:
        _forced.ids = None


def _run_id_generator() -> Any:
    """Random ids, except for a run's span, whose ids derive from the run id."""
    from opentelemetry.sdk.trace.id_generator import RandomIdGenerator

    class RunIds(RandomIdGenerator):
        def generate_span_id(self) -> int:
            forced = getattr(_forced, "ids", None)
            return forced[1] if forced else super().generate_span_id()

        def generate_trace_id(self) -> int:
            forced = getattr(_forced, "ids", None)
            return forced[0] if forced else super().generate_trace_id()

    return RunIds()


def start_span(name: str, parent: otel_context.Context | None, **attributes: Any) -> trace.Span:
    """A span the caller ends (one that opens and closes on events, not around a block)."""
    setup()
    return trace.get_tracer(TRACER).start_span(name, context=parent, attributes=_clean(attributes))


def enter_step(step: trace.Span | None) -> None:
    """Make ``step`` (None: no step) the parent of spans made outside any span in this process."""
    global _step
    _step = step
