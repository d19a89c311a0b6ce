"""Processing units for the processing tests: they fail the way real processors do."""

from __future__ import annotations

from typing import Any

import dask.array as da
import numpy as np
import xarray as xr
from eopf.computing.abstract import EOProcessingUnit


def _explode(block: np.ndarray) -> np.ndarray:
    raise RuntimeError("detector calibration diverged")


class TerrainCorrection(EOProcessingUnit):
    """Returns a product whose second chunk fails while eopf writes it: a store half written, then an error."""

    PROCESSOR_NAME = "FailingTerrainCorrection"
    PROCESSOR_VERSION = "0.0.1"
    PROCESSOR_CONTRACT = False

    def run(self, inputs: Any, adfs: Any = None, mode: str | None = None, **parameters: Any) -> Any:
        good = da.zeros((4, 4), chunks=(4, 4), dtype="float32")
        bad = da.zeros((4, 4), chunks=(4, 4), dtype="float32").map_blocks(_explode, dtype="float32")
        values = da.concatenate([good, bad], axis=0)
        tree = xr.DataTree.from_dict({"/measurements": xr.Dataset({"gtc": (("y", "x"), values)})})
        tree.name = "S01SIWGTC"
        return {"S01SIWGTC": tree}
