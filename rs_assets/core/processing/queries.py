"""An ADF's alternatives as catalog searches: parameters substituted, datetime arithmetic evaluated.

A tasktable query is a CQL2-JSON search body with ``{parameter}`` placeholders; an alternative gives the
parameters, which may themselves name ``{external_variable.NAME}``. Templates may hold arithmetic on datetimes
(``{"op": "-", "args": ["{start_datetime}", "{dTa}"]}``, seconds): a catalog does not evaluate it, so it is
evaluated here, and the result is checked as CQL2 before any search.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ..timeutil import format_datetime, parse_datetime
from .tasktable import Alternative, Tasktable, TasktableError

_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_.]*)\}")
_EXTERNAL = "external_variable."


@dataclass(frozen=True)
class AdfQuery:
    """One alternative of one ADF, ready to search: what the metadata and the errors show."""

    adf: str
    order: int
    name: str
    timeout_seconds: float
    collection: str
    parameters: dict[str, Any]
    filter: dict[str, Any] | None
    sortby: list[dict[str, str]] | None
    limit: int | None

    @property
    def product_type(self) -> str | None:
        value = self.parameters.get("product_type")
        return str(value) if value else None

    def body(self) -> dict[str, Any]:
        """The STAC API search body, as the operator would POST it to ``/search``."""
        body: dict[str, Any] = {"collections": [self.collection]}
        if self.filter is not None:
            body |= {"filter-lang": "cql2-json", "filter": self.filter}
        if self.sortby:
            body["sortby"] = self.sortby
        if self.limit is not None:
            body["limit"] = self.limit
        return body

    def describe(self) -> str:
        return f"alternative {self.order} ({self.name} in {self.collection}): {json.dumps(self.body())}"


def _value_text(value: Any) -> str:
    return format_datetime(value) if isinstance(value, datetime) else str(value)


def _external(text: str, variables: Mapping[str, Any], where: str) -> Any:
    """``{external_variable.X}`` replaced; a parameter that is only that keeps the variable's value."""
    whole = _PLACEHOLDER.fullmatch(text)

    def value_of(name: str) -> Any:
        variable = name.removeprefix(_EXTERNAL)
        if variable not in variables or variables[variable] in (None, ""):
            given = ", ".join(sorted(k for k, v in variables.items() if v not in (None, ""))) or "none"
            raise TasktableError(f"{where}: external variable {variable!r} is not given (given: {given})")
        return variables[variable]

    if whole and whole[1].startswith(_EXTERNAL):
        value = value_of(whole[1])
        return format_datetime(value) if isinstance(value, datetime) else value
    return _PLACEHOLDER.sub(
        lambda m: _value_text(value_of(m[1])) if m[1].startswith(_EXTERNAL) else m[0], text
    )


def resolve_parameters(alternative: Alternative, variables: Mapping[str, Any], where: str) -> dict[str, Any]:
    return {
        key: _external(value, variables, f"{where} parameter {key}") if isinstance(value, str) else value
        for key, value in alternative.query.parameters.items()
    }


def substitute(template: Any, parameters: Mapping[str, Any], where: str) -> Any:
    """Every ``{name}`` of ``template`` replaced; a string that is only a placeholder takes the value's type."""

    def value_of(name: str) -> Any:
        if name not in parameters:
            given = ", ".join(sorted(parameters)) or "none"
            raise TasktableError(f"{where}: placeholder {{{name}}} has no parameter (given: {given})")
        return parameters[name]

    if isinstance(template, dict):
        return {key: substitute(value, parameters, where) for key, value in template.items()}
    if isinstance(template, list):
        return [substitute(value, parameters, where) for value in template]
    if isinstance(template, str):
        whole = _PLACEHOLDER.fullmatch(template)
        if whole:
            return value_of(whole[1])
        return _PLACEHOLDER.sub(lambda m: _value_text(value_of(m[1])), template)
    return template


def _as_datetime(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str):
        try:
            return parse_datetime(value)
        except ValueError:
            return None
    return None


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def evaluate(node: Any, where: str) -> Any:
    """``+``/``-`` of a datetime and seconds (or of two numbers) folded into a value; the rest unchanged."""
    if isinstance(node, list):
        return [evaluate(value, where) for value in node]
    if not isinstance(node, dict):
        return node
    node = {key: evaluate(value, where) for key, value in node.items()}
    if node.get("op") not in ("+", "-") or not isinstance(node.get("args"), list) or len(node["args"]) != 2:
        return node
    left, right = node["args"]
    if isinstance(left, dict) or isinstance(right, dict):
        return node  # arithmetic on properties is the catalog's to evaluate
    sign = 1 if node["op"] == "+" else -1
    when, seconds = _as_datetime(left), _number(right)
    if when is not None and seconds is not None:
        return format_datetime(when + timedelta(seconds=sign * seconds))
    if _number(left) is not None and seconds is not None:
        return (_number(left) or 0.0) + sign * seconds
    raise TasktableError(
        f"{where}: cannot evaluate {json.dumps(node)}: expected a datetime and a number of seconds"
    )


def _check_cql2(filter: dict[str, Any], where: str) -> None:
    import cql2

    try:
        cql2.Expr(filter).validate()
    except Exception as exc:
        raise TasktableError(f"{where}: not valid CQL2 ({exc}): {json.dumps(filter)}") from None


def adf_queries(
    tasktable: Tasktable,
    adf: str,
    variables: Mapping[str, Any],
    collection_for: Callable[[Mapping[str, Any]], str],
) -> list[AdfQuery]:
    """The searches an ADF's alternatives make, in order; ``collection_for`` picks where from the parameters."""
    entry = tasktable.io_entry(adf)
    if entry is None:
        raise TasktableError(f"tasktable {tasktable.source}: ADF {adf!r} has no io entry")
    queries = []
    for alternative in entry.ordered_alternatives:
        where = f"tasktable {tasktable.source}: ADF {adf} alternative {alternative.order}"
        template = tasktable.query(alternative.query.name)
        if template is None:
            known = ", ".join(q.name for q in tasktable.queries) or "none"
            raise TasktableError(
                f"{where}: query {alternative.query.name!r} is not defined (queries: {known})"
            )
        parameters = resolve_parameters(alternative, variables, where)
        stac = evaluate(substitute(copy.deepcopy(template.stac), parameters, where), where)
        filter = stac.get("filter")
        if filter is not None:
            _check_cql2(filter, where)
        limit = stac.get("limit")
        queries.append(
            AdfQuery(
                adf=adf,
                order=alternative.order,
                name=template.name,
                timeout_seconds=float(alternative.timeout_seconds),
                collection=collection_for(parameters),
                parameters=parameters,
                filter=filter,
                sortby=stac.get("sortby") or None,
                limit=int(limit) if limit is not None else None,
            )
        )
    return queries
