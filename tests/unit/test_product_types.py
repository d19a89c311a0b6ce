import json
import re
from pathlib import Path

import pytest

from rs_assets.core.conversion.product_types import (
    UnknownProductType,
    canonical_eopf_type,
    eopf_type,
    eopf_type_of_product,
    legacy_to_eopf,
    legacy_type_of,
)


@pytest.mark.parametrize(
    ("legacy", "expected"),
    [
        ("IW_SLC__1S", "S01SIWSLC"),
        ("S3_SLC__1S", "S01SSMSLC"),
        ("IW_GRDH_1S", "S01SIWGRD"),
        ("OL_1_EFR___", "S03OLCEFR"),
        ("OL_1_EFR", "S03OLCEFR"),
        ("SL_1_RBT___", "S03SLSRBT"),
        ("SY_2_SYN___", "S03SYNSDR"),
        ("MSIL1C", "S02MSIL1C"),
    ],
)
def test_design_examples(legacy: str, expected: str) -> None:
    assert eopf_type(legacy) == expected


@pytest.mark.parametrize(
    ("name", "legacy"),
    [
        ("S1B_IW_GRDH_1SDV_20211223T051122_20211223T051147_030148_039993_5371.SAFE", "IW_GRDH_1S"),
        ("S1A_S3_SLC__1SDV_20220104T170557_20220104T170624_041314_04E951_F1F1.SAFE.zip", "S3_SLC__1S"),
        (
            "S3A_OL_1_EFR____20230101T101010_20230101T101310_20230101T120000_0179_094_065_2160_PS1_O_NR_003.SEN3",
            "OL_1_EFR___",
        ),
        ("S2B_MSIL1C_20231002T103819_N0509_R008_T32TQM_20231002T124402.SAFE", "MSIL1C"),
        ("S2A_OPER_PRD_HKTM___20231002T103819_20231002T104000_0001.tar", "PRD_HKTM__"),
    ],
)
def test_legacy_type_from_names(name: str, legacy: str) -> None:
    assert legacy_type_of(name) == legacy
    assert eopf_type_of_product(name)


def test_grd_aliases_and_unknown_types() -> None:
    assert canonical_eopf_type("S01SIWGRH") == "S01SIWGRD"
    assert canonical_eopf_type("S01SEWGRM") == "S01SEWGRD"
    assert canonical_eopf_type("S03OLCEFR") == "S03OLCEFR"
    with pytest.raises(UnknownProductType, match="'XX_NOPE_1S' has no EOPF type"):
        eopf_type("XX_NOPE_1S")
    with pytest.raises(UnknownProductType, match="cannot read a legacy product type"):
        legacy_type_of("readme.txt")


def test_eopf_types_are_nine_characters() -> None:
    for legacy, eopf in legacy_to_eopf().items():
        assert re.fullmatch(r"S0[1-3][A-Z0-9_]{6}", eopf), (legacy, eopf)


def _example_name(legacy: str) -> dict[str, str]:
    """A product name of that legacy type, in its mission's naming convention."""
    polarisation = "DV" if legacy.endswith("S") else "__"
    return {
        "S1": f"S1A_{legacy}{polarisation}_20211223T051122_20211223T051147_030148_039993_5371.SAFE",
        "S3": f"S3A_{legacy}_20230101T101010_20230101T101310_20230101T120000_0179_094_065_2160_PS1_O_NR_003.SEN3",
        "S2": f"S2A_OPER_{legacy}_20231002T103819_N0509.SAFE",
    }


def test_table_covers_every_eopf_mapping() -> None:
    """Every product type the installed converter maps is in the table, and names of our legacy types are
    recognised by that mapping's own filename pattern."""
    eopf = pytest.importorskip("eopf")
    mappings = sorted((Path(eopf.__file__).parent / "store" / "mapping").glob("*.json"))
    assert len(mappings) >= 72
    table = legacy_to_eopf()
    by_eopf: dict[str, list[str]] = {}
    for legacy, target in table.items():
        by_eopf.setdefault(target, []).append(legacy)
    for path in mappings:
        mapping = json.loads(path.read_text())
        target = mapping["product_type"]
        assert target in by_eopf, f"{path.name}: {target} missing from the table"
        pattern = mapping["recognition"].get("filename_pattern")
        if not pattern:
            continue
        for legacy in by_eopf[target]:
            mission = target[:3].replace("S0", "S")
            names = _example_name(legacy)
            candidates = [names[mission]]
            if mission == "S2" and not legacy.startswith(("PRD_", "MSI_", "AUX_")):
                candidates = [f"S2A_{legacy}_20231002T103819_N0509.SAFE"]
            assert any(re.match(pattern, n) for n in candidates), (path.name, legacy, pattern)
