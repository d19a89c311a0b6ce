"""Tolerant models of the entities stations publish (CADIP sessions and files, AUXIP/PRIP products).

Stations disagree on details (sizes as strings, ``SessionID`` vs ``SessionId``, null dates on retransfers),
so the models accept every spelling seen in the field and normalise it once, here.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import AliasChoices, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from ..errors import BadStationResponse
from ..timeutil import parse_datetime


def _to_int(value: object) -> object:
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    return value


def _to_str(value: object) -> object:
    """Identifiers like ``AcquisitionId`` ("56552_1") must never be cast to numbers; numbers become text."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return value


FlexInt = Annotated[int, BeforeValidator(_to_int)]
OptInt = Annotated[int | None, BeforeValidator(_to_int)]
Text = Annotated[str, BeforeValidator(_to_str)]
OptText = Annotated[str | None, BeforeValidator(_to_str)]
OptDatetime = Annotated[datetime | None, BeforeValidator(parse_datetime)]


class StationEntity(BaseModel):
    """Unknown fields are kept: they end up in the catalog item rather than being silently dropped."""

    model_config = ConfigDict(extra="allow", populate_by_name=True, frozen=True)


class ChannelQuality(StationEntity):
    Channel: FlexInt
    SessionId: OptText = Field(default=None, validation_alias=AliasChoices("SessionId", "SessionID"))
    AcquiredTFs: OptInt = None
    ErrorTFs: OptInt = None
    CorrectedTFs: OptInt = None
    UncorrectableTFs: OptInt = None
    DataTFs: OptInt = None
    ErrorDataTFs: OptInt = None
    CorrectedDataTFs: OptInt = None
    UncorrectableDataTFs: OptInt = None
    TotalChunks: OptInt = None
    TotalVolume: OptInt = None
    DeliveryStart: OptDatetime = None
    DeliveryStop: OptDatetime = None


class Session(StationEntity):
    Id: Text
    SessionId: Text = Field(validation_alias=AliasChoices("SessionId", "SessionID"))
    NumChannels: FlexInt
    PublicationDate: OptDatetime = None
    Satellite: Text
    StationUnitId: OptText = None
    DownlinkOrbit: OptInt = None
    AcquisitionId: OptText = None
    AntennaId: OptText = None
    FrontEndId: OptText = None
    Retransfer: bool = False
    AntennaStatusOK: bool | None = None
    FrontEndStatusOK: bool | None = None
    PlannedDataStart: OptDatetime = None
    PlannedDataStop: OptDatetime = None
    DownlinkStart: OptDatetime = None
    DownlinkStop: OptDatetime = None
    DownlinkStatusOK: bool | None = None
    DeliveryPushOK: bool | None = None
    QualityInfo: list[ChannelQuality] = Field(default_factory=list)


class File(StationEntity):
    Id: Text
    Name: Text
    SessionId: Text = Field(validation_alias=AliasChoices("SessionId", "SessionID"))
    Channel: FlexInt
    BlockNumber: FlexInt
    FinalBlock: bool = False
    PublicationDate: OptDatetime = None
    EvictionDate: OptDatetime = None
    Size: FlexInt
    Retransfer: bool = False


class ProductChecksum(StationEntity):
    Algorithm: Text
    Value: Text
    ChecksumDate: OptDatetime = None


class ValidityWindow(StationEntity):
    Start: OptDatetime = None
    End: OptDatetime = None


class ProductAttribute(StationEntity):
    Name: Text
    ValueType: OptText = None
    Value: Any = None


class Product(StationEntity):
    """An AUXIP or PRIP product; PRIP adds fields that stay optional here."""

    Id: Text
    Name: Text
    ContentType: OptText = None
    ContentLength: FlexInt
    OriginDate: OptDatetime = None
    PublicationDate: OptDatetime = None
    EvictionDate: OptDatetime = None
    ModificationDate: OptDatetime = None
    Online: bool | None = None
    ProductionType: OptText = None
    Checksum: list[ProductChecksum] = Field(default_factory=list)
    ContentDate: ValidityWindow | None = None
    Footprint: Any = None
    GeoFootprint: dict[str, Any] | None = None
    Attributes: list[ProductAttribute] = Field(default_factory=list)

    def attribute(self, name: str, default: Any = None) -> Any:
        for attribute in self.Attributes:
            if attribute.Name == name:
                return attribute.Value
        return default

    @property
    def md5(self) -> str | None:
        for checksum in self.Checksum:
            if checksum.Algorithm.upper() == "MD5" and checksum.Value:
                return checksum.Value.lower()
        return None


def parse_entity[EntityT: StationEntity](
    model: type[EntityT], raw: object, *, station: str, url: str | None = None
) -> EntityT:
    """Validate one entity, turning a pydantic error into one that names the station, entity and field."""
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        ident = raw.get("Name") or raw.get("SessionId") or raw.get("Id") if isinstance(raw, dict) else None
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '<entity>'}: {err['msg']}" for err in exc.errors()
        )
        raise BadStationResponse(
            station, f"malformed {model.__name__} {ident or '<unnamed>'}: {problems}", url=url
        ) from None
