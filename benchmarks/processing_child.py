"""One measurement of the processing benchmark, in a process of its own so that its peak RSS is its own."""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import peak_rss_mib

DAY = "2026-11-20"
PROCESSOR = "s1_terrain_correction"


def _children_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def direct(args: argparse.Namespace) -> dict:
    """``eopf trigger local`` on the same payload, with the product and the DEM as local copies."""
    from rs_assets.core.processing.payload import OutputTarget, build_payload, local_copy, to_yaml
    from rs_assets.settings import DEFAULT_PROCESSORS, load_processors_file

    plan = load_processors_file(DEFAULT_PROCESSORS).processor(PROCESSOR).plan()
    [output] = plan.outputs
    copies = {"inputs": {"S01SIWGRD": args.zarr}, "adfs": {"DEM": args.dem}}
    with tempfile.TemporaryDirectory(dir=args.workdir) as work:
        target = OutputTarget(output, output, "", "", "", output)
        payload = build_payload(plan, inputs=copies["inputs"], adfs=copies["adfs"], outputs={output: target})
        for kind, paths in copies.items():  # the local copies the payload reads, in place before timing
            for name, path in paths.items():
                link = Path(work) / local_copy(kind, name, path)
                link.parent.mkdir(parents=True)
                link.symlink_to(path)
        (Path(work) / "payload.yaml").write_text(to_yaml(payload))
        eopf = str(Path(sys.executable).parent / "eopf")
        started = time.perf_counter()
        done = subprocess.run(
            [eopf, "trigger", "local", "payload.yaml"], cwd=work, capture_output=True, text=True
        )
        seconds = time.perf_counter() - started
        if done.returncode or '"status":"completed"' not in done.stdout + done.stderr:
            raise SystemExit(f"eopf trigger local failed:\n{(done.stdout + done.stderr)[-3000:]}")
    return {"seconds": seconds, "runner_rss_mib": _children_rss_mib(), "rss_mib": peak_rss_mib()}


def asset(args: argparse.Namespace) -> dict:
    """``processed_s1_terrain_correction`` for a day whose converted GRD and DEM are published (untimed setup):
    ADF search, inputs checked, payload written to S3, eopf's runner reading and writing S3, publication."""
    import dagster as dg

    from rs_assets.assets.processing import build_processor
    from rs_assets.core.catalog.zarr_item import converted_item, read_stac_discovery
    from rs_assets.core.storage.ledger import ManifestEntry, manifest_key, write_manifest
    from rs_assets.core.storage.trees import upload_store
    from rs_assets.resources import (
        CatalogResource,
        ObjectStorage,
        ProcessingResource,
        StationsResource,
        dask_for,
    )
    from rs_assets.settings import DEFAULT_PROCESSORS, load_processors_file

    tag = f"{os.getpid()}"
    work = Path(args.workdir) / f"proc-{tag}"
    work.mkdir()
    data = f"proc-data-{tag}"
    storage = ObjectStorage(
        endpoint_url=args.s3_endpoint,
        region_name="us-east-1",
        bucket=f"proc-sys-{tag}",
        bucket_rules_file=str(work / "rules.csv"),
    )
    for name in (data, f"proc-sys-{tag}"):
        storage.client().create_bucket(Bucket=name)
    (work / "rules.csv").write_text(f"*,*,*,30,{data}\n")
    catalog = CatalogResource(backend="sqlite", sqlite_path=str(work / "catalog.sqlite"))
    store, cat = storage.store(), catalog.catalog()

    zarr = Path(args.zarr)
    key = f"copernicus/s01siwgrd/{zarr.name}"
    upload_store(store, zarr, data, key)
    grd = converted_item(
        read_stac_discovery(store, data, key),
        store_name=zarr.name.removesuffix(".zarr"),
        store_href=f"s3://{data}/{key}",
        product_type="S01SIWGRD",
        staged_item={"id": "staged", "geometry": None},
        derived_from="https://prip/Products(1)",
    )
    cat.ensure_collection("s01siwgrd")
    cat.upsert_items("s01siwgrd", [grd])
    write_manifest(
        store, storage.bucket, manifest_key("prip/zarr_products", DAY), [ManifestEntry("s01siwgrd", grd)]
    )
    dem_name = Path(args.dem).name
    dem_key = f"copernicus/s1-aux/{dem_name}/{dem_name}"
    store.upload_file(data, dem_key, args.dem)
    cat.ensure_collection("s1-aux")
    cat.upsert_items("s1-aux", [_dem_item(dem_name, f"s3://{data}/{dem_key}")])

    processors = load_processors_file(DEFAULT_PROCESSORS)
    settings = processors.settings(PROCESSOR)
    driving = dg.AssetSpec(
        ["prip", "zarr_products"], partitions_def=dg.DailyPartitionsDefinition(start_date="2026-11-01")
    )
    processed = build_processor(settings, processors.processor(PROCESSOR), [driving])
    resources = {
        "stations": StationsResource(simulator_url="http://127.0.0.1:9"),
        "storage": storage,
        "catalog": catalog,
        "processing": ProcessingResource(),
        "dask": dask_for(None),
    }
    instance = dg.DagsterInstance.ephemeral()  # the platform's instance exists before any run
    started = time.perf_counter()
    result = dg.materialize([processed], partition_key=DAY, resources=resources, instance=instance)
    seconds = time.perf_counter() - started
    meta = {
        k: v.value for k, v in result.get_asset_materialization_events()[0].materialization.metadata.items()
    }
    timings = meta["timings"].splitlines()[-1].split("|")
    shutil.rmtree(work, ignore_errors=True)
    return {
        "seconds": seconds,
        "rss_mib": peak_rss_mib(),
        "runner_rss_mib": _children_rss_mib(),
        "processed": meta["processed"],
        "adfs": float(timings[2]),
        "fetch": float(timings[3]),
        "run": float(timings[4]),
        "upload": float(timings[5]),
        "publish": float(timings[6]),
        "asset_seconds": meta["seconds"],
    }


def _dem_item(name: str, href: str) -> dict:
    return {
        "type": "Feature",
        "stac_version": "1.1.0",
        "id": name,
        "geometry": None,
        "properties": {
            "datetime": "2000-01-01T00:00:00.000Z",
            "start_datetime": "2000-01-01T00:00:00.000Z",
            "end_datetime": "2100-01-01T00:00:00.000Z",
            "created": "2026-11-20T00:00:00.000Z",
            "product:type": "AUX_DEM",
        },
        "links": [],
        "assets": {name: {"href": href, "roles": ["data"], "type": "image/tiff"}},
    }


def convert(args: argparse.Namespace) -> dict:
    """The sample converted once, in a process of its own: eopf's 2 GB would otherwise be in every measurement's
    peak RSS through the benchmark's own."""
    from rs_assets.core.conversion.converters import convert_with_eopf
    from rs_assets.simulator.samples import s1_grdh

    return {"zarr": str(convert_with_eopf(s1_grdh(), Path(args.workdir) / "converted"))}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("what", choices=["direct", "asset", "convert"])
    parser.add_argument("--zarr", default="")
    parser.add_argument("--dem", default="")
    parser.add_argument("--s3-endpoint", default="")
    parser.add_argument("--workdir", default="/tmp")
    args = parser.parse_args()
    print(json.dumps({"direct": direct, "asset": asset, "convert": convert}[args.what](args)))


if __name__ == "__main__":
    main()
