"""OpenTelemetry spans for runs, steps, station requests, transfers and catalog calls.

Spans are exported over OTLP/HTTP only when the standard variables name an endpoint
(``OTEL_EXPORTER_OTLP_ENDPOINT`` or ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``; ``OTEL_SERVICE_NAME``,
``OTEL_EXPORTER_OTLP_HEADERS`` and the rest as the SDK reads them). Without them the API's no-op tracer stands in
and a span costs a function call.

Every run is one trace whose id is the run id, and each of its steps a span whose id derives from the run id and
the step key: a span made while a step runs (a station search, a file's transfer, a catalog call) names that step
as its parent, found through ``set_step_provider`` (the Dagster layer's view of the running step) or, in the
threads and event loops that stage files in parallel, the step this process last ran (Dagster runs one step at a
time per process). The run and step spans themselves are written once the run has ended, from its event log
(``record_run``), with the ids their children already named.

Attributes are chosen here, never copied from a request: station, product, session, collection, item, bucket and
key, counts and sizes; never a URL, a header, a token or a credential.
"""

from __future__ import annotations

import hashlib
import os
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
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
_step: tuple[str, str] | None = None  # (run id, step key) last seen running in this process


def _no_step() -> tuple[str, str] | None:
    return None


_step_provider: Callable[[], tuple[str, str] | None] = _no_step


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


def set_step_provider(provider: Callable[[], tuple[str, str] | None]) -> None:
    """``provider()`` is (run id, step key) of the step running in the calling thread, or None."""
    global _step_provider
    _step_provider = provider


def _parent() -> otel_context.Context | None:
    global _step
    if trace.get_current_span().get_span_context().is_valid:
        return None  # the current span is the parent
    try:
        running = _step_provider()
    except Exception:  # a span's parent is never worth a failed step
        running = None
    if running is not None:
        _step = running
    return step_context(*_step) if _step is not None else None


@contextmanager
def span(name: str, **attributes: Any) -> Iterator[trace.Span]:
    """A span under the current one, or under the running step; exceptions are recorded on it and re-raised.
    Without an endpoint it is the API's invalid span, touching nothing: staging opens one per file."""
    setup()
    if not _exporting:
        yield trace.INVALID_SPAN
        return
    tracer = trace.get_tracer(TRACER)
    with tracer.start_as_current_span(name, context=_parent(), attributes=_clean(attributes)) as current:
        yield current


def run_ids(run_id: str) -> tuple[int, int]:
    """(trace id, span id) of a run's span: the trace id is the run id (a UUID), so the trace is found by run."""
    digest = hashlib.sha256(run_id.encode()).hexdigest()
    try:
        trace_id = uuid.UUID(run_id).int
    except ValueError:
        trace_id = int(digest[:32], 16)
    return trace_id, int(digest[32:48], 16) or 1


def step_ids(run_id: str, step_key: str) -> tuple[int, int]:
    digest = hashlib.sha256(f"{run_id}/{step_key}".encode()).hexdigest()
    return run_ids(run_id)[0], int(digest[:16], 16) or 1


def _context(trace_id: int, span_id: int) -> otel_context.Context:
    parent = trace.SpanContext(trace_id, span_id, is_remote=True, trace_flags=trace.TraceFlags(1))
    return trace.set_span_in_context(trace.NonRecordingSpan(parent))


def run_context(run_id: str) -> otel_context.Context:
    return _context(*run_ids(run_id))


def step_context(run_id: str, step_key: str) -> otel_context.Context:
    return _context(*step_ids(run_id, step_key))


@dataclass(frozen=True)
class Interval:
    """A run's or a step's span: seconds since the epoch, and why it failed (None when it did not)."""

    name: str
    start: float
    end: float
    failure: str | None = None


def record_run(run: Interval, steps: Sequence[Interval], run_id: str, **attributes: Any) -> None:
    """Write a finished run's span and its steps' spans, with the ids their children named while it ran."""
    setup()
    if not _exporting:
        return
    tracer = trace.get_tracer(TRACER)

    def write(interval: Interval, ids: tuple[int, int], parent: otel_context.Context, **extra: Any) -> None:
        _forced.ids = ids
        try:
            current = tracer.start_span(
                interval.name,
                context=parent,
                attributes=_clean(attributes | extra),
                start_time=int(interval.start * 1e9),
            )
        finally:
            _forced.ids = None
        if interval.failure:
            current.set_status(trace.StatusCode.ERROR, interval.failure[:300])
        current.end(end_time=int(interval.end * 1e9))

    write(run, run_ids(run_id), otel_context.Context())
    for step in steps:
        write(step, step_ids(run_id, step.name), run_context(run_id), **{"dagster.step": step.name})


def _run_id_generator() -> Any:
    """Random ids, except for the run and step spans ``record_run`` writes, whose ids derive from the run id."""
    from opentelemetry.sdk.trace.id_generator import RandomIdGenerator

    class RunIds(RandomIdGenerator):
        def generate_span_id(self) -> int:
            forced = getattr(_forced, "ids", None)
            return forced[1] if forced else super().generate_span_id()

        def generate_trace_id(self) -> int:
            forced = getattr(_forced, "ids", None)
            return forced[0] if forced else super().generate_trace_id()

    return RunIds()
