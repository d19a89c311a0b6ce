"""Shared fixtures: the simulator over real HTTP, and the real services started by scripts/test."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from rs_assets.core.http import RetryPolicy
from rs_assets.core.station.auth import OAuth2Credentials
from rs_assets.core.station.client import StationClient, StationConfig
from rs_assets.core.station.models import File
from rs_assets.core.station.odata import PROFILES
from rs_assets.simulator.config import Faults, SimStation, SimulatorConfig
from rs_assets.simulator.server import StationSimulator

HISTORY_END = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
FAST_RETRY = RetryPolicy(attempts=5, backoff=0.05, max_backoff=0.2)
# The S3 keys scripts/test starts SeaweedFS with.
TEST_S3_KEYS = (
    os.environ.get("AWS_ACCESS_KEY_ID", "rsassets"),
    os.environ.get("AWS_SECRET_ACCESS_KEY", "rsassets-local-secret"),
)


def require_service(variable: str) -> str:
    """A service URL that scripts/test exports; outside it the test is skipped, inside it must be there."""
    value = os.environ.get(variable)
    if value:
        return value
    if os.environ.get("RS_TEST_REQUIRE_SERVICES") or os.environ.get("CI"):
        pytest.fail(f"{variable} is not set: run the suite through scripts/test, which starts the services")
    pytest.skip(f"{variable} not set (run scripts/test to start the services)")


@pytest.fixture(scope="session")
def s3_endpoint() -> str:
    return require_service("RS_TEST_S3_ENDPOINT")


@pytest.fixture(scope="session")
def stac_api_url() -> str:
    return require_service("RS_TEST_STAC_API_URL")


@pytest.fixture
def unique() -> str:
    return uuid.uuid4().hex[:10]


SimulatorFactory = Callable[..., StationSimulator]


@pytest.fixture
def simulator_factory() -> Iterator[SimulatorFactory]:
    started: list[StationSimulator] = []

    def start(*stations: SimStation, **config: object) -> StationSimulator:
        config.setdefault("history_end", HISTORY_END)
        simulator = StationSimulator(SimulatorConfig(stations=list(stations), **config)).start()  # type: ignore[arg-type]
        started.append(simulator)
        return simulator

    yield start
    for simulator in started:
        simulator.stop()


def client_for(simulator: StationSimulator, name: str, **overrides: object) -> StationClient:
    identity = simulator.config.identity
    credentials = OAuth2Credentials(
        token_url=simulator.token_url,
        client_id=identity.client_id,
        username=identity.username,
        client_secret=identity.client_secret,
        password=identity.password,
    )
    station = simulator.config.station(name)
    options: dict[str, object] = {"profile": PROFILES[station.profile], "retry": FAST_RETRY} | overrides
    return StationClient(
        StationConfig(
            name=name,
            kind=station.kind,
            base_url=simulator.station_url(name),
            credentials=credentials,
            **options,
        )  # type: ignore[arg-type]
    )


def one_file_station(
    simulator_factory: SimulatorFactory, size: int, faults: Faults | None = None, **config: object
) -> tuple[StationSimulator, StationClient, File]:
    """A CADIP station ``INS`` with one session whose first chunk has ``size`` bytes: the download tests' setup."""
    station = SimStation(
        name="INS",
        kind="cadip",
        sessions=1,
        retransfers=0,
        channels=1,
        blocks_per_channel=2,
        chunk_size=size,
        faults=faults or Faults(),
    )
    sim = simulator_factory(station, **config)
    client = client_for(sim, "INS")
    return sim, client, next(f for f in client.files(None) if f.Size == size)


@pytest.fixture
def dask_cluster() -> Iterator[Any]:
    """A real Dask cluster whose workers find S3 credentials in their own environment."""
    distributed = pytest.importorskip("distributed")
    previous = {k: os.environ.get(k) for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")}
    os.environ.update({"AWS_ACCESS_KEY_ID": TEST_S3_KEYS[0], "AWS_SECRET_ACCESS_KEY": TEST_S3_KEYS[1]})
    cluster = distributed.LocalCluster(
        n_workers=1, threads_per_worker=2, processes=True, host="127.0.0.1", dashboard_address=None
    )
    try:
        yield cluster
    finally:
        cluster.close()
        for key, value in previous.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
