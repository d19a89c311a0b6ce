from pathlib import Path

import pytest

from rs_assets.core.errors import ConfigError, RsAssetsError
from rs_assets.settings import Settings, load_stations_file, parse_stations

GOOD = """
stations:
  - name: INS
    kind: cadip
    base_url: https://cadip.example.int/odata/v1
    profile: default
    max_parallel_downloads: 3
    trusted_redirect_hosts: [storage.example.int]
    oauth2:
      token_url: https://auth.example.int/token
      client_id: rs
      username: operator
      client_secret_env: INS_SECRET
      password_env: INS_PASSWORD
"""


def test_good_stations_file_builds_clients_with_secrets_from_env(tmp_path: Path) -> None:
    path = tmp_path / "stations.yaml"
    path.write_text(GOOD)
    station = load_stations_file(path).station("INS")
    config = station.client_config({"INS_SECRET": "s3cr3t", "INS_PASSWORD": "pw"})
    assert config.credentials is not None and config.credentials.client_secret == "s3cr3t"
    assert "s3cr3t" not in repr(config) and "pw'" not in repr(config)
    assert config.trusted_redirect_hosts == ("storage.example.int",)


def test_missing_secret_names_station_and_variable(tmp_path: Path) -> None:
    path = tmp_path / "stations.yaml"
    path.write_text(GOOD)
    with pytest.raises(ConfigError, match=r"station 'INS': environment variable INS_SECRET"):
        load_stations_file(path).station("INS").client_config({})


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        (
            {"stations": [{"name": "X1", "kind": "cadi", "base_url": "http://h"}]},
            r"station 'X1' \(entry 1\): field kind",
        ),
        (
            {"stations": [{"name": "X1", "kind": "cadip", "base_url": "not a url"}]},
            r"station 'X1' \(entry 1\): field base_url",
        ),
        (
            {"stations": [{"name": "X1", "kind": "cadip", "base_url": "http://h", "profile": "fast"}]},
            r"field profile: .*unknown capability profile 'fast'",
        ),
        (
            {"stations": [{"name": "X1", "kind": "cadip", "base_url": "http://h", "page_size": 0}]},
            r"field page_size",
        ),
        (
            {"stations": [{"name": "X1", "kind": "cadip", "base_url": "http://h", "colour": "red"}]},
            r"field colour: Extra inputs",
        ),
        ({"stations": [{"kind": "cadip", "base_url": "http://h"}]}, r"station entry 1: field name"),
        ({"stations": [{"name": "A", "kind": "cadip", "base_url": "http://h"}] * 2}, r"repeated: A"),
    ],
)
def test_bad_stations_file_names_station_and_field(document: object, expected: str) -> None:
    with pytest.raises(ConfigError, match=r"stations file s.yaml: .*" + expected):
        parse_stations(document, "s.yaml")


def test_unreadable_or_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_stations_file(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("stations: [\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_stations_file(bad)


def test_unknown_station_lists_the_known_ones() -> None:
    stations = Settings().stations()
    with pytest.raises(
        ConfigError, match="unknown station 'NOPE'; configured stations: INS, MPS, ADGS, PRIP"
    ):
        stations.station("NOPE")


def test_settings_from_env_and_production_needs_a_stations_file() -> None:
    settings = Settings.from_env({"RS_ASSETS_OWNER": "esa", "RS_ASSETS_CATALOG_URL": "http://stac"})
    assert settings.catalog_owner == "esa" and settings.catalog_url == "http://stac"
    with pytest.raises(ConfigError, match="RS_ASSETS_STATIONS_FILE"):
        Settings.from_env({"RS_ASSETS_MODE": "production"})
    with pytest.raises(ConfigError, match="RS_ASSETS_MODE"):
        Settings.from_env({"RS_ASSETS_MODE": "staging"})


def test_backfill_days_are_inclusive_and_checked() -> None:
    from rs_assets.core.backfill import days

    assert days("2026-11-19", "2026-11-21") == ["2026-11-19", "2026-11-20", "2026-11-21"]
    with pytest.raises(RsAssetsError, match="before it starts"):
        days("2026-11-21", "2026-11-19")
    with pytest.raises(RsAssetsError, match="YYYY-MM-DD"):
        days("yesterday", "2026-11-19")
