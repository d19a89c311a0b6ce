"""Resuming a body with ``Range``: what to ask for, and what to drop from an answer that ignored the ask."""

from __future__ import annotations

from collections.abc import Mapping

from .errors import BadResponse, Refused


def range_header(position: int) -> dict[str, str]:
    return {"Range": f"bytes={position}-"} if position else {}


def bytes_to_skip(status: int, headers: Mapping[str, str], position: int, what: str, url: str) -> int:
    """A server that ignores ``Range`` (200 instead of 206) resends from byte 0: skip what we already hold."""
    if not position:
        return 0
    if status == 200:
        return position
    content_range = headers.get("Content-Range", "")
    if not content_range.startswith(f"bytes {position}-"):
        raise BadResponse(
            what,
            f"asked for bytes {position}- and got Content-Range {content_range!r}",
            url=url,
            status=status,
        )
    return 0


class Skipper:
    """Drops the first ``count`` bytes of a chunk stream."""

    def __init__(self, count: int):
        self.count = count

    def __call__(self, chunk: bytes) -> bytes:
        if not self.count:
            return chunk
        if len(chunk) <= self.count:
            self.count -= len(chunk)
            return b""
        chunk, self.count = chunk[self.count :], 0
        return chunk


def resume_refused(what: str, url: str, received: int, expected: int | None) -> Refused:
    """A server that will not send the rest (416 after a short body): where the body ended, not its error page."""
    size = f"{expected} bytes" if expected is not None else "an unknown size"
    return Refused(
        what,
        f"body ended at {received} of {size} and resuming from there was refused (HTTP 416)",
        url=url,
        status=416,
    )


def check_length(received: int, expected: int | None, what: str, url: str) -> bool:
    """True when the body is complete; more bytes than announced is an error, fewer is a drop to resume."""
    if expected is None or received == expected:
        return True
    if received > expected:
        raise BadResponse(what, f"got {received} bytes, the server announced {expected}", url=url)
    return False
