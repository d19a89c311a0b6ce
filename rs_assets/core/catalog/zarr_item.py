"""The catalog item of a converted product, built from the ``stac_discovery`` the converter wrote in the store.

Corrects what eopf 3.0.0 gets wrong: the id (a description string for S1: the store name is
used), the bbox order (recomputed from the geometry), the product type (taken from our table),
``"null"``/``"MISSING"`` placeholder strings (dropped), extensions declared without a field of theirs (dropped),
the eopf extension's URI (eopf ships its schema under another one), single values where the extension wants a
list (``sar:beam_ids``) and datetimes without a time zone (written in the RS form).
"""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Sequence
from typing import Any

from ..errors import RsAssetsError
from ..storage.object_store import ObjectStore
from .mapping import bbox_of, declare_used_extensions, in_rs_form

Item = dict[str, Any]
PLACEHOLDERS = frozenset({"null", "MISSING"})
# The URI eopf writes for its own extension -> the ``$id`` of the schema it ships for it.
SCHEMA_URIS = {
    "https://stac-extensions.github.io/eopf/v1.2.0/schema.json": (
        "https://cs-si.github.io/eopf-stac-extension/v1.2.0/schema.json"
    )
}
LIST_FIELDS = frozenset({"sar:beam_ids", "sar:polarizations", "instruments"})
ZARR_MEDIA_TYPE = "application/vnd+zarr"
# What a store made from an item keeps of it when its own metadata does not say.
INHERITED = frozenset(
    {
        "datetime",
        "start_datetime",
        "end_datetime",
        "platform",
        "constellation",
        "instruments",
        "sat:absolute_orbit",
        "sat:relative_orbit",
        "sat:orbit_state",
    }
)


def read_stac_discovery(store: ObjectStore, bucket: str, store_key: str) -> dict[str, Any]:
    """``stac_discovery`` from the root attributes of a written store (Zarr v3 ``zarr.json`` or v2 ``.zattrs``)."""
    for name, attributes_of in (("zarr.json", lambda d: d.get("attributes", {})), (".zattrs", lambda d: d)):
        key = f"{store_key.rstrip('/')}/{name}"
        body = store.read(bucket, key)
        if body is None:
            continue
        try:
            document = json.loads(body)
        except ValueError as exc:
            raise RsAssetsError(f"s3://{bucket}/{key} is not JSON: {exc}") from None
        discovery = attributes_of(document).get("stac_discovery")
        if not isinstance(discovery, dict) or "properties" not in discovery:
            raise RsAssetsError(f"s3://{bucket}/{key} has no stac_discovery with properties")
        return discovery
    raise RsAssetsError(
        f"s3://{bucket}/{store_key.rstrip('/')} has no zarr.json or .zattrs: not a Zarr store"
    )


def _placeholder(value: Any) -> bool:
    return isinstance(value, str) and value in PLACEHOLDERS


def without_placeholders(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: without_placeholders(v) for k, v in value.items() if not _placeholder(v)}
    if isinstance(value, list):
        return [without_placeholders(v) for v in value if not _placeholder(v)]
    return value


def _positions(geometry: dict[str, Any]) -> list[tuple[float, float]]:
    def walk(node: Any) -> list[tuple[float, float]]:
        if (
            isinstance(node, (list, tuple))
            and len(node) >= 2
            and all(isinstance(v, (int, float)) for v in node[:2])
        ):
            return [(float(node[0]), float(node[1]))]
        if isinstance(node, (list, tuple)):
            return [p for child in node for p in walk(child)]
        return []

    return walk(geometry.get("coordinates", []))


def usable_geometry(geometry: Any) -> bool:
    """A polygon (or multi) with finite WGS84 positions, closed rings and an area."""
    if not isinstance(geometry, dict) or geometry.get("type") not in ("Polygon", "MultiPolygon"):
        return False
    polygons = [geometry["coordinates"]] if geometry["type"] == "Polygon" else geometry.get("coordinates", [])
    for polygon in polygons:
        for ring in polygon or [[]]:
            if len(ring) < 4 or list(ring[0]) != list(ring[-1]):
                return False
    points = _positions(geometry)
    if not points or not all(
        math.isfinite(x) and math.isfinite(y) and -180 <= x <= 180 and -90 <= y <= 90 for x, y in points
    ):
        return False
    xs, ys = [x for x, _ in points], [y for _, y in points]
    return max(xs) > min(xs) and max(ys) > min(ys)


def store_item(
    discovery: dict[str, Any] | None,
    *,
    item_id: str,
    store_href: str,
    product_type: str,
    fallback: Item,
    links: list[dict[str, Any]],
    assets: dict[str, Any] | None = None,
) -> Item:
    """The item of the Zarr store at ``store_href``, from the ``stac_discovery`` its writer put in it.

    What the store does not say usably (geometry, times, platform) is taken from ``fallback``, the item it was
    made from; a store and a fallback without a usable geometry is an error.
    """
    source = without_placeholders(copy.deepcopy(discovery or {}))
    geometry = source.get("geometry")
    if not usable_geometry(geometry) and usable_geometry(fallback.get("geometry")):
        geometry = fallback["geometry"]
    if not usable_geometry(geometry):
        raise RsAssetsError(f"{item_id}: neither the store nor {fallback.get('id')} has a usable geometry")
    inherited = {k: v for k, v in fallback.get("properties", {}).items() if k in INHERITED}
    properties = in_rs_form(
        {**inherited, **source.get("properties", {}), "product:type": product_type}, item_id
    )
    for key in LIST_FIELDS & properties.keys():
        if isinstance(properties[key], str):
            properties[key] = [properties[key]]
    root = store_href.rstrip("/")
    all_assets: dict[str, Any] = {
        "product": {"href": root, "title": item_id, "type": ZARR_MEDIA_TYPE, "roles": ["data", "metadata"]},
        **(assets or {}),
    }
    for key, asset in source.get("assets", {}).items():
        href = str(asset.get("href", ""))
        if not href.startswith("/"):
            continue
        all_assets[key] = {**asset, "href": f"{root}{href}", "type": ZARR_MEDIA_TYPE, "roles": ["data"]}
    return declare_used_extensions(
        {
            "type": "Feature",
            "stac_version": source.get("stac_version", "1.1.0"),
            "stac_extensions": sorted({SCHEMA_URIS.get(u, u) for u in source.get("stac_extensions", [])}),
            "id": item_id,
            "geometry": geometry,
            "bbox": bbox_of(geometry),
            "properties": properties,
            "links": links,
            "assets": all_assets,
        }
    )


def derived_from_link(href: str) -> dict[str, str]:
    return {"rel": "derived_from", "href": href, "type": "application/geo+json"}


def converted_item(
    discovery: dict[str, Any],
    *,
    store_name: str,
    store_href: str,
    product_type: str,
    staged_item: Item,
    derived_from: str,
    quicklook: str | None = None,
    beams: Sequence[str] = (),
) -> Item:
    """The item to publish for a converted store at ``store_href`` (``s3://bucket/.../NAME.zarr``); ``beams``, when
    known, are the swaths the source really held, and ``sar:beam_ids`` keeps only those."""
    assets = {}
    if quicklook:
        assets["quicklook"] = {
            "href": quicklook,
            "title": f"{store_name} quicklook",
            "type": "image/png",
            "roles": ["overview", "visual"],
        }
    item = store_item(
        discovery,
        item_id=store_name,
        store_href=store_href,
        product_type=product_type,
        fallback={"id": staged_item["id"], "geometry": staged_item.get("geometry")},
        links=[derived_from_link(derived_from)],
        assets=assets,
    )
    properties = item["properties"]
    if beams and isinstance(properties.get("sar:beam_ids"), list):
        properties["sar:beam_ids"] = [b for b in properties["sar:beam_ids"] if b in beams] or list(beams)
    return item
