"""What an operator selects by hand (as GeoSPaaS's download and copy commands do): a time window, an area, a
product type and attribute filters, rendered as an OData filter for a station and as CQL2-JSON for the catalog;
where each selected product goes (a destination with strftime placeholders from the product's date); and the
safety limit past which nothing is fetched.

Every bad input is a ``SelectionError`` naming the option and what it expects, raised before anything is asked
of a station or written anywhere.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import shapely
from shapely import wkt as shapely_wkt
from shapely.geometry import mapping
from shapely.geometry.base import BaseGeometry

from .errors import RsAssetsError
from .station.odata import AttributeEquals, Expr, F, Intersects, all_of
from .timeutil import format_datetime

# The strftime directives a destination may use: the product's date and time, nothing locale- or host-dependent.
DIRECTIVES = frozenset("YymdHMSjUWGVu%")
_DIRECTIVE = re.compile(r"%(.)", re.DOTALL)
AttributeValue = str | int | float | bool


class SelectionError(RsAssetsError):
    """A selection option that cannot be used; the message names the option."""


@dataclass(frozen=True)
class Selection:
    begin: datetime | None = None
    end: datetime | None = None
    geometry: BaseGeometry | None = None
    product_type: str | None = None
    attributes: tuple[tuple[str, AttributeValue], ...] = ()


def make_selection(
    *,
    begin: datetime | None = None,
    end: datetime | None = None,
    rel_time_hours: float | None = None,
    geometry_wkt: str | None = None,
    product_type: str | None = None,
    query_json: str | None = None,
    now: datetime,
) -> Selection:
    if rel_time_hours is not None:
        if begin is not None:
            raise SelectionError("--rel-time and --begin both set the start of the window: give one")
        if rel_time_hours <= 0:
            raise SelectionError(f"--rel-time {rel_time_hours:g}: give a positive number of hours")
        begin = now - timedelta(hours=rel_time_hours)
    if begin is not None and end is not None and begin >= end:
        raise SelectionError(f"--begin {format_datetime(begin)} is not before --end {format_datetime(end)}")
    return Selection(
        begin=begin,
        end=end,
        geometry=parse_geometry(geometry_wkt) if geometry_wkt is not None else None,
        product_type=product_type or None,
        attributes=parse_query(query_json) if query_json is not None else (),
    )


def parse_geometry(text: str) -> BaseGeometry:
    """A WGS84 polygon (or multipolygon) in WKT, lon/lat, as the stations' ``OData.CSC.Intersects`` takes it."""
    try:
        geometry = shapely_wkt.loads(text)
    except (shapely.errors.ShapelyError, ValueError, TypeError) as exc:
        raise SelectionError(f"--geometry {text!r} is not WKT ({exc})") from None
    if geometry.geom_type not in ("Polygon", "MultiPolygon") or geometry.is_empty:
        raise SelectionError(
            f"--geometry {text!r} is a {geometry.geom_type}: give a POLYGON((lon lat, ...)) in WGS84"
        )
    west, south, east, north = geometry.bounds
    if west < -180 or east > 180 or south < -90 or north > 90:
        raise SelectionError(
            f"--geometry {text!r} leaves lon [-180, 180] / lat [-90, 90]: give lon lat pairs"
        )
    if not geometry.is_valid:
        raise SelectionError(
            f"--geometry {text!r} is not a valid polygon ({shapely.is_valid_reason(geometry)})"
        )
    return geometry


def parse_query(text: str) -> tuple[tuple[str, AttributeValue], ...]:
    """``--query '{"platformSerialIdentifier": "A", "orbitNumber": 1234}'``: attribute names to exact values."""
    try:
        document = json.loads(text)
    except ValueError as exc:
        raise SelectionError(f"--query {text!r} is not JSON ({exc})") from None
    if not isinstance(document, dict) or not document:
        raise SelectionError(f"--query {text!r}: give a JSON object of attribute names to values")
    bad = [name for name, value in document.items() if not isinstance(value, str | int | float | bool)]
    if bad:
        raise SelectionError(f"--query: {', '.join(bad)} must be a string, a number or true/false")
    return tuple(document.items())


def _attribute_type(value: AttributeValue) -> Any:
    if isinstance(value, bool):
        return "Boolean"
    if isinstance(value, int):
        return "Integer"
    return "Double" if isinstance(value, float) else "String"


def odata_filter(selection: Selection) -> Expr | None:
    """Products whose validity (``ContentDate``) overlaps the window, of the type, intersecting the area, with
    every attribute given."""
    return all_of(
        F("ContentDate/Start").lt(selection.end) if selection.end else None,
        F("ContentDate/End").gt(selection.begin) if selection.begin else None,
        AttributeEquals("productType", selection.product_type) if selection.product_type else None,
        Intersects(selection.geometry.wkt) if selection.geometry is not None else None,
        *(AttributeEquals(name, value, _attribute_type(value)) for name, value in selection.attributes),
    )


def cql2_filter(selection: Selection) -> dict[str, Any] | None:
    """The same selection for the catalog: items whose time overlaps the window, ``product:type``,
    ``s_intersects`` and equality on each property given."""
    args: list[dict[str, Any]] = []
    if selection.begin:  # pgstac's end_datetime: an item's end, or its datetime when it has no interval
        args.append(
            {
                "op": ">=",
                "args": [{"property": "end_datetime"}, {"timestamp": format_datetime(selection.begin)}],
            }
        )
    if selection.end:  # pgstac's datetime: an item's start (start_datetime when datetime is null)
        args.append(
            {"op": "<", "args": [{"property": "datetime"}, {"timestamp": format_datetime(selection.end)}]}
        )
    if selection.product_type:
        args.append({"op": "=", "args": [{"property": "product:type"}, selection.product_type]})
    if selection.geometry is not None:
        args.append({"op": "s_intersects", "args": [{"property": "geometry"}, mapping(selection.geometry)]})
    args += [{"op": "=", "args": [{"property": name}, value]} for name, value in selection.attributes]
    if not args:
        return None
    return args[0] if len(args) == 1 else {"op": "and", "args": args}


def check_template(template: str) -> None:
    """A destination's placeholders are strftime directives of the product's date: an unknown one is an error,
    not a literal left in a path."""
    unknown = sorted({f"%{d}" for d in _DIRECTIVE.findall(template) if d not in DIRECTIVES})
    if unknown or (template.endswith("%") and not template.endswith("%%")):
        known = " ".join(f"%{d}" for d in sorted(DIRECTIVES - {"%"}))
        raise SelectionError(
            f"--destination {template!r}: unknown placeholder {', '.join(unknown) or '%'}; use {known} (%% for %)"
        )


def destination(template: str, when: datetime, *parts: str) -> str:
    """``template`` expanded for a product dated ``when``, then ``parts`` (its own relative path)."""
    check_template(template)
    base = when.strftime(template).rstrip("/")
    return "/".join([base, *parts]) if parts else base


def check_safety(found: int, limit: int, what: str) -> None:
    if found > limit:
        raise SelectionError(
            f"more than {limit} {what} match (--safety-limit {limit}): nothing fetched; narrow the selection or "
            "raise the limit"
        )
