"""One measurement of the staging benchmark, in a process of its own so that its peak RSS is its own."""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import threading
import time
from pathlib import Path

import boto3
import requests
from boto3.s3.transfer import TransferConfig

from benchmarks.common import peak_rss_mib, stations_yaml
from rs_assets.core.station.auth import OAuth2Credentials
from rs_assets.core.station.client import StationClient, StationConfig
from rs_assets.core.storage.object_store import ObjectStore
from rs_assets.core.storage.transfer import MiB, Source, Transfer, TransferSettings

PART, CONCURRENCY = 32 * MiB, 4


def client(url: str, name: str) -> StationClient:
    creds = OAuth2Credentials(f"{url}/auth/token", "rs-assets", "operator", "bench-secret", "bench-password")
    return StationClient(StationConfig(name, "cadip", f"{url}/{name}/odata/v1", creds))


def big_file(url: str):  # type: ignore[no-untyped-def]
    station = client(url, "BIG")
    return station, max(station.files(None), key=lambda f: f.Size)


def s3(endpoint: str):  # type: ignore[no-untyped-def]
    """The client rs-assets uses in production (ObjectStorage's configuration), not a default one."""
    from rs_assets.resources import ObjectStorage

    return ObjectStorage(endpoint_url=endpoint, region_name="us-east-1", bucket="unused").client()


def bucket(endpoint: str, name: str) -> str:
    s3(endpoint).create_bucket(Bucket=name)
    return name


def read(args: argparse.Namespace) -> dict:
    station, file = big_file(args.url)
    token = requests.post(
        f"{args.url}/auth/token",
        data={
            "grant_type": "password",
            "client_id": "rs-assets",
            "client_secret": "bench-secret",
            "username": "operator",
            "password": "bench-password",
        },
        timeout=10,
    ).json()["access_token"]
    started = time.perf_counter()
    with requests.get(
        station.download_url("Files", file.Id),
        headers={"Authorization": f"Bearer {token}"},
        stream=True,
        timeout=60,
    ) as response:
        total = 0
        while chunk := response.raw.read1(MiB):
            total += len(chunk)
    seconds = time.perf_counter() - started
    assert total == file.Size
    return {"mb_s": total / 1e6 / seconds, "rss_mib": peak_rss_mib()}


class PatternReader(io.RawIOBase):
    """The simulator's bytes for the file, generated locally: S3 write speed without any HTTP source."""

    def __init__(self, size: int):
        from rs_assets.simulator.content import PatternContent

        self.parts = PatternContent(7).iter_range("bench", 0, size)
        self.pending = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[no-untyped-def]
        if not self.pending:
            self.pending = next(self.parts, memoryview(b""))
        n = min(len(buffer), len(self.pending))
        buffer[:n] = self.pending[:n]
        self.pending = self.pending[n:]
        return n


def write(args: argparse.Namespace) -> dict:
    target = bucket(args.s3_endpoint, f"raw-{os.getpid()}")
    config = TransferConfig(multipart_threshold=PART, multipart_chunksize=PART, max_concurrency=CONCURRENCY)
    started = time.perf_counter()
    boto3.client("s3", endpoint_url=args.s3_endpoint, region_name="us-east-1").upload_fileobj(
        io.BufferedReader(PatternReader(args.bytes), MiB), target, "raw.bin", Config=config
    )
    seconds = time.perf_counter() - started
    return {"mb_s": args.bytes / 1e6 / seconds, "rss_mib": peak_rss_mib()}


def stage(args: argparse.Namespace) -> dict:
    station, file = big_file(args.url)
    target = bucket(args.s3_endpoint, f"ours-{os.getpid()}")
    transfer = Transfer(
        ObjectStore(s3(args.s3_endpoint)), TransferSettings(part_size=PART, upload_concurrency=CONCURRENCY)
    )
    result = transfer.stage(
        station, Source("Files", file.Id, file.Name, file.Size), target, f"big/{file.Name}"
    )
    return {"mb_s": file.Size / 1e6 / result.seconds, "rss_mib": peak_rss_mib()}


def aux_day(args: argparse.Namespace) -> dict:
    import dagster as dg

    from rs_assets.assets.auxip import build_auxip
    from rs_assets.assets.partitions import daily_partitions
    from rs_assets.resources import CatalogResource, ObjectStorage, StationsResource

    work = Path(args.workdir) / f"aux-{os.getpid()}"
    work.mkdir()
    data, system = (
        bucket(args.s3_endpoint, f"aux-data-{os.getpid()}"),
        bucket(args.s3_endpoint, f"aux-sys-{os.getpid()}"),
    )
    (work / "rules.csv").write_text(f"*,*,*,30,{data}\n")
    stations_yaml(
        work / "stations.yaml",
        args.url,
        {"name": "ADGS", "kind": "auxip", "max_parallel_downloads": args.parallel, "page_size": 1000},
    )
    defs = build_auxip(["ADGS"], daily_partitions("2026-11-01"))
    assets = [
        a for a in defs.assets or [] if a.key.to_user_string() in ("adgs/aux_files", "adgs/aux_catalog")
    ]  # type: ignore[union-attr]
    catalog_url = os.environ.get("RS_TEST_STAC_API_URL")
    resources = {
        "stations": StationsResource(stations_file=str(work / "stations.yaml")),
        "storage": ObjectStorage(
            endpoint_url=args.s3_endpoint,
            region_name="us-east-1",
            bucket=system,
            bucket_rules_file=str(work / "rules.csv"),
        ),
        "catalog": CatalogResource(backend="stac_api", url=catalog_url, owner=f"b{os.getpid()}")
        if catalog_url
        else CatalogResource(backend="sqlite", sqlite_path=str(work / "catalog.sqlite")),
    }
    instance = dg.DagsterInstance.ephemeral()  # the platform's instance exists before any run
    started, cpu = time.perf_counter(), time.process_time()
    result = dg.materialize(
        assets,  # type: ignore[arg-type]
        partition_key="2026-11-20",
        resources=resources,
        instance=instance,
    )
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    events = {
        e.asset_key.to_user_string(): e.materialization.metadata
        for e in result.get_asset_materialization_events()
    }
    return {
        "seconds": seconds,
        "cpu_seconds": cpu,
        "count": events["adgs/aux_files"]["staged"].value,
        "bytes": events["adgs/aux_files"]["bytes"].value,
        "published": events["adgs/aux_catalog"]["published"].value,
        "staging_seconds": events["adgs/aux_files"]["seconds"].value,
        "rss_mib": peak_rss_mib(),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "what",
        choices=[
            "read",
            "write",
            "stage",
            "aux-day",
            "session-read",
            "session-write",
            "session-write-parts",
            "session-stage",
        ],
    )
    parser.add_argument("--url", required=True)
    parser.add_argument("--s3-endpoint", required=True)
    parser.add_argument("--bytes", type=int, default=0)
    parser.add_argument("--workdir", default="/tmp")
    parser.add_argument("--parallel", type=int, default=8)
    args = parser.parse_args()
    measure = {
        "read": read,
        "write": write,
        "stage": stage,
        "aux-day": aux_day,
        "session-read": session_read,
        "session-write": session_write,
        "session-write-parts": session_write_parts,
        "session-stage": session_stage,
    }[args.what]
    print(json.dumps(measure(args)))


def session_files(url: str):  # type: ignore[no-untyped-def]
    station = client(url, "SES")
    return station, station.files(None)


def session_read(args: argparse.Namespace) -> dict:
    """Every file of the session to /dev/null, as many at a time as staging uses."""
    from concurrent.futures import ThreadPoolExecutor

    station, files = session_files(args.url)

    def drain(file) -> int:  # type: ignore[no-untyped-def]
        return sum(len(chunk) for chunk in station.iter_download("Files", file.Id, expected_size=file.Size))

    started = time.perf_counter()
    with ThreadPoolExecutor(args.parallel) as pool:
        total = sum(pool.map(drain, files))
    return {"mb_s": total / 1e6 / (time.perf_counter() - started), "rss_mib": peak_rss_mib()}


def session_write(args: argparse.Namespace) -> dict:
    """The same sizes written to the same S3 from memory, as many at a time, with the same part size."""
    from concurrent.futures import ThreadPoolExecutor

    _, files = session_files(args.url)
    target = bucket(args.s3_endpoint, f"sraw-{os.getpid()}")
    s3_client = boto3.client("s3", endpoint_url=args.s3_endpoint, region_name="us-east-1")
    config = TransferConfig(multipart_threshold=PART, multipart_chunksize=PART, max_concurrency=CONCURRENCY)

    def put(file) -> int:  # type: ignore[no-untyped-def]
        s3_client.upload_fileobj(
            io.BufferedReader(PatternReader(file.Size), MiB), target, file.Name, Config=config
        )
        return file.Size

    started = time.perf_counter()
    with ThreadPoolExecutor(args.parallel) as pool:
        total = sum(pool.map(put, files))
    return {"mb_s": total / 1e6 / (time.perf_counter() - started), "rss_mib": peak_rss_mib()}


def session_write_parts(args: argparse.Namespace) -> dict:
    """The same sizes written as staging writes them, minus the station: multipart uploads of PART-sized parts
    with CONCURRENCY parts of a file in flight, ``parallel`` files at once, through the same client and store."""
    from concurrent.futures import ThreadPoolExecutor

    _, files = session_files(args.url)
    target = bucket(args.s3_endpoint, f"sparts-{os.getpid()}")
    store = ObjectStore(s3(args.s3_endpoint))

    def put(file) -> int:  # type: ignore[no-untyped-def]
        reader = io.BufferedReader(PatternReader(file.Size), MiB)
        if file.Size <= PART:
            body = reader.read()
            store.put(target, file.Name, body, hashlib.md5(body).hexdigest())
            return file.Size
        upload = store.start_multipart(target, file.Name, {})
        slots = threading.BoundedSemaphore(CONCURRENCY)

        def part(number: int, data: bytes) -> dict:
            try:
                return store.upload_part(target, file.Name, upload, number, data)
            finally:
                slots.release()

        with ThreadPoolExecutor(CONCURRENCY) as pool:
            futures, number = [], 0
            while data := reader.read(PART):
                number += 1
                slots.acquire()
                futures.append(pool.submit(part, number, data))
            store.complete(target, file.Name, upload, [f.result() for f in futures])
        return file.Size

    started = time.perf_counter()
    with ThreadPoolExecutor(args.parallel) as pool:
        total = sum(pool.map(put, files))
    return {"mb_s": total / 1e6 / (time.perf_counter() - started), "rss_mib": peak_rss_mib()}


def session_stage(args: argparse.Namespace) -> dict:
    """rs-assets' own session staging (files and item), through the same code the asset runs."""
    from rs_assets.core.catalog import SqliteCatalog
    from rs_assets.core.catalog.mapping import CollectionNames
    from rs_assets.core.services import Placement, Services
    from rs_assets.core.staging.sessions import stage_session
    from rs_assets.core.storage.bucket_rules import BucketRules

    station, files = session_files(args.url)
    target = bucket(args.s3_endpoint, f"sours-{os.getpid()}")
    transfer = Transfer(
        ObjectStore(s3(args.s3_endpoint)), TransferSettings(part_size=PART, upload_concurrency=CONCURRENCY)
    )
    catalog = SqliteCatalog(Path(args.workdir) / f"sessions-{os.getpid()}.sqlite")
    started = time.perf_counter()
    placement = Placement("copernicus", CollectionNames(), BucketRules.parse(f"*,*,*,7,{target}\n"))
    report = stage_session(
        station,
        Services(transfer.store, transfer, catalog, placement, bookkeeping=target),
        files[0].SessionId,
        args.parallel,
    )
    seconds = time.perf_counter() - started
    assert report.state.complete and not report.staging.failed
    return {
        "mb_s": report.staging.transferred_bytes / 1e6 / seconds,
        "rss_mib": peak_rss_mib(),
        "files": len(files),
    }


if __name__ == "__main__":
    main()
