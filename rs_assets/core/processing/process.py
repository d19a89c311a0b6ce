"""One processor run, end to end: the reference's ``dpr_processing`` (tasktable -> units -> ADFs -> payload ->
processor -> publication), with the order that keeps the catalog true.

1. Plan and check everything that needs no service: units, output collections and buckets, the processing
   units' modules. A bad request fails here, before anything is staged or written.
2. Inputs: each input item must exist and its objects must be there.
3. ADFs: found in the catalog, or staged from the AUXIPs (the only writes before the run).
4. The run (``job``): local copies of the inputs and ADFs, eopf's runner on the payload, the outputs
   uploaded to deterministic keys ``{owner}/{collection}/{item}/`` only once it succeeded, root metadata last;
   then the payload is written next to them.
5. Only then, each output store's metadata read back, are the output items published. A run that fails while
   uploading or publishing removes what it wrote: no partial product stays under a final key, and no item
   points at one.
"""

from __future__ import annotations

import hashlib
import importlib.util
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from ..catalog.mapping import declare_used_extensions, set_expires, usable
from ..catalog.output_rules import OutputRule, default_output_collection, resolve_output_collection
from ..catalog.zarr_item import derived_from_link, read_stac_discovery, store_item
from ..conversion.convert import S3Endpoint
from ..errors import RsAssetsError
from ..services import Services, WithServices
from ..storage.object_store import ObjectStore, split_href
from ..storage.trees import ROOT_METADATA
from ..timeutil import format_datetime, parse_datetime, utcnow
from .adfs import AdfNotFound, ResolvedAdf, Stager, resolve_adf
from .job import Fetch, JobResult, ProcessingJob, run_job, run_job_on_worker
from .payload import OutputTarget, build_payload, local_copy, to_yaml
from .queries import AdfQuery, adf_queries
from .runner import RunReport
from .tasktable import Tasktable
from .units import UnitPlan, build_units

Item = dict[str, Any]
Log = Callable[[str], None]
_EOPF_TYPE = re.compile(r"^S\d{2}[A-Z0-9_]{6}_")


class ProcessingError(RsAssetsError):
    """A processing request that cannot run as given, or a run that failed; nothing of it was published."""


@dataclass(frozen=True)
class Processor:
    """A configured processor: its tasktable, the run it makes by default, and where its products go."""

    name: str
    tasktable: Tasktable
    pipeline: str | None = None
    unit: str | None = None
    mode: str | None = None
    modules: Mapping[str, str] = field(default_factory=dict)
    outputs: Sequence[OutputRule] = ()
    adf_collections: Mapping[str, str] = field(default_factory=dict)
    parameters: Mapping[str, Any] = field(default_factory=dict)
    timeout_seconds: float = 3600.0

    def plan(
        self, *, pipeline: str | None = None, unit: str | None = None, mode: str | None = None
    ) -> UnitPlan:
        """The configured run, or the pipeline/unit/mode a request names instead."""
        if pipeline or unit:
            return build_units(self.tasktable, pipeline=pipeline, unit=unit, mode=mode or self.mode)
        return build_units(self.tasktable, pipeline=self.pipeline, unit=self.unit, mode=mode or self.mode)

    def module_of(self, unit: str, default: str) -> str:
        return self.modules.get(unit, default)

    def adf_collection(self, product_type: str | None, satellite: object) -> str:
        """The product type's configured collection, else the ``*`` entry, else ``{satellite}-aux-{type}``."""
        if product_type and product_type in self.adf_collections:
            return self.adf_collections[product_type]
        if "*" in self.adf_collections:
            return self.adf_collections["*"]
        return f"{satellite or 'any'}-aux-{product_type or 'adf'}".lower()


@dataclass(frozen=True)
class InputRef:
    """A catalog item given to a run as the pipeline input ``name``."""

    name: str
    collection: str
    item_id: str


def parse_input(text: str, inputs: Sequence[str]) -> InputRef:
    """``COLLECTION/ITEM`` (a run with one input) or ``INPUT=COLLECTION/ITEM``."""
    name, sep, reference = text.strip().partition("=")
    if not sep:
        name, reference = "", name
    collection, slash, item_id = reference.strip().partition("/")
    if not slash or not collection or not item_id:
        raise ProcessingError(f"input {text!r} is not COLLECTION/ITEM or INPUT=COLLECTION/ITEM")
    if not name:
        if len(inputs) != 1:
            raise ProcessingError(
                f"input {text!r} must name the input it feeds (INPUT=COLLECTION/ITEM): the run takes {', '.join(inputs)}"
            )
        name = inputs[0]
    return InputRef(name.strip(), collection, item_id)


@dataclass(frozen=True)
class Request:
    processor: Processor
    plan: UnitPlan
    inputs: Sequence[InputRef]
    variables: Mapping[str, Any] = field(default_factory=dict)
    output_collections: Mapping[str, str] = field(default_factory=dict)


@dataclass
class Outcome:
    """What a run did, for metadata and the CLI; ``skipped`` when its outputs were already published."""

    request: Request
    variables: dict[str, Any] = field(default_factory=dict)
    inputs: dict[str, Item] = field(default_factory=dict)
    adfs: list[ResolvedAdf] = field(default_factory=list)
    missing_adfs: list[str] = field(default_factory=list)
    targets: list[OutputTarget] = field(default_factory=list)
    payload: dict[str, Any] = field(default_factory=dict)
    payload_href: str | None = None
    result: JobResult | None = None
    published: list[tuple[str, Item]] = field(default_factory=list)
    skipped: bool = False
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def payload_yaml(self) -> str:
        return to_yaml(self.payload) if self.payload else ""

    @property
    def report(self) -> RunReport | None:
        return self.result.report if self.result else None


def output_item_id(output: str, driving_id: str) -> str:
    """``S01SIWGRD_2021..._TB81`` made into ``S01SIWGTC_2021..._TB81``; other ids get the output as prefix."""
    if _EOPF_TYPE.match(driving_id) and _EOPF_TYPE.match(f"{output}_"):
        return f"{output}{driving_id[9:]}"
    return f"{output}_{driving_id}"


def product_href(item: Item) -> str:
    """The product an item stands for: its ``product`` asset (a Zarr store), else its only data asset."""
    assets = item.get("assets", {})
    if "product" in assets:
        return str(assets["product"]["href"])
    data = [a for a in assets.values() if "data" in (a.get("roles") or [])] or list(assets.values())
    if len(data) == 1:
        return str(data[0]["href"])
    raise ProcessingError(f"item {item['id']} has no single product asset (assets: {', '.join(assets)})")


def _exists(store: ObjectStore, href: str) -> bool:
    """A Zarr store by its root metadata, a file by itself, a directory by what is under it."""
    bucket, key = split_href(href.rstrip("/"))
    if key.endswith(".zarr"):
        return any(store.head(bucket, f"{key}/{root}") for root in ROOT_METADATA)
    if store.head(bucket, key) is not None:
        return True
    return next(iter(store.list(bucket, f"{key}/")), None) is not None


def check_modules(request: Request) -> None:
    """Every processing unit's module is installed, or the run stops before anything is staged."""
    for unit in request.plan.units:
        module = request.processor.module_of(unit.name, unit.module)
        try:
            found = importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            raise ProcessingError(
                f"processor {request.processor.name}: unit {unit.name} needs module {module!r}, which is not "
                "installed here (install the processor's package, for the shipped ones rs-assets[processing])"
            )


def default_variables(driving: Item) -> dict[str, Any]:
    """External variables a run takes from its driving input when the request does not give them."""
    properties = driving.get("properties", {})
    start = properties.get("start_datetime") or properties.get("datetime")
    end = properties.get("end_datetime") or properties.get("datetime")
    return {
        "start_datetime": parse_datetime(start) if start else None,
        "end_datetime": parse_datetime(end) if end else None,
        "satellite": properties.get("platform"),
    }


def given_variables(variables: Mapping[str, Any]) -> dict[str, Any]:
    """The external variables a request gives, datetimes checked: a bad one is named before any search."""
    given = {}
    for name, value in variables.items():
        if value in (None, ""):
            continue
        if name.endswith("_datetime"):
            try:
                value = parse_datetime(value)
            except ValueError:
                raise ProcessingError(
                    f"external variable {name}: {value!r} is not an ISO 8601 datetime"
                ) from None
        given[name] = value
    return given


def _software() -> str:
    try:
        return version("rs-assets")
    except PackageNotFoundError:
        return "unknown"


@dataclass
class Processing(WithServices):
    """The services a run uses; built once per Dagster run or CLI command.

    With a Dask ``client``, each run's job goes to a worker, which reaches S3 at ``endpoint`` with its own
    credentials; without one, it runs here.
    """

    services: Services
    stager: Stager | None = None
    work_dir: str | None = None
    client: Any = None
    endpoint: S3Endpoint = field(default_factory=S3Endpoint)
    poll_seconds: float = 10.0

    # -- 1. what needs no service ------------------------------------------------------------------------

    def targets(self, request: Request, driving_id: str) -> list[OutputTarget]:
        """Where each output goes; an output no rule maps to a collection or a bucket fails the request."""
        processor, targets = request.processor, []
        for name in request.plan.outputs:
            entry = processor.tasktable.io_entry(name)
            try:
                collection = request.output_collections.get(name) or resolve_output_collection(
                    name, processor.outputs, default_output_collection(name)
                )
                bucket = self.rules.place(self.owner, collection, name).bucket
            except RsAssetsError as exc:
                raise ProcessingError(f"processor {processor.name}: output {name}: {exc}") from None
            if entry is not None and entry.type == "folder":
                prefix = f"{self.owner}/{collection}/{driving_id}/"
                targets.append(OutputTarget(name, name, collection, bucket, prefix, None))
            else:
                item_id = output_item_id(name, driving_id)
                prefix = f"{self.owner}/{collection}/{item_id}/"
                targets.append(OutputTarget(name, name, collection, bucket, prefix, item_id))
        return targets

    # -- 2. inputs -----------------------------------------------------------------------------------------

    def input_items(self, request: Request) -> dict[str, Item]:
        expected = request.plan.inputs
        given = [i.name for i in request.inputs]
        missing = [name for name in expected if name not in given]
        unknown = [name for name in given if name not in expected]
        if missing or unknown:
            raise ProcessingError(
                f"processor {request.processor.name}: {request.plan.label} takes inputs {', '.join(expected)}; "
                + (f"missing: {', '.join(missing)}" if missing else f"unknown: {', '.join(unknown)}")
            )
        items = {}
        for ref in request.inputs:
            where = f"input {ref.name} ({ref.collection}/{ref.item_id})"
            item = self.catalog.get_item(ref.collection, ref.item_id)
            if item is None:
                raise ProcessingError(f"{where}: no such item in the catalog")
            if not usable(item):
                raise ProcessingError(f"{where}: the item has no objects (expired or not staged)")
            href = product_href(item)
            if not _exists(self.store, href):
                raise ProcessingError(f"{where}: its product {href} is not in storage")
            items[ref.name] = item
        return items

    # -- 3. ADFs ---------------------------------------------------------------------------------------------

    def resolve_adfs(
        self, request: Request, variables: Mapping[str, Any], log: Log
    ) -> tuple[list[ResolvedAdf], list[str]]:
        processor, plan = request.processor, request.plan
        mandatory = {
            use.name
            for unit in plan.units
            for use in processor.tasktable.unit(unit.name).input_adfs
            if use.mandatory and use.active_in(plan.mode)
        }
        # Every search is built (and checked) before the first one may stage anything.
        searches = {name: self.adf_queries(request, name, variables) for name in plan.adfs}
        resolved, missing = [], []
        for name, queries in searches.items():
            try:
                adf = resolve_adf(
                    name, queries, self.catalog, self.stager, self.store, poll_seconds=self.poll_seconds
                )
            except AdfNotFound:
                if name in mandatory:
                    raise
                log(f"optional ADF {name} not found; the run goes on without it")
                missing.append(name)
                continue
            log(f"ADF {name}: {adf.collection}/{adf.item['id']} ({adf.href})")
            resolved.append(adf)
        return resolved, missing

    def adf_queries(self, request: Request, name: str, variables: Mapping[str, Any]) -> list[AdfQuery]:
        processor = request.processor
        return adf_queries(
            processor.tasktable,
            name,
            variables,
            lambda parameters: processor.adf_collection(
                str(parameters.get("product_type") or "") or None, variables.get("satellite")
            ),
        )

    # -- the run ---------------------------------------------------------------------------------------------

    def run(self, request: Request, log: Log = lambda message: None) -> Outcome:
        """Process ``request``; raises ``ProcessingError`` (or a tasktable error) with nothing published."""
        outcome = Outcome(request)
        started = time.monotonic()
        if not request.inputs:
            raise ProcessingError(f"processor {request.processor.name}: no input given")
        driving = request.inputs[0]
        check_modules(request)
        outcome.targets = self.targets(request, driving.item_id)
        outcome.inputs = self.input_items(request)
        variables = default_variables(outcome.inputs[driving.name]) | given_variables(request.variables)
        outcome.variables = variables
        if self._already_published(outcome.targets):
            outcome.skipped = True
            outcome.seconds["total"] = time.monotonic() - started
            log(f"{driving.item_id}: outputs already published, nothing to do")
            return outcome
        adf_started = time.monotonic()
        outcome.adfs, outcome.missing_adfs = self.resolve_adfs(request, variables, log)
        outcome.seconds["adfs"] = time.monotonic() - adf_started
        outcome.payload = build_payload(
            request.plan,
            inputs={name: product_href(item) for name, item in outcome.inputs.items()},
            adfs={adf.name: adf.href for adf in outcome.adfs},
            outputs={target.name: target for target in outcome.targets},
            modules={u.name: request.processor.module_of(u.name, u.module) for u in request.plan.units},
            parameters=request.processor.parameters,
            run_id=f"{request.processor.name}:{driving.item_id}",
        )
        try:
            self._execute(outcome, log)
            publish_started = time.monotonic()
            self._publish(outcome)
            outcome.seconds["publish"] = time.monotonic() - publish_started
        except BaseException:
            self._remove_outputs(outcome.targets, log)
            raise
        outcome.seconds["total"] = time.monotonic() - started
        return outcome

    def _already_published(self, targets: Sequence[OutputTarget]) -> bool:
        if not targets or any(t.is_folder for t in targets):
            return False
        for target in targets:
            assert target.item_id is not None
            if not self.catalog.collection_exists(target.collection):
                return False
            if target.item_id not in self.catalog.existing_ids(target.collection, [target.item_id]):
                return False
        return True

    def _execute(self, outcome: Outcome, log: Log) -> None:
        """The job, here or on a worker; then the payload next to the outputs."""
        objects = outcome.payload["rs_assets"]
        job = ProcessingJob(
            outcome.payload,
            tuple(
                Fetch(href, local_copy(kind, name, href))
                for kind in ("inputs", "adfs")
                for name, href in objects[kind].items()
            ),
            tuple(outcome.targets),
            outcome.request.processor.timeout_seconds,
            self.work_dir,
        )
        if self.client is None:
            outcome.result = run_job(job, self.store, lambda line: log(f"eopf: {line}"))
        else:
            log(f"running on the Dask cluster at {self.client.scheduler.address}")
            outcome.result = self.client.submit(run_job_on_worker, job, self.endpoint, pure=False).result()
            for line in outcome.result.log:
                log(f"eopf: {line}")
        outcome.seconds.update(outcome.result.seconds)
        first = outcome.targets[0]
        name = "payload" if first.item_id else f"payload-{outcome.request.inputs[0].item_id}"
        body = outcome.payload_yaml.encode()
        self.store.put(first.bucket, f"{first.prefix}{name}.yaml", body, hashlib.md5(body).hexdigest())
        outcome.payload_href = f"s3://{first.bucket}/{first.prefix}{name}.yaml"

    def _remove_outputs(self, targets: Sequence[OutputTarget], log: Log) -> None:
        for target in targets:
            try:
                keys = [o.key for o in self.store.list(target.bucket, target.prefix)]
                for key in keys:
                    self.store.delete(target.bucket, key)
            except RsAssetsError as exc:
                log(
                    f"could not remove the failed run's objects under s3://{target.bucket}/{target.prefix}: {exc}"
                )
                continue
            if keys:
                log(
                    f"removed {len(keys)} objects of the failed run under s3://{target.bucket}/{target.prefix}"
                )

    # -- 5. publication ----------------------------------------------------------------------------------------

    def _publish(self, outcome: Outcome) -> None:
        request, result = outcome.request, outcome.result
        assert result is not None
        links = [
            derived_from_link(self.catalog.item_url(ref.collection, ref.item_id)) for ref in request.inputs
        ] + [derived_from_link(self.catalog.item_url(adf.collection, adf.item["id"])) for adf in outcome.adfs]
        driving = outcome.inputs[request.inputs[0].name]
        targets = {target.name: target for target in outcome.targets}
        items: list[tuple[str, Item]] = []
        for written in result.written:
            target = targets[written.target]
            bucket, key = split_href(written.href)
            item = store_item(
                self._discovery(bucket, key),
                item_id=written.item_id,
                store_href=written.href,
                product_type=target.product_type,
                fallback=driving,
                links=links,
                assets={
                    "payload": {
                        "href": outcome.payload_href,
                        "title": "EOPF triggering payload of the run",
                        "type": "application/yaml",
                        "roles": ["metadata"],
                    }
                },
            )
            item["properties"].update(self._processing_properties(outcome, target))
            expires = self.rules.place(self.owner, target.collection, target.product_type).expires(utcnow())
            set_expires(declare_used_extensions(item), expires)
            items.append((target.collection, item))
        for collection in dict.fromkeys(c for c, _ in items):
            self.catalog.ensure_collection(collection, f"Products of processor {request.processor.name}")
            self.catalog.upsert_items(collection, [item for c, item in items if c == collection])
        outcome.published = items

    def _discovery(self, bucket: str, key: str) -> dict[str, Any] | None:
        """The STAC metadata a store's root attributes hold, if any; a store without a root is an error."""
        try:
            return read_stac_discovery(self.store, bucket, key)
        except RsAssetsError as exc:
            if "not a Zarr store" in str(exc):
                raise ProcessingError(f"output s3://{bucket}/{key}: {exc}") from None
            return None

    def _processing_properties(self, outcome: Outcome, target: OutputTarget) -> dict[str, Any]:
        request = outcome.request
        tasktable, plan = request.processor.tasktable, request.plan
        software = {"rs-assets": _software(), f"tasktable {tasktable.name}": tasktable.version}
        report_units = {u.get("identifier"): u for u in (outcome.report.units if outcome.report else [])}
        for unit in plan.units:
            info = report_units.get(unit.name, {}).get("software") or {}
            if info.get("version"):
                software[str(info.get("name") or unit.name)] = str(info["version"])
        now = utcnow()
        properties: dict[str, Any] = {
            "processing:facility": "rs-assets",
            "processing:datetime": format_datetime(now),
            "processing:software": software,
            "processing:lineage": (
                f"processor {request.processor.name} ({plan.label}) on "
                + ", ".join(f"{r.collection}/{r.item_id}" for r in request.inputs)
                + (
                    f" with ADFs {', '.join(f'{a.name}={a.item["id"]}' for a in outcome.adfs)}"
                    if outcome.adfs
                    else ""
                )
            ),
            "rs:processor": request.processor.name,
            "rs:tasktable": {"name": tasktable.name, "version": tasktable.version},
            "updated": format_datetime(now),
        }
        if plan.mode:
            properties["rs:processing_mode"] = plan.mode
        return properties
