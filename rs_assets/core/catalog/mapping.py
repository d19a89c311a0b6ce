"""OData entities to STAC items, with rs-server's field names (docs/conventions.md).

Collections: AUX ``s1-aux``/``s2-aux``/``s3-aux``, CADIP sessions ``s01-cadip-session`` (mission number
zero-padded), PRIP legacy products per product type. The item's asset keys equal the staged file names.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import RsAssetsError
from ..station.models import File, Product, Session
from ..timeutil import format_stac_datetime

STAC_VERSION = "1.1.0"
EXTENSIONS = {
    "sat": "https://stac-extensions.github.io/sat/v1.1.0/schema.json",
    "file": "https://stac-extensions.github.io/file/v2.1.0/schema.json",
    "processing": "https://stac-extensions.github.io/processing/v1.2.0/schema.json",
    "product": "https://stac-extensions.github.io/product/v0.1.0/schema.json",
    "sar": "https://stac-extensions.github.io/sar/v1.1.0/schema.json",
    "timestamps": "https://stac-extensions.github.io/timestamps/v1.1.0/schema.json",
}
_SATELLITE = re.compile(r"^S(?P<mission>[1-9])(?P<unit>[A-Z])$")


@dataclass(frozen=True)
class Platform:
    """A Sentinel satellite; ``unit`` is empty for products of a whole mission (a DEM, a mission ADF)."""

    mission: int
    unit: str

    @property
    def platform(self) -> str:
        return f"sentinel-{self.mission}{self.unit.lower()}"

    @property
    def constellation(self) -> str:
        return f"sentinel-{self.mission}"


def platform_of_satellite(satellite: str) -> Platform:
    """``S1A`` -> sentinel-1a; station satellites are always mission digit + unit letter."""
    match = _SATELLITE.match(satellite.strip().upper())
    if not match:
        raise RsAssetsError(f"satellite {satellite!r} is not of the form S<mission><unit> (e.g. S1A)")
    return Platform(int(match["mission"]), match["unit"])


def platform_of_product(product: Product) -> Platform:
    """From ``platformShortName``/``platformSerialIdentifier``, else from the product name's prefix."""
    short = str(product.attribute("platformShortName") or "")
    serial = str(product.attribute("platformSerialIdentifier") or "")
    short_match = re.search(r"(\d)", short)
    if short_match and re.fullmatch(r"[A-Za-z]", serial):
        return Platform(int(short_match[1]), serial.upper())
    try:
        return platform_of_satellite(product.Name[:3])
    except RsAssetsError:
        if short_match and not serial:  # a product of the whole mission
            return Platform(int(short_match[1]), "")
        raise


@dataclass(frozen=True)
class CollectionNames:
    """Collection naming is configuration; these are the RS defaults."""

    aux: str = "s{mission}-aux"
    cadip: str = "s{mission:02d}-cadip-session"
    prip: str = "s{mission}-prip-{product_type}"

    def for_aux(self, platform: Platform) -> str:
        return self.aux.format(mission=platform.mission)

    def for_session(self, platform: Platform) -> str:
        return self.cadip.format(mission=platform.mission)

    def for_prip(self, platform: Platform, product_type: str) -> str:
        return self.prip.format(mission=platform.mission, product_type=product_type.lower().strip("_"))


def collection_pattern_problem(pattern: str) -> str | None:
    """Why a pattern cannot name collections, or None: it may use ``{mission}`` and ``{product_type}`` only."""
    try:
        pattern.format(mission=1, product_type="iw_grdh_1s")
    except (KeyError, IndexError, ValueError) as exc:
        return f"{pattern!r} is not a collection pattern ({type(exc).__name__}: {exc}); use {{mission}} and {{product_type}}"
    return None


def _clean(properties: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in properties.items() if v is not None}


def _item(
    item_id: str,
    properties: dict[str, Any],
    assets: dict[str, Any],
    extensions: list[str],
    geometry: dict[str, Any] | None = None,
) -> dict[str, Any]:
    item: dict[str, Any] = {
        "type": "Feature",
        "stac_version": STAC_VERSION,
        "stac_extensions": [EXTENSIONS[e] for e in extensions],
        "id": item_id,
        "geometry": geometry,
        "properties": properties,
        "links": [],
        "assets": assets,
    }
    if geometry is not None:
        item["bbox"] = bbox_of(geometry)
    return item


def bbox_of(geometry: Mapping[str, Any]) -> list[float]:
    """[west, south, east, north] of a GeoJSON geometry (recomputed, never trusted from a converter)."""
    points: list[tuple[float, float]] = []

    def walk(node: Any) -> None:
        if isinstance(node, list | tuple) and node and isinstance(node[0], int | float):
            points.append((float(node[0]), float(node[1])))
        elif isinstance(node, list | tuple):
            for child in node:
                walk(child)

    if geometry.get("type") == "GeometryCollection":
        for child in geometry.get("geometries", []):
            walk(child.get("coordinates"))
    else:
        walk(geometry.get("coordinates"))
    if not points:
        raise RsAssetsError(f"geometry of type {geometry.get('type')!r} has no coordinates")
    xs, ys = zip(*points, strict=True)
    return [min(xs), min(ys), max(xs), max(ys)]


def session_item(session: Session, files: list[File], hrefs: Mapping[str, str]) -> dict[str, Any]:
    """One item per session; one asset per staged file, keyed by file name."""
    platform = platform_of_satellite(session.Satellite)
    start = session.DownlinkStart
    properties = _clean(
        {
            "datetime": format_stac_datetime(start),
            "start_datetime": format_stac_datetime(start),
            "end_datetime": format_stac_datetime(session.DownlinkStop),
            "published": format_stac_datetime(session.PublicationDate),
            "platform": platform.platform,
            "constellation": platform.constellation,
            "product:type": f"S{platform.mission:02d}CADU__",
            "eopf:origin_datetime": format_stac_datetime(session.PublicationDate),
            "sat:absolute_orbit": session.DownlinkOrbit,
            "cadip:id": session.Id,
            "cadip:num_channels": session.NumChannels,
            "cadip:station_unit_id": session.StationUnitId,
            "cadip:acquisition_id": session.AcquisitionId,
            "cadip:antenna_id": session.AntennaId,
            "cadip:front_end_id": session.FrontEndId,
            "cadip:retransfer": session.Retransfer,
            "cadip:antenna_status_ok": session.AntennaStatusOK,
            "cadip:front_end_status_ok": session.FrontEndStatusOK,
            "cadip:planned_data_start": format_stac_datetime(session.PlannedDataStart),
            "cadip:planned_data_stop": format_stac_datetime(session.PlannedDataStop),
            "cadip:downlink_status_ok": session.DownlinkStatusOK,
            "cadip:delivery_push_ok": session.DeliveryPushOK,
        }
    )
    if start is None:
        # Retransfers may come without downlink dates; STAC still needs a datetime.
        properties["datetime"] = format_stac_datetime(session.PlannedDataStart or session.PublicationDate)
    if session.QualityInfo:
        properties["cadip:quality_info"] = [
            q.model_dump(mode="json", exclude_none=True) for q in session.QualityInfo
        ]
    assets = {
        f.Name: _clean(
            {
                "href": hrefs[f.Name],
                "title": f.Name,
                "type": "application/octet-stream",
                "roles": ["cadu"],
                "file:size": f.Size,
                "cadip:id": f.Id,
                "cadip:channel": f.Channel,
                "cadip:block_number": f.BlockNumber,
                "cadip:final_block": f.FinalBlock,
                "cadip:retransfer": f.Retransfer,
                "created": format_stac_datetime(f.PublicationDate),
                "eviction_datetime": format_stac_datetime(f.EvictionDate),
            }
        )
        for f in sorted(files, key=lambda f: (f.Channel, f.BlockNumber))
        if f.Name in hrefs
    }
    return _item(session.SessionId, properties, assets, ["sat", "file", "product", "timestamps"])


def _product_properties(product: Product, prefix: str) -> dict[str, Any]:
    platform = platform_of_product(product)
    window = product.ContentDate
    start = window.Start if window else None
    end = window.End if window else None
    return _clean(
        {
            "datetime": format_stac_datetime(start or product.OriginDate or product.PublicationDate),
            "start_datetime": format_stac_datetime(start),
            "end_datetime": format_stac_datetime(end),
            "created": format_stac_datetime(product.OriginDate),
            "published": format_stac_datetime(product.PublicationDate),
            "expires": format_stac_datetime(product.EvictionDate),
            "platform": platform.platform,
            "constellation": platform.constellation,
            "product:type": product.attribute("productType"),
            "processing:datetime": product.attribute("processingDate"),
            "processing:facility": product.attribute("processingCenter"),
            f"{prefix}:id": product.Id,
        }
    )


def _product_asset(product: Product, href: str) -> dict[str, Any]:
    asset: dict[str, Any] = {
        "href": href,
        "title": product.Name,
        "type": product.ContentType or "application/octet-stream",
        "roles": ["data"],
        "file:size": product.ContentLength,
    }
    if product.md5:
        # file:checksum is a multihash: 0xd5 (md5) + 0x10 (16 bytes) + digest.
        asset["file:checksum"] = "d510" + product.md5
    return asset


def aux_item(product: Product, href: str) -> dict[str, Any]:
    properties = _product_properties(product, "auxip")
    return _item(
        product.Name,
        properties,
        {product.Name: _product_asset(product, href)},
        ["file", "processing", "product", "timestamps"],
    )


def prip_item(product: Product, href: str) -> dict[str, Any]:
    properties = _product_properties(product, "prip")
    orbit = product.attribute("orbitNumber")
    relative = product.attribute("relativeOrbitNumber")
    properties.update(
        _clean(
            {
                "sat:absolute_orbit": int(orbit) if orbit is not None else None,
                "sat:relative_orbit": int(relative) if relative is not None else None,
                "sat:orbit_state": str(product.attribute("orbitDirection") or "").lower() or None,
                "sar:instrument_mode": product.attribute("operationalMode"),
                "sar:polarizations": _polarisations(product.attribute("polarisationChannels")),
                "s1:datatake_id": product.attribute("datatakeID"),
                "prip:production_type": product.ProductionType,
            }
        )
    )
    return _item(
        product.Name,
        properties,
        {product.Name: _product_asset(product, href)},
        ["file", "processing", "product", "sat", "sar", "timestamps"],
        geometry=product.GeoFootprint,
    )


def _polarisations(value: object) -> list[str] | None:
    if not value:
        return None
    return [p.strip().upper() for p in re.split(r"[&,\s]+", str(value)) if p.strip()]
