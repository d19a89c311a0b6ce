"""Which collection a produced item goes to, for conversion and processing alike: the rules the RS workflows
call ``generated_product_to_collection_identifier`` (exact product type first, then ``*``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..conversion.product_types import canonical_eopf_type
from ..errors import RsAssetsError


@dataclass(frozen=True)
class OutputRule:
    """An EOPF type (or ``*``) and the collection to publish it to."""

    product_type: str
    collection: str | None = None


def resolve_output_collection(eopf_type: str, rules: Sequence[OutputRule], default: str) -> str:
    """Exact type first, then a ``*`` rule, which must name its collection; no rules: ``default``."""
    if not rules:
        return default
    wanted = canonical_eopf_type(eopf_type)
    for rule in rules:
        if canonical_eopf_type(rule.product_type) == wanted:
            return rule.collection or default
    for rule in rules:
        if rule.product_type == "*":
            if not rule.collection:
                raise RsAssetsError(f"output rule '*' must name a collection (needed for {eopf_type})")
            return rule.collection
    raise RsAssetsError(
        f"no output collection for {eopf_type}: rules cover {', '.join(r.product_type for r in rules)}"
    )


def default_output_collection(eopf_type: str) -> str:
    """RS default: one collection per EOPF type (``S01SIWGRD`` -> ``s01siwgrd``)."""
    return canonical_eopf_type(eopf_type).lower().rstrip("_")
