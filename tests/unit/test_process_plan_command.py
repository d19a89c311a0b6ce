"""``rs-assets process plan`` asks no service: a tasktable (or a configured processor) planned on the spot."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from rs_assets.cli import main

SHIPPED = str(
    Path(__file__).resolve().parents[2] / "rs_assets/processors/tasktables/s1_terrain_correction.json"
)
WINDOW = [
    "--var",
    "start_datetime=2021-12-23T05:11:22.594Z",
    "--var",
    "end_datetime=2021-12-23T05:11:47.593Z",
]


def plan(*args: str) -> object:
    return CliRunner().invoke(main, ["process", "plan", *args], catch_exceptions=False)


def test_plan_shows_units_adf_searches_and_the_payload_skeleton_as_json() -> None:
    result = plan(SHIPPED, "--mode", "rtc", *WINDOW, "--json")
    assert result.exit_code == 0, result.output  # type: ignore[attr-defined]
    answer = json.loads(result.stdout)  # type: ignore[attr-defined]
    assert answer["plan"] == "s1-terrain-correction 1.0, pipeline terrain_correction, mode rtc"
    assert [u["unit"] for u in answer["units"]] == ["TerrainCorrection"]
    [search] = answer["adfs"]
    assert search["adf"] == "DEM" and search["search"]["limit"] == 1
    interval = search["search"]["filter"]["args"][1]["args"][1]["interval"]
    assert interval == ["2021-12-23T05:11:22.594Z", "2021-12-23T05:11:47.593Z"]
    assert answer["payload"]["io"]["output_products"][0]["id"] == "S01SIWRTC"


def test_plan_of_a_configured_processor_uses_its_adf_collections() -> None:
    result = plan("s1_terrain_correction", *WINDOW, "--json")
    assert json.loads(result.stdout)["adfs"][0]["search"]["collections"] == ["s1-aux"]  # type: ignore[attr-defined]


def test_plan_says_which_variable_an_adf_search_still_needs() -> None:
    result = plan(SHIPPED, "--mode", "gtc")
    assert result.exit_code == 0  # type: ignore[attr-defined]
    assert (
        "ADF DEM: unresolved" in result.stdout
        and "external variable 'start_datetime' is not given" in result.stdout
    )  # type: ignore[attr-defined]
    assert "payload skeleton:" in result.stdout  # type: ignore[attr-defined]


def test_bad_plans_end_in_one_line_and_exit_1(tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text('{"tasktable": {"name": "x", "version": 1}}')
    for args, expected in [
        ([SHIPPED, "--mode", "sar"], "unknown processing mode 'sar'; modes: gtc, rtc"),
        ([SHIPPED, "--pipeline", "ard"], "no pipeline 'ard'"),
        ([str(broken)], "units: missing"),
        ([str(tmp_path / "nope.json")], "does not exist"),
        (["no_such_processor"], "unknown processor 'no_such_processor'"),
        ([SHIPPED, "--var", "start_datetime"], "is not NAME=VALUE"),
    ]:
        result = plan(*args)
        assert result.exit_code != 0, (args, result.output)  # type: ignore[attr-defined]
        assert expected in result.output and "Traceback" not in result.output  # type: ignore[attr-defined]
