import socket

import pytest
import yaml

from rs_assets.core.errors import ConfigError
from rs_assets.deployment.instance import instance_config
from rs_assets.deployment.pools import parse_limits, pool_limits
from rs_assets.deployment.preflight import check_dask, check_postgres, redacted
from rs_assets.settings import parse_stations

STATIONS = parse_stations(
    yaml.safe_load(
        """
stations:
  - {name: INS, kind: cadip, base_url: "https://cadip.example.int/odata/v1", max_parallel_runs: 2}
  - {name: ADGS, kind: auxip, base_url: "https://auxip.example.int/odata/v1"}
"""
    ),
    "stations.yaml",
)


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_each_station_pool_takes_its_max_parallel_runs_and_the_shared_pools_their_sizes() -> None:
    assert pool_limits(STATIONS, conversion=3, processing=2) == {
        "station-INS": 2,
        "station-ADGS": 1,
        "catalog": 1,
        "conversion": 3,
        "processing": 2,
    }
    assert pool_limits(STATIONS, overrides={"station-ADGS": 4})["station-ADGS"] == 4


def test_a_limit_for_a_station_the_stations_file_does_not_name_is_refused_naming_it() -> None:
    with pytest.raises(ConfigError, match=r"station-MTI: no such pool \(the stations file names INS, ADGS"):
        pool_limits(STATIONS, overrides={"station-MTI": 1})
    for bad in ("station-INS", "station-INS=0", "=2", "conversion=two"):
        with pytest.raises(ConfigError, match="expected POOL=N"):
            parse_limits([bad])
    assert parse_limits(["station-INS=2", "conversion=4"]) == {"station-INS": 2, "conversion": 4}


def test_the_production_instance_reads_its_postgres_url_from_the_environment() -> None:
    config = instance_config(postgres_url_env="RS_ASSETS_DAGSTER_PG_URL")
    assert config["storage"] == {"postgres": {"postgres_url": {"env": "RS_ASSETS_DAGSTER_PG_URL"}}}
    assert "storage" not in instance_config(), "one machine keeps Dagster's SQLite storage"
    assert config["run_retries"]["enabled"] and config["run_monitoring"]["enabled"]


def test_a_dask_scheduler_that_does_not_answer_is_named() -> None:
    address = f"tcp://127.0.0.1:{closed_port()}"
    with pytest.raises(ConfigError, match=f"Dask scheduler {address} .* does not answer"):
        check_dask(address, timeout=2)


def test_a_postgres_that_refuses_is_named_without_its_password() -> None:
    url = f"postgresql+psycopg2://dagster:s3cr3t@127.0.0.1:{closed_port()}/dagster"
    with pytest.raises(ConfigError, match="refused the connection") as refused:
        check_postgres(url, "RS_ASSETS_DAGSTER_PG_URL", timeout=2)
    assert "s3cr3t" not in str(refused.value) and "dagster:***@127.0.0.1" in str(refused.value)
    assert redacted("postgresql://u@h/db") == "postgresql://u@h/db"
    with pytest.raises(ConfigError, match=r"must start with postgresql\+psycopg2://"):
        check_postgres("postgresql://u:p@h/db", "RS_ASSETS_DAGSTER_PG_URL")
