"""Typed settings: the embedded default (simulator, local S3, SQLite catalog) or production (a stations file).

Secrets are never values here: the stations file names the environment variables that hold them, and they
are read only when a client is built, so a bad or missing secret fails at use with the station's name.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, HttpUrl, ValidationError, field_validator, model_validator

from rs_assets.core.catalog.mapping import CollectionNames, collection_pattern_problem
from rs_assets.core.errors import ConfigError, RsAssetsError
from rs_assets.core.processing.process import Processor
from rs_assets.core.processing.tasktable import load_tasktable
from rs_assets.core.station.auth import BasicCredentials, OAuth2Credentials
from rs_assets.core.station.client import StationConfig
from rs_assets.core.station.odata import PROFILES
from rs_assets.simulator.config import S1_AUX_TYPES, S2_S3_AUX_TYPES


def _secret(station: str, variable: str, what: str, environ: Mapping[str, str]) -> str:
    """A secret from the environment; missing, the error names the station and the variable, never a value."""
    value = environ.get(variable)
    if not value:
        raise ConfigError(f"station {station!r}: environment variable {variable} ({what}) is not set")
    return value


class OAuth2Settings(BaseModel):
    """OAuth2: the password grant (a user's), or client credentials (the client's own); a public client has no
    secret."""

    model_config = ConfigDict(extra="forbid")

    token_url: HttpUrl
    grant: Literal["password", "client_credentials"] = "password"
    client_id: str = Field(min_length=1)
    username: str | None = Field(None, min_length=1, description="password grant: the user")
    client_secret_env: str | None = Field(
        None,
        min_length=1,
        description="name of the env var holding the client secret (none: a public client)",
    )
    password_env: str | None = Field(
        None, min_length=1, description="password grant: name of the env var holding the password"
    )
    scope: str | None = None
    token_request_authorization_env: str | None = Field(
        None, description="env var holding an extra Authorization header some token endpoints require"
    )

    @model_validator(mode="after")
    def _grant_needs(self) -> OAuth2Settings:
        if self.grant == "password":
            missing = [f for f in ("username", "password_env") if getattr(self, f) is None]
            if missing:
                raise ValueError(f"the password grant needs {' and '.join(missing)}")
        elif self.client_secret_env is None:
            raise ValueError(
                "the client_credentials grant needs client_secret_env (a public client has none)"
            )
        return self

    def credentials(self, station: str, environ: Mapping[str, str]) -> OAuth2Credentials:
        def secret(variable: str | None) -> str:
            return _secret(station, variable, "oauth2 secret", environ) if variable else ""

        return OAuth2Credentials(
            token_url=str(self.token_url),
            client_id=self.client_id,
            username=self.username or "",
            client_secret=secret(self.client_secret_env),
            password=secret(self.password_env),
            scope=self.scope,
            token_request_authorization=secret(self.token_request_authorization_env) or None,
            grant=self.grant,
        )


class BasicSettings(BaseModel):
    """HTTP basic authentication: a user and the env var holding its password."""

    model_config = ConfigDict(extra="forbid")

    username: str = Field(min_length=1)
    password_env: str = Field(min_length=1, description="name of the env var holding the password")

    def credentials(self, station: str, environ: Mapping[str, str]) -> BasicCredentials:
        return BasicCredentials(
            self.username, _secret(station, self.password_env, "basic auth password", environ)
        )


class StationSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(
        pattern=r"^[A-Za-z][A-Za-z0-9_]*$",
        description="letters, digits and underscores: it names the station's assets, jobs, sensors and pool",
    )
    kind: Literal["cadip", "auxip", "prip"]
    base_url: HttpUrl
    oauth2: OAuth2Settings | None = None
    basic: BasicSettings | None = None
    profile: str = "default"
    max_parallel_downloads: int = Field(4, ge=1, le=64)
    max_parallel_runs: int = Field(
        1,
        ge=1,
        le=16,
        description="runs that talk to the station at once: its pool's limit (rs-assets pools apply)",
    )
    trusted_redirect_hosts: list[str] = Field(default_factory=list)
    page_size: int = Field(1000, ge=1, le=10_000)
    safety_limit: int = Field(100_000, ge=1)
    product_types: list[str] = Field(
        default_factory=list,
        description="the product types it serves, for ValCover and ADF staging (empty: all)",
    )
    convert: bool = Field(True, description="PRIP: convert its products to EOPF Zarr")
    connect_timeout: float = Field(10.0, gt=0, description="seconds to connect to the station")
    read_timeout: float = Field(120.0, gt=0, description="seconds without a byte from the station")

    @model_validator(mode="after")
    def _one_auth(self) -> StationSettings:
        if self.oauth2 is not None and self.basic is not None:
            raise ValueError("give oauth2 or basic, not both")
        return self

    @field_validator("profile")
    @classmethod
    def _known_profile(cls, value: str) -> str:
        if value not in PROFILES:
            raise ValueError(f"unknown capability profile {value!r}; known: {', '.join(sorted(PROFILES))}")
        return value

    def client_config(self, environ: Mapping[str, str] | None = None) -> StationConfig:
        environ = os.environ if environ is None else environ
        return StationConfig(
            name=self.name,
            kind=self.kind,
            base_url=str(self.base_url),
            credentials=(
                self.oauth2.credentials(self.name, environ)
                if self.oauth2
                else self.basic.credentials(self.name, environ)
                if self.basic
                else None
            ),
            profile=PROFILES[self.profile],
            page_size=self.page_size,
            safety_limit=self.safety_limit,
            trusted_redirect_hosts=tuple(self.trusted_redirect_hosts),
            max_parallel_downloads=self.max_parallel_downloads,
            product_types=tuple(self.product_types),
            connect_timeout=self.connect_timeout,
            read_timeout=self.read_timeout,
        )


class StationsFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    stations: list[StationSettings]

    @model_validator(mode="after")
    def _unique(self) -> StationsFile:
        _repeated([s.name for s in self.stations], "station")
        return self

    def station(self, name: str) -> StationSettings:
        for station in self.stations:
            if station.name == name:
                return station
        known = ", ".join(s.name for s in self.stations) or "none"
        raise ConfigError(f"unknown station {name!r}; configured stations: {known}")

    def of_kind(self, kind: str) -> list[StationSettings]:
        return [s for s in self.stations if s.kind == kind]


def parse_stations(raw: object, source: str) -> StationsFile:
    """Validate a stations document, naming the station and field of the first problems found."""
    try:
        return StationsFile.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(f"stations file {source}: " + _problems(exc, raw, "station")) from None


def _problems(exc: ValidationError, raw: object, noun: str) -> str:
    """Each problem of a ``{noun}s: [...]`` document, naming the entry (by its name when it has one) and field."""
    entries = raw.get(f"{noun}s") if isinstance(raw, dict) else None
    problems = []
    for error in exc.errors():
        loc = list(error["loc"])
        where = ""
        if len(loc) >= 2 and loc[0] == f"{noun}s" and isinstance(loc[1], int):
            index = loc[1]
            entry = entries[index] if isinstance(entries, list) and index < len(entries) else None
            name = entry.get("name") if isinstance(entry, dict) else None
            where = f"{noun} {name!r} (entry {index + 1})" if name else f"{noun} entry {index + 1}"
            loc = loc[2:]
        field = ".".join(str(p) for p in loc) or "<entry>"
        problems.append(f"{where + ': ' if where else ''}field {field}: {error['msg']}")
    return "; ".join(problems)


def _repeated(names: list[str], what: str) -> None:
    """Names must differ, in any case: they become asset keys and job names, which are lower case."""
    lowered = [n.lower() for n in names]
    repeated = sorted({n for n in names if lowered.count(n.lower()) > 1})
    if repeated:
        raise ValueError(f"{what} names must be unique (in any case); repeated: {', '.join(repeated)}")


def load_stations_file(path: str | Path) -> StationsFile:
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"stations file {path} does not exist") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"stations file {path} is not valid YAML: {exc}") from None
    return parse_stations(raw, str(path))


class ProcessorSettings(BaseModel):
    """One processor: its RS tasktable, the run it makes, the inputs that drive it, where its products go."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$", description="also names its asset: processed_{name}")
    tasktable: Path = Field(description="RS tasktable JSON, relative to the processors file")
    pipeline: str | None = None
    unit: str | None = None
    mode: str | None = Field(None, description="processing mode (tasktable product uses name their modes)")
    modules: dict[str, str] = Field(
        default_factory=dict, description="unit name -> module, over the tasktable's"
    )
    input: str | None = Field(
        None, description="pipeline input fed by the driving item (default: the only one)"
    )
    input_collections: list[str] = Field(default_factory=list, description="collections of the driving items")
    input_product_types: list[str] = Field(default_factory=list)
    driven_by: str = Field("zarr_products", description="asset whose partitions' items drive it")
    outputs: dict[str, str] = Field(
        default_factory=dict, description="output product type (or *) -> collection"
    )
    adf_collections: dict[str, str] = Field(
        default_factory=dict, description="ADF product type (or *) -> collection"
    )
    parameters: dict[str, Any] = Field(default_factory=dict, description="passed to every processing unit")
    systematic: bool = Field(
        True, description="run when a driving item is published (declarative automation)"
    )
    timeout_seconds: float = Field(3600.0, gt=0)

    def processor(self, base: Path) -> Processor:
        """The core processor; its tasktable is read and its configured run planned, or the error names it."""
        from rs_assets.core.catalog.output_rules import OutputRule

        path = (self.tasktable if self.tasktable.is_absolute() else base / self.tasktable).resolve()
        try:
            processor = Processor(
                name=self.name,
                tasktable=load_tasktable(path),
                pipeline=self.pipeline,
                unit=self.unit,
                mode=self.mode,
                modules=dict(self.modules),
                outputs=[OutputRule(k, v or None) for k, v in self.outputs.items()],
                adf_collections=dict(self.adf_collections),
                parameters=dict(self.parameters),
                timeout_seconds=self.timeout_seconds,
            )
            plan = processor.plan()
        except RsAssetsError as exc:
            raise ConfigError(f"processor {self.name!r}: {exc}") from None
        if self.input is not None and self.input not in plan.inputs:
            raise ConfigError(
                f"processor {self.name!r}: field input: {self.input!r} is not an input of {plan.label} "
                f"(inputs: {', '.join(plan.inputs)})"
            )
        if self.input is None and len(plan.inputs) != 1:
            raise ConfigError(
                f"processor {self.name!r}: field input: {plan.label} takes {len(plan.inputs)} inputs "
                f"({', '.join(plan.inputs)}); name the one its driving items feed"
            )
        return processor

    def driving_input(self, processor: Processor) -> str:
        return self.input or processor.plan().inputs[0]


class ProcessorsFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    processors: list[ProcessorSettings] = Field(default_factory=list)
    base: Path = Field(Path("."), exclude=True)

    @model_validator(mode="after")
    def _unique(self) -> ProcessorsFile:
        _repeated([p.name for p in self.processors], "processor")
        return self

    def settings(self, name: str) -> ProcessorSettings:
        for processor in self.processors:
            if processor.name == name:
                return processor
        known = ", ".join(p.name for p in self.processors) or "none"
        raise ConfigError(f"unknown processor {name!r}; configured processors: {known}")

    def processor(self, name: str) -> Processor:
        return self.settings(name).processor(self.base)


def load_processors_file(path: str | Path) -> ProcessorsFile:
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except FileNotFoundError:
        raise ConfigError(f"processors file {path} does not exist") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"processors file {path} is not valid YAML: {exc}") from None
    try:
        processors = ProcessorsFile.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(f"processors file {path}: " + _problems(exc, raw, "processor")) from None
    processors.base = path.parent
    for processor in processors.processors:
        processor.processor(processors.base)
    return processors


DEFAULT_PROCESSORS = Path(__file__).parent / "data" / "processors.yaml"
SIMULATOR_SECRET_ENV = "RS_SIMULATOR_CLIENT_SECRET"
SIMULATOR_PASSWORD_ENV = "RS_SIMULATOR_PASSWORD"


def simulator_stations(simulator_url: str) -> StationsFile:
    """The stations the embedded simulator serves (see ``simulator.config.default_config``)."""
    root = simulator_url.rstrip("/")
    oauth2 = {
        "token_url": f"{root}/auth/token",
        "client_id": "rs-assets",
        "username": "operator",
        "client_secret_env": SIMULATOR_SECRET_ENV,
        "password_env": SIMULATOR_PASSWORD_ENV,
    }
    entries: list[dict[str, Any]] = [
        {"name": "INS", "kind": "cadip", "profile": "default"},
        {"name": "MPS", "kind": "cadip", "profile": "mps"},
        {"name": "ADGS", "kind": "auxip", "profile": "default", "product_types": [*S1_AUX_TYPES, "AUX_DEM"]},
        {"name": "LTA", "kind": "auxip", "profile": "default", "product_types": S2_S3_AUX_TYPES},
        {"name": "PRIP", "kind": "prip", "profile": "default", "product_types": ["IW_GRDH_1S"]},
        # Its stand-in products are staged and published, not converted: they are not real SAFE products.
        {
            "name": "PRIP_S3",
            "kind": "prip",
            "profile": "default",
            "product_types": ["OL_1_EFR___"],
            "convert": False,
        },
    ]
    return parse_stations(
        {"stations": [{**e, "base_url": f"{root}/{e['name']}/odata/v1", "oauth2": oauth2} for e in entries]},
        "<embedded simulator>",
    )


ALERT_WEBHOOK_VAR = "RS_ASSETS_ALERT_WEBHOOK"


class Settings(BaseModel):
    """Everything the code location needs, read once from the environment."""

    model_config = ConfigDict(extra="forbid")

    mode: Literal["embedded", "production"] = "embedded"
    data_dir: Path = Path(".data/dev")
    simulator_url: str = "http://127.0.0.1:8800"
    stations_file: Path | None = None
    s3_endpoint_url: str | None = "http://127.0.0.1:8333"
    s3_region: str = "us-east-1"
    staging_bucket: str = "rs-staging"
    bucket_rules_file: Path | None = None
    partitions_start: str = "2025-01-01"
    catalog_url: str | None = None
    catalog_owner: str = "copernicus"
    catalog_owner_prefix: bool = True
    dask_scheduler: str | None = None
    processors_file: Path | None = None
    keep_staged_days: float = Field(0.0, ge=0)
    collection_aux: str = CollectionNames.aux
    collection_cadip: str = CollectionNames.cadip
    collection_prip: str = CollectionNames.prip
    ui_url: str = "http://127.0.0.1:3000"
    alert_webhook: bool = False  # RS_ASSETS_ALERT_WEBHOOK is set; the URL itself is a secret, read as one
    session_freshness_minutes: float = Field(30.0, gt=0)
    aux_day_deadline_hour: int = Field(6, ge=0, le=23)

    @field_validator("collection_aux", "collection_cadip", "collection_prip")
    @classmethod
    def _names_collections(cls, pattern: str) -> str:
        problem = collection_pattern_problem(pattern)
        if problem:
            raise ValueError(problem)
        return pattern

    @model_validator(mode="after")
    def _production_needs_stations(self) -> Settings:
        if self.mode == "production" and self.stations_file is None:
            raise ValueError("production mode needs RS_ASSETS_STATIONS_FILE")
        return self

    @property
    def catalog_sqlite_path(self) -> Path:
        return self.data_dir / "catalog.sqlite"

    def stations(self) -> StationsFile:
        if self.stations_file is not None:
            return load_stations_file(self.stations_file)
        return simulator_stations(self.simulator_url)

    def processors(self) -> ProcessorsFile:
        return load_processors_file(self.processors_file or DEFAULT_PROCESSORS)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        environ = os.environ if environ is None else environ
        names = {
            "mode": "RS_ASSETS_MODE",
            "data_dir": "RS_ASSETS_DATA_DIR",
            "simulator_url": "RS_ASSETS_SIMULATOR_URL",
            "stations_file": "RS_ASSETS_STATIONS_FILE",
            "s3_endpoint_url": "RS_ASSETS_S3_ENDPOINT",
            "s3_region": "RS_ASSETS_S3_REGION",
            "staging_bucket": "RS_ASSETS_STAGING_BUCKET",
            "bucket_rules_file": "RS_ASSETS_BUCKET_RULES",
            "partitions_start": "RS_ASSETS_PARTITIONS_START",
            "catalog_url": "RS_ASSETS_CATALOG_URL",
            "catalog_owner": "RS_ASSETS_OWNER",
            "catalog_owner_prefix": "RS_ASSETS_OWNER_PREFIX",
            "dask_scheduler": "RS_ASSETS_DASK_SCHEDULER",
            "processors_file": "RS_ASSETS_PROCESSORS_FILE",
            "keep_staged_days": "RS_ASSETS_KEEP_STAGED_DAYS",
            "collection_aux": "RS_ASSETS_COLLECTION_AUX",
            "collection_cadip": "RS_ASSETS_COLLECTION_CADIP",
            "collection_prip": "RS_ASSETS_COLLECTION_PRIP",
            "ui_url": "RS_ASSETS_UI_URL",
            "session_freshness_minutes": "RS_ASSETS_SESSION_FRESHNESS_MINUTES",
            "aux_day_deadline_hour": "RS_ASSETS_AUX_DAY_DEADLINE_HOUR",
        }
        values: dict[str, object] = {field: environ[var] for field, var in names.items() if environ.get(var)}
        values["alert_webhook"] = bool(environ.get(ALERT_WEBHOOK_VAR))
        try:
            return cls.model_validate(values)
        except ValidationError as exc:
            by_field = {v: k for k, v in names.items()}
            problems = "; ".join(
                f"{names.get(str(e['loc'][0]), by_field.get(str(e['loc'][0]), e['loc'][0])) if e['loc'] else 'settings'}: {e['msg']}"
                for e in exc.errors()
            )
            raise ConfigError(f"invalid rs-assets settings: {problems}") from None
