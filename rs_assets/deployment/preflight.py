"""What a production start checks before it starts the Dagster processes, so that a bad address is one error
naming it rather than a half-started deployment: the Dask scheduler answers (and has workers), Dagster's
PostgreSQL accepts a connection. Passwords never reach a message."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from rs_assets.core.errors import ConfigError


def redacted(url: str) -> str:
    """``url`` with its password, if any, replaced by ``***``."""
    parts = urlsplit(url)
    if not parts.password:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def check_dask(address: str, timeout: float = 10.0, workers: int = 0) -> int:
    """How many workers the scheduler at ``address`` has, once it has at least ``workers`` (waiting up to 60 s);
    an error naming it when it does not answer, or when the workers do not come."""
    from distributed import Client

    where = f"Dask scheduler {address} (RS_ASSETS_DASK_SCHEDULER)"
    try:
        client = Client(address, timeout=timeout, set_as_default=False)
    except (OSError, TimeoutError) as exc:
        raise ConfigError(f"{where} does not answer within {timeout:.0f} s: {type(exc).__name__}") from None
    with client:
        try:
            if workers:
                client.wait_for_workers(workers, timeout=60)
        except (OSError, TimeoutError):
            found = len(client.scheduler_info(n_workers=-1).get("workers", {}))
            raise ConfigError(f"{where} has {found} of {workers} workers after 60 s") from None
        return len(client.scheduler_info(n_workers=-1).get("workers", {}))


DAGSTER_SCHEME = "postgresql+psycopg2"


def check_postgres(url: str, variable: str, timeout: int = 10) -> None:
    """Connect once to Dagster's PostgreSQL; an error naming the server (never the password) when refused.

    The URL names the psycopg2 driver: SQLAlchemy 2.1 reads a bare ``postgresql://`` as psycopg 3, whose
    parameter style Dagster's storage queries do not support."""
    import psycopg2

    scheme, _, rest = url.partition("://")
    if scheme != DAGSTER_SCHEME:
        raise ConfigError(
            f"{variable} must start with {DAGSTER_SCHEME}:// (Dagster's storage needs the psycopg2 driver), "
            f"not {scheme}://"
        )
    try:
        psycopg2.connect(f"postgresql://{rest}", connect_timeout=timeout).close()
    except psycopg2.Error as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(
            f"Dagster's PostgreSQL {redacted(url)} ({variable}) refused the connection: {reason}"
        ) from None
