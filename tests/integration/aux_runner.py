"""Materialize aux_files in a process of its own, so that a test can SIGKILL it mid-transfer."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import dagster as dg

from tests.integration.platform import Platform
from tests.integration.test_aux_files import ASSETS


def main() -> None:
    spec = json.loads(sys.argv[1])
    platform = Platform(
        **{
            k: Path(v) if k in ("rules_file", "stations_path", "sqlite_path") else v
            for k, v in spec["platform"].items()
        }
    )
    result = dg.materialize(
        [ASSETS["adgs/aux_files"]],
        partition_key=spec["partition"],
        resources=platform.resources(),
        raise_on_error=False,
    )
    sys.exit(0 if result.success else 1)


if __name__ == "__main__":
    main()
