"""RS tasktables: a processor's description of its units, inputs, ADF queries and pipelines.

The format is the one the RS DPR service serves (``rs-dpr-service`` ``config/TaskTable_*.json``, specification
1.0_draftE to 1.0_draftK). Fields we do not use are tolerated, because each draft adds some; a missing required
field is an error that names the file and the path to the field (``units[0].module``). ``io`` is read both as
the list the published tasktables use and as the later ``{input, output, adfs}`` object.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ..errors import RsAssetsError

ALWAYS = "always"


class TasktableError(RsAssetsError):
    """A tasktable that cannot be read, or a plan it cannot give (unknown pipeline, unit or mode)."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


def _text(value: Any) -> Any:
    """Versions are written ``1.0`` in some tasktables and ``"1.0"`` in others."""
    return str(value) if isinstance(value, int | float) and not isinstance(value, bool) else value


class Header(_Model):
    name: str = Field(min_length=1)
    version: str = Field(min_length=1)
    specification_version: str | None = None
    update_datetime: str | None = None

    _version = field_validator("version", "specification_version", mode="before")(_text)


class ProductUse(_Model):
    """An entry of a unit's ``input_products``, ``input_adfs`` or ``output_products``."""

    name: str = Field(min_length=1)
    mode: str = ALWAYS
    mandatory: bool = True
    regex: str | None = None

    def active_in(self, mode: str | None) -> bool:
        return self.mode == ALWAYS or self.mode == mode


class Unit(_Model):
    name: str = Field(min_length=1)
    module: str = Field(min_length=1)
    resources_min: dict[str, Any] = Field(default_factory=dict)
    input_products: list[ProductUse] = Field(default_factory=list)
    input_adfs: list[ProductUse] = Field(default_factory=list)
    output_products: list[ProductUse] = Field(default_factory=list)


class AlternativeQuery(_Model):
    name: str = Field(min_length=1)
    parameters: dict[str, Any] = Field(default_factory=dict)


class Alternative(_Model):
    order: int
    timeout_seconds: float = Field(0, ge=0)
    query: AlternativeQuery


class IoEntry(_Model):
    name: str = Field(min_length=1)
    type: str = "filename"
    store_type: str | None = None
    opening_mode: str | None = None
    store_params: dict[str, Any] = Field(default_factory=dict)
    alternatives: list[Alternative] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _later_drafts(cls, data: Any) -> Any:
        """Later drafts say ``engine`` for ``store_type``."""
        if isinstance(data, dict) and "store_type" not in data and "engine" in data:
            return {**data, "store_type": data["engine"]}
        return data

    @property
    def ordered_alternatives(self) -> list[Alternative]:
        return sorted(self.alternatives, key=lambda a: a.order)


class QueryTemplate(_Model):
    name: str = Field(min_length=1)
    parameters: list[str] = Field(default_factory=list)
    stac: dict[str, Any]


class Step(_Model):
    unit_name: str = Field(min_length=1)
    order: int | None = None
    step_id: int | None = None
    input_products: dict[str, str] = Field(default_factory=dict)
    output_products: dict[str, str] = Field(default_factory=dict)
    parameters: dict[str, Any] = Field(default_factory=dict)

    @property
    def rank(self) -> int:
        return self.order if self.order is not None else self.step_id if self.step_id is not None else 0


class Pipeline(_Model):
    name: str = Field(min_length=1)
    description: str = ""
    steps: list[Step] = Field(min_length=1)


class Tasktable(_Model):
    tasktable: Header
    external_variables: list[str] = Field(default_factory=list)
    units: list[Unit] = Field(min_length=1)
    io: list[IoEntry] = Field(default_factory=list)
    queries: list[QueryTemplate] = Field(default_factory=list)
    pipelines: list[Pipeline] = Field(default_factory=list)
    source: str = "<tasktable>"

    @field_validator("io", mode="before")
    @classmethod
    def _io_object(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return [entry for key in ("input", "output", "adfs") for entry in value.get(key) or []]
        return value

    @model_validator(mode="after")
    def _references(self) -> Tasktable:
        units = [u.name for u in self.units]
        repeated = sorted({n for n in units if units.count(n) > 1})
        if repeated:
            raise ValueError(f"unit names must be unique; repeated: {', '.join(repeated)}")
        for p, pipeline in enumerate(self.pipelines):
            for s, step in enumerate(pipeline.steps):
                if step.unit_name not in units:
                    raise ValueError(
                        f"pipelines[{p}].steps[{s}].unit_name: unknown unit {step.unit_name!r} "
                        f"(units: {', '.join(units)})"
                    )
        return self

    @property
    def name(self) -> str:
        return self.tasktable.name

    @property
    def version(self) -> str:
        return self.tasktable.version

    def unit(self, name: str) -> Unit:
        for unit in self.units:
            if unit.name == name:
                return unit
        raise TasktableError(
            f"tasktable {self.source}: no unit {name!r}; units: {', '.join(u.name for u in self.units)}"
        )

    def pipeline(self, name: str) -> Pipeline:
        for pipeline in self.pipelines:
            if pipeline.name == name:
                return pipeline
        known = ", ".join(p.name for p in self.pipelines) or "none"
        raise TasktableError(f"tasktable {self.source}: no pipeline {name!r}; pipelines: {known}")

    def io_entry(self, name: str) -> IoEntry | None:
        return next((entry for entry in self.io if entry.name == name), None)

    def query(self, name: str) -> QueryTemplate | None:
        return next((query for query in self.queries if query.name == name), None)

    @property
    def modes(self) -> list[str]:
        """Every processing mode a product use names, besides ``always``."""
        uses = [
            use
            for unit in self.units
            for use in (*unit.input_products, *unit.input_adfs, *unit.output_products)
        ]
        return sorted({use.mode for use in uses if use.mode != ALWAYS})


def _where(loc: tuple[int | str, ...]) -> str:
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path or "<document>"


def parse_tasktable(raw: object, source: str) -> Tasktable:
    """Validate a tasktable document; the error names ``source`` and each problem's path."""
    if not isinstance(raw, dict):
        raise TasktableError(f"tasktable {source}: expected a JSON object, got {type(raw).__name__}")
    try:
        return Tasktable.model_validate({**raw, "source": source})
    except ValidationError as exc:
        problems = [
            f"{_where(error['loc'])}: "
            + ("missing" if error["type"] == "missing" else error["msg"].removeprefix("Value error, "))
            for error in exc.errors()[:8]
        ]
        raise TasktableError(f"tasktable {source}: " + "; ".join(problems)) from None


def load_tasktable(path: str | Path) -> Tasktable:
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise TasktableError(f"tasktable {path} does not exist") from None
    except OSError as exc:
        raise TasktableError(f"tasktable {path} cannot be read: {exc}") from None
    try:
        raw = json.loads(text)
    except ValueError as exc:
        raise TasktableError(f"tasktable {path} is not JSON: {exc}") from None
    return parse_tasktable(raw, str(path))
