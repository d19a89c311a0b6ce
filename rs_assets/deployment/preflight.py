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


def check_dask(address: str, timeout: float = 10.0) -> int:
    """How many workers the scheduler at ``address`` has; an error naming it when it does not answer."""
    from distributed import Client

    try:
        with Client(address, timeout=timeout, set_as_default=False) as client:
            return len(client.scheduler_info(n_workers=-1).get("workers", {}))
    except (OSError, TimeoutError) as exc:
        raise ConfigError(
            f"Dask scheduler {address} (RS_ASSETS_DASK_SCHEDULER) does not answer within {timeout:.0f} s: "
            f"{type(exc).__name__}"
        ) from None


def check_postgres(url: str, variable: str, timeout: int = 10) -> None:
    """Connect once to Dagster's PostgreSQL; an error naming the server (never the password) when refused."""
    import psycopg2

    try:
        psycopg2.connect(url, connect_timeout=timeout).close()
    except psycopg2.Error as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(
            f"Dagster's PostgreSQL {redacted(url)} ({variable}) refused the connection: {reason}"
        ) from None
