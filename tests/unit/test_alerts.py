"""Run-failure alerts: the message, the station a run belongs to, and a webhook that refuses without its URL
leaking into the error."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import ClassVar

import pytest

from rs_assets.core.alerts import RunFailure, Webhook, failure_message, station_of_job, webhook_host
from rs_assets.core.errors import RsAssetsError
from rs_assets.core.http import RetryPolicy
from rs_assets.core.timeutil import last_due_day

TOKEN = "T0KEN-s3cret"


def test_a_job_belongs_to_the_station_its_name_starts_with_the_longest_first() -> None:
    stations = ["INS", "INS2", "ADGS"]
    assert station_of_job("ins_session_staging", stations) == "INS"
    assert station_of_job("ins2_session_staging", stations) == "INS2"
    assert station_of_job("adgs_staging", stations) == "ADGS"
    assert station_of_job("lifecycle_expiry", stations) is None
    assert station_of_job("__ASSET_JOB", stations) is None


def test_the_message_names_job_station_partition_reason_and_link_on_one_line() -> None:
    failure = RunFailure(
        "r1",
        "ins_session_staging",
        "INS",
        "S1A_2026",
        "INS S1A_2026:\n 2 of 4 files failed",
        "http://ui/runs/r1",
    )
    message = failure_message(failure)
    assert message["text"] == (
        "rs-assets run of ins_session_staging failed (station INS partition S1A_2026): "
        "INS S1A_2026: 2 of 4 files failed http://ui/runs/r1"
    )
    assert (message["run_id"], message["station"], message["partition"], message["url"]) == (
        "r1", "INS", "S1A_2026", "http://ui/runs/r1"
    )  # fmt: skip
    long = failure_message(RunFailure("r", "j", None, None, "x" * 5000, "u"))
    assert len(str(long["reason"])) == 1000 and "(" not in str(long["text"]).split(":")[0]


def test_the_webhook_host_is_all_an_error_may_show() -> None:
    assert (
        webhook_host(f"https://hooks.example.org/services/{TOKEN}?k={TOKEN}") == "https://hooks.example.org"
    )
    assert webhook_host(f"http://127.0.0.1:8080/{TOKEN}") == "http://127.0.0.1:8080"


class Receiver(BaseHTTPRequestHandler):
    status = 200
    received: ClassVar[list[dict]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append(json.loads(body))
        self.send_response(type(self).status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[tuple[str, type[Receiver]]]:
    handler = type("Handler", (Receiver,), {"received": [], "status": 200})
    server = HTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/hooks/{TOKEN}", handler
    server.shutdown()


def test_a_webhook_gets_the_message_as_json(receiver: tuple[str, type[Receiver]]) -> None:
    url, handler = receiver
    Webhook(url).post({"text": "hello"})
    assert handler.received == [{"text": "hello"}]


@pytest.mark.parametrize("status", [403, 500])
def test_a_webhook_that_refuses_is_named_by_its_host_never_its_token(
    status: int, receiver: tuple[str, type[Receiver]]
) -> None:
    url, handler = receiver
    handler.status = status
    with pytest.raises(RsAssetsError) as error:
        Webhook(url, RetryPolicy(attempts=2, backoff=0.01)).post({"text": "x"})
    assert f"HTTP {status}" in str(error.value) and "127.0.0.1" in str(error.value)
    assert TOKEN not in str(error.value)


def test_a_webhook_that_does_not_answer_is_named_by_its_host_never_its_token() -> None:
    with pytest.raises(RsAssetsError) as error:
        Webhook(f"http://127.0.0.1:9/{TOKEN}", RetryPolicy(attempts=2, backoff=0.01)).post({"text": "x"})
    assert "alert webhook at http://127.0.0.1:9" in str(error.value) and TOKEN not in str(error.value)


def test_a_webhook_must_be_http() -> None:
    with pytest.raises(RsAssetsError, match="http:// or https://"):
        Webhook(f"ftp://host/{TOKEN}")


@pytest.mark.parametrize(
    ("now", "due"),
    [
        (datetime(2026, 12, 2, 5, 59, tzinfo=UTC), date(2026, 11, 30)),
        (datetime(2026, 12, 2, 6, 0, tzinfo=UTC), date(2026, 12, 1)),
        (datetime(2026, 12, 2, 23, 0, tzinfo=UTC), date(2026, 12, 1)),
    ],
)
def test_a_day_is_due_once_the_deadline_hour_of_the_next_day_has_passed(now: datetime, due: date) -> None:
    assert last_due_day(now, 6) == due
