"""Validate items against the STAC item schema and the schema of every extension they declare, offline.

The core schemas come from pystac, the extension schemas eopf ships from eopf, and the file and timestamps
extensions (which no package ships) from ``tests/stac_schemas/``. An extension whose schema is found nowhere is an
error, so declaring a new one cannot go unvalidated.
"""

from __future__ import annotations

import json
import re
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
from pystac.validation.local_validator import get_local_schema_cache
from referencing import Registry, Resource

from rs_assets.core.catalog.mapping import DATETIME_PROPERTIES

ITEM_SCHEMA = "https://schemas.stacspec.org/v1.1.0/item-spec/json-schema/item.json"
RS_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
# Every datetime property we write, and the asset-level and CADIP ones.
DATETIME_KEYS = DATETIME_PROPERTIES | {
    "cadip:planned_data_start",
    "cadip:planned_data_stop",
    "eviction_datetime",
}


def _schema_files() -> list[Path]:
    eopf = resources.files("eopf.product.stac_extensions").joinpath("extensions")
    return [Path(str(p)) for p in eopf.iterdir() if p.name.endswith(".json")] + sorted(
        (Path(__file__).parent / "stac_schemas").glob("*.json")
    )


@cache
def _schemas() -> dict[str, dict[str, Any]]:
    found = dict(get_local_schema_cache())
    for path in _schema_files():
        schema = json.loads(path.read_text())
        found[schema["$id"].rstrip("#")] = schema
    return found


@cache
def _registry() -> Registry:
    return Registry().with_resources(
        (uri, Resource.from_contents(schema)) for uri, schema in _schemas().items()
    )


def validate_item(item: dict[str, Any]) -> list[str]:
    """Every schema the item declares, checked; returns the extension URIs checked."""
    schemas = _schemas()
    checked = [ITEM_SCHEMA, *item.get("stac_extensions", [])]
    for uri in checked:
        schema = schemas.get(uri.rstrip("#"))
        if schema is None:
            raise AssertionError(f"{item.get('id')}: no schema here for {uri}")
        validator = jsonschema.Draft7Validator(schema, registry=_registry())
        errors = sorted(validator.iter_errors(item), key=lambda e: list(e.path))
        if errors:
            raise AssertionError(
                f"{item.get('id')} against {uri}: "
                + "; ".join(f"{'/'.join(map(str, e.path))}: {e.message}" for e in errors[:5])
            )
    return checked


def rs_form_problems(item: dict[str, Any]) -> list[str]:
    """Datetimes not written with milliseconds and ``Z`` (as rs-server writes them), in properties and assets."""
    places = [("properties", item.get("properties", {}))] + [
        (f"assets/{key}", asset) for key, asset in item.get("assets", {}).items()
    ]
    return [
        f"{where}/{key}: {value!r}"
        for where, fields in places
        for key, value in fields.items()
        if key in DATETIME_KEYS and value is not None and not RS_DATETIME.match(str(value))
    ]


def assert_publishable(item: dict[str, Any]) -> None:
    validate_item(item)
    problems = rs_form_problems(item)
    assert not problems, f"{item.get('id')}: datetimes not in the RS form: {problems}"
