"""Error types that name what failed and where (station, query, item, key)."""

from __future__ import annotations


class RsAssetsError(Exception):
    """Base of every error rs-assets raises on purpose."""


class ConfigError(RsAssetsError):
    """Settings, stations file or rules that cannot be used as given."""


class QueryError(RsAssetsError):
    """An OData query that cannot be built for a station's capability profile."""


class StationError(RsAssetsError):
    """Something went wrong talking to one station."""

    def __init__(self, station: str, message: str, *, url: str | None = None, status: int | None = None):
        self.station = station
        self.url = url
        self.status = status
        where = f" ({url})" if url else ""
        super().__init__(f"station {station!r}{where}: {message}")


class StationRequestError(StationError):
    """A request the station refused for good: retrying will not help (4xx other than 401/408/429)."""


class StationUnavailable(StationError):
    """The station kept failing with retriable errors until retries ran out."""


class StationAuthError(StationError):
    """The station's token endpoint refused our credentials."""


class BadStationResponse(StationError):
    """The station answered something that is not what its interface promises."""


class SafetyLimitExceeded(StationError):
    """A query matched more entities than one query may pull."""


class NotFoundAtStation(StationRequestError):
    """The entity is gone from the station (evicted or never there)."""


class CatalogError(RsAssetsError):
    """The catalog refused or failed a request."""


class ItemExistsError(CatalogError):
    """An insert (not an upsert) hit an item id already in the collection."""
