"""Crop: a Zarr product cut to a lon/lat bounding box, written under the rules' bucket and published with a
``derived_from`` link to the item it was cut from.

Two geometries are understood:

- map rasters (``x``/``y`` with a CRS, as processing writes them): clipped in their own CRS to the box's extent
  there (rioxarray's ``clip_box``);
- radar-geometry products (``azimuth_time``/``ground_range``, as a converted Sentinel-1 GRD): the measurements are
  cut to the lines and samples whose tie points (``conditions/gcp`` latitude and longitude) fall in the box, one
  tie-point spacing around it so that the box is covered; the annotations (orbit, calibration, tie points) stay
  whole, so that the cut product can be processed as the whole one.

Like processing, it works on a local copy: the store is fetched, cut, written, and uploaded root metadata last;
the item is published only after the store is complete. A box outside the item's footprint, or one that leaves
no pixel, is an error before anything is written.
"""

from __future__ import annotations

import copy
import hashlib
import math
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr
from shapely.geometry import box, mapping, shape

from .catalog.mapping import bbox_of, declare_used_extensions, usable
from .catalog.zarr_item import derived_from_link
from .errors import RsAssetsError
from .services import Services
from .storage.object_store import split_href
from .storage.trees import fetch_tree, upload_store
from .timeutil import format_item_datetime, utcnow

BBox = tuple[float, float, float, float]
RADAR_DIMS = ("azimuth_time", "ground_range")


class CropError(RsAssetsError):
    """A crop that cannot be made; the message names the item and the box."""


@dataclass(frozen=True)
class Cropped:
    item: dict[str, Any]
    collection: str
    shape: dict[str, int]
    bytes: int


def parse_bbox(text: str) -> BBox:
    """``W,S,E,N`` in degrees."""
    try:
        west, south, east, north = (float(v) for v in text.split(","))
    except ValueError:
        raise CropError(f"--bbox {text!r}: give W,S,E,N in degrees, e.g. 12.3,41.8,12.6,42.0") from None
    if not all(math.isfinite(v) for v in (west, south, east, north)):
        raise CropError(f"--bbox {text!r}: coordinates must be finite numbers")
    if not (-180 <= west < east <= 180 and -90 <= south < north <= 90):
        raise CropError(f"--bbox {text!r}: need -180 <= W < E <= 180 and -90 <= S < N <= 90")
    return west, south, east, north


def crop_name(item_id: str, bbox: BBox) -> str:
    """A stable id per (item, box): cropping the same box again replaces the same product."""
    digest = hashlib.sha256(",".join(f"{v:.6f}" for v in bbox).encode()).hexdigest()[:8]
    return f"{item_id}_CROP_{digest}"


def crop_tree(tree: xr.DataTree, bbox: BBox) -> xr.DataTree:
    """``tree`` with every measurement cut to ``bbox``; a tree with no measurement it understands is an error."""
    cut = 0
    nodes: dict[str, xr.Dataset] = {}
    for node in tree.subtree:
        dataset = node.to_dataset(inherit=False)
        if node.name == "measurements" or node.path.endswith("/measurements"):
            dataset, changed = _crop_measurements(tree, node, dataset, bbox)
            cut += changed
            dataset = _rechunked(dataset) if changed else dataset
        nodes[node.path] = dataset
    if not cut:
        raise CropError("no measurement in map (x/y) or radar (azimuth_time/ground_range) geometry to cut")
    result = xr.DataTree.from_dict(nodes)
    result.attrs = copy.deepcopy(tree.attrs)
    return result


def _rechunked(dataset: xr.Dataset, size: int = 2048) -> xr.Dataset:
    """Regular chunks from the cut's first pixel, and no chunk encoding inherited from the whole product: a cut
    starts mid-chunk, which Zarr would refuse to write."""
    for variable in dataset.variables.values():
        for key in ("chunks", "preferred_chunks", "shards"):
            variable.encoding.pop(key, None)
    return dataset.chunk({dim: min(int(n), size) for dim, n in dataset.sizes.items()})


def _crop_measurements(
    tree: xr.DataTree, node: xr.DataTree, dataset: xr.Dataset, bbox: BBox
) -> tuple[xr.Dataset, int]:
    if {"x", "y"} <= set(dataset.dims):
        import rioxarray  # noqa: F401  registers the .rio accessor

        if dataset.rio.crs is None:
            raise CropError(f"{node.path}: a map raster without a CRS")
        try:
            return dataset.rio.clip_box(*bbox, crs="EPSG:4326"), 1
        except Exception as exc:  # rioxarray's NoDataInBounds and OneDimensionalRaster
            raise CropError(f"{node.path}: the box leaves no pixel ({type(exc).__name__})") from None
    if set(RADAR_DIMS) <= set(dataset.dims):
        parent = node.parent
        gcp = (
            parent["conditions/gcp"].to_dataset()
            if parent is not None and "conditions" in parent.children
            else None
        )
        if gcp is None or not {"latitude", "longitude"} <= set(gcp.data_vars):
            raise CropError(f"{node.path}: radar geometry without conditions/gcp latitude and longitude")
        window = _radar_window(gcp, bbox)
        return dataset.sel(azimuth_time=window[0], ground_range=window[1]), 1
    return dataset, 0


def _radar_window(gcp: xr.Dataset, bbox: BBox) -> tuple[slice, slice]:
    west, south, east, north = bbox
    lat, lon = gcp["latitude"].compute(), gcp["longitude"].compute()
    inside = (lon >= west) & (lon <= east) & (lat >= south) & (lat <= north)
    if not bool(inside.any()):
        # a box smaller than the tie-point spacing: the tie points around its centre
        centre = (west + east) / 2, (south + north) / 2
        distance = (lon - centre[0]) ** 2 + (lat - centre[1]) ** 2
        inside = distance <= distance.min() * 1.000001
    rows = np.flatnonzero(inside.any(dim="ground_range").values)
    columns = np.flatnonzero(inside.any(dim="azimuth_time").values)
    times, ranges = gcp["azimuth_time"].values, gcp["ground_range"].values
    first_row, last_row = max(rows[0] - 1, 0), min(rows[-1] + 1, len(times) - 1)
    first_col, last_col = max(columns[0] - 1, 0), min(columns[-1] + 1, len(ranges) - 1)
    return slice(times[first_row], times[last_row]), slice(ranges[first_col], ranges[last_col])


def crop_item(
    services: Services,
    collection: str,
    item_id: str,
    bbox: BBox,
    *,
    output_collection: str | None = None,
    work_dir: Path | None = None,
) -> Cropped:
    """Cut the Zarr product of ``collection/item_id`` to ``bbox`` and publish it into ``output_collection``
    (default: the same collection)."""
    catalog = services.catalog
    item = catalog.get_item(collection, item_id)
    if item is None or not usable(item):
        raise CropError(f"item {item_id!r} is not a published item of {collection!r}")
    footprint = shape(item["geometry"]) if item.get("geometry") else None
    area = box(*bbox)
    if footprint is None or not footprint.intersects(area):
        raise CropError(
            f"--bbox {','.join(f'{v:g}' for v in bbox)} lies outside {item_id}'s footprint "
            f"(bbox {','.join(f'{v:.4f}' for v in item.get('bbox') or bbox_of(item['geometry']))})"
        )
    href = str(item.get("assets", {}).get("product", {}).get("href", ""))
    if not href.startswith("s3://"):
        raise CropError(f"item {item_id!r} has no Zarr product asset in S3 to crop")
    bucket, key = split_href(href.rstrip("/"))
    target = output_collection or collection
    name = crop_name(item_id, bbox)
    where = services.placement.rules.place(
        services.placement.owner, target, str(item["properties"].get("product:type") or "*")
    )
    out_key = f"{services.placement.owner}/{target}/{name}/{name}.zarr"
    with tempfile.TemporaryDirectory(prefix="rs-crop-", dir=work_dir) as scratch:
        source = Path(scratch) / "source.zarr"
        fetch_tree(services.store, bucket, f"{key}/", source)
        tree = xr.open_datatree(source, engine="zarr", decode_coords="all", chunks={})
        cut = crop_tree(tree, bbox)
        shape_ = {str(d): int(n) for d, n in _measurement_sizes(cut).items()}
        if not all(shape_.values()):
            raise CropError(f"--bbox leaves no pixel of {item_id}")
        output = Path(scratch) / f"{name}.zarr"
        cut.to_zarr(output, mode="w", consolidated=False)
        _, size = upload_store(services.store, output, where.bucket, out_key)
    store_href = f"s3://{where.bucket}/{out_key}"
    cropped = _cropped_item(item, name, href.rstrip("/"), store_href, footprint.intersection(area), bbox)
    cropped["links"] = [derived_from_link(catalog.item_url(collection, item_id))]
    catalog.ensure_collection(target)
    catalog.upsert_items(target, [cropped])
    return Cropped(cropped, target, shape_, size)


def _measurement_sizes(tree: xr.DataTree) -> dict[Any, int]:
    sizes: dict[Any, int] = {}
    for node in tree.subtree:
        if node.name == "measurements":
            sizes.update(node.to_dataset(inherit=False).sizes)
    return sizes


def _cropped_item(
    item: dict[str, Any], name: str, old_root: str, new_root: str, geometry: Any, bbox: BBox
) -> dict[str, Any]:
    now = format_item_datetime(utcnow())
    assets = {}
    for key, asset in item.get("assets", {}).items():
        href = str(asset.get("href", ""))
        if href == old_root or href.startswith(f"{old_root}/"):
            assets[key] = {**asset, "href": new_root + href[len(old_root) :]}
    footprint = mapping(geometry)
    properties = {
        **item["properties"],
        "created": now,
        "updated": now,
        "rs:crop_bbox": list(bbox),
    }
    properties.pop("proj:bbox", None)
    properties.pop("proj:shape", None)
    return declare_used_extensions(
        {
            **copy.deepcopy(item),
            "id": name,
            "geometry": footprint,
            "bbox": bbox_of(footprint),
            "properties": properties,
            "assets": assets,
        }
    )
