"""The run-failure alert on a real Dagster (``dg dev``): every failed run, its retries included, reaches the webhook
once, naming station, partition and reason with a link to the run, and the webhook's token appears nowhere."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import dagster as dg
import pytest

from rs_assets.core.timeutil import utcnow
from rs_assets.simulator.config import SimStation
from tests.conftest import SimulatorFactory
from tests.integration.dagster_process import (
    IN_FLIGHT,
    dagster_dev,
    dagster_env,
    free_port,
    instance_home,
    listening,
    wait_until,
)
from tests.integration.platform import make_platform

TOKEN = "hook-T0KEN-never-logged"
RETRIES = 3


@pytest.fixture
def webhook() -> Iterator[tuple[str, list[dict]]]:
    received: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/hooks/{TOKEN}", received
    server.shutdown()


def test_every_failed_run_and_each_retry_posts_one_message_to_the_webhook(
    simulator_factory: SimulatorFactory,
    s3_endpoint: str,
    tmp_path: Path,
    unique: str,
    webhook: tuple[str, list[dict]],
) -> None:
    url, received = webhook
    sim = simulator_factory(
        SimStation(name="INS", kind="cadip", sessions=1, retransfers=0, channels=1, blocks_per_channel=2, chunk_size=2000),
        history_end=utcnow(),
    )  # fmt: skip
    platform = make_platform(s3_endpoint, None, tmp_path, unique, sim)
    # The reference's rules file names fake_bucket, not a valid bucket name: every session run fails on it.
    platform.rules_file.write_text(
        "owner,collection,product_type,expiration_days,bucket\n*,*,*,30,fake_bucket\n"
    )
    session_id = sim.data.stations["INS"].sessions[0]["SessionId"]
    home = instance_home(tmp_path / "dagster")
    port = free_port()
    env = dagster_env(platform.cli_env(tmp_path / "data"), home, f"rs-alerts-{unique}", tmp_path) | {
        "RS_ASSETS_ALERT_WEBHOOK": url,
        "RS_ASSETS_UI_URL": f"http://127.0.0.1:{port}",
    }
    log = tmp_path / "dagster.log"

    with dg.DagsterInstance.from_config(str(home)) as instance:

        def failed() -> list[dg.DagsterRun]:
            return list(instance.get_runs(filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.FAILURE])))

        with dagster_dev(env, port, log):
            wait_until("the UI", 240, lambda: listening(port), log)
            wait_until(
                "the session run and its retries failing",
                420,
                lambda: (
                    len(failed()) >= 1 + RETRIES
                    and not instance.get_runs(filters=dg.RunsFilter(statuses=IN_FLIGHT))
                ),
                log,
            )
            runs = failed()
            wait_until("a message per failed run", 120, lambda: len(received) >= len(runs), log)
            runs = failed()
    assert sorted(m["run_id"] for m in received) == sorted(r.run_id for r in runs), (
        "one message per failed run"
    )
    sessions = [r for r in runs if r.job_name == "ins_session_staging"]
    assert len(sessions) == 1 + RETRIES, [r.job_name for r in runs]
    for message in received:
        if message["job"] != "ins_session_staging":
            continue
        assert (message["station"], message["partition"]) == ("INS", session_id)
        assert "fake_bucket" in message["reason"], message["reason"]
        assert message["url"] == f"http://127.0.0.1:{port}/runs/{message['run_id']}"
        assert message["text"].startswith("rs-assets run of ins_session_staging failed (station INS")
    assert TOKEN not in log.read_text(), "the webhook's token reached the logs"
    assert not any(TOKEN in json.dumps(m) for m in received)
