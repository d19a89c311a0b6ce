"""The code location loads, whole, without a single deprecation warning."""

from __future__ import annotations

import importlib
import sys
import warnings
from pathlib import Path

import dagster as dg
import pytest
import yaml


def _load_fresh() -> dg.Definitions:
    for name in [m for m in sys.modules if m.startswith("rs_assets.definitions")]:
        del sys.modules[name]
    return importlib.import_module("rs_assets.definitions").defs


def test_all_definitions_load_without_deprecation_warnings() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        defs = _load_fresh()
        defs.validate_loadable(defs)
        graph = defs.resolve_asset_graph()
        for key in graph.get_all_asset_keys():
            graph.get(key)
        defs.resolve_all_job_defs()
    deprecations = [
        w
        for w in caught
        if issubclass(w.category, DeprecationWarning | dg.BetaWarning | dg.PreviewWarning)
        and (
            "dagster" in str(w.filename)
            or "dagster" in str(w.message).lower()
            or "rs_assets" in str(w.filename)
        )
    ]
    assert not deprecations, [
        f"{w.category.__name__}: {w.message} ({w.filename}:{w.lineno})" for w in deprecations
    ]


def test_station_sources_and_resources_are_wired() -> None:
    defs = _load_fresh()
    keys = {key.to_user_string() for key in defs.resolve_asset_graph().get_all_asset_keys()}
    assert {"station/INS", "station/MPS", "station/ADGS", "station/PRIP"} <= keys
    assert {"stations", "storage", "catalog", "conversion", "processing", "dask"} <= set(defs.resources or {})


def test_every_asset_family_is_in_the_graph() -> None:
    """The asset graph's shape: AUX and PRIP chains, sessions, and the conversion after PRIP's unpacked products."""
    graph = _load_fresh().resolve_asset_graph()
    keys = {key.to_user_string() for key in graph.get_all_asset_keys()}
    assert {
        "adgs/aux_files",
        "adgs/aux_catalog",
        "adgs/aux_unpacked",
        "ins/cadip_sessions",
        "ins/cadip_discovery",
        "mps/cadip_sessions",
    } <= keys
    for station in ("INS", "MPS"):
        for name in ("cadip_sessions", "cadip_discovery"):
            assert graph.get(dg.AssetKey([station.lower(), name])).pools == {f"station-{station}"}
    assert {"prip/prip_products", "prip/prip_catalog", "prip/prip_unpacked", "prip/zarr_products"} <= keys
    parents = {k.to_user_string() for k in graph.get(dg.AssetKey(["prip", "zarr_products"])).parent_keys}
    assert parents == {"prip/prip_unpacked"}
    processed = graph.get(dg.AssetKey("processed_s1_terrain_correction"))
    assert {k.to_user_string() for k in processed.parent_keys} == {"prip/zarr_products"}
    assert processed.partitions_def == graph.get(dg.AssetKey(["prip", "zarr_products"])).partitions_def


def test_code_location_name_is_the_same_everywhere() -> None:
    import tomllib
    from pathlib import Path

    import yaml

    root = Path(__file__).resolve().parents[1]
    project = tomllib.loads((root / "pyproject.toml").read_text())
    workspace = yaml.safe_load((root / "workspace.yaml").read_text())
    names = {
        project["tool"]["dagster"]["code_location_name"],
        project["tool"]["dg"]["project"]["code_location_name"],
        workspace["load_from"][0]["python_module"]["location_name"],
    }
    assert names == {"rs_assets"}


def test_session_runs_do_not_carry_the_eviction_watch() -> None:
    """The watch covers every session on its own schedule; inside each session's run it would fail that run."""
    job = _load_fresh().resolve_job_def("ins_session_staging")
    assert [node for node in job.graph.node_dict if "eviction" in node] == []


def test_station_jobs_and_automation_runs_ask_dagster_for_run_retries() -> None:
    defs = _load_fresh()
    jobs = [
        "ins_session_staging",
        "adgs_staging",
        "prip_staging",
        "aux_valcover_staging",
        "prip_valcover_staging",
    ]
    for name in jobs:
        assert defs.resolve_job_def(name).tags.get("dagster/max_retries") == "3", name
    automation = [s for s in defs.sensors or [] if isinstance(s, dg.AutomationConditionSensorDefinition)]
    assert automation and all(s.run_tags.get("dagster/max_retries") == "3" for s in automation)


def test_a_processor_driven_by_an_asset_that_does_not_exist_is_named(tmp_path: Path) -> None:
    from rs_assets.core.errors import ConfigError
    from rs_assets.definitions import build_definitions
    from rs_assets.settings import DEFAULT_PROCESSORS, Settings

    shipped = yaml.safe_load(DEFAULT_PROCESSORS.read_text())["processors"][0]
    tasktable = (DEFAULT_PROCESSORS.parent / shipped["tasktable"]).resolve()
    path = tmp_path / "processors.yaml"
    path.write_text(
        yaml.safe_dump({"processors": [shipped | {"tasktable": str(tasktable), "driven_by": "sar_products"}]})
    )
    with pytest.raises(
        ConfigError, match="processor 's1_terrain_correction': field driven_by: no asset 'sar_products'"
    ):
        build_definitions(Settings(processors_file=path))


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ({"name": "Bad Name"}, r"processor 'Bad Name' \(entry 1\): field name: String should match pattern"),
        ({"mode": "sar"}, "processor 's1_terrain_correction': tasktable .* unknown processing mode 'sar'"),
        (
            {"tasktable": "missing.json"},
            r"processor 's1_terrain_correction': tasktable .*missing.json does not exist",
        ),
        ({"input": "GRD"}, "field input: 'GRD' is not an input of"),
        ({"systematic": "sometimes"}, "field systematic: Input should be a valid boolean"),
    ],
)
def test_a_bad_processors_file_names_the_processor_and_field(
    tmp_path: Path, entry: dict, expected: str
) -> None:
    from rs_assets.core.errors import ConfigError
    from rs_assets.settings import DEFAULT_PROCESSORS, load_processors_file

    shipped = yaml.safe_load(DEFAULT_PROCESSORS.read_text())["processors"][0]
    shipped["tasktable"] = str((DEFAULT_PROCESSORS.parent / shipped["tasktable"]).resolve())
    path = tmp_path / "processors.yaml"
    path.write_text(yaml.safe_dump({"processors": [shipped | entry]}))
    with pytest.raises(ConfigError, match=expected):
        load_processors_file(path)
