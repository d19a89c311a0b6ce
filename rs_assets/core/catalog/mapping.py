"""OData entities to STAC items that read like rs-server's (docs/conventions.md), built with pystac.

Collections: AUX ``s1-aux``/``s2-aux``/``s3-aux``, CADIP sessions ``s01-cadip-session`` (mission number
zero-padded), PRIP legacy products per product type. The item's asset keys equal the staged file names. Every
datetime is written with milliseconds and ``Z``, as the RS catalog's consumers parse them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

import pystac
from pystac.extensions.file import FileExtension
from pystac.extensions.sar import FrequencyBand, Polarization, SarExtension
from pystac.extensions.sat import OrbitState, SatExtension
from pystac.extensions.timestamps import TimestampsExtension

from ..errors import RsAssetsError
from ..station.models import File, Product, Session
from ..timeutil import format_item_datetime, parse_datetime

# Extensions declared from the fields written (pystac has no class for the first two; its timestamps setter
# would keep microseconds).
PROCESSING_SCHEMA = "https://stac-extensions.github.io/processing/v1.2.0/schema.json"
PRODUCT_SCHEMA = "https://stac-extensions.github.io/product/v0.1.0/schema.json"
TIMESTAMPS_SCHEMA = TimestampsExtension.get_schema_uri()
# What RS names AUX items by: the product name without these file extensions (rs-server's AUXIP mapping).
ITEM_ID_DROPS_EXTENSIONS = (".EOF", ".TGZ")
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


def product_item_id(name: str) -> str:
    """The item id of a station product: its name, less a ``.EOF``/``.TGZ`` extension (as RS names AUX items)."""
    for extension in ITEM_ID_DROPS_EXTENSIONS:
        if name.upper().endswith(extension) and len(name) > len(extension):
            return name[: -len(extension)]
    return name


def _without_none(values: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


def _new_item(
    item_id: str, when: datetime, properties: Mapping[str, Any], geometry: dict[str, Any] | None = None
) -> pystac.Item:
    return pystac.Item(
        id=item_id,
        geometry=geometry,
        bbox=bbox_of(geometry) if geometry is not None else None,
        datetime=when,
        properties=_without_none(properties),
    )


def _file(asset: pystac.Asset, size: int | None, md5: str | None = None) -> None:
    # file:checksum is a multihash: 0xd5 (md5) + 0x10 (16 bytes) + digest.
    FileExtension.ext(asset, add_if_missing=True).apply(size=size, checksum=f"d510{md5}" if md5 else None)


def as_dict(item: pystac.Item) -> dict[str, Any]:
    """The item as published; ``datetime`` rewritten in the RS form."""
    document = item.to_dict(include_self_link=False, transform_hrefs=False)
    if item.datetime is not None:
        document["properties"]["datetime"] = format_item_datetime(item.datetime)
    return declare_used_extensions(document)


def session_item(session: Session, files: list[File], hrefs: Mapping[str, str]) -> dict[str, Any]:
    """One item per session; one asset per staged file, keyed by file name."""
    platform = platform_of_satellite(session.Satellite)
    start = session.DownlinkStart
    # Retransfers may come without downlink dates; STAC still needs a datetime.
    when = start or session.PlannedDataStart or session.PublicationDate
    if when is None:
        raise RsAssetsError(
            f"session {session.SessionId}: no DownlinkStart, PlannedDataStart or PublicationDate"
        )
    item = _new_item(
        session.SessionId,
        when,
        {
            "start_datetime": format_item_datetime(start),
            "end_datetime": format_item_datetime(session.DownlinkStop),
            "platform": platform.platform,
            "constellation": platform.constellation,
            "product:type": f"S{platform.mission:02d}CADU__",
            "eopf:origin_datetime": format_item_datetime(session.PublicationDate),
            "published": format_item_datetime(session.PublicationDate),
            "cadip:id": session.Id,
            "cadip:num_channels": session.NumChannels,
            "cadip:station_unit_id": session.StationUnitId,
            "cadip:acquisition_id": session.AcquisitionId,
            "cadip:antenna_id": session.AntennaId,
            "cadip:front_end_id": session.FrontEndId,
            "cadip:retransfer": session.Retransfer,
            "cadip:antenna_status_ok": session.AntennaStatusOK,
            "cadip:front_end_status_ok": session.FrontEndStatusOK,
            "cadip:planned_data_start": format_item_datetime(session.PlannedDataStart),
            "cadip:planned_data_stop": format_item_datetime(session.PlannedDataStop),
            "cadip:downlink_status_ok": session.DownlinkStatusOK,
            "cadip:delivery_push_ok": session.DeliveryPushOK,
        },
    )
    SatExtension.ext(item, add_if_missing=True).apply(absolute_orbit=session.DownlinkOrbit)
    if session.QualityInfo:
        item.properties["cadip:quality_info"] = [
            q.model_dump(mode="json", exclude_none=True) for q in session.QualityInfo
        ]
    for f in sorted(files, key=lambda f: (f.Channel, f.BlockNumber)):
        if f.Name not in hrefs:
            continue
        asset = pystac.Asset(
            hrefs[f.Name],
            title=f.Name,
            media_type="application/octet-stream",
            roles=["cadu"],
            extra_fields=_without_none(
                {
                    "cadip:id": f.Id,
                    "cadip:channel": f.Channel,
                    "cadip:block_number": f.BlockNumber,
                    "cadip:final_block": f.FinalBlock,
                    "cadip:retransfer": f.Retransfer,
                    "created": format_item_datetime(f.PublicationDate),
                    "eviction_datetime": format_item_datetime(f.EvictionDate),
                }
            ),
        )
        item.add_asset(f.Name, asset)
        _file(asset, f.Size)
    return as_dict(item)


def _product_item(
    product: Product, href: str, prefix: str, geometry: dict[str, Any] | None = None
) -> pystac.Item:
    """What AUX and PRIP items share: times, platform, processing and product fields, one ``data`` asset."""
    platform = platform_of_product(product)
    window = product.ContentDate
    start = window.Start if window else None
    end = window.End if window else None
    when = start or product.OriginDate or product.PublicationDate
    if when is None:
        raise RsAssetsError(f"{product.Name}: no ContentDate, OriginDate or PublicationDate")
    item = _new_item(
        product_item_id(product.Name),
        when,
        {
            "start_datetime": format_item_datetime(start),
            "end_datetime": format_item_datetime(end),
            "created": format_item_datetime(product.OriginDate),
            "published": format_item_datetime(product.PublicationDate),
            "expires": format_item_datetime(product.EvictionDate),
            "platform": platform.platform,
            "constellation": platform.constellation,
            "product:type": product.attribute("productType"),
            "processing:datetime": _processing_datetime(product),
            "processing:facility": product.attribute("processingCenter"),
            f"{prefix}:id": product.Id,
        },
        geometry,
    )
    asset = pystac.Asset(
        href, title=product.Name, media_type=product.ContentType or "application/octet-stream", roles=["data"]
    )
    item.add_asset(product.Name, asset)
    _file(asset, product.ContentLength, product.md5)
    return item


def _processing_datetime(product: Product) -> str | None:
    value = product.attribute("processingDate")
    if value in (None, ""):
        return None
    try:
        return format_item_datetime(parse_datetime(value))
    except ValueError:
        raise RsAssetsError(f"{product.Name}: processingDate {value!r} is not an ISO 8601 datetime") from None


def aux_item(product: Product, href: str) -> dict[str, Any]:
    return as_dict(_product_item(product, href, "auxip"))


def prip_item(product: Product, href: str) -> dict[str, Any]:
    item = _product_item(product, href, "prip", product.GeoFootprint)
    orbit = product.attribute("orbitNumber")
    relative = product.attribute("relativeOrbitNumber")
    direction = str(product.attribute("orbitDirection") or "").lower()
    if orbit is not None or relative is not None or direction:
        SatExtension.ext(item, add_if_missing=True).apply(
            orbit_state=OrbitState(direction) if direction else None,
            absolute_orbit=int(orbit) if orbit is not None else None,
            relative_orbit=int(relative) if relative is not None else None,
        )
    product_type = str(product.attribute("productType") or "")
    mode = product.attribute("operationalMode") or product_type.partition("_")[0]
    polarisations = _polarisations(product.attribute("polarisationChannels"))
    known = {p.value for p in Polarization}
    if platform_of_product(product).mission == 1 and mode and polarisations and set(polarisations) <= known:
        family = re.search(r"(SLC|GRD|OCN|RAW|ETA)", product_type)
        SarExtension.ext(item, add_if_missing=True).apply(
            instrument_mode=str(mode),
            frequency_band=FrequencyBand.C,
            polarizations=[Polarization(p) for p in polarisations],
            product_type=family[1] if family else product_type,
        )
    item.properties.update(
        _without_none(
            {
                "s1:datatake_id": product.attribute("datatakeID"),
                "prip:production_type": product.ProductionType,
            }
        )
    )
    return as_dict(item)


def _polarisations(value: object) -> list[str]:
    if not value:
        return []
    return [p.strip().upper() for p in re.split(r"[&,\s]+", str(value)) if p.strip()]


# Properties that hold datetimes, written in the RS form whoever produced the item (a converter, a processor).
DATETIME_PROPERTIES = frozenset(
    {
        "datetime",
        "start_datetime",
        "end_datetime",
        "created",
        "updated",
        "published",
        "expires",
        "unpublished",
        "processing:datetime",
        "eopf:origin_datetime",
        "sat:anx_datetime",
    }
)


@cache
def _extension_prefix(uri: str) -> str:
    """``https://stac-extensions.github.io/sat/v1.0.0/schema.json`` -> ``sat:`` (``eopf:`` for eopf's own)."""
    if "/timestamps/" in uri:
        return ""
    name = uri.split("://", 1)[-1].split("/")[1]
    return "eopf:" if name == "eopf-stac-extension" else f"{name}:"


_TIMESTAMP_FIELDS = frozenset({"published", "expires", "unpublished"})


def _uses(prefixes: set[str], fields: set[str], uri: str) -> bool:
    prefix = _extension_prefix(uri)
    return bool(_TIMESTAMP_FIELDS & fields) if not prefix else prefix in prefixes


def declare_used_extensions(item: dict[str, Any]) -> dict[str, Any]:
    """Declare exactly the extensions whose fields the item carries: the processing, product and timestamps ones
    when their fields are there (their schemas require one), and none without a field (a converter may declare
    extensions it then writes nothing of)."""
    fields = {*item.get("properties", {})} | {k for a in item.get("assets", {}).values() for k in a}
    prefixes = {f"{key.partition(':')[0]}:" for key in fields if ":" in key}
    declared: list[str] = []
    names: set[str] = set()
    candidates = sorted(
        item.get("stac_extensions", []), reverse=True
    )  # one version per extension, the newest
    for uri in [*candidates, PROCESSING_SCHEMA, PRODUCT_SCHEMA, TIMESTAMPS_SCHEMA]:
        if _extension_prefix(uri) not in names and _uses(prefixes, fields, uri):
            declared.append(uri)
            names.add(_extension_prefix(uri))
    item["stac_extensions"] = sorted(declared)
    return item


def set_expires(item: dict[str, Any], expires: datetime | None) -> None:
    """The retention the bucket rules give, as the timestamps extension's ``expires``."""
    if expires is not None:
        item["properties"]["expires"] = format_item_datetime(expires)
        declared = item.setdefault("stac_extensions", [])
        if TIMESTAMPS_SCHEMA not in declared:
            item["stac_extensions"] = sorted([*declared, TIMESTAMPS_SCHEMA])


def in_rs_form(properties: Mapping[str, Any], where: str) -> dict[str, Any]:
    """``properties`` with every datetime rewritten with milliseconds and ``Z``; ``where`` names the item in errors."""
    written = dict(properties)
    for key in DATETIME_PROPERTIES & written.keys():
        if written[key] is None:
            continue
        try:
            written[key] = format_item_datetime(parse_datetime(written[key]))
        except ValueError:
            raise RsAssetsError(f"{where}: {key} {written[key]!r} is not an ISO 8601 datetime") from None
    return written


# An item harvested from a station (its assets at the station), not staged yet.
HARVESTED = "rs:harvested"
# On an item the integrity check marked: what was gone behind the catalog's back.
OBJECTS_LOST = "rs:objects_lost"


def usable(item: Mapping[str, Any]) -> bool:
    """An item whose data is there to read and meant to be read: it has assets, is not marked ``unpublished`` and
    was not superseded by a later step's product."""
    properties = item.get("properties", {})
    return (
        bool(item.get("assets"))
        and not properties.get("unpublished")
        and not properties.get("rs:superseded_by")
    )


def tombstone(
    item: Mapping[str, Any], now: datetime, superseded_by: str, keep_until: datetime | None = None
) -> dict[str, Any]:
    """What stays of an item a later step superseded (a staged SAFE product once converted): the item that
    replaced it and no assets, marked ``unpublished``; or, with ``keep_until``, its assets until then (its
    ``expires``), when expiry deletes its objects and marks it like any other. Links to it (``derived_from``) keep
    resolving, and a re-run of the step that published it finds it and neither uses nor publishes it again."""
    when = format_item_datetime(now)
    properties = {**item.get("properties", {}), "updated": when, "rs:superseded_by": superseded_by}
    if keep_until is not None:
        kept = declare_used_extensions({**item, "properties": properties})
        set_expires(kept, keep_until)
        return kept
    properties["unpublished"] = when
    return declare_used_extensions({**item, "properties": properties, "assets": {}})
