"""The domain stays apart from the wiring: nothing under rs_assets/core imports Dagster."""

import ast
from pathlib import Path

import rs_assets.core

CORE = Path(rs_assets.core.__file__).parent


def imported_modules(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
    return found


def test_no_module_of_the_domain_imports_dagster_or_the_wiring() -> None:
    modules = sorted(CORE.rglob("*.py"))
    assert len(modules) > 40 and any(p.parent != CORE for p in modules), "core has its subpackages"
    offenders = {
        str(path.relative_to(CORE)): sorted(
            name
            for name in imported_modules(path)
            if name.split(".")[0].startswith("dagster")
            or name.startswith(
                ("rs_assets.assets", "rs_assets.resources", "rs_assets.sensors", "rs_assets.cli")
            )
        )
        for path in modules
    }
    assert {path: names for path, names in offenders.items() if names} == {}
