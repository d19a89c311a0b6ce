"""Simulator configuration: which stations it serves, how much data, how it misbehaves."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from rs_assets.core.timeutil import utcnow


class Faults(BaseModel):
    """Per-station misbehaviour, drawn per request (rates are probabilities in [0, 1])."""

    model_config = ConfigDict(extra="forbid")

    error_rate: float = Field(0.0, ge=0, le=1)
    throttle_rate: float = Field(0.0, ge=0, le=1)
    retry_after: int = Field(1, ge=0)
    drop_rate: float = Field(0.0, ge=0, le=1)
    drop_after_bytes: int = Field(64 * 1024, ge=0)
    latency: float = Field(0.0, ge=0)
    bytes_per_second: int | None = Field(None, gt=0)


class SimStation(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[A-Za-z0-9_-]+$")
    kind: Literal["cadip", "auxip", "prip"]
    profile: Literal["default", "mps", "standard"] = Field(
        "default",
        description="capability profile: which OData operators it accepts (as a station's in the stations file)",
    )
    auth: Literal["oauth2", "basic"] = Field(
        "oauth2", description="bearer tokens from /auth/token, or HTTP basic"
    )
    ignored_filter_terms: list[str] = Field(
        default_factory=list,
        description="properties whose comparisons in $filter this station drops (as a lax real station does), "
        "e.g. ['ContentDate']",
    )
    page_cap: int = Field(1000, ge=1)
    next_link: bool = True
    redirect_downloads: bool = False
    public_index: bool = Field(
        False, description="Serve products as a plain HTML file index (benchmarks only)"
    )
    faults: Faults = Field(default_factory=Faults)
    # CADIP
    satellites: list[str] = Field(default_factory=lambda: ["S1A"])
    sessions: int = Field(4, ge=0)
    channels: int = Field(2, ge=1)
    blocks_per_channel: int = Field(3, ge=1)
    chunk_size: int = Field(314_571_600, ge=1)
    retransfers: int = Field(1, ge=0)
    live_every: float | None = Field(None, gt=0)
    live_duration: float = Field(150.0, gt=0)
    live_sessions: int = Field(1000, ge=0)
    # AUXIP / PRIP
    products_per_day: int = Field(20, ge=0)
    product_types: list[str] = Field(
        default_factory=list,
        description="AUXIP: the AUX types it publishes (default: all it knows); PRIP: IW_GRDH_1S and/or OL_1_EFR___",
    )
    days: int = Field(2, ge=1)
    product_scale: float = Field(1.0, gt=0)
    # Real data (rs_assets.simulator.samples): a PRIP serves SAFE products zipped, an AUXIP the DEM as an AUX
    # product; published an hour before history ends, or that many seconds after the live start (``samples_after``).
    samples: list[Literal["s1-grdh", "dem-rome"]] = Field(default_factory=list)
    samples_after: float | None = Field(None, ge=0)


class Identity(BaseModel):
    model_config = ConfigDict(extra="forbid")

    client_id: str = "rs-assets"
    client_secret: str = "simulator-secret"
    public_client_id: str = "rs-assets-public"  # a client without a secret, as some stations register them
    username: str = "operator"
    password: str = "simulator-password"


class SimulatorConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    seed: int = 42
    history_end: datetime = Field(default_factory=lambda: utcnow().replace(minute=0, second=0, microsecond=0))
    live_start: datetime | None = None
    token_lifetime: float = Field(600.0, gt=0)
    identity: Identity = Field(default_factory=Identity)
    stations: list[SimStation] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique_names(self) -> SimulatorConfig:
        names = [s.name for s in self.stations]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"station names must be unique, repeated: {', '.join(duplicates)}")
        return self

    def station(self, name: str) -> SimStation:
        for station in self.stations:
            if station.name == name:
                return station
        raise KeyError(name)

    @property
    def history_start(self) -> datetime:
        return self.history_end - timedelta(days=max((s.days for s in self.stations), default=1))

    @classmethod
    def load(cls, path: Path) -> SimulatorConfig:
        return cls.model_validate(yaml.safe_load(path.read_text()) or {})


S1_AUX_TYPES = ["AUX_CAL", "AUX_PP2", "AUX_RESORB"]
S2_S3_AUX_TYPES = ["AUX_ECMWFD", "AUX_UT1UTC", "AX___FRO_AX"]


def default_config(*, live: bool = True, chunk_size: int = 8 * 1024 * 1024) -> SimulatorConfig:
    """What ``scripts/dev`` serves: two CADIP stations with live sessions; two AUXIPs (ADGS: Sentinel-1 AUX and the
    DEM, LTA: Sentinel-2 and -3 AUX); two PRIPs (PRIP publishing a real Sentinel-1 product 30 s after start,
    PRIP_S3 Sentinel-3 OLCI products it only stages)."""
    return SimulatorConfig(
        stations=[
            SimStation(
                name="INS",
                kind="cadip",
                satellites=["S1A"],
                sessions=3,
                chunk_size=chunk_size,
                live_every=90.0 if live else None,
                live_duration=60.0,
            ),
            SimStation(
                name="MPS",
                kind="cadip",
                profile="mps",
                satellites=["S2B"],
                sessions=2,
                chunk_size=chunk_size,
                live_every=150.0 if live else None,
                live_duration=60.0,
            ),
            SimStation(
                name="ADGS",
                kind="auxip",
                products_per_day=10,
                days=2,
                product_types=S1_AUX_TYPES,
                samples=["dem-rome"],
            ),
            SimStation(name="LTA", kind="auxip", products_per_day=6, days=2, product_types=S2_S3_AUX_TYPES),
            # Only real SAFE products: generated stand-ins would fail conversion in the demo.
            SimStation(
                name="PRIP",
                kind="prip",
                products_per_day=0,
                days=2,
                samples=["s1-grdh"],
                samples_after=30.0 if live else None,
            ),
            SimStation(
                name="PRIP_S3", kind="prip", products_per_day=4, days=2, product_types=["OL_1_EFR___"]
            ),
        ]
    )
