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


OAUTH = {"token_url": "http://t", "client_id": "c", "username": "u", "password_env": "P"}
BASIC = {"username": "u", "password_env": "P"}


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
        (
            {
                "stations": [
                    {"name": "ADGS", "kind": "auxip", "base_url": "http://h"},
                    {"name": "adgs", "kind": "auxip", "base_url": "http://h2"},
                ]
            },
            r"unique \(in any case\); repeated: ADGS, adgs",
        ),
        (
            {"stations": [{"name": "ADGS-2", "kind": "auxip", "base_url": "http://h"}]},
            r"station 'ADGS-2' \(entry 1\): field name: String should match pattern",
        ),
        (
            {"stations": [{"name": "X1", "kind": "cadip", "base_url": "http://h", "kerberos": {}}]},
            r"station 'X1' \(entry 1\): field kerberos: Extra inputs are not permitted",
        ),
        (
            {
                "stations": [
                    {
                        "name": "X1",
                        "kind": "cadip",
                        "base_url": "http://h",
                        "oauth2": OAUTH | {"grant": "implicit"},
                    }
                ]
            },
            r"station 'X1' \(entry 1\): field oauth2.grant: Input should be 'password' or 'client_credentials'",
        ),
        (
            {
                "stations": [
                    {"name": "X1", "kind": "cadip", "base_url": "http://h", "basic": {"username": "u"}}
                ]
            },
            r"station 'X1' \(entry 1\): field basic.password_env: Field required",
        ),
        (
            {
                "stations": [
                    {
                        "name": "X1",
                        "kind": "cadip",
                        "base_url": "http://h",
                        "oauth2": {"token_url": "http://t", "client_id": "c"},
                    }
                ]
            },
            r"station 'X1' \(entry 1\): field oauth2: Value error, the password grant needs username and password_env",
        ),
        (
            {
                "stations": [
                    {
                        "name": "X1",
                        "kind": "cadip",
                        "base_url": "http://h",
                        "oauth2": {"token_url": "http://t", "client_id": "c", "grant": "client_credentials"},
                    }
                ]
            },
            r"field oauth2: Value error, the client_credentials grant needs client_secret_env",
        ),
        (
            {
                "stations": [
                    {"name": "X1", "kind": "cadip", "base_url": "http://h", "oauth2": OAUTH, "basic": BASIC}
                ]
            },
            r"station 'X1' \(entry 1\): field <entry>: Value error, give oauth2 or basic, not both",
        ),
        (
            {"stations": [{"name": "X1", "kind": "cadip", "base_url": "http://h", "read_timeout": 0}]},
            r"station 'X1' \(entry 1\): field read_timeout: Input should be greater than 0",
        ),
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
        ConfigError, match="unknown station 'NOPE'; configured stations: INS, MPS, ADGS, LTA, PRIP, PRIP_S3"
    ):
        stations.station("NOPE")


def test_settings_from_env_and_production_needs_a_stations_file() -> None:
    settings = Settings.from_env({"RS_ASSETS_OWNER": "esa", "RS_ASSETS_CATALOG_URL": "http://stac"})
    assert settings.catalog_owner == "esa" and settings.catalog_url == "http://stac"
    with pytest.raises(ConfigError, match="RS_ASSETS_STATIONS_FILE"):
        Settings.from_env({"RS_ASSETS_MODE": "production"})
    with pytest.raises(ConfigError, match="RS_ASSETS_MODE"):
        Settings.from_env({"RS_ASSETS_MODE": "staging"})
    assert Settings.from_env({"RS_ASSETS_KEEP_STAGED_DAYS": "2.5"}).keep_staged_days == 2.5
    with pytest.raises(ConfigError, match="RS_ASSETS_KEEP_STAGED_DAYS"):
        Settings.from_env({"RS_ASSETS_KEEP_STAGED_DAYS": "-1"})


def test_collection_names_come_from_the_settings_and_bad_patterns_name_their_variable() -> None:
    from rs_assets.core.catalog.mapping import Platform
    from rs_assets.resources.from_settings import build_resources

    settings = Settings.from_env(
        {
            "RS_ASSETS_COLLECTION_AUX": "sentinel-{mission}-aux",
            "RS_ASSETS_COLLECTION_PRIP": "legacy-{product_type}",
        }
    )
    names = build_resources(settings, secret=lambda name: None)["catalog"].names()
    assert names.for_aux(Platform(1, "A")) == "sentinel-1-aux"
    assert names.for_prip(Platform(1, "A"), "IW_GRDH_1S") == "legacy-iw_grdh_1s"
    assert names.for_session(Platform(1, "A")) == "s01-cadip-session", "the RS default where nothing is set"
    with pytest.raises(
        ConfigError, match=r"RS_ASSETS_COLLECTION_CADIP: .*'s{orbit}' is not a collection pattern"
    ):
        Settings.from_env({"RS_ASSETS_COLLECTION_CADIP": "s{orbit}"})


def test_backfill_days_are_inclusive_and_checked() -> None:
    from rs_assets.core.backfill import days

    assert days("2026-11-19", "2026-11-21") == ["2026-11-19", "2026-11-20", "2026-11-21"]
    with pytest.raises(RsAssetsError, match="before it starts"):
        days("2026-11-21", "2026-11-19")
    with pytest.raises(RsAssetsError, match="YYYY-MM-DD"):
        days("yesterday", "2026-11-19")


def test_client_credentials_public_clients_and_basic_auth_build_their_credentials() -> None:
    from rs_assets.core.station.auth import BasicCredentials, OAuth2Credentials

    document = {
        "stations": [
            {
                "name": "CC",
                "kind": "auxip",
                "base_url": "http://h",
                "connect_timeout": 3,
                "read_timeout": 30,
                "oauth2": {
                    "token_url": "http://t",
                    "client_id": "c",
                    "grant": "client_credentials",
                    "client_secret_env": "S",
                },
            },
            {"name": "PUB", "kind": "auxip", "base_url": "http://h", "oauth2": OAUTH},
            {"name": "BAS", "kind": "prip", "base_url": "http://h", "basic": BASIC},
        ]
    }
    stations = parse_stations(document, "s.yaml")
    environ = {"S": "client-secret", "P": "pw"}
    client = stations.station("CC").client_config(environ)
    assert isinstance(client.credentials, OAuth2Credentials)
    assert (client.credentials.grant, client.credentials.client_secret) == (
        "client_credentials",
        "client-secret",
    )
    assert (client.connect_timeout, client.read_timeout) == (3, 30)
    public = stations.station("PUB").client_config(environ).credentials
    assert isinstance(public, OAuth2Credentials) and public.client_secret == "" and public.password == "pw"
    basic = stations.station("BAS").client_config(environ).credentials
    assert basic == BasicCredentials("u", "pw") and "pw" not in repr(basic)
    with pytest.raises(
        ConfigError, match=r"station 'BAS': environment variable P \(basic auth password\) is not set"
    ):
        stations.station("BAS").client_config({})
