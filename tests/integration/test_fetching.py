"""``rs-assets download`` and ``rs-assets copy`` against the simulator, SeaweedFS and the STAC API: each selection
option changes what is selected, the safety limit and --dry-run fetch nothing, destinations expand, flag files
appear, a re-run fetches nothing again, and bad input is one line with nothing written."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import boto3
import dagster as dg
import pytest
from click.testing import CliRunner, Result
from shapely.geometry import shape
from shapely.wkt import loads

from rs_assets.assets.auxip import build_auxip
from rs_assets.assets.partitions import daily_partitions
from rs_assets.cli import main
from rs_assets.core.catalog import OwnerNamespace, StacApiCatalog
from rs_assets.core.catalog.mapping import product_item_id
from rs_assets.core.timeutil import parse_datetime
from rs_assets.simulator.config import SimStation
from rs_assets.simulator.server import StationSimulator
from tests.conftest import HISTORY_END, SimulatorFactory
from tests.integration.dagster_process import SeaweedFS
from tests.integration.platform import Platform, make_platform

DAY = (HISTORY_END - timedelta(days=1)).date()
AREA = "POLYGON((-5 35, 15 35, 15 55, -5 55, -5 35))"


@pytest.fixture
def sim(simulator_factory: SimulatorFactory) -> StationSimulator:
    return simulator_factory(
        SimStation(name="PRIP_S3", kind="prip", products_per_day=8, days=2, product_types=["OL_1_EFR___"]),
        SimStation(name="ADGS", kind="auxip", products_per_day=12, days=2, product_scale=0.05),
    )


@pytest.fixture
def platform(
    s3_endpoint: str, stac_api_url: str, tmp_path: Path, unique: str, sim: StationSimulator
) -> Platform:
    return make_platform(s3_endpoint, stac_api_url, tmp_path, unique, sim)


@pytest.fixture
def cli(platform: Platform, tmp_path: Path):  # type: ignore[no-untyped-def]
    base = platform.cli_env(tmp_path / "data")

    def run(*args: str, env: dict[str, str] | None = None) -> Result:
        return CliRunner().invoke(main, list(args), env=base | (env or {}), catch_exceptions=False)

    return run


def products(sim: StationSimulator, station: str) -> list[dict]:
    return sim.data.stations[station].entity_set("Products", sim.data.now())[0]


def attribute(product: dict, name: str) -> object:
    return next(a["Value"] for a in product["Attributes"] if a["Name"] == name)


def selected(result: Result) -> set[str]:
    assert result.exit_code == 0, result.output
    return {p["product"] for p in json.loads(result.stdout)["selected"]}


def downloads(sim: StationSimulator) -> int:
    return sum(1 for r in sim.requests if r["path"].endswith("$value"))


def test_each_selection_option_changes_what_download_selects(
    cli, sim: StationSimulator, platform: Platform
) -> None:  # type: ignore[no-untyped-def]
    everything = products(sim, "PRIP_S3")
    dest = f"s3://{platform.data_bucket}/dl/%Y/%m/%d"

    def dry(*options: str) -> set[str]:
        return selected(cli("download", "PRIP_S3", "--destination", dest, "--dry-run", "--json", *options))

    assert dry() == {p["Name"] for p in everything}
    begin, end = datetime.combine(DAY, datetime.min.time()), datetime.combine(DAY, datetime.max.time())
    window = {
        p["Name"]
        for p in everything
        if parse_datetime(p["ContentDate"]["Start"]) < parse_datetime(f"{DAY}T23:59:59Z")  # type: ignore[operator]
        and parse_datetime(p["ContentDate"]["End"]) > parse_datetime(f"{DAY}T00:00:00Z")  # type: ignore[operator]
    }
    assert 0 < len(window) < len(everything)
    assert dry("--begin", begin.isoformat(), "--end", end.isoformat()[:19]) == window
    area = {p["Name"] for p in everything if shape(p["GeoFootprint"]).intersects(loads(AREA))}
    assert 0 < len(area) < len(everything)
    assert dry("--geometry", AREA) == area
    unit_a = {p["Name"] for p in everything if attribute(p, "platformSerialIdentifier") == "A"}
    assert 0 < len(unit_a) < len(everything)
    assert dry("--query", '{"platformSerialIdentifier": "A"}') == unit_a
    assert dry("--type", "OL_1_EFR___") == {p["Name"] for p in everything}
    assert dry("--type", "OL_2_LFR___") == set()
    assert dry("--rel-time", "24") == set(), "the simulated history ended days ago"
    assert dry("--rel-time", str(24 * 365)) == {p["Name"] for p in everything}
    assert platform.listing() == {}, "--dry-run writes nothing"

    limited = cli("download", "PRIP_S3", "--destination", dest, "--safety-limit", "2")
    assert (
        limited.exit_code == 1
        and "more than 2 PRIP_S3 products match (--safety-limit 2): nothing fetched" in limited.output
    )
    assert platform.listing() == {} and downloads(sim) == 0


def test_download_lands_verified_products_under_their_dated_destination_with_flag_files(  # type: ignore[no-untyped-def]
    cli, sim: StationSimulator, platform: Platform, tmp_path: Path
) -> None:
    chosen = [p for p in products(sim, "PRIP_S3") if attribute(p, "platformSerialIdentifier") == "A"]
    flags = tmp_path / "flags"
    options = ["--query", '{"platformSerialIdentifier": "A"}', "--flag-file", str(flags), "--json"]
    result = cli("download", "PRIP_S3", "--destination", f"s3://{platform.data_bucket}/dl/%Y/%m/%d", *options)
    assert result.exit_code == 0, result.output
    listing = platform.listing("dl/")
    for product in chosen:
        start = parse_datetime(product["ContentDate"]["Start"])
        assert start is not None
        key = f"dl/{start:%Y/%m/%d}/{product['Name']}"
        assert listing[key] == product["ContentLength"]
        assert hashlib.md5(platform.read(key)).hexdigest() == product["Checksum"][0]["Value"]
        flag = json.loads((flags / f"{product['Name']}.done").read_text())
        assert flag["destinations"] == [f"s3://{platform.data_bucket}/{key}"]
    assert len(listing) == len(chosen) and len(list(flags.iterdir())) == len(chosen)
    fetched = downloads(sim)
    again = cli("download", "PRIP_S3", "--destination", f"s3://{platform.data_bucket}/dl/%Y/%m/%d", *options)
    assert all(f["skipped"] for f in json.loads(again.stdout)["fetched"])
    assert downloads(sim) == fetched, "a verified copy is not fetched again"

    folder = tmp_path / "local"
    local = cli(
        "download",
        "PRIP_S3",
        "--destination",
        f"{folder}/%Y%m%d",
        "--query",
        '{"platformSerialIdentifier": "A"}',
    )
    assert local.exit_code == 0 and f"{len(chosen)} fetched" in local.stdout
    for product in chosen:
        start = parse_datetime(product["ContentDate"]["Start"])
        path = folder / f"{start:%Y%m%d}" / product["Name"]
        assert hashlib.md5(path.read_bytes()).hexdigest() == product["Checksum"][0]["Value"]
    assert not list(folder.rglob("*.part"))


def stage_aux_day(platform: Platform) -> None:
    aux = build_auxip(["ADGS"], daily_partitions("2026-11-01"))
    assets = {a.key.to_user_string(): a for a in aux.assets or []}  # type: ignore[union-attr]
    result = dg.materialize(
        [assets["adgs/aux_files"], assets["adgs/aux_catalog"], assets["adgs/aux_unpacked"]],  # type: ignore[list-item]
        partition_key=DAY.isoformat(),
        resources=platform.resources(),
    )
    assert result.success


def test_copy_takes_catalog_items_byte_identical_to_another_bucket_and_a_folder(  # type: ignore[no-untyped-def]
    cli, sim: StationSimulator, platform: Platform, tmp_path: Path
) -> None:
    stage_aux_day(platform)
    day = [p for p in products(sim, "ADGS") if p["PublicationDate"].startswith(DAY.isoformat())]
    kind = attribute(day[0], "productType")
    chosen = {product_item_id(p["Name"]) for p in day if attribute(p, "productType") == kind}
    collections = sorted({f"s{p['Name'][1]}-aux" for p in day})
    target = f"s3://{platform.system_bucket}/copies/%Y"

    dry = cli("copy", *collections, "--type", str(kind), "--destination", target, "--dry-run", "--json")
    assert selected(dry) == chosen
    assert not platform.s3.list_objects_v2(Bucket=platform.system_bucket, Prefix="copies/")["KeyCount"]

    flags = tmp_path / "flags"
    done = cli(
        "copy",
        *collections,
        "--type",
        str(kind),
        "--destination",
        target,
        "--flag-file",
        str(flags),
        "--json",
    )
    assert done.exit_code == 0, done.output
    copied = {
        o["Key"]: o["Size"]
        for o in platform.s3.list_objects_v2(Bucket=platform.system_bucket, Prefix="copies/")["Contents"]
    }
    originals = platform.listing()
    for key, size in copied.items():
        _, _year, item_id, relative = key.split("/", 3)
        source = next(k for k in originals if k.endswith(f"/{item_id}/{relative}"))
        assert size == originals[source]
        body = platform.s3.get_object(Bucket=platform.system_bucket, Key=key)["Body"].read()
        assert body == platform.read(source), key
    assert {k.split("/")[2] for k in copied} == chosen
    assert {f.name for f in flags.iterdir()} == {f"{i}.done" for i in chosen}
    again = cli("copy", *collections, "--type", str(kind), "--destination", target, "--json")
    assert all(f["skipped"] for f in json.loads(again.stdout)["fetched"])

    folder = tmp_path / "copy"
    local = cli("copy", *collections, "--type", str(kind), "--destination", str(folder))
    assert local.exit_code == 0, local.output
    assert {p.name for p in folder.iterdir()} == chosen
    for path in folder.rglob("*"):
        if path.is_file():
            item_id, relative = path.relative_to(folder).as_posix().split("/", 1)
            source = next(k for k in originals if k.endswith(f"/{item_id}/{relative}"))
            assert path.read_bytes() == platform.read(source)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["download", "PRIP_S3", "--geometry", "POLYGN((0 0, 1 0, 1 1, 0 0))"],
            "--geometry 'POLYGN((0 0, 1 0, 1 1, 0 0))' is not WKT",
        ),
        (["download", "PRIP_S3", "--destination", "s3://{data}/x/%Q"], "unknown placeholder %Q"),
        (["download", "ADGS", "--geometry", AREA], "--geometry: ADGS is an AUXIP"),
        (["download", "NOPE"], "NOPE"),
        (["download", "PRIP_S3", "--query", "{x"], "--query '{x' is not JSON"),
        (["copy", "no-such-collection"], "collection 'no-such-collection' does not exist"),
        (["copy", "s1-aux", "--destination", "/tmp/x/%Z"], "unknown placeholder %Z"),
    ],
)
def test_bad_selection_input_is_one_line_and_writes_nothing(  # type: ignore[no-untyped-def]
    cli, sim: StationSimulator, platform: Platform, args: list[str], message: str
) -> None:
    if "--destination" not in args:
        args = [*args, "--destination", f"s3://{platform.data_bucket}/x"]
    args = [a.replace("{data}", platform.data_bucket) for a in args]
    result = cli(*args)
    assert result.exit_code != 0
    assert message in result.output and "Traceback" not in result.output, result.output
    assert platform.listing() == {} and downloads(sim) == 0


@pytest.fixture
def second_s3(tmp_path: Path) -> Iterator[SeaweedFS]:
    """Another S3 endpoint, with keys of its own."""
    weed = SeaweedFS(tmp_path / "second-s3", ("exportkey", "export-secret-0123")).start()
    try:
        yield weed
    finally:
        weed.stop()


def test_export_lands_byte_identical_objects_and_items_on_another_endpoint_and_stac_api(  # type: ignore[no-untyped-def]
    cli, sim: StationSimulator, platform: Platform, second_s3: SeaweedFS, stac_api_url: str, unique: str
) -> None:
    stage_aux_day(platform)
    day = [p for p in products(sim, "ADGS") if p["PublicationDate"].startswith(DAY.isoformat())]
    kind = str(attribute(day[0], "productType"))
    chosen = {product_item_id(p["Name"]) for p in day if attribute(p, "productType") == kind}
    collections = sorted({f"s{p['Name'][1]}-aux" for p in day})
    remote = boto3.client(
        "s3", endpoint_url=second_s3.endpoint, region_name="us-east-1",
        aws_access_key_id="exportkey", aws_secret_access_key="export-secret-0123",
    )  # fmt: skip
    remote.create_bucket(Bucket="published")
    owner = f"x{unique}"
    args = [
        "export", *collections, "--type", kind, "--endpoint", second_s3.endpoint, "--bucket", "published",
        "--prefix", "rs", "--catalog-url", stac_api_url, "--catalog-owner", owner, "--json",
    ]  # fmt: skip
    env = {
        "RS_ASSETS_EXPORT_ACCESS_KEY_ID": "exportkey",
        "RS_ASSETS_EXPORT_SECRET_ACCESS_KEY": "export-secret-0123",
    }

    refused = cli(*args, env={**env, "RS_ASSETS_EXPORT_SECRET_ACCESS_KEY": "wrong"})
    assert refused.exit_code == 1, refused.output
    assert f"export target {second_s3.endpoint} bucket 'published' refused the request" in refused.output
    assert "wrong" not in refused.output and "Traceback" not in refused.output
    assert remote.list_objects_v2(Bucket="published")["KeyCount"] == 0, "nothing written"

    done = cli(*args, env=env)
    assert done.exit_code == 0, done.output
    exported = json.loads(done.stdout)["exported"]
    assert {e["id"] for e in exported} == chosen and not [e for e in exported if e["error"]]
    originals = platform.listing()
    landed = {
        o["Key"]: o["Size"] for o in remote.list_objects_v2(Bucket="published", Prefix="rs/")["Contents"]
    }
    catalog = StacApiCatalog(stac_api_url, OwnerNamespace(owner=owner))
    for collection in collections:
        for item in catalog.search([collection]):
            assert item["id"] in chosen
            for asset in item["assets"].values():
                assert asset["href"].startswith(f"s3://published/rs/{collection}/{item['id']}/")
            stored = json.loads(
                remote.get_object(Bucket="published", Key=f"rs/{collection}/{item['id']}/{item['id']}.json")[
                    "Body"
                ].read()
            )
            assert stored["assets"] == item["assets"]
    data_keys = [k for k in landed if not k.endswith(".json")]
    assert data_keys
    for key in data_keys:
        _, collection, item_id, relative = key.split("/", 3)
        source = next(k for k in originals if k.endswith(f"/{collection}/{item_id}/{relative}"))
        assert landed[key] == originals[source]
        assert remote.get_object(Bucket="published", Key=key)["Body"].read() == platform.read(source), key

    again = cli(*args, env=env)
    assert again.exit_code == 0 and sum(e["copied"] for e in json.loads(again.stdout)["exported"]) == 0
