"""Legacy product types and their EOPF types, kept as data in ``rs_assets/data/product_types.csv``.

The table covers every type the ``eopf`` mapping files convert (a test checks it against the installed
package). EOPF types are 9 characters: ``S`` + 2-digit mission + 6 characters, ``_``-padded.
"""

from __future__ import annotations

import csv
import re
from functools import cache
from pathlib import Path

from ..errors import RsAssetsError

TABLE = Path(__file__).parents[2] / "data" / "product_types.csv"

# Published samples name GRD products with their resolution letter (GRH, GRM); the mapping says GRD.
ALIASES = {
    f"S01S{mode}GR{resolution}": f"S01S{mode}GRD" for mode in ("IW", "EW", "SM") for resolution in ("H", "M")
}
_S2_OPER = re.compile(r"^S2[A-Z]_OPER_(?P<type>.{10})_")


class UnknownProductType(RsAssetsError):
    """A legacy product type (or product name) the EOPF type table does not know."""


@cache
def legacy_to_eopf() -> dict[str, str]:
    with TABLE.open(newline="") as handle:
        return {row["legacy"]: row["eopf"] for row in csv.DictReader(handle)}


@cache
def _by_unpadded() -> dict[str, str]:
    return {legacy.rstrip("_"): eopf for legacy, eopf in legacy_to_eopf().items()}


def canonical_eopf_type(eopf_type: str) -> str:
    """``S01SIWGRH`` -> ``S01SIWGRD``; any other type unchanged."""
    return ALIASES.get(eopf_type, eopf_type)


def eopf_type(legacy_type: str) -> str:
    """The EOPF type of a legacy type (``IW_GRDH_1S`` -> ``S01SIWGRD``); trailing ``_`` padding is optional."""
    found = _by_unpadded().get(legacy_type.strip().rstrip("_"))
    if found is None:
        raise UnknownProductType(
            f"legacy product type {legacy_type!r} has no EOPF type in {TABLE.name} "
            f"({len(legacy_to_eopf())} known, e.g. IW_GRDH_1S, OL_1_EFR___, MSIL1C)"
        )
    return found


def legacy_type_of(name: str) -> str:
    """The legacy type a SAFE/SEN3 product name carries: chars 4..14 (S1), 4..15 (S3), a field of S2."""
    base = name.rsplit("/", 1)[-1]
    if base.startswith("S1") and len(base) >= 14:
        return base[4:14]
    if base.startswith("S3") and len(base) >= 15:
        return base[4:15]
    if base.startswith("S2"):
        oper = _S2_OPER.match(base)
        if oper:
            return oper["type"]
        fields = base.split("_")
        if len(fields) > 1:
            return fields[1]
    raise UnknownProductType(f"cannot read a legacy product type from product name {name!r}")


def eopf_type_of_product(name: str, legacy_type: str | None = None) -> str:
    """EOPF type of a product, from its declared legacy type when given, else from its name."""
    return eopf_type(legacy_type or legacy_type_of(name))
