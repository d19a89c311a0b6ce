"""Parse and evaluate OData ``$filter`` like a strict station: reject what real stations reject.

Parsing uses the ``odata-query`` grammar; evaluation walks its AST over the simulator's JSON records.
The capability profile of a simulated station (:class:`Capabilities`) says which constructs it refuses, so that
tests catch queries that would fail at some real station.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from odata_query import ast
from odata_query import exceptions as odata_exceptions
from odata_query.grammar import ODataLexer, ODataParser

from rs_assets.core.timeutil import parse_datetime

Record = dict[str, Any]
Predicate = Callable[[Record], bool]


class FilterRejected(ValueError):
    """A filter the simulated station answers with HTTP 400."""


@dataclass(frozen=True)
class Capabilities:
    """What a station of a capability profile accepts beyond the safe operators; the default profile accepts
    nothing that fails at some real station."""

    ge: bool = False
    le: bool = False
    string_functions: bool = False
    spaced_lists: bool = False


CAPABILITIES: dict[str, Capabilities] = {
    "default": Capabilities(),
    "mps": Capabilities(ge=True),
    "standard": Capabilities(ge=True, le=True, string_functions=True, spaced_lists=True),
}

_ALLOWED_FUNCTIONS = {"contains", "startswith", "endswith"}
_STRING_FUNCTIONS = {"concat", "indexof", "length", "substring", "tolower", "toupper", "trim"}
_CASTS = {
    "StringAttribute": "String",
    "IntegerAttribute": "Integer",
    "DoubleAttribute": "Double",
    "DateTimeOffsetAttribute": "DateTimeOffset",
    "BooleanAttribute": "Boolean",
}
_NOT_OP = re.compile(r"\bnot\(", re.IGNORECASE)

_lexer = ODataLexer()
_parser = ODataParser()


def without_terms(text: str, properties: list[str]) -> str:
    """``text`` less the ``and``-joined comparisons of ``properties`` (``ContentDate/Start lt ...``): what a lax
    station that ignores part of a filter evaluates."""
    for name in properties:
        term = rf"{re.escape(name)}(?:/\w+)?\s+(?:eq|ne|lt|le|gt|ge)\s+[^\s)]+"
        text = re.sub(rf"\s+and\s+{term}", "", text)
        text = re.sub(rf"^{term}\s+and\s+", "", text)
    return text


def compile_filter(text: str, fields: set[str], capabilities: Capabilities) -> Predicate:
    """Parse ``text`` into a predicate over records whose top-level properties are ``fields``."""
    return compile_query(text, fields, capabilities)[0]


def compile_query(
    text: str, fields: set[str], capabilities: Capabilities
) -> tuple[Predicate, datetime | None]:
    """The predicate, and the lower bound it puts on ``PublicationDate`` (what a station's index would use)."""
    if _NOT_OP.search(text):
        raise FilterRejected("'not(' is not supported: write 'not (' with a space")
    for word in ("gte", "lte"):
        if re.search(rf"\s{word}\s", text):
            raise FilterRejected(f"'{word}' is not an OData operator")
    try:
        tokens = list(_lexer.tokenize(text))
    except odata_exceptions.ODataException as exc:
        raise FilterRejected(f"invalid $filter: {exc}") from None
    if not capabilities.spaced_lists:
        for previous, token in itertools.pairwise(tokens):
            if previous.type == "," and token.type == "WS":
                raise FilterRejected("a space after ',' in a list is not supported: write ('a','b')")
    try:
        tree = _parser.parse(iter(tokens))
    except odata_exceptions.ODataException as exc:
        raise FilterRejected(f"invalid $filter: {exc}") from None
    except Exception as exc:
        raise FilterRejected(f"invalid $filter: {type(exc).__name__}: {exc}") from None
    _Checker(fields, capabilities).visit(tree, set())
    return (lambda record: bool(_evaluate(tree, record, {}))), _publication_lower_bound(tree)


def _publication_lower_bound(node: Any) -> datetime | None:
    """``PublicationDate gt|ge T`` (or ``(gt T or eq T)``) among the top-level ``and`` terms."""
    match node:
        case ast.BoolOp(op=ast.And(), left=left, right=right):
            bounds = [b for b in (_publication_lower_bound(left), _publication_lower_bound(right)) if b]
            return max(bounds) if bounds else None
        case ast.Compare(
            comparator=ast.Gt() | ast.GtE(),
            left=ast.Identifier(name="PublicationDate"),
            right=ast.DateTime(val=val),
        ):
            return parse_datetime(val)
        case ast.BoolOp(op=ast.Or(), left=left, right=right):
            both = [_publication_lower_bound(left), _eq_bound(right)]
            return both[0] if both[0] and both[0] == both[1] else None
    return None


def _eq_bound(node: Any) -> datetime | None:
    match node:
        case ast.Compare(
            comparator=ast.Eq(), left=ast.Identifier(name="PublicationDate"), right=ast.DateTime(val=val)
        ):
            return parse_datetime(val)
    return None


class _Checker:
    def __init__(self, fields: set[str], capabilities: Capabilities):
        self.fields = fields
        self.capabilities = capabilities

    def visit(self, node: Any, scope: set[str]) -> None:
        match node:
            case ast.Compare(comparator=ast.GtE()) if not self.capabilities.ge:
                raise FilterRejected("operator 'ge' is not supported by this station")
            case ast.Compare(comparator=ast.LtE()) if not self.capabilities.le:
                raise FilterRejected("operator 'le' is not supported by this station")
            case ast.Call(func=ast.Identifier(name=name, namespace=namespace)):
                qualified = ".".join((*namespace, name))
                if qualified == "OData.CSC.Intersects":
                    pass
                elif name in _STRING_FUNCTIONS and not self.capabilities.string_functions:
                    raise FilterRejected(f"function '{name}' is not supported by this station")
                elif name not in _ALLOWED_FUNCTIONS | _STRING_FUNCTIONS:
                    raise FilterRejected(f"unknown function '{qualified}'")
            case ast.Identifier(name=name) if name not in self.fields and name not in scope:
                raise FilterRejected(f"Could not find a property named '{name}'")
            case ast.CollectionLambda(owner=owner, lambda_=ast.Lambda(identifier=ident, expression=expr)):
                self.visit(owner, scope)
                self.visit(expr, scope | {ident.name})
                return
            case ast.Attribute(owner=owner):
                self.visit(owner, scope)
                return
            case ast.BinOp() | ast.Add() | ast.Sub():
                raise FilterRejected("arithmetic operators are not supported by this station")
        for child in _children(node):
            self.visit(child, scope)


def _children(node: Any) -> list[Any]:
    match node:
        case ast.Compare(left=left, right=right) | ast.BoolOp(left=left, right=right):
            return [left, right]
        case ast.UnaryOp(operand=operand):
            return [operand]
        case ast.Call(args=args):
            return [a.param if isinstance(a, ast.NamedParam) else a for a in args]
        case ast.List(val=values):
            return list(values)
    return []


def _evaluate(node: Any, record: Record, scope: dict[str, Any]) -> Any:
    match node:
        case ast.BoolOp(op=ast.And(), left=left, right=right):
            return bool(_evaluate(left, record, scope)) and bool(_evaluate(right, record, scope))
        case ast.BoolOp(op=ast.Or(), left=left, right=right):
            return bool(_evaluate(left, record, scope)) or bool(_evaluate(right, record, scope))
        case ast.UnaryOp(op=ast.Not(), operand=operand):
            return not _evaluate(operand, record, scope)
        case ast.Compare(comparator=comparator, left=left, right=right):
            return _compare(comparator, _evaluate(left, record, scope), _evaluate(right, record, scope))
        case ast.Identifier(name=name):
            return scope[name] if name in scope else record.get(name)
        case ast.Attribute(owner=owner, attr=attr):
            return _member(_evaluate(owner, record, scope), attr)
        case ast.CollectionLambda(owner=owner, operator=operator, lambda_=lam):
            items = _evaluate(owner, record, scope) or []
            test = (_evaluate(lam.expression, record, {**scope, lam.identifier.name: item}) for item in items)
            return any(test) if isinstance(operator, ast.Any) else all(test)
        case ast.Call(func=ast.Identifier(name="Intersects"), args=args):
            return _intersects(record, args)
        case ast.Call(func=ast.Identifier(name=name), args=args):
            values = [_evaluate(a, record, scope) for a in args]
            return _call(name, values)
        case ast.List(val=values):
            return [_evaluate(v, record, scope) for v in values]
        case ast.DateTime(val=val):
            return parse_datetime(val)
        case ast.Null():
            return None
        case ast.Integer(val=val):
            return int(val)
        case ast.Float(val=val):
            return float(val)
        case ast.Boolean(val=val):
            return val in (True, "true")
        case ast.String(val=val) | ast.GUID(val=val):
            return val
    raise FilterRejected(f"unsupported expression {type(node).__name__}")


def _member(value: Any, attr: str) -> Any:
    if attr in _CASTS:
        wanted = _CASTS[attr]
        if isinstance(value, list):
            return [v for v in value if isinstance(v, dict) and v.get("ValueType", wanted) == wanted]
        return value
    if isinstance(value, dict):
        return value.get(attr)
    return None


def _normalise(a: Any, b: Any) -> tuple[Any, Any]:
    if isinstance(b, datetime) and isinstance(a, str):
        return parse_datetime(a), b
    if isinstance(a, datetime) and isinstance(b, str):
        return a, parse_datetime(b)
    return a, b


def _compare(comparator: Any, left: Any, right: Any) -> bool:
    if isinstance(comparator, ast.In):
        return any(_normalise(left, r)[0] == _normalise(left, r)[1] for r in right)
    left, right = _normalise(left, right)
    match comparator:
        case ast.Eq():
            return left == right
        case ast.NotEq():
            return left != right
    if left is None or right is None:
        return False
    try:
        match comparator:
            case ast.Gt():
                return left > right
            case ast.GtE():
                return left >= right
            case ast.Lt():
                return left < right
            case ast.LtE():
                return left <= right
    except TypeError:
        raise FilterRejected(f"cannot compare {left!r} with {right!r}") from None
    raise FilterRejected(f"unsupported comparator {type(comparator).__name__}")


def _call(name: str, values: list[Any]) -> Any:
    text = [v if isinstance(v, str) else "" for v in values]
    match name:
        case "contains":
            return text[1] in text[0]
        case "startswith":
            return text[0].startswith(text[1])
        case "endswith":
            return text[0].endswith(text[1])
        case "concat":
            return "".join(text)
        case "indexof":
            return text[0].find(text[1])
        case "length":
            return len(text[0])
        case "tolower":
            return text[0].lower()
        case "toupper":
            return text[0].upper()
        case "trim":
            return text[0].strip()
    raise FilterRejected(f"unknown function '{name}'")


def _intersects(record: Record, args: list[Any]) -> bool:
    from shapely import wkt
    from shapely.geometry import shape

    geography = next((a.param.val for a in args if isinstance(a, ast.NamedParam)), None)
    footprint = record.get("GeoFootprint")
    if geography is None:
        raise FilterRejected("OData.CSC.Intersects needs area=geography'SRID=4326;POLYGON(...)'")
    if not footprint:
        return False
    try:
        area = wkt.loads(geography.split(";", 1)[-1])
    except Exception:
        raise FilterRejected(f"invalid geography literal {geography!r}") from None
    return bool(shape(footprint).intersects(area))


ORDERBY = re.compile(r"^\s*(\w+)(?:\s+(asc|desc))?\s*$")


def parse_orderby(text: str, fields: set[str]) -> list[tuple[str, bool]]:
    """``Field [asc|desc], ...`` into (field, descending) pairs; unknown fields are rejected."""
    keys: list[tuple[str, bool]] = []
    for part in text.split(","):
        match = ORDERBY.match(part)
        if not match or match[1] not in fields:
            raise FilterRejected(f"invalid $orderby clause {part.strip()!r}")
        keys.append((match[1], match[2] == "desc"))
    return keys
