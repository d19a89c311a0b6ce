"""A small PNG of a converted product, for operators browsing the catalog.

Read with strides from the store just written (only what the preview needs, never the whole measurement in
memory), stretched between the 2nd and 98th percentiles.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np

MAX_SIDE = 512


def _measurement(store: Path) -> Any:
    """The first numeric array of at least 2 dimensions under a ``measurements`` group, searched breadth-first."""
    import zarr

    groups = [zarr.open_group(str(store), mode="r")]
    while groups:
        group = groups.pop(0)
        if group.basename == "measurements":
            for _, array in sorted(group.arrays()):
                if array.ndim >= 2 and (np.issubdtype(array.dtype, np.number)):
                    return array
        groups += [child for _, child in sorted(group.groups())]
    return None


def quicklook_png(store: Path, max_side: int = MAX_SIDE) -> bytes | None:
    """PNG bytes of the product's first measurement, or None when the store has none to show."""
    from PIL import Image

    array = _measurement(store)
    if array is None:
        return None
    step = max(1, -(-max(array.shape[-2:]) // max_side))
    selection = (0,) * (array.ndim - 2) + (slice(None, None, step), slice(None, None, step))
    values = np.asarray(array[selection])
    if np.iscomplexobj(values):
        values = np.abs(values)
    values = values.astype("float64")
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return None
    low, high = np.percentile(finite, [2, 98])
    scaled = np.zeros(values.shape) + 0.5 if high <= low else (values - low) / (high - low)
    pixels = (np.clip(np.nan_to_num(scaled, nan=0.0), 0, 1) * 255).astype("uint8")
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()
