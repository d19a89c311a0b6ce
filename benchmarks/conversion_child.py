"""One measurement of the conversion benchmark, in a process of its own so that its peak RSS is its own."""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

from benchmarks.common import peak_rss_mib, stations_yaml


def direct(args: argparse.Namespace) -> dict:
    """eopf's own conversion on the local SAFE directory: what an operator would run by hand."""
    from eopf.store.convert import NamingStrategy, convert

    with tempfile.TemporaryDirectory(dir=args.workdir) as out:
        started = time.perf_counter()
        convert(
            args.safe,
            out,
            target_store_kwargs={"engine": "cpm_zarr"},
            naming_strategy=NamingStrategy.PRODUCT_ID,
        )
        seconds = time.perf_counter() - started
        stores = [p.name for p in Path(out).iterdir()]
    return {"seconds": seconds, "rss_mib": peak_rss_mib(), "store": stores[0]}


def asset(args: argparse.Namespace) -> dict:
    """``zarr_products`` for the day the PRIP published the product: fetch from S3, convert, upload, publish.

    Staging, publication and unzipping run first in the same process and are not timed.
    """
    import dagster as dg

    from rs_assets.assets.partitions import daily_partitions
    from rs_assets.assets.prip import build_prip
    from rs_assets.resources import (
        CatalogResource,
        ConversionResource,
        ObjectStorage,
        StationsResource,
        dask_for,
    )

    tag = f"{os.getpid()}"
    work = Path(args.workdir) / f"conv-{tag}"
    work.mkdir()
    storage = ObjectStorage(
        endpoint_url=args.s3_endpoint,
        region_name="us-east-1",
        bucket=f"conv-sys-{tag}",
        bucket_rules_file=str(work / "rules.csv"),
    )
    for name in (f"conv-data-{tag}", f"conv-sys-{tag}"):
        storage.client().create_bucket(Bucket=name)
    (work / "rules.csv").write_text(f"*,*,*,30,conv-data-{tag}\n")
    stations_yaml(work / "stations.yaml", args.url, {"name": "PRIP", "kind": "prip"})
    defs = build_prip(["PRIP"], daily_partitions("2026-11-01"))
    assets = {a.key.to_user_string(): a for a in defs.assets or []}  # type: ignore[union-attr]
    resources = {
        "stations": StationsResource(stations_file=str(work / "stations.yaml")),
        "storage": storage,
        "catalog": CatalogResource(backend="sqlite", sqlite_path=str(work / "catalog.sqlite")),
        "conversion": ConversionResource(),
        "dask": dask_for(None),
    }
    day = args.day
    imported = time.perf_counter()
    import eopf.store.convert  # noqa: F401  the direct call's timing excludes this import too

    import_seconds = time.perf_counter() - imported
    instance = dg.DagsterInstance.ephemeral()  # the platform's instance exists before any run
    dg.materialize(
        [assets[n] for n in ("prip/prip_products", "prip/prip_catalog", "prip/prip_unpacked")],
        partition_key=day,
        resources=resources,
        instance=instance,
    )
    started = time.perf_counter()
    result = dg.materialize(
        [assets["prip/zarr_products"]], partition_key=day, resources=resources, instance=instance
    )
    seconds = time.perf_counter() - started
    meta = result.get_asset_materialization_events()[0].materialization.metadata
    return {
        "seconds": seconds,
        "rss_mib": peak_rss_mib(),
        "converted": meta["converted"].value,
        "bytes": meta["bytes_written"].value,
        "asset_seconds": meta["seconds"].value,
        "fetch": meta["fetch_seconds"].value,
        "convert": meta["convert_seconds"].value,
        "upload": meta["upload_seconds"].value,
        "files": meta["files_written"].value,
        "import": import_seconds,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("what", choices=["direct", "asset"])
    parser.add_argument("--safe", default="")
    parser.add_argument("--url", default="")
    parser.add_argument("--s3-endpoint", default="")
    parser.add_argument("--day", default="")
    parser.add_argument("--workdir", default="/tmp")
    args = parser.parse_args()
    print(json.dumps({"direct": direct, "asset": asset}[args.what](args)))


if __name__ == "__main__":
    main()
