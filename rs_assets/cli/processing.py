"""``rs-assets process``: plan a tasktable without touching any service, or run a configured processor."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import click

from rs_assets.cli.context import emit, failures_as_exit, progress_bar, resources, services, stderr, table

_PROGRESS = re.compile(r"Workflow progress: (\d+)%")


def _pairs(values: tuple[str, ...], what: str) -> dict[str, str]:
    pairs = {}
    for value in values:
        name, sep, text = value.partition("=")
        if not sep or not name.strip():
            raise click.BadParameter(f"{value!r} is not NAME=VALUE", param_hint=what)
        pairs[name.strip()] = text.strip()
    return pairs


@click.group("process")
def process_group() -> None:
    """Processors: plan a tasktable, run a configured processor on catalog items."""


@process_group.command("plan")
@click.argument("tasktable")
@click.option("--pipeline", default=None, help="Pipeline to plan (default: the only one).")
@click.option("--unit", default=None, help="Or one unit alone.")
@click.option("--mode", default=None, help="Processing mode.")
@click.option("--var", "variables", multiple=True, help="External variable, NAME=VALUE (repeatable).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def plan_command(
    tasktable: str,
    pipeline: str | None,
    unit: str | None,
    mode: str | None,
    variables: tuple[str, ...],
    as_json: bool,
) -> None:
    """Units, each ADF's searches (CQL2 JSON) and the payload skeleton of TASKTABLE (a file, or a configured
    processor's name), without asking any service: ADF search results stay unresolved."""
    from rs_assets.core.processing.payload import skeleton, to_yaml
    from rs_assets.core.processing.process import Processor
    from rs_assets.core.processing.queries import adf_queries
    from rs_assets.core.processing.tasktable import TasktableError, load_tasktable

    given = _pairs(variables, "--var")
    with failures_as_exit():
        if Path(tasktable).exists() or tasktable.endswith(".json"):
            processor = Processor(Path(tasktable).name, load_tasktable(tasktable))
        else:
            from rs_assets.settings import Settings

            processor = Settings.from_env().processors().processor(tasktable)
        plan = processor.plan(pipeline=pipeline, unit=unit, mode=mode)
    searches: list[dict[str, Any]] = []
    for adf in plan.adfs:
        try:
            queries = adf_queries(
                processor.tasktable,
                adf,
                given,
                lambda p: processor.adf_collection(
                    str(p.get("product_type") or "") or None, given.get("satellite")
                ),
            )
        except TasktableError as exc:
            searches.append({"adf": adf, "unresolved": str(exc)})
            continue
        if not queries:
            searches.append({"adf": adf, "unresolved": "the tasktable gives it no alternative"})
        searches += [
            {
                "adf": adf,
                "order": q.order,
                "query": q.name,
                "timeout_seconds": q.timeout_seconds,
                "search": q.body(),
            }
            for q in queries
        ]
    payload = skeleton(plan)
    if as_json:
        emit(True, {"plan": plan.label, "units": plan.rows(), "adfs": searches, "payload": payload})
        return
    units = table("step", "unit", "module", "inputs", "ADFs", "outputs")
    for row in plan.rows():
        units.add_row(
            str(row["step"]),
            row["unit"],
            row["module"],
            ", ".join(f"{k} <- {v}" for k, v in row["inputs"].items()),
            ", ".join(row["adfs"]) or "-",
            ", ".join(f"{k} ({v})" for k, v in row["outputs"].items()),
        )
    emit(False, None, units, plan.label)
    for search in searches:
        if "unresolved" in search:
            click.echo(f"ADF {search['adf']}: unresolved: {search['unresolved']}")
        else:
            click.echo(
                f"ADF {search['adf']}, alternative {search['order']} ({search['query']}, timeout "
                f"{search['timeout_seconds']:g} s), STAC search:\n{json.dumps(search['search'], indent=2)}"
            )
    click.echo("payload skeleton:\n" + to_yaml(payload))


@process_group.command("run")
@click.argument("processor")
@click.option("--input", "inputs", multiple=True, required=True, help="[INPUT=]COLLECTION/ITEM (repeatable).")
@click.option("--pipeline", default=None, help="Pipeline to run (default: the processor's).")
@click.option("--unit", default=None, help="Or one unit alone.")
@click.option("--mode", default=None, help="Processing mode (default: the processor's).")
@click.option("--start", default=None, help="start_datetime (default: from the first input).")
@click.option("--end", default=None, help="end_datetime (default: from the first input).")
@click.option("--satellite", default=None, help="satellite (default: the first input's platform).")
@click.option(
    "--output", "outputs", multiple=True, help="Output product type to collection, TYPE=COLLECTION."
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def run_command(
    processor: str,
    inputs: tuple[str, ...],
    pipeline: str | None,
    unit: str | None,
    mode: str | None,
    start: str | None,
    end: str | None,
    satellite: str | None,
    outputs: tuple[str, ...],
    as_json: bool,
) -> None:
    """Run PROCESSOR (a configured one) on catalog items against the configured platform; publish its outputs."""
    from rs_assets.core.processing.process import Request, parse_input

    collections = _pairs(outputs, "--output")
    res = resources()
    with failures_as_exit():
        configured = res["processing"].processor(processor)
        plan = configured.plan(pipeline=pipeline, unit=unit, mode=mode)
        request = Request(
            configured,
            plan,
            [parse_input(text, plan.inputs) for text in inputs],
            {"start_datetime": start, "end_datetime": end, "satellite": satellite},
            collections,
        )
        run = res["processing"].processing(services(res), res["storage"], res["stations"], _dask_client())
        with progress_bar(f"{processor} on {request.inputs[0].item_id}", quiet=as_json) as (
            set_total,
            advance,
        ):
            set_total(100)
            done = 0

            def log(message: str) -> None:
                nonlocal done
                found = _PROGRESS.search(message)
                if found and int(found[1]) > done:
                    advance(int(found[1]) - done)
                    done = int(found[1])
                elif not message.startswith("eopf:"):
                    stderr.print(message, soft_wrap=True, markup=False, highlight=False)

            outcome = run.run(request, log)
            advance(100 - done)
    catalog = run.catalog
    published = [
        {"collection": catalog.wire_id(c), "id": item["id"], "url": catalog.item_url(c, item["id"])}
        for c, item in outcome.published
    ]
    payload = {
        "processor": processor,
        "plan": plan.label,
        "skipped": outcome.skipped,
        "adfs": {adf.name: f"{adf.collection}/{adf.item['id']}" for adf in outcome.adfs},
        "payload": outcome.payload_href,
        "published": published,
        "seconds": {k: round(v, 2) for k, v in outcome.seconds.items()},
    }
    rows = table("collection", "item", "url")
    for entry in published:
        rows.add_row(entry["collection"], entry["id"], entry["url"])
    summary = (
        f"{request.inputs[0].item_id}: outputs already published, nothing done"
        if outcome.skipped
        else f"{len(published)} items published ({plan.label}) in {outcome.seconds.get('total', 0):.1f} s; "
        f"payload {outcome.payload_href}"
    )
    emit(as_json, payload, rows, summary)


def _dask_client() -> Any:
    """A Dask client when ``RS_ASSETS_DASK_SCHEDULER`` names a cluster, as the code location's resource has."""
    from rs_assets.settings import Settings

    address = Settings.from_env().dask_scheduler
    if not address:
        return None
    from distributed import Client

    return Client(address)
