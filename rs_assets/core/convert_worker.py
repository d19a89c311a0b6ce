"""``python -m rs_assets.core.convert_worker CONVERTER SOURCE TARGET_DIR``: one conversion in a fresh interpreter.

Prints ``STORE <path>`` on success; on failure ``ERROR <reason>`` and exit status 1 (libraries may print more
around them, at exit too).
"""

from __future__ import annotations

import sys
from pathlib import Path

from .converters import load_converter
from .errors import RsAssetsError

STORE, ERROR = "STORE", "ERROR"


def main(argv: list[str]) -> int:
    converter, source, target = argv
    try:
        store = load_converter(converter)(Path(source), Path(target))
    except RsAssetsError as exc:
        print(f"{ERROR} {exc}", flush=True)
        return 1
    print(f"{STORE} {store}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
