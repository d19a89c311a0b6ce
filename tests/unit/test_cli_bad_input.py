"""Every expected failure of a CLI command is one line naming the input and what is expected, a non-zero exit and
nothing written; a traceback is a bug. Run on the embedded default's settings; no service is asked."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest
from click.testing import CliRunner

from rs_assets.cli import main

VALCOVER = ["valcover", "ADGS", "--type", "AUX_RESORB", "--collection", "c"]
GOOD = "2026-11-20T12:00:00.000Z"


class _Answers(http.server.BaseHTTPRequestHandler):
    bodies: ClassVar[dict[str, tuple[bytes, str]]] = {
        "/page": (b"<html><body>not an item</body></html>", "text/html"),
        "/list": (b"[1, 2]", "application/json"),
    }

    def do_GET(self) -> None:
        body, kind = self.bodies[self.path]
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def web() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Answers)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        ([*VALCOVER, "--start", "yesterday", "--end", GOOD], 2, "'yesterday' is not an ISO 8601 datetime"),
        ([*VALCOVER, "--start", GOOD, "--end", "2026-99-99"], 2, "'2026-99-99' is not an ISO 8601 datetime"),
        (
            [*VALCOVER, "--start", GOOD, "--end", "2026-11-19T00:00:00Z"],
            1,
            "ends (2026-11-19 00:00:00+00:00) before",
        ),
        (["convert", "{web}/page"], 1, "does not answer JSON (text/html): not a STAC item URL"),
        (["convert", "{web}/list"], 1, "STAC input is a JSON list, not an item"),
        (["convert", "[1, 2]"], 1, "STAC input is a JSON list, not an item"),
        (["catalog", "search", "../../etc/passwd"], 1, "no collection '../../etc/passwd' in the catalog"),
        (["pools", "apply", "--limit", "station-MTI=2"], 1, "station-MTI: no such pool"),
        (["pools", "apply", "--limit", "conversion"], 1, "expected POOL=N"),
        (["lifecycle", "sweep", "--grace-hours", "-1"], 2, "-1.0 is not in the range x>=0"),
        (
            ["preflight", "--postgres-url-env", "NO_SUCH_VARIABLE"],
            1,
            "NO_SUCH_VARIABLE (Dagster's PostgreSQL URL) is not set",
        ),
        (["download", "PRIP", "--destination", "/tmp/x", "--geometry", "POLYGON((1 2"], 1, "is not WKT"),
        (["download", "PRIP", "--destination", "/tmp/x/%Q"], 1, "unknown placeholder %Q"),
        (["download", "PRIP", "--destination", "/tmp/x", "--query", "[1]"], 1, "give a JSON object"),
        (
            ["download", "PRIP", "--destination", "/tmp/x", "--safety-limit", "0"],
            2,
            "0 is not in the range x>=1",
        ),
        (["copy", "c", "--destination", "s3:///x"], 1, "names no bucket"),
        (["crop", "s01siwgrd/X", "--bbox", "a,b,c,d"], 1, "--bbox 'a,b,c,d': give W,S,E,N"),
        (["crop", "X", "--bbox", "1,2,3,4"], 1, "ITEM 'X': give COLLECTION/ITEM_ID"),
        (
            ["export", "c", "--endpoint", "http://127.0.0.1:9", "--bucket", "b"],
            1,
            "RS_ASSETS_EXPORT_ACCESS_KEY_ID",
        ),
    ],
)
def test_a_bad_input_is_one_line_and_a_non_zero_exit(
    args: list[str], code: int, message: str, web: str, tmp_path: Path
) -> None:
    env = {"RS_ASSETS_DATA_DIR": str(tmp_path / "data")}
    result = CliRunner().invoke(main, [a.format(web=web) for a in args], env=env)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code == code, result.output
    assert message in result.output, result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "data" / "catalog.sqlite").exists() or "catalog" in args[0]


def test_preflight_names_a_dask_scheduler_that_does_not_answer_and_a_postgres_that_refuses(
    tmp_path: Path,
) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {
        "RS_ASSETS_DATA_DIR": str(tmp_path),
        "RS_ASSETS_DASK_SCHEDULER": f"tcp://127.0.0.1:{port}",
        "PG_URL": f"postgresql+psycopg2://dagster:pw-not-shown@127.0.0.1:{port}/dagster",
    }
    dask = CliRunner().invoke(main, ["preflight"], env=env)
    assert dask.exit_code == 1 and f"Dask scheduler tcp://127.0.0.1:{port}" in dask.output, dask.output
    postgres = CliRunner().invoke(main, ["preflight", "--postgres-url-env", "PG_URL"], env=env)
    assert postgres.exit_code == 1 and "refused the connection" in postgres.output, postgres.output
    assert "pw-not-shown" not in postgres.output and "Traceback" not in postgres.output
