"""One OData ``$filter`` builder for every station, constrained by a per-station capability profile.

Real stations reject different subsets of OData (docs/conventions.md lists them). Queries are built as small expression trees
and rendered for a profile, so that e.g. ``ge`` becomes ``(x gt v or x eq v)`` where a station lacks it, and
nothing outside what the profile allows ever reaches the wire.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Literal

from ..errors import QueryError
from ..timeutil import format_datetime

Literal_ = str | int | float | bool | datetime | None


@dataclass(frozen=True)
class CapabilityProfile:
    """What one family of stations accepts beyond the operators that work everywhere."""

    name: str
    ge: bool = False
    le: bool = False
    string_functions: bool = True
    geo_intersects: bool = True
    spellings: tuple[tuple[str, str, str], ...] = ()
    entity: str | None = None

    def spelled(self, path: str) -> str:
        """The station's own spelling of a property of the entity queried (MPS says ``SessionID`` on Files)."""
        for entity, canonical, spelled in self.spellings:
            if entity == self.entity and canonical == path:
                return spelled
        return path

    def for_entity(self, entity: str) -> CapabilityProfile:
        return replace(self, entity=entity)


PROFILES: dict[str, CapabilityProfile] = {
    "default": CapabilityProfile("default"),
    "mps": CapabilityProfile("mps", ge=True, le=False, spellings=(("Files", "SessionId", "SessionID"),)),
    "standard": CapabilityProfile("standard", ge=True, le=True),
}


def get_profile(name: str) -> CapabilityProfile:
    try:
        return PROFILES[name]
    except KeyError:
        raise QueryError(
            f"unknown capability profile {name!r}; known: {', '.join(sorted(PROFILES))}"
        ) from None


def literal(value: Literal_) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return format_datetime(value)
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    raise QueryError(f"cannot write {type(value).__name__} value {value!r} as an OData literal")


class Expr:
    def render(self, profile: CapabilityProfile) -> str:
        raise NotImplementedError

    def __and__(self, other: Expr) -> Expr:
        return And((self, other))

    def __or__(self, other: Expr) -> Expr:
        return Or((self, other))

    def __invert__(self) -> Expr:
        return Not(self)


Comparator = Literal["eq", "ne", "gt", "lt", "ge", "le"]


@dataclass(frozen=True)
class Compare(Expr):
    path: str
    op: Comparator
    value: Literal_

    def render(self, profile: CapabilityProfile) -> str:
        path = profile.spelled(self.path)
        if self.op == "ge" and not profile.ge:
            return f"({path} gt {literal(self.value)} or {path} eq {literal(self.value)})"
        if self.op == "le" and not profile.le:
            return f"({path} lt {literal(self.value)} or {path} eq {literal(self.value)})"
        return f"{path} {self.op} {literal(self.value)}"


@dataclass(frozen=True)
class In(Expr):
    path: str
    values: tuple[Literal_, ...]

    def render(self, profile: CapabilityProfile) -> str:
        if not self.values:
            raise QueryError(f"'{self.path} in ()' needs at least one value")
        return f"{profile.spelled(self.path)} in ({','.join(literal(v) for v in self.values)})"


@dataclass(frozen=True)
class StringFunction(Expr):
    function: Literal["contains", "startswith", "endswith"]
    path: str
    value: str

    def render(self, profile: CapabilityProfile) -> str:
        return f"{self.function}({profile.spelled(self.path)},{literal(self.value)})"


@dataclass(frozen=True)
class And(Expr):
    parts: tuple[Expr, ...]

    def render(self, profile: CapabilityProfile) -> str:
        return " and ".join(p.render(profile) for p in _flatten(self.parts, And))


@dataclass(frozen=True)
class Or(Expr):
    parts: tuple[Expr, ...]

    def render(self, profile: CapabilityProfile) -> str:
        return "(" + " or ".join(p.render(profile) for p in _flatten(self.parts, Or)) + ")"


@dataclass(frozen=True)
class Not(Expr):
    operand: Expr

    def render(self, profile: CapabilityProfile) -> str:
        # "not(" without a space is rejected by most stations.
        return f"not ({self.operand.render(profile)})"


@dataclass(frozen=True)
class AttributeEquals(Expr):
    """``Attributes/OData.CSC.<Type>Attribute/any(...)``: the way AUXIP and PRIP filter on typed attributes."""

    name: str
    value: Literal_
    value_type: Literal["String", "Integer", "Double", "DateTimeOffset", "Boolean"] = "String"
    op: Comparator = "eq"

    def render(self, profile: CapabilityProfile) -> str:
        cast = f"OData.CSC.{self.value_type}Attribute"
        value = Compare(f"att/{cast}/Value", self.op, self.value).render(profile)
        return f"Attributes/{cast}/any(att:att/Name eq {literal(self.name)} and {value})"


@dataclass(frozen=True)
class Intersects(Expr):
    """Spatial filter on PRIP footprints; ``wkt`` is a WGS84 POLYGON."""

    wkt: str

    def render(self, profile: CapabilityProfile) -> str:
        if not profile.geo_intersects:
            raise QueryError(f"profile {profile.name!r} does not support OData.CSC.Intersects")
        return f"OData.CSC.Intersects(area=geography'SRID=4326;{self.wkt}')"


def _flatten(parts: Iterable[Expr], kind: type) -> list[Expr]:
    flat: list[Expr] = []
    for part in parts:
        if isinstance(part, kind):
            flat.extend(_flatten(part.parts, kind))  # type: ignore[attr-defined]
        else:
            flat.append(part)
    return flat


@dataclass(frozen=True)
class Field_:
    """A property path with comparison helpers: ``F("PublicationDate").ge(dt)``."""

    path: str

    def eq(self, v: Literal_) -> Expr:
        return Compare(self.path, "eq", v)

    def ne(self, v: Literal_) -> Expr:
        return Compare(self.path, "ne", v)

    def gt(self, v: Literal_) -> Expr:
        return Compare(self.path, "gt", v)

    def lt(self, v: Literal_) -> Expr:
        return Compare(self.path, "lt", v)

    def ge(self, v: Literal_) -> Expr:
        return Compare(self.path, "ge", v)

    def le(self, v: Literal_) -> Expr:
        return Compare(self.path, "le", v)

    def in_(self, values: Iterable[Literal_]) -> Expr:
        return In(self.path, tuple(values))

    def contains(self, v: str) -> Expr:
        return StringFunction("contains", self.path, v)

    def startswith(self, v: str) -> Expr:
        return StringFunction("startswith", self.path, v)

    def endswith(self, v: str) -> Expr:
        return StringFunction("endswith", self.path, v)


F = Field_


def all_of(*parts: Expr | None) -> Expr | None:
    present = tuple(p for p in parts if p is not None)
    if not present:
        return None
    return present[0] if len(present) == 1 else And(present)


@dataclass(frozen=True)
class Query:
    """One search against an entity set; paging parameters are added by the client."""

    entity: Literal["Sessions", "Files", "Products"]
    filter: Expr | None = None
    orderby: str | None = "PublicationDate asc"
    expand: str | None = None
    extra: dict[str, str] = field(default_factory=dict)

    def params(self, profile: CapabilityProfile) -> dict[str, str]:
        params: dict[str, str] = {}
        if self.filter is not None:
            params["$filter"] = self.filter.render(profile.for_entity(self.entity))
        if self.orderby:
            params["$orderby"] = self.orderby
        if self.expand:
            params["$expand"] = self.expand
        params.update(self.extra)
        return params
