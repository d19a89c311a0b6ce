"""Staged legacy SAFE product -> EOPF Zarr store in S3 -> catalog item with lineage.

Two halves. ``run_job`` is the heavy part (fetch the SAFE directory, convert, upload the store): it takes
and returns plain data so that it runs here or on a Dask worker alike. ``Conversion`` is the catalog
part around it: choose the converter and output collection, build and publish the item, then supersede the
staged SAFE item and delete its objects (the unpacked directory). The order that loses nothing:

1. the store's root metadata is uploaded last, so a store is only openable once complete;
2. the Zarr item is published;
3. the staged item becomes a tombstone (no assets, ``unpublished``, ``rs:superseded_by``): the commit point;
4. the staged objects are deleted. A run killed before this leaves them to the orphan sweep, since no item
   names them any more.

With ``keep_staged_days`` the staged item keeps its assets, with ``expires`` that many days ahead, and expiry
deletes its objects then.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from ..archives.normalization import archive_assets, normalize_item
from ..catalog.mapping import set_expires, tombstone, usable
from ..catalog.output_rules import OutputRule, default_output_collection, resolve_output_collection
from ..catalog.zarr_item import converted_item, read_stac_discovery
from ..errors import RsAssetsError
from ..heap import frozen_heap
from ..lifecycle.objects import delete_objects, item_objects
from ..services import Services, WithServices
from ..staging.parallel import stage_all
from ..staging.products import TaskFactory
from ..station.client import StationClient
from ..station.odata import F
from ..storage.ledger import ManifestEntry, add_to_manifest, manifest_key, read_manifest
from ..storage.object_store import ObjectStore, split_href
from ..storage.trees import fetch_tree, upload_store
from ..timeutil import utcnow
from .converters import ConverterRegistry, ProductInfo, load_converter
from .quicklook import quicklook_png

Item = dict[str, Any]


@dataclass(frozen=True)
class S3Endpoint:
    """Where a worker finds S3; credentials come from the worker's own environment, never from the job."""

    endpoint_url: str | None = None
    region_name: str | None = None

    def store(self) -> ObjectStore:
        import boto3

        return ObjectStore(boto3.client("s3", endpoint_url=self.endpoint_url, region_name=self.region_name))


@dataclass(frozen=True)
class ConversionJob:
    product: str
    source_bucket: str
    source_prefix: str
    converter: str
    target_bucket: str
    target_prefix: str
    work_dir: str | None = None


@dataclass(frozen=True)
class WrittenStore:
    name: str
    bucket: str
    key: str
    files: int
    bytes: int
    source_bytes: int
    fetch_seconds: float
    convert_seconds: float
    upload_seconds: float
    quicklook: str | None = None
    beams: tuple[str, ...] = ()

    @property
    def href(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


def measured_beams(product: Path) -> tuple[str, ...]:
    """The swaths a Sentinel-1 SAFE really holds, from its measurement file names (``s1a-iw1-slc-vv-...``): its
    manifest names every swath of the mode even when the product carries fewer, and eopf copies the manifest."""
    names = (p.name for p in (product / "measurement").glob("s1*-*-*") if p.is_file())
    return tuple(sorted({name.split("-")[1].upper() for name in names}))


POLARISATION_CODES = ("hh", "hv", "vv", "vh")


def work_directory(base: str | None) -> Path:
    """A fresh folder for one job, named without letters. eopf 3.0.0 picks a Sentinel-1 SAFE's measurement
    files by looking for the polarisation codes anywhere in their path: a folder named like ``tmpxhhv`` (as
    ``tempfile`` may draw) made it stack the VV raster twice and fail with "Cannot reassign dims"."""
    root = Path(base or tempfile.gettempdir())
    found = [code for code in POLARISATION_CODES if code in str(root)]
    if found:
        raise RsAssetsError(
            f"conversion work directory {root} contains {', '.join(repr(c) for c in found)}: eopf reads "
            "Sentinel-1 polarisation codes from the whole path of a SAFE, choose another (RS_ASSETS_WORK_DIR)"
        )
    root.mkdir(parents=True, exist_ok=True)
    while True:
        folder = root / f"rs-convert-{os.getpid()}-{secrets.randbelow(10**12):012d}"
        try:
            folder.mkdir()
        except FileExistsError:
            continue
        return folder


def run_job(job: ConversionJob, store: ObjectStore) -> WrittenStore:
    """Fetch, convert, upload. Needs local disk for the source and the store while it runs."""
    converter = load_converter(job.converter)  # fail before fetching when the converter is not installed
    tmp = work_directory(job.work_dir)
    try:
        source = tmp / "in" / job.product
        started = time.monotonic()
        source_bytes = fetch_tree(store, job.source_bucket, job.source_prefix, source)
        beams = measured_beams(source)
        fetched = time.monotonic()
        with frozen_heap():
            local = converter(source, tmp / "out")
        converted = time.monotonic()
        key = f"{job.target_prefix.rstrip('/')}/{local.name}"
        with ThreadPoolExecutor(1) as preview:
            png = preview.submit(quicklook_png, local)
            files, size = upload_store(store, local, job.target_bucket, key)
            quicklook = _upload_quicklook(store, png.result(), job.target_bucket, key)
        return WrittenStore(
            name=local.name.removesuffix(".zarr"),
            bucket=job.target_bucket,
            key=key,
            files=files,
            bytes=size,
            source_bytes=source_bytes,
            fetch_seconds=fetched - started,
            convert_seconds=converted - fetched,
            upload_seconds=time.monotonic() - converted,
            quicklook=f"s3://{job.target_bucket}/{quicklook}" if quicklook else None,
            beams=beams,
        )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _upload_quicklook(store: ObjectStore, png: bytes | None, bucket: str, store_key: str) -> str | None:
    """A preview is a convenience: a store without a measurement to show simply has none."""
    if png is None:
        return None
    key = f"{store_key.removesuffix('.zarr')}_quicklook.png"
    store.put(bucket, key, png, hashlib.md5(png).hexdigest())
    return key


def run_job_on_worker(job: ConversionJob, endpoint: S3Endpoint) -> WrittenStore:
    """What a Dask worker runs: its own S3 client, the same job, with the converter's own array work done in this
    task's thread. A worker's threads are the cluster's unit of parallelism and memory: left to Dask's default,
    the converter's arrays would be computed as tasks on the cluster, and the waiting conversion's thread freed
    for another conversion, more at once than the worker was sized for."""
    import dask

    with dask.config.set(scheduler="synchronous"):
        return run_job(job, endpoint.store())


def safe_directory(item: Item) -> tuple[str, str, str]:
    """(bucket, key prefix, directory name) of the SAFE/SEN3 directory an unpacked staged item points at."""
    for name, asset in item.get("assets", {}).items():
        href = str(asset.get("href", ""))
        if href.startswith("s3://") and href.endswith("/"):
            bucket, prefix = split_href(href)
            return bucket, prefix, prefix.rstrip("/").rsplit("/", 1)[-1] or name
    raise RsAssetsError(
        f"item {item['id']} has no unpacked product directory (assets: {', '.join(item.get('assets', {}))})"
    )


@dataclass
class Converted:
    staged_id: str
    item_id: str
    collection: str
    href: str
    written: WrittenStore
    item: Item = field(repr=False)
    staged_objects_deleted: int = 0


class StagedObjectsLeft(RsAssetsError):
    """A product was converted and published, but some of its staged objects could not be deleted."""

    def __init__(self, converted: Converted, refused: Sequence[str]):
        self.converted = converted
        super().__init__(
            f"{converted.staged_id}: converted, but {len(refused)} staged objects could not be deleted "
            f"(the orphan sweep finds them): {'; '.join(refused[:3])}"
        )


@dataclass(frozen=True)
class Planned:
    item: Item
    staging_collection: str
    job: ConversionJob
    collection: str
    eopf_type: str


@dataclass
class ConversionReport:
    converted: list[Converted] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    cleanup_failures: list[str] = field(default_factory=list)  # staged objects left behind, for the sweep
    seconds: float = 0.0

    @property
    def bytes(self) -> int:
        return sum(c.written.bytes for c in self.converted)

    @property
    def source_bytes(self) -> int:
        return sum(c.written.source_bytes for c in self.converted)

    def markdown(self, limit: int = 100) -> str:
        rows = [
            "| staged product | Zarr item | collection | files | MB | convert s |",
            "| --- | --- | --- | ---: | ---: | ---: |",
        ]
        rows += [
            f"| {c.staged_id} | {c.item_id} | {c.collection} | {c.written.files} | "
            f"{c.written.bytes / 1e6:.1f} | {c.written.convert_seconds:.1f} |"
            for c in self.converted[:limit]
        ]
        return "\n".join(rows)


@dataclass
class Conversion(WithServices):
    """Everything a conversion needs besides the item: where things go and where jobs run.

    With a Dask ``client`` each job runs on a worker (which reaches S3 at ``endpoint`` with its own
    credentials); without one, jobs run here, one at a time, each already using both cores.
    ``keep_staged_days`` keeps a converted product's staged objects that long (0: deleted once converted).
    """

    services: Services
    registry: ConverterRegistry
    outputs: Sequence[OutputRule] = ()
    work_dir: str | None = None
    client: Any = None
    endpoint: S3Endpoint = field(default_factory=S3Endpoint)
    keep_staged_days: float = 0.0

    def prepare(self, item: Item, staging_collection: str) -> Planned:
        """Unpack the staged item if it still holds an archive, then plan its job (output collection, type)."""
        if archive_assets(item):
            normalize_item(item, staging_collection, self.store, self.catalog)
            refreshed = self.catalog.get_item(staging_collection, item["id"])
            if refreshed is None:
                raise RsAssetsError(f"{item['id']} vanished from {staging_collection} while being unpacked")
            item = refreshed
        bucket, prefix, directory = safe_directory(item)
        product = ProductInfo.of(directory, item.get("properties", {}).get("product:type"))
        collection = resolve_output_collection(
            product.eopf_type, self.outputs, default_output_collection(product.eopf_type)
        )
        placement = self.rules.place(self.owner, collection, product.eopf_type)
        job = ConversionJob(
            product=directory,
            source_bucket=bucket,
            source_prefix=prefix,
            converter=self.registry.select(product),
            target_bucket=placement.bucket,
            target_prefix=f"{self.owner}/{collection}",
            work_dir=self.work_dir or os.environ.get("RS_ASSETS_WORK_DIR"),
        )
        return Planned(item, staging_collection, job, collection, product.eopf_type)

    def publish(self, planned: Planned, written: WrittenStore) -> Converted:
        """Item from the store's own metadata, published; only then is the staged SAFE item superseded (see the
        module's order), so that the new item's ``derived_from`` keeps resolving."""
        item, staging_collection, collection, eopf_type = (
            planned.item,
            planned.staging_collection,
            planned.collection,
            planned.eopf_type,
        )
        discovery = read_stac_discovery(self.store, written.bucket, written.key)
        new_item = converted_item(
            discovery,
            store_name=written.name,
            store_href=written.href,
            product_type=eopf_type,
            staged_item=item,
            derived_from=self.catalog.item_url(staging_collection, item["id"]),
            quicklook=written.quicklook,
            beams=written.beams,
        )
        now = utcnow()
        set_expires(new_item, self.rules.place(self.owner, collection, eopf_type).expires(now))
        self.catalog.ensure_collection(collection, f"EOPF {eopf_type} products converted from legacy SAFE")
        self.catalog.upsert_items(collection, [new_item])
        keep_until = now + timedelta(days=self.keep_staged_days) if self.keep_staged_days > 0 else None
        superseded = tombstone(item, now, self.catalog.item_url(collection, new_item["id"]), keep_until)
        self.catalog.upsert_items(staging_collection, [superseded])
        converted = Converted(item["id"], new_item["id"], collection, written.href, written, new_item)
        if keep_until is None:
            try:
                objects, _ = item_objects(item, self.rules.buckets)
                converted.staged_objects_deleted, refused = delete_objects(self.store, objects)
            except Exception as exc:  # the product is converted and published whatever befalls its leftovers
                refused = [_describe(exc)]
            if refused:
                raise StagedObjectsLeft(converted, refused)
        return converted

    def _run(self, jobs: Sequence[ConversionJob]) -> Iterator[tuple[int, WrittenStore | None, str | None]]:
        if self.client is None:
            for index, job in enumerate(jobs):
                try:
                    yield index, run_job(job, self.store), None
                except Exception as exc:  # one product's failure never stops the others
                    yield index, None, _describe(exc)
            return
        from distributed import as_completed

        futures = {
            self.client.submit(run_job_on_worker, job, self.endpoint, pure=False): index
            for index, job in enumerate(jobs)
        }
        for future in as_completed(futures):
            try:
                yield futures[future], future.result(), None
            except Exception as exc:
                yield futures[future], None, _describe(exc)

    def convert_many(
        self, staged: Sequence[tuple[Item, str]], on_done: Callable[[str | None], None] | None = None
    ) -> ConversionReport:
        """Convert and publish each staged item; a failure is reported with its product and loses no other."""
        report = ConversionReport()
        started = time.monotonic()
        planned: list[Planned] = []
        for item, staging_collection in staged:
            try:
                planned.append(self.prepare(item, staging_collection))
            except RsAssetsError as exc:
                report.failures.append(f"{item['id']}: {exc}")
                if on_done:
                    on_done(report.failures[-1])
        self.convert_planned(planned, report, on_done)
        report.seconds = time.monotonic() - started
        return report

    def convert_partition(
        self,
        bucket: str,
        staged_ledger: str,
        converted_ledger: str,
        partition: str,
        on_planned: Callable[[int], None] | None = None,
        on_done: Callable[[str | None], None] | None = None,
    ) -> tuple[ConversionReport, int]:
        """Convert what a staging partition's ledger lists and is still staged; returns the report and how many
        were converted before (their staged item is a tombstone: it is superseded only after the Zarr item is
        published).
        What was converted is merged into ``converted_ledger``, which the steps after conversion read."""
        entries = read_manifest(self.store, bucket, manifest_key(staged_ledger, partition)) or []
        staged = []
        for entry in entries:
            current = self.catalog.get_item(entry.collection, entry.item["id"])
            if current is not None and usable(current):
                staged.append((current, entry.collection))
        if on_planned:
            on_planned(len(staged))
        report = self.convert_many(staged, on_done)
        fresh = [ManifestEntry(c.collection, c.item) for c in report.converted]
        add_to_manifest(self.store, bucket, manifest_key(converted_ledger, partition), fresh)
        return report, len(entries) - len(staged)

    def convert_planned(
        self,
        planned: Sequence[Planned],
        report: ConversionReport | None = None,
        on_done: Callable[[str | None], None] | None = None,
    ) -> ConversionReport:
        report = report if report is not None else ConversionReport()
        started = time.monotonic()
        for index, written, error in self._run([p.job for p in planned]):
            if written is not None:
                try:
                    report.converted.append(self.publish(planned[index], written))
                except StagedObjectsLeft as left:
                    report.converted.append(left.converted)
                    report.cleanup_failures.append(str(left))
                except RsAssetsError as exc:
                    error = str(exc)
            if error is not None:
                report.failures.append(f"{planned[index].item['id']}: {error}")
            if on_done:
                on_done(None if error is None else report.failures[-1])
        report.seconds = time.monotonic() - started
        return report


def requested_item(stac_input: str, timeout: float = 30.0) -> Item:
    """The item an operator asks to convert: its URL, a FeatureCollection or Feature, or an id."""
    text = stac_input.strip()
    if not text:
        raise RsAssetsError("no STAC input given")
    if text.startswith(("{", "[")):
        try:
            document = json.loads(text)
        except ValueError as exc:
            raise RsAssetsError(f"STAC input is not valid JSON: {exc}") from None
    elif text.startswith(("http://", "https://")):
        import requests

        try:
            response = requests.get(text, timeout=timeout)
        except requests.RequestException as exc:
            raise RsAssetsError(f"cannot fetch STAC item {text}: {type(exc).__name__}") from None
        if response.status_code != 200:
            raise RsAssetsError(f"cannot fetch STAC item {text}: HTTP {response.status_code}")
        try:
            document = response.json()
        except ValueError:
            kind = response.headers.get("Content-Type", "no Content-Type")
            raise RsAssetsError(f"{text} does not answer JSON ({kind}): not a STAC item URL") from None
    else:
        return {"id": text}
    if not isinstance(document, dict):
        raise RsAssetsError(
            f"STAC input is a JSON {type(document).__name__}, not an item (Feature) or a FeatureCollection of one"
        )
    if document.get("type") == "FeatureCollection":
        features = document.get("features") or []
        if len(features) != 1:
            raise RsAssetsError(f"the FeatureCollection must hold exactly one item, it holds {len(features)}")
        document = features[0]
    if document.get("type") != "Feature" or not document.get("id"):
        raise RsAssetsError(
            "STAC input is neither an item (Feature with an id) nor a FeatureCollection of one"
        )
    return document


def staged_or_stage(
    services: Services,
    requested: Item,
    collection: str | None,
    clients: Sequence[StationClient],
    task: TaskFactory,
) -> tuple[Item, str]:
    """The staged item of ``requested``: from the staging collection, else staged now from the first station
    that has it."""
    catalog, item_id = services.catalog, requested["id"]
    staged = catalog.get_item(collection, item_id) if collection else None
    if staged is not None and collection is not None and usable(staged):
        return staged, collection
    for client in clients:
        with services.lease(client.name):
            products = client.products(F("Name").eq(item_id))
        if products:
            break
    else:
        names = ", ".join(repr(c.name) for c in clients) or "none configured"
        raise RsAssetsError(
            f"{item_id} is neither staged in {collection or 'the catalog'} nor at station {names}"
        )
    planned = task(products[0], services.placement, collection)
    with services.lease(client.name):
        report = stage_all(client, services.transfer, [planned], 1)
    if report.failed:
        raise RsAssetsError(f"staging {item_id} from {client.name!r} failed: {report.failed[0].error}")
    # Upserted, not published: a tombstone left by an earlier conversion of the product is replaced.
    catalog.ensure_collection(planned.collection)
    catalog.upsert_items(planned.collection, [o.item for o in report.succeeded if o.item])
    staged = catalog.get_item(planned.collection, item_id)
    if staged is None:
        raise RsAssetsError(f"{item_id} was staged but is not in {planned.collection}")
    return staged, planned.collection


def _describe(exc: BaseException) -> str:
    return str(exc) if isinstance(exc, RsAssetsError) else f"{type(exc).__name__}: {exc}"
