"""Tasktables (the RS format) read, validated and planned into units; the queries and payloads they make."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from rs_assets.core.processing.payload import OutputTarget, build_payload, skeleton
from rs_assets.core.processing.queries import adf_queries, evaluate, substitute
from rs_assets.core.processing.tasktable import TasktableError, load_tasktable, parse_tasktable
from rs_assets.core.processing.units import build_units

SHIPPED = Path(__file__).resolve().parents[2] / "rs_assets/processors/tasktables/s1_terrain_correction.json"
START, END = "2025-08-07T11:51:12.509Z", "2025-08-07T11:53:42.000Z"
VARIABLES = {"start_datetime": START, "end_datetime": END, "satellite": "sentinel-3a"}


def unit(name: str, inputs: list[Any] = (), adfs: list[Any] = (), outputs: list[Any] = ()) -> dict[str, Any]:  # type: ignore[assignment]
    def uses(entries: list[Any]) -> list[dict[str, Any]]:
        return [
            e if isinstance(e, dict) else {"name": e, "mode": "always", "mandatory": True} for e in entries
        ]

    return {
        "name": name,
        "module": f"processors.{name.lower()}",
        "input_products": uses(inputs),
        "input_adfs": uses(adfs),
        "output_products": uses(outputs),
    }


LATEST_VALCOVER = {
    "name": "LatestValCover",
    "parameters": ["product_type", "satellite", "start_datetime", "end_datetime", "dTa", "dTb"],
    "stac": {
        "filter": {
            "op": "and",
            "args": [
                {"op": "=", "args": [{"property": "product:type"}, "{product_type}"]},
                {"op": "=", "args": [{"property": "platform"}, "{satellite}"]},
                {
                    "op": "t_contains",
                    "args": [
                        {"interval": [{"property": "start_datetime"}, {"property": "end_datetime"}]},
                        {
                            "interval": [
                                {"op": "-", "args": ["{start_datetime}", "{dTa}"]},
                                {"op": "+", "args": ["{end_datetime}", "{dTb}"]},
                            ]
                        },
                    ],
                },
            ],
        },
        "sortby": [{"field": "created", "direction": "desc"}],
        "limit": 1,
    },
}


def alternative(
    order: int, product_type: str, timeout: int = 0, query: str = "LatestValCover", **extra: Any
) -> dict[str, Any]:
    return {
        "order": order,
        "timeout_seconds": timeout,
        "query": {
            "name": query,
            "parameters": {
                "product_type": product_type,
                "satellite": "{external_variable.satellite}",
                "start_datetime": "{external_variable.start_datetime}",
                "end_datetime": "{external_variable.end_datetime}",
                "dTa": 0,
                "dTb": 0,
            }
            | extra,
        },
    }


def olci_like() -> dict[str, Any]:
    """One unit, three inputs, ADFs per mode (nrt/ntc), several alternatives with timeouts (S3 L1 OLCI shape)."""
    return {
        "tasktable": {"name": "s3-olci-l1", "version": 1.32, "specification_version": "1.0_draftJ"},
        "external_variables": ["start_datetime", "end_datetime", "satellite"],
        "units": [
            unit(
                "OL1Processor",
                inputs=["L0_1", "L0_2", {"name": "RAC", "mode": "always", "mandatory": False}],
                adfs=["ORBIT", {"name": "ECMWF", "mode": "nrt"}, {"name": "ECMWA", "mode": "ntc"}],
                outputs=["S03OLCEFR", "S03OLCERR"],
            )
        ],
        "io": [
            {"name": "L0_1", "type": "filename", "store_type": "zarr", "store_params": {"consolidate": True}},
            {"name": "L0_2", "type": "filename", "store_type": "zarr"},
            {"name": "RAC", "type": "filename", "store_type": "zarr"},
            {
                "name": "ORBIT",
                "type": "filename",
                "alternatives": [
                    alternative(2, "ADF_FPOAX", 180, dTa=8.8, dTb=8.8),
                    alternative(1, "ADF_FROAX", 0),
                ],
            },
            {
                "name": "ECMWF",
                "type": "filename",
                "alternatives": [alternative(1, "ADF_ECMWF", query="ValIntersectWithoutDuplicates")],
            },
            {"name": "ECMWA", "type": "filename", "alternatives": [alternative(1, "ADF_ECMWA", dTb=10800)]},
            {
                "name": "S03OLCEFR",
                "type": "filename",
                "store_type": "zarr",
                "opening_mode": "CREATE_OVERWRITE",
            },
            {"name": "S03OLCERR", "type": "filename", "store_type": "zarr"},
        ],
        "queries": [LATEST_VALCOVER],
        "pipelines": [
            {
                "name": "ol1",
                "steps": [
                    {
                        "unit_name": "OL1Processor",
                        "step_id": 1,
                        "input_products": {
                            "L0_1": "pipeline_input",
                            "L0_2": "pipeline_input",
                            "RAC": "pipeline_input",
                        },
                        "output_products": {"S03OLCEFR": "pipeline_output", "S03OLCERR": "pipeline_output"},
                    }
                ],
            }
        ],
    }


def ard_like() -> dict[str, Any]:
    """A multi-step pipeline with internal products, every step written ``order: 1`` (S1 ARD shape)."""
    return {
        "tasktable": {"name": "s1-ard", "version": "1.0"},
        "external_variables": ["start_datetime", "end_datetime"],
        "units": [
            unit(
                "calibration",
                inputs=["cal_input"],
                adfs=[{"name": "CONFIG", "mandatory": False}],
                outputs=["cal_slcs"],
            ),
            unit("reference_dem", inputs=["cal_slcs"], outputs=["reference_dem"]),
            unit("coregistration", inputs=["cal_slcs", "reference_dem"], outputs=["cslcs"]),
            unit("mosaicking", inputs=["cslcs"], outputs=["nrb"]),
        ],
        "io": [
            {"name": "cal_input", "type": "folder", "store_type": "safe"},
            {"name": "CONFIG", "type": "filename"},
        ],
        "pipelines": [
            {
                "name": "s1_ard_full",
                "steps": [
                    {
                        "unit_name": "calibration",
                        "order": 1,
                        "input_products": {"cal_input": "pipeline_input"},
                        "output_products": {"cal_slcs": "pipeline_internal"},
                    },
                    {
                        "unit_name": "reference_dem",
                        "order": 1,
                        "input_products": {"cal_slcs": "calibration.cal_slcs"},
                        "output_products": {"reference_dem": "pipeline_internal"},
                    },
                    {
                        "unit_name": "coregistration",
                        "order": 1,
                        "input_products": {
                            "cal_slcs": "calibration.cal_slcs",
                            "reference_dem": "reference_dem.reference_dem",
                        },
                        "output_products": {"cslcs": "pipeline_internal"},
                    },
                    {
                        "unit_name": "mosaicking",
                        "order": 1,
                        "input_products": {"cslcs": "coregistration.cslcs"},
                        "output_products": {"nrb": "pipeline_output"},
                    },
                ],
            }
        ],
    }


def test_a_one_unit_tasktable_runs_its_unit_without_a_pipeline() -> None:
    raw = {
        "tasktable": {"name": "t", "version": "2"},
        "units": [unit("Only", inputs=["IN"], outputs=["OUT"])],
    }
    plan = build_units(parse_tasktable(raw, "t.json"))
    assert [(u.name, u.inputs, u.outputs) for u in plan.units] == [
        ("Only", {"IN": "IN"}, {"OUT": "pipeline_output"})
    ]
    assert plan.inputs == ["IN"] and plan.outputs == ["OUT"]


def test_a_pipeline_wires_each_step_to_the_pipeline_input_or_an_earlier_step() -> None:
    plan = build_units(parse_tasktable(ard_like(), "ard.json"), pipeline="s1_ard_full")
    assert [u.name for u in plan.units] == ["calibration", "reference_dem", "coregistration", "mosaicking"]
    assert plan.units[2].inputs == {
        "cal_slcs": "calibration.cal_slcs",
        "reference_dem": "reference_dem.reference_dem",
    }
    assert plan.inputs == ["cal_input"], "internal products are not inputs of the run"
    assert plan.outputs == ["nrb"]
    assert plan.adfs == ["CONFIG"]
    payload = build_payload(
        plan, inputs={"cal_input": "s3://b/in.SAFE"}, adfs={}, outputs={"nrb": target("nrb")}
    )
    steps = {step["name"]: step for step in payload["workflow"]}
    assert steps["coregistration"]["inputs"]["reference_dem"] == "reference_dem.reference_dem"
    assert steps["calibration"]["outputs"] == {}, "internal products stay in memory between units"
    assert steps["mosaicking"]["outputs"] == {"nrb": "nrb"}


def test_a_step_wired_to_a_later_step_is_refused_naming_the_step() -> None:
    raw = ard_like()
    steps = raw["pipelines"][0]["steps"]
    steps[1], steps[2] = steps[2], steps[1]
    for number, step in enumerate(steps, start=1):
        step["order"] = number
    with pytest.raises(
        TasktableError,
        match=r"ard.json: pipeline s1_ard_full step 2 \(coregistration\): input 'reference_dem' comes from 'reference_dem.reference_dem', which no earlier step produces",
    ):
        build_units(parse_tasktable(raw, "ard.json"))


def test_modes_select_the_adfs_and_outputs_a_run_uses() -> None:
    tasktable = parse_tasktable(olci_like(), "olci.json")
    assert tasktable.modes == ["nrt", "ntc"]
    assert build_units(tasktable, mode="nrt").adfs == ["ORBIT", "ECMWF"]
    assert build_units(tasktable, mode="ntc").adfs == ["ORBIT", "ECMWA"]
    assert build_units(tasktable).adfs == ["ORBIT"]
    shipped = load_tasktable(SHIPPED)
    assert build_units(shipped, mode="gtc").outputs == ["S01SIWGTC"]
    assert build_units(shipped, mode="rtc").outputs == ["S01SIWRTC"]
    with pytest.raises(TasktableError, match="pipeline terrain_correction, mode always produces no output"):
        build_units(shipped)


def test_several_alternatives_are_tried_in_order_with_their_timeouts() -> None:
    tasktable = parse_tasktable(olci_like(), "olci.json")
    queries = adf_queries(
        tasktable, "ORBIT", VARIABLES, lambda parameters: f"s3-aux-{parameters['product_type'].lower()}"
    )
    assert [(q.order, q.product_type, q.timeout_seconds, q.collection) for q in queries] == [
        (1, "ADF_FROAX", 0.0, "s3-aux-adf_froax"),
        (2, "ADF_FPOAX", 180.0, "s3-aux-adf_fpoax"),
    ]


def test_datetime_arithmetic_is_evaluated_with_milliseconds_and_z() -> None:
    tasktable = parse_tasktable(olci_like(), "olci.json")
    second = adf_queries(tasktable, "ORBIT", VARIABLES, lambda _: "aux")[1]
    assert second.body() == {
        "collections": ["aux"],
        "filter-lang": "cql2-json",
        "filter": {
            "op": "and",
            "args": [
                {"op": "=", "args": [{"property": "product:type"}, "ADF_FPOAX"]},
                {"op": "=", "args": [{"property": "platform"}, "sentinel-3a"]},
                {
                    "op": "t_contains",
                    "args": [
                        {"interval": [{"property": "start_datetime"}, {"property": "end_datetime"}]},
                        {"interval": ["2025-08-07T11:51:03.709Z", "2025-08-07T11:53:50.800Z"]},
                    ],
                },
            ],
        },
        "sortby": [{"field": "created", "direction": "desc"}],
        "limit": 1,
    }


def test_arithmetic_on_properties_is_left_to_the_catalog_and_nonsense_is_refused() -> None:
    on_property = {"op": "+", "args": [{"property": "x"}, 1]}
    assert evaluate(on_property, "q") == on_property
    assert evaluate({"op": "-", "args": [10, "2.5"]}, "q") == 7.5
    with pytest.raises(TasktableError, match="cannot evaluate"):
        evaluate({"op": "-", "args": ["yesterday", 5]}, "q")


def test_placeholders_keep_their_value_type_and_unknown_ones_are_named() -> None:
    assert substitute({"a": "{n}", "b": "x-{n}"}, {"n": 8.8}, "q") == {"a": 8.8, "b": "x-8.8"}
    with pytest.raises(TasktableError, match=r"q: placeholder \{dTc\} has no parameter"):
        substitute(["{dTc}"], {"dTa": 0}, "q")


def test_a_missing_external_variable_is_named_with_the_adf_and_alternative() -> None:
    tasktable = parse_tasktable(olci_like(), "olci.json")
    with pytest.raises(
        TasktableError,
        match=r"olci.json: ADF ORBIT alternative 1 parameter satellite: external variable 'satellite' is not given \(given: end_datetime, start_datetime\)",
    ):
        adf_queries(tasktable, "ORBIT", {"start_datetime": START, "end_datetime": END}, lambda _: "aux")


def test_a_query_the_tasktable_does_not_define_is_named() -> None:
    tasktable = parse_tasktable(olci_like(), "olci.json")
    with pytest.raises(
        TasktableError, match="ADF ECMWF alternative 1: query 'ValIntersectWithoutDuplicates' is not defined"
    ):
        adf_queries(tasktable, "ECMWF", VARIABLES, lambda _: "aux")


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda raw: raw.pop("units"), "units: missing"),
        (lambda raw: raw["units"][0].pop("module"), "units[0].module: missing"),
        (lambda raw: raw["tasktable"].pop("name"), "tasktable.name: missing"),
        (lambda raw: raw["io"][3]["alternatives"][0].pop("query"), "io[3].alternatives[0].query: missing"),
        (lambda raw: raw["pipelines"][0]["steps"][0].update(unit_name="OL2"), "unknown unit 'OL2'"),
        (lambda raw: raw["units"].append(copy.deepcopy(raw["units"][0])), "repeated: OL1Processor"),
    ],
)
def test_malformed_tasktables_are_refused_naming_the_file_and_path(change: Any, expected: str) -> None:
    raw = olci_like()
    change(raw)
    with pytest.raises(TasktableError, match=r"olci\.json: ") as error:
        parse_tasktable(raw, "olci.json")
    assert expected in str(error.value)


def test_unknown_fields_are_tolerated_and_io_may_be_the_later_drafts_object() -> None:
    raw = olci_like() | {"$schema": "x", "external_modules": []}
    raw["io"] = {"input": raw["io"][:3], "adfs": raw["io"][3:6], "output": raw["io"][6:]}
    raw["io"]["input"][0] = raw["io"]["input"][0] | {"engine": "cpm_zarr", "reader_params": {}}
    assert parse_tasktable(raw, "olci.json").io_entry("S03OLCERR") is not None


def test_a_file_that_is_not_json_is_named(tmp_path: Path) -> None:
    path = tmp_path / "t.json"
    path.write_text("{units: ")
    with pytest.raises(TasktableError, match=f"tasktable {path} is not JSON"):
        load_tasktable(path)
    with pytest.raises(TasktableError, match="does not exist"):
        load_tasktable(tmp_path / "nope.json")


@pytest.mark.parametrize(
    ("request_", "expected"),
    [
        ({"pipeline": "none"}, "no pipeline 'none'; pipelines: ol1"),
        ({"unit": "OL9"}, "no unit 'OL9'; units: OL1Processor"),
        ({"mode": "fast"}, "unknown processing mode 'fast'; modes: nrt, ntc"),
        ({"pipeline": "ol1", "unit": "OL1Processor"}, "give a pipeline or a unit, not both"),
    ],
)
def test_unknown_pipelines_units_and_modes_are_named(request_: dict[str, str], expected: str) -> None:
    with pytest.raises(TasktableError, match=expected):
        build_units(parse_tasktable(olci_like(), "olci.json"), **request_)


def target(name: str, item_id: str | None = None) -> OutputTarget:
    return OutputTarget(
        name, name, name.lower(), "out", f"copernicus/{name.lower()}/{item_id or 'scope'}/", item_id
    )


def test_the_payload_is_eopfs_format_on_local_copies_and_says_where_each_came_from() -> None:
    plan = build_units(parse_tasktable(olci_like(), "olci.json"), mode="nrt")
    payload = build_payload(
        plan,
        inputs={"L0_1": "s3://in/a.zarr", "L0_2": "s3://in/b.zarr", "RAC": "s3://in/c.zarr"},
        adfs={"ORBIT": "s3://aux/o/orbit/", "ECMWF": "s3://aux/e/ecmwf.zarr"},
        outputs={"S03OLCEFR": target("S03OLCEFR", "EFR_1"), "S03OLCERR": target("S03OLCERR")},
        modules={"OL1Processor": "s3olci.ol1"},
        parameters={"threads": 2},
        run_id="olci:1",
    )
    [step] = payload["workflow"]
    assert step == {
        "name": "OL1Processor",
        "module": "s3olci.ol1",
        "processing_unit": "OL1Processor",
        "active": True,
        "validate": False,
        "inputs": {"L0_1": "L0_1", "L0_2": "L0_2", "RAC": "RAC"},
        "adfs": {"ORBIT": "ORBIT", "ECMWF": "ECMWF"},
        "outputs": {"S03OLCEFR": "S03OLCEFR", "S03OLCERR": "S03OLCERR"},
        "parameters": {"threads": 2},
        "mode": "nrt",
    }
    io = payload["io"]
    assert io["input_products"][0] == {
        "id": "L0_1",
        "path": "inputs/L0_1/a.zarr",
        "type": "file",
        "engine": "cpm_zarr",
        "reader_params": {"consolidate": True},
    }
    assert io["adfs"] == [
        {"id": "ORBIT", "path": "adfs/ORBIT/orbit"},
        {"id": "ECMWF", "path": "adfs/ECMWF/ecmwf.zarr"},
    ]
    assert io["output_products"][0] == {
        "id": "S03OLCEFR",
        "path": "outputs/S03OLCEFR/EFR_1.zarr",
        "type": "file",
        "engine": "cpm_zarr",
        "writer_params": {"mode": "w"},
    }
    assert (
        io["output_products"][1]["type"] == "folder"
        and io["output_products"][1]["path"] == "outputs/S03OLCERR/"
    )
    assert payload["rs_assets"] == {
        "inputs": {"L0_1": "s3://in/a.zarr", "L0_2": "s3://in/b.zarr", "RAC": "s3://in/c.zarr"},
        "adfs": {"ORBIT": "s3://aux/o/orbit/", "ECMWF": "s3://aux/e/ecmwf.zarr"},
        "outputs": {
            "S03OLCEFR": "s3://out/copernicus/s03olcefr/EFR_1/EFR_1.zarr",
            "S03OLCERR": "s3://out/copernicus/s03olcerr/scope/",
        },
    }
    assert "storage_options" not in json.dumps(payload) and "secret" not in json.dumps(payload)


def test_the_plan_skeleton_needs_no_service() -> None:
    plan = build_units(load_tasktable(SHIPPED), mode="gtc")
    payload = yaml.safe_load(yaml.safe_dump(skeleton(plan)))
    assert payload["rs_assets"]["inputs"] == {"S01SIWGRD": "<resolved at run time>"}
    assert payload["rs_assets"]["adfs"] == {"DEM": "<resolved at run time>"}
    assert payload["workflow"][0]["mode"] == "gtc"
