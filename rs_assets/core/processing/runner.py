"""Run a payload with eopf's runner in a child process, its log streamed line by line to the caller."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import RsAssetsError

# Lines that say nothing about the run: fsspec's S3 filesystem leaves its sessions to the interpreter's exit.
QUIET = (
    "Unclosed client session",
    "Unclosed connector",
    "client_session: <aiohttp",
    "connections: ['deque(",
    "connector: <aiobotocore",
)


class ProcessorFailed(RsAssetsError):
    """The processor ran and failed (or was stopped for taking too long)."""


@dataclass(frozen=True)
class RunReport:
    """What eopf's runner reports of a run: status, timings per unit, and the products it wrote."""

    status: str
    seconds: float
    units: list[dict[str, Any]] = field(default_factory=list)
    written: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None

    @classmethod
    def of(cls, raw: Mapping[str, Any]) -> RunReport:
        error = None
        if raw.get("exception_message") or raw.get("exception_type"):
            error = f"{raw.get('exception_type') or 'Error'}: {raw.get('exception_message') or ''}".strip()
        return cls(
            status=str(raw.get("status") or "unknown"),
            seconds=float(raw.get("overall_seconds") or 0.0),
            units=list(raw.get("units") or []),
            written=list(raw.get("written_products") or []),
            error=error,
        )

    def markdown(self) -> str:
        rows = ["| unit | processing s | writing s | outputs |", "| --- | ---: | ---: | --- |"]
        for unit in self.units:
            rows.append(
                f"| {unit.get('identifier')} | {float(unit.get('processing_seconds') or 0):.2f} | "
                f"{float(unit.get('output_writing_seconds') or 0):.2f} | {', '.join(unit.get('output_names') or [])} |"
            )
        return "\n".join(rows)


def run_payload(
    payload: Path,
    working_dir: Path,
    *,
    on_line: Callable[[str], None] = lambda line: None,
    timeout: float = 3600.0,
    prepare: Callable[[], object] | None = None,
) -> RunReport:
    """``payload`` run to the end; a failure raises ``ProcessorFailed`` with the runner's own reason.

    ``prepare`` (fetching the inputs) runs while the runner's interpreter starts, which waits for it.
    """
    report_file = working_dir / "runner-report.json"
    report_file.unlink(missing_ok=True)
    ready = working_dir / "inputs-ready"
    command = [
        sys.executable,
        "-m",
        "rs_assets.core.processing.trigger",
        str(payload),
        "--working-dir",
        str(working_dir),
        "--report",
        str(report_file),
        *(["--wait-for", str(ready)] if prepare is not None else []),
    ]
    tail: deque[str] = deque(maxlen=30)
    started = time.monotonic()
    process = subprocess.Popen(
        command,
        cwd=working_dir,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        bufsize=1,
        start_new_session=True,
    )

    def pump() -> None:
        assert process.stdout is not None
        for raw in process.stdout:
            line = raw.rstrip()
            if not line:
                continue
            tail.append(line)
            if not any(marker in line for marker in QUIET):
                on_line(line)

    reader = threading.Thread(target=pump, name="eopf-runner-log", daemon=True)
    reader.start()
    try:
        if prepare is not None:
            prepare()
            ready.touch()
        code = process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        reader.join(5)
        raise ProcessorFailed(f"the processor ran longer than {timeout:.0f} s and was stopped") from None
    except BaseException:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        raise
    reader.join(30)
    raw = json.loads(report_file.read_text()) if report_file.exists() else {}
    report = RunReport.of(raw) if raw else RunReport("failed", time.monotonic() - started)
    if code != 0 or report.status != "completed":
        reason = report.error or _last_error(tail) or f"exit code {code}"
        raise ProcessorFailed(f"the processor failed: {reason}")
    return report


def _last_error(lines: deque[str]) -> str | None:
    for line in reversed(lines):
        if "Error" in line or "error" in line:
            return line.strip()[-500:]
    return None
