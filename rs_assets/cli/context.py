"""What the operator commands share: resources built from the same settings as the code location, progress
bars on stderr (so that ``--json`` output on stdout stays clean), and errors as clean exits."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import click
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from rs_assets.core.errors import RsAssetsError

stderr = Console(stderr=True)


def _stdout() -> Console:
    """Tables keep ids whole: piped output is not cut to 80 columns."""
    return Console(width=None if sys.stdout.isatty() else 250)


# The embedded default's local SeaweedFS keys (scripts/lib.sh, README) and the simulator's identity are not
# secrets: the CLI works against a running scripts/dev from any shell.
EMBEDDED_S3_KEYS = {"AWS_ACCESS_KEY_ID": "rsassets", "AWS_SECRET_ACCESS_KEY": "rsassets-local-secret"}


def resources() -> dict[str, Any]:
    """The code location's resources, with S3 keys read from the environment now (no Dagster to resolve them)."""
    from rs_assets.resources.from_settings import build_resources
    from rs_assets.settings import SIMULATOR_PASSWORD_ENV, SIMULATOR_SECRET_ENV, Settings
    from rs_assets.simulator.config import Identity

    try:
        settings = Settings.from_env()
        embedded = settings.mode != "production"
        if embedded:
            identity = Identity()
            os.environ.setdefault(SIMULATOR_SECRET_ENV, identity.client_secret)
            os.environ.setdefault(SIMULATOR_PASSWORD_ENV, identity.password)
        return build_resources(
            settings,
            secret=lambda name: os.environ.get(name) or (EMBEDDED_S3_KEYS.get(name) if embedded else None),
        )
    except (RsAssetsError, ValueError) as exc:
        raise click.ClickException(f"settings: {exc}") from None


class DateTimeParam(click.ParamType):
    """An ISO 8601 datetime, read as the stations write them (UTC when no zone is given)."""

    name = "datetime"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        from rs_assets.core.timeutil import parse_datetime

        try:
            parsed = parse_datetime(value)
        except ValueError as exc:
            self.fail(
                f"{value!r} is not an ISO 8601 datetime such as 2025-08-07T11:51:12.509Z ({exc})", param, ctx
            )
        if parsed is None:
            self.fail("a datetime is required, such as 2025-08-07T11:51:12.509Z", param, ctx)
        return parsed


DATETIME = DateTimeParam()


def services(res: dict[str, Any]) -> Any:
    """The core's ``Services`` from the command's resources, as a run builds them (no pool: no run shares them)."""
    from rs_assets.resources.services import services_of

    return services_of(res["storage"], res["catalog"])


@contextmanager
def failures_as_exit() -> Iterator[None]:
    """Known errors end the command with their message (they name station, item or key) and exit code 1."""
    try:
        yield
    except RsAssetsError as exc:
        raise click.ClickException(str(exc)) from None


@contextmanager
def progress_bar(
    what: str, quiet: bool = False
) -> Iterator[tuple[Callable[[int], None], Callable[..., None]]]:
    """``(set_total, advance)`` for a bar on stderr; hidden when ``quiet`` or stderr is not a terminal."""
    bar = Progress(
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=stderr,
        disable=quiet,
        transient=False,
    )
    with bar:
        task = bar.add_task(what, total=None)

        def set_total(total: int) -> None:
            bar.update(task, total=total)

        def advance(*_: Any) -> None:
            bar.advance(task)

        yield set_total, advance


def emit(as_json: bool, payload: Any, table: Table | None = None, summary: str | None = None) -> None:
    if as_json:
        click.echo(json.dumps(payload, indent=2, default=str))
        return
    console = _stdout()
    if table is not None:
        console.print(table)
    if summary:
        console.print(summary, soft_wrap=True)


def table(*columns: str) -> Table:
    result = Table(show_header=True, header_style="bold")
    for column in columns:
        result.add_column(column, no_wrap=True)
    return result
