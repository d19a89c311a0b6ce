"""The ``rs-assets`` command: what operators do outside the Dagster UI."""

from __future__ import annotations

import contextlib
import json
import logging
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click

from rs_assets.core.errors import RsAssetsError


@click.group()
@click.option("-v", "--verbose", is_flag=True, help="Log debug messages.")
def main(verbose: bool) -> None:
    """rs-assets: Copernicus ground-segment data as Dagster assets."""
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("rs_assets").setLevel(logging.DEBUG if verbose else logging.INFO)


@main.command()
@click.option(
    "--config",
    "config_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Simulator YAML.",
)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8800, show_default=True, type=int)
@click.option(
    "--redirect-port", default=8801, show_default=True, type=int, help="Listener receiving 307 redirects."
)
@click.option("--seed", type=int, help="Override the config's seed.")
@click.option("--live/--no-live", default=True, show_default=True, help="Publish new sessions while running.")
@click.option("--chunk-size", type=int, help="CADIP chunk size in bytes for the default config.")
def simulate(
    config_path: Path | None,
    host: str,
    port: int,
    redirect_port: int,
    seed: int | None,
    live: bool,
    chunk_size: int | None,
) -> None:
    """Serve simulated CADIP, AUXIP and PRIP stations over HTTP until interrupted."""
    from rs_assets.simulator.config import SimulatorConfig, default_config
    from rs_assets.simulator.server import StationSimulator

    if config_path:
        config = SimulatorConfig.load(config_path)
    else:
        config = default_config(live=live, **({"chunk_size": chunk_size} if chunk_size else {}))
    if seed is not None:
        config = config.model_copy(update={"seed": seed})
    simulator = StationSimulator(config, host=host, port=port, redirect_port=redirect_port)
    names = ", ".join(f"{s.name} ({s.kind})" for s in config.stations)
    click.echo(
        f"simulator on {simulator.url} serving {names}; token endpoint {simulator.token_url}", err=True
    )
    with contextlib.suppress(KeyboardInterrupt):
        simulator.serve_forever()


@main.group()
def stations() -> None:
    """Inspect the configured stations."""


@stations.command("check")
@click.option(
    "--file", "stations_file", type=click.Path(dir_okay=False, path_type=Path), help="Stations YAML."
)
@click.option("--reach/--no-reach", default=True, show_default=True, help="Also query each station.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def check_stations(stations_file: Path | None, reach: bool, as_json: bool) -> None:
    """Validate a stations file and check that each station answers an authenticated query."""
    from rs_assets.core.station.client import StationClient
    from rs_assets.core.station.odata import Query
    from rs_assets.settings import Settings, load_stations_file

    try:
        configured = load_stations_file(stations_file) if stations_file else Settings.from_env().stations()
    except RsAssetsError as exc:
        raise click.ClickException(str(exc)) from None
    rows = []
    failed = False
    for station in configured.stations:
        row = {
            "name": station.name,
            "kind": station.kind,
            "base_url": str(station.base_url),
            "status": "valid",
        }
        if reach:
            entity = "Sessions" if station.kind == "cadip" else "Products"
            try:
                client = StationClient(station.client_config())
                client.search(Query(entity, orderby=None), _model_for(station.kind), limit=1)
                row["status"] = "reachable"
            except RsAssetsError as exc:
                row["status"] = f"error: {exc}"
                failed = True
        rows.append(row)
    if as_json:
        click.echo(json.dumps(rows, indent=2))
    else:
        for row in rows:
            click.echo(f"{row['name']:<10} {row['kind']:<6} {row['status']:<10} {row['base_url']}")
    if failed:
        sys.exit(1)


@main.command()
@click.argument("asset")
@click.option("--from", "start", required=True, help="First day, YYYY-MM-DD.")
@click.option("--to", "end", required=True, help="Last day, YYYY-MM-DD (inclusive).")
@click.option("--url", default="http://127.0.0.1:3000", show_default=True, help="The running Dagster UI.")
@click.option("--wait", is_flag=True, help="Follow the backfill with a progress bar until it finishes.")
@click.option("--poll", type=float, default=2.0, show_default=True, help="Seconds between status checks.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def backfill(asset: str, start: str, end: str, url: str, wait: bool, poll: float, as_json: bool) -> None:
    """Launch a backfill of ASSET's daily partitions (e.g. aux_files) on a running instance."""
    import time

    from rs_assets.cli.context import failures_as_exit, progress_bar
    from rs_assets.core.backfill import backfill_status, days, launch_backfill

    with failures_as_exit():
        launched = launch_backfill(url, asset, days(start, end))
        if not as_json:
            click.echo(
                f"backfill {launched.id}: {asset} over {len(launched.partitions)} days ({start} to {end})"
            )
            click.echo(f"follow it at {launched.url}")
        status = None
        if wait:
            with progress_bar(f"backfill {launched.id}", quiet=as_json) as (set_total, advance):
                done = 0
                while True:
                    status = backfill_status(url, launched.id)
                    set_total(status.targeted or len(launched.partitions))
                    for _ in range(status.materialized + status.failed - done):
                        advance()
                    done = status.materialized + status.failed
                    if status.finished:
                        break
                    time.sleep(poll)
    payload: dict = {"backfill_id": launched.id, "partitions": launched.partitions, "url": launched.url}
    if status is not None:
        payload |= {"status": status.status, "materialized": status.materialized, "failed": status.failed}
    if as_json:
        click.echo(json.dumps(payload))
    elif status is not None:
        click.echo(f"{status.status}: {status.materialized} partitions materialized, {status.failed} failed")
    if status is not None and (status.failed or status.status not in ("COMPLETED", "COMPLETED_SUCCESS")):
        sys.exit(1)


@main.command("instance-config")
@click.option("--max-concurrent-runs", default=6, show_default=True, type=click.IntRange(min=1))
@click.option(
    "--postgres-url-env",
    metavar="VARIABLE",
    help="Dagster's storage on PostgreSQL, its URL read from this environment variable (production).",
)
def instance_config_command(max_concurrent_runs: int, postgres_url_env: str | None) -> None:
    """Print the dagster.yaml of an instance (run queue, run monitoring, run retries; storage)."""
    from rs_assets.deployment.instance import instance_yaml

    click.echo(instance_yaml(max_concurrent_runs, postgres_url_env), nl=False)


@main.group("pools")
def pools_group() -> None:
    """The run queue's pool limits on the instance at DAGSTER_HOME."""


@pools_group.command("apply")
@click.option(
    "--conversion", default=2, show_default=True, type=click.IntRange(min=1), help="Conversions at once."
)
@click.option(
    "--processing", default=2, show_default=True, type=click.IntRange(min=1), help="Processing runs at once."
)
@click.option(
    "--limit", "limits", multiple=True, metavar="POOL=N", help="Override one pool's limit (repeatable)."
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def pools_apply_command(conversion: int, processing: int, limits: tuple[str, ...], as_json: bool) -> None:
    """Set each station's pool to its max_parallel_runs, the catalog writer to 1, conversion and processing."""
    from rs_assets.cli.context import emit, failures_as_exit, table
    from rs_assets.deployment.pools import apply_pool_limits, parse_limits, pool_limits
    from rs_assets.settings import Settings

    with failures_as_exit():
        wanted = pool_limits(
            Settings.from_env().stations(),
            conversion=conversion,
            processing=processing,
            overrides=parse_limits(limits),
        )
        with _instance() as instance:
            apply_pool_limits(instance, wanted)
    rows = table("pool", "limit")
    for pool, limit in sorted(wanted.items()):
        rows.add_row(pool, str(limit))
    emit(as_json, wanted, rows, f"{len(wanted)} pool limits set")


@main.command("preflight")
@click.option(
    "--postgres-url-env", metavar="VARIABLE", help="Check Dagster's PostgreSQL, its URL in this variable."
)
@click.option(
    "--dask-workers",
    default=0,
    type=click.IntRange(min=0),
    help="Wait (60 s at most) for this many Dask workers.",
)
def preflight_command(postgres_url_env: str | None, dask_workers: int) -> None:
    """Check what a production start needs before starting it: Dask scheduler, Dagster's PostgreSQL, stations."""
    import os

    from rs_assets.cli.context import failures_as_exit
    from rs_assets.core.errors import ConfigError
    from rs_assets.deployment.preflight import check_dask, check_postgres
    from rs_assets.settings import Settings

    with failures_as_exit():
        settings = Settings.from_env()
        stations = settings.stations()
        click.echo(f"stations: {', '.join(s.name for s in stations.stations)}")
        if postgres_url_env:
            url = os.environ.get(postgres_url_env)
            if not url:
                raise ConfigError(f"{postgres_url_env} (Dagster's PostgreSQL URL) is not set")
            check_postgres(url, postgres_url_env)
            click.echo("Dagster's PostgreSQL: accepts connections")
        if settings.dask_scheduler:
            workers = check_dask(settings.dask_scheduler, workers=dask_workers)
            click.echo(f"Dask scheduler {settings.dask_scheduler}: {workers} workers")


@contextlib.contextmanager
def _instance() -> Iterator[Any]:
    """The Dagster instance at DAGSTER_HOME; an error naming it when its storage cannot be reached."""
    import os

    import dagster as dg

    try:
        instance = dg.DagsterInstance.get()
    except Exception as exc:  # sqlalchemy's, psycopg2's or Dagster's own: the first line names what failed
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        home = os.environ.get("DAGSTER_HOME", "(unset)")
        raise RsAssetsError(f"the Dagster instance at DAGSTER_HOME={home}: {reason}") from None
    with instance:
        yield instance


def _register_operations() -> None:
    from rs_assets.cli.fetching import COMMANDS as FETCHING
    from rs_assets.cli.items import COMMANDS as ITEMS
    from rs_assets.cli.operations import COMMANDS
    from rs_assets.cli.processing import process_group

    for command in [*COMMANDS, *FETCHING, *ITEMS, process_group]:
        main.add_command(command)


_register_operations()


def _model_for(kind: str) -> type:
    from rs_assets.core.station.models import Product, Session

    return Session if kind == "cadip" else Product


if __name__ == "__main__":
    main()
