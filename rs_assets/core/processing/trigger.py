"""``python -m rs_assets.core.processing.trigger PAYLOAD --working-dir DIR --report FILE [--wait-for FILE]``:
eopf's ``EORunner`` on a payload, as ``eopf trigger local`` runs it, plus the runner's execution report as JSON.

It runs in a process of its own: ``EORunner`` resets the process's logging and eopf configuration, and a
processor that crashes or exhausts memory must not take the orchestrating process with it. With ``--wait-for``
it imports eopf and the payload's processing units, then waits for that file before running: the caller fetches
the inputs meanwhile, so that the interpreter's start costs the run nothing.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import time
from pathlib import Path


def main() -> int:
    parser = argparse.ArgumentParser(prog="rs_assets.core.processing.trigger")
    parser.add_argument("payload", type=Path)
    parser.add_argument("--working-dir", type=Path, required=True)
    parser.add_argument("--report", type=Path, required=True)
    parser.add_argument("--wait-for", type=Path, default=None)
    args = parser.parse_args()

    from eopf.triggering.runner import EORunner

    if args.wait_for is not None:
        software = _software(args.payload)  # imports the units while the inputs are fetched
        _wait(args.wait_for)
    runner = EORunner()
    status = 1
    try:
        runner.run_from_file(args.payload, working_dir=args.working_dir)
        status = 0
    finally:
        report = dataclasses.asdict(runner.get_report())
        software = _software(args.payload) if args.wait_for is None else software
        for unit in report.get("units", []):
            unit["software"] = software.get(unit.get("identifier"), {})
        args.report.write_text(json.dumps(report, default=str))
    return status


def _wait(ready: Path) -> None:
    """Until the caller says the inputs are in place; a caller that died takes this process with it."""
    parent = os.getppid()
    while not ready.exists():
        if os.getppid() != parent:
            raise SystemExit("the process that started this run is gone")
        time.sleep(0.01)


def _software(payload: Path) -> dict[str, dict[str, str]]:
    """Name, version and level each processing unit declares, by workflow unit name."""
    import importlib

    import yaml

    found: dict[str, dict[str, str]] = {}
    for step in yaml.safe_load(payload.read_text()).get("workflow") or []:
        try:
            unit = getattr(importlib.import_module(step["module"]), step["processing_unit"])
        except (ImportError, AttributeError, KeyError):
            continue
        found[step.get("name", "")] = {
            "name": str(getattr(unit, "PROCESSOR_NAME", "") or step["processing_unit"]),
            "version": str(getattr(unit, "PROCESSOR_VERSION", "") or ""),
            "level": str(getattr(unit, "PROCESSOR_LEVEL", "") or ""),
        }
    return found


if __name__ == "__main__":
    raise SystemExit(main())
