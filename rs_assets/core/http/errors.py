"""What a transport reports when a request cannot succeed; each client turns these into its own domain errors
(station, catalog, S3) so that the message names the station, collection or key."""

from __future__ import annotations

from ..errors import RsAssetsError


class HttpError(RsAssetsError):
    def __init__(self, what: str, reason: str, *, url: str, status: int | None = None, detail: str = ""):
        self.what = what
        self.reason = reason
        self.url = url
        self.status = status
        self.detail = detail
        super().__init__(f"{what}: {reason}")


class GaveUp(HttpError):
    """Retriable failures until the policy's tries ran out."""


class BadResponse(HttpError):
    """An answer that breaks HTTP's promises: a redirect loop, a wrong ``Content-Range``, too many bytes."""


class Refused(HttpError):
    """A final non-2xx answer to a request that needed a body (a download)."""
