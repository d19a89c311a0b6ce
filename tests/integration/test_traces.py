"""OpenTelemetry spans of a real staging run on ``dg dev``, received by an OTLP/HTTP endpoint in the test: one
trace per run (its id the run id), a span for the run, its steps, each station search, each file's transfer and
each catalog call, with station, file and item ids as attributes and none of the configured secrets; nothing at
all when no endpoint is configured."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from datetime import date, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from rs_assets.core.timeutil import utcnow
from rs_assets.core.tracing import run_ids
from rs_assets.settings import SIMULATOR_PASSWORD_ENV, SIMULATOR_SECRET_ENV
from rs_assets.simulator.config import SimStation
from tests.conftest import SimulatorFactory
from tests.integration.dagster_process import (
    dagster_dev,
    dagster_env,
    free_port,
    instance_home,
    listening,
    wait_until,
)
from tests.integration.platform import SECRET_KEY, make_platform

OTLP_SECRET = "otlp-header-s3cret"
RUN = textwrap.dedent(
    """
    import sys
    import dagster as dg
    from rs_assets.definitions import build_definitions

    defs = build_definitions()
    selection = dg.AssetSelection.assets(["adgs", "aux_files"], ["adgs", "aux_catalog"]).without_checks()
    job = dg.define_asset_job("traced_staging", selection=selection)
    merged = dg.Definitions.merge(defs, dg.Definitions(jobs=[job]))
    with dg.DagsterInstance.ephemeral() as instance:
        result = merged.resolve_job_def("traced_staging").execute_in_process(
            partition_key=sys.argv[1], instance=instance
        )
    assert result.success
    print("RUN", result.run_id)
    """
)


Span = dict[str, Any]


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[Span]]]:
    spans: list[Span] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            request = ExportTraceServiceRequest()
            request.ParseFromString(self.rfile.read(int(self.headers["Content-Length"])))
            for resource in request.resource_spans:
                for scope in resource.scope_spans:
                    for s in scope.spans:
                        attributes = {
                            a.key: getattr(a.value, a.value.WhichOneof("value")) for a in s.attributes
                        }
                        spans.append(
                            dict(
                                name=s.name,
                                trace=s.trace_id.hex(),
                                id=s.span_id.hex(),
                                parent=s.parent_span_id.hex(),
                                attributes=attributes,
                                error=s.status.code == 2,
                                header=self.headers.get("authorization"),
                            )
                        )
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}", spans
    server.shutdown()


def run_staging(env: dict[str, str], day: date) -> str:
    done = subprocess.run(
        [sys.executable, "-c", RUN, day.isoformat()], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return next(line.split()[1] for line in done.stdout.splitlines() if line.startswith("RUN "))


def test_a_staging_run_is_one_trace_of_run_steps_searches_transfers_and_catalog_calls_without_secrets(
    simulator_factory: SimulatorFactory,
    s3_endpoint: str,
    tmp_path: Path,
    unique: str,
    receiver: tuple[str, list[Span]],
) -> None:
    endpoint, spans = receiver
    sim = simulator_factory(
        SimStation(name="ADGS", kind="auxip", products_per_day=6, days=2, product_scale=0.05),
        history_end=utcnow(),
    )
    day = (utcnow() - timedelta(days=1)).date()  # the station's sensor stages it: it is within its look-back
    platform = make_platform(s3_endpoint, None, tmp_path, unique, sim)
    home = instance_home(tmp_path / "dagster")
    env = dagster_env(platform.cli_env(tmp_path / "data"), home, f"rs-traces-{unique}", tmp_path)

    run_staging(env, day - timedelta(days=1))
    assert spans == [], "no endpoint configured: nothing is sent"

    traced = env | {
        "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint,
        "OTEL_EXPORTER_OTLP_HEADERS": f"authorization=Bearer {OTLP_SECRET}",
        "OTEL_SERVICE_NAME": "rs-assets-test",
        "OTEL_BSP_SCHEDULE_DELAY": "200",
    }
    port, log = free_port(), tmp_path / "dagster.log"
    with dg.DagsterInstance.from_config(str(home)) as instance, dagster_dev(traced, port, log):
        wait_until("the UI", 240, lambda: listening(port), log)

        def staged_day() -> list[dg.DagsterRun]:
            runs = instance.get_runs(
                filters=dg.RunsFilter(
                    job_name="adgs_staging",
                    statuses=[dg.DagsterRunStatus.SUCCESS],
                    tags={"dagster/partition": day.isoformat()},
                )
            )
            return [
                r
                for r in runs
                if any(
                    s["name"] == "run" and s["attributes"].get("dagster.run_id") == r.run_id for s in spans
                )
            ]

        run_id = wait_until("the staging run of the day and its run span", 300, staged_day, log)[0].run_id
    trace_id, run_span_id = run_ids(run_id)
    mine = [s for s in spans if s["trace"] == f"{trace_id:032x}"]
    by_name: dict[str, list[Span]] = {}
    for s in mine:
        by_name.setdefault(s["name"], []).append(s)
    (run,) = by_name["run"]
    assert (run["id"], run["parent"]) == (f"{run_span_id:016x}", ""), "the run's span is the trace's root"
    assert run["attributes"]["dagster.partition"] == day.isoformat() and not run["error"]
    (step,) = by_name["adgs__aux_files"]
    assert step["parent"] == run["id"] and step["attributes"]["dagster.step"] == "adgs__aux_files"

    products, _ = sim.data.stations["ADGS"].entity_set("Products", sim.data.now())
    names = {p["Name"] for p in products if p["PublicationDate"].startswith(day.isoformat())}
    transfers = by_name["transfer"]
    assert {t["attributes"]["rs.file"] for t in transfers} == names
    for t in transfers:
        assert t["parent"] == step["id"], "transfers on worker threads hang under their step"
        assert t["attributes"]["rs.station"] == "ADGS" and t["attributes"]["rs.item"]
        assert t["attributes"]["s3.bucket"] == platform.data_bucket and not t["error"]
    searches = by_name["station.search"]
    assert {(s["attributes"]["rs.station"], s["attributes"]["odata.entity"]) for s in searches} == {
        ("ADGS", "Products")
    }
    assert all(s["parent"] == step["id"] for s in searches)
    catalog = [s for s in mine if s["name"].startswith("catalog.")]
    assert {s["name"] for s in catalog} >= {"catalog.collection_exists", "catalog.expired_ids"}
    assert all(
        s["parent"] == step["id"] and s["attributes"]["rs.catalog"] == "SqliteCatalog" for s in catalog
    )
    assert {s["header"] for s in spans} == {f"Bearer {OTLP_SECRET}"}, "the OTEL_* headers reach the endpoint"

    secrets = [SECRET_KEY, OTLP_SECRET, os.environ[SIMULATOR_SECRET_ENV], os.environ[SIMULATOR_PASSWORD_ENV]]
    text = repr([(s["name"], s["attributes"]) for s in spans])
    assert not [secret for secret in secrets if secret in text], "a secret reached a span"
    assert "http" not in text, "no URL in a span"
