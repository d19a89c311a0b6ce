"""Processed products: one asset per configured processor, partitioned like the assets whose items drive it (its
``driven_by`` name, at every station that has one: ``zarr_products`` is every PRIP station's) and materialized
when they are published; and ``process_on_demand``, the reference's ``dpr_processing`` as a job."""

import json
from datetime import datetime
from typing import Any

import dagster as dg
from pydantic import Field

from rs_assets.assets.automation import after_upstream, automation_sensor
from rs_assets.assets.reporting import fail_on, failure_list
from rs_assets.core.errors import ConfigError, RsAssetsError
from rs_assets.core.processing.partition import process_partition
from rs_assets.core.processing.process import Outcome, Processor, Request, parse_input
from rs_assets.core.timeutil import format_datetime
from rs_assets.resources import CatalogResource, ObjectStorage, ProcessingResource, StationsResource
from rs_assets.resources.services import PROCESSING_POOL, pool_lease, services_of
from rs_assets.settings import ProcessorSettings, ProcessorsFile


def processed_asset_name(processor: str) -> str:
    return f"processed_{processor}"


def _md_json(value: Any) -> str:
    return f"```json\n{json.dumps(value, indent=2, default=str)}\n```"


def processing_metadata(outcomes: list[Outcome], failures: list[str], catalog: Any) -> dict[str, Any]:
    """Unit list, every ADF search and what it found, the payload, timings per run, output items."""
    ran = [o for o in outcomes if not o.skipped]
    first = ran[0] if ran else (outcomes[0] if outcomes else None)
    searches = [
        {"adf": adf.name, **attempt.query.body(), "found": attempt.found, "notes": attempt.staging}
        for o in ran
        for adf in o.adfs
        for attempt in adf.attempts
    ]
    phases = ("adfs", "fetch", "run", "upload", "publish", "total")
    timings = [
        "| input | ADFs s | fetch s | run s | upload s | publish s | total s |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ] + [
        f"| {o.request.inputs[0].item_id} | "
        + " | ".join(f"{o.seconds.get(p, 0):.2f}" for p in phases)
        + " |"
        for o in ran
    ]
    metadata: dict[str, Any] = {
        "processed": dg.MetadataValue.int(len(ran)),
        "already_processed": dg.MetadataValue.int(len(outcomes) - len(ran)),
        "failed": dg.MetadataValue.int(len(failures)),
        "outputs_published": dg.MetadataValue.int(sum(len(o.published) for o in ran)),
        "items": dg.MetadataValue.json(
            [catalog.item_url(collection, item["id"]) for o in ran for collection, item in o.published][:50]
        ),
        "adf_queries": dg.MetadataValue.md(_md_json(searches) if searches else "none"),
        "timings": dg.MetadataValue.md("\n".join(timings)),
        "failures": failure_list(failures),
    }
    if first is not None:
        metadata["units"] = dg.MetadataValue.md(_units_table(first))
        metadata["external_variables"] = dg.MetadataValue.json(
            {k: format_datetime(v) if isinstance(v, datetime) else v for k, v in first.variables.items()}
        )
    missing = sorted({adf for o in ran for adf in o.missing_adfs})
    if missing:
        metadata["optional_adfs_not_found"] = dg.MetadataValue.text(", ".join(missing))
    if ran:
        assert first is not None
        metadata["payload"] = dg.MetadataValue.md(f"```yaml\n{first.payload_yaml}```")
        metadata["payloads"] = dg.MetadataValue.json([o.payload_href for o in ran])
        if first.report is not None:
            metadata["unit_timings"] = dg.MetadataValue.md(first.report.markdown())
        metadata["seconds"] = dg.MetadataValue.float(round(sum(o.seconds.get("total", 0) for o in ran), 2))
    return metadata


def _units_table(outcome: Outcome) -> str:
    plan = outcome.request.plan
    rows = [
        f"**{plan.label}**",
        "",
        "| step | unit | module | inputs | ADFs | outputs |",
        "| ---: | --- | --- | --- | --- | --- |",
    ]
    rows += [
        f"| {u.step} | {u.name} | {u.module} | {', '.join(f'{k} <- {v}' for k, v in u.inputs.items())} | "
        f"{', '.join(u.adfs) or '-'} | {', '.join(f'{k} ({v})' for k, v in u.outputs.items())} |"
        for u in plan.units
    ]
    return "\n".join(rows)


def build_processor(
    settings: ProcessorSettings, processor: Processor, driving: list[dg.AssetsDefinition | dg.AssetSpec]
) -> dg.AssetsDefinition:
    """``processed_{name}``: for each item the driving assets (one per station) published in the partition, one
    processor run."""
    name = processed_asset_name(settings.name)
    driving_names = [d.key.to_user_string() for d in driving]
    partitions = {id(d.partitions_def): d.partitions_def for d in driving}
    if len(partitions) != 1 and len({repr(p) for p in partitions.values()}) != 1:
        raise ConfigError(
            f"processor {settings.name!r}: field driven_by: {', '.join(driving_names)} are partitioned differently"
        )
    input_name = settings.driving_input(processor)

    @dg.asset(
        name=name,
        partitions_def=driving[0].partitions_def,
        deps=[d.key for d in driving],
        automation_condition=after_upstream() if settings.systematic else None,
        pool=PROCESSING_POOL,
        group_name="processing",
        kinds={"eopf", "zarr", "stac"},
        description=f"{processor.plan().label} run on each item {', '.join(driving_names)} published, outputs "
        "published with lineage.",
    )
    def processed(
        context: dg.AssetExecutionContext,
        storage: ObjectStorage,
        catalog: CatalogResource,
        stations: StationsResource,
        processing: ProcessingResource,
        dask: dg.ResourceParam[Any],
    ) -> dg.MaterializeResult:
        run = processing.processing(
            services_of(storage, catalog, pool_lease(context)),
            storage,
            stations,
            getattr(dask, "client", None),
        )
        done = process_partition(
            run,
            processing.processor(settings.name),
            input_name,
            bucket=storage.bucket,
            partition=context.partition_key,
            driving_ledgers=driving_names,
            ledger=name,
            collections=settings.input_collections,
            product_types=settings.input_product_types,
            log=context.log.info,
        )
        metadata = processing_metadata(done.outcomes, done.failures, run.catalog)
        fail_on(done.failures, f"{len(done.failures)} of {len(done.inputs)} runs failed", metadata)
        return dg.MaterializeResult(metadata=metadata)

    return processed


class ProcessConfig(dg.Config):
    """The reference's ``dpr_processing`` parameters."""

    processor: str = Field(description="A configured processor (processors file)")
    pipeline: str | None = Field(None, description="Pipeline to run (default: the processor's)")
    unit: str | None = Field(None, description="Or one unit alone")
    processing_mode: str | None = Field(None, description="Processing mode (default: the processor's)")
    input_items: list[str] = Field(description="Input items, COLLECTION/ITEM or INPUT=COLLECTION/ITEM")
    start_datetime: str | None = Field(None, description="External variable (default: from the first input)")
    end_datetime: str | None = Field(None, description="External variable (default: from the first input)")
    satellite: str | None = Field(None, description="External variable (default: the first input's platform)")
    output_collections: dict[str, str] = Field(
        default_factory=dict, description="Output product type -> collection, over the processor's rules"
    )


def request_of(config: ProcessConfig, processor: Processor) -> Request:
    plan = processor.plan(pipeline=config.pipeline, unit=config.unit, mode=config.processing_mode)
    inputs = [parse_input(text, plan.inputs) for text in config.input_items]
    variables = {
        "start_datetime": config.start_datetime,
        "end_datetime": config.end_datetime,
        "satellite": config.satellite,
    }
    return Request(processor, plan, inputs, variables, dict(config.output_collections))


@dg.op(
    name="process_products",
    pool=PROCESSING_POOL,
    description="Run a processor on given items, publish its outputs.",
)
def process_products(
    context: dg.OpExecutionContext,
    config: ProcessConfig,
    storage: ObjectStorage,
    catalog: CatalogResource,
    stations: StationsResource,
    processing: ProcessingResource,
    dask: dg.ResourceParam[Any],
) -> dg.Output[list[str]]:
    try:
        request = request_of(config, processing.processor(config.processor))
        run = processing.processing(
            services_of(storage, catalog, pool_lease(context)),
            storage,
            stations,
            getattr(dask, "client", None),
        )
        outcome = run.run(request, context.log.info)
    except RsAssetsError as exc:
        raise dg.Failure(str(exc)) from None
    metadata = processing_metadata([outcome], [], run.catalog)
    return dg.Output([item["id"] for _, item in outcome.published], metadata=metadata)


@dg.job(name="process_on_demand", description="On-demand processing (the reference's dpr_processing).")
def process_on_demand() -> None:
    process_products()


def build_processing(processors: ProcessorsFile, assets: dict[str, dg.AssetsDefinition]) -> dg.Definitions:
    """An asset per configured processor, its automation, and the on-demand job."""
    built = []
    for settings in processors.processors:
        driving = [
            asset
            for key, asset in sorted(assets.items())
            if settings.driven_by in (key, key.rsplit("/", 1)[-1])
        ]
        if not driving:
            raise ConfigError(
                f"processor {settings.name!r}: field driven_by: no asset {settings.driven_by!r} "
                f"(assets: {', '.join(sorted(assets))})"
            )
        built.append(build_processor(settings, processors.processor(settings.name), driving))
    sensors = []
    if built:
        sensors.append(automation_sensor("processing_automation", dg.AssetSelection.assets(*built)))
    return dg.Definitions(assets=built, jobs=[process_on_demand], sensors=sensors)
