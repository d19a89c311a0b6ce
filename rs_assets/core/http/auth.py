"""What a transport needs from credentials: a header, and whether a 401 is worth renewing once."""

from __future__ import annotations

from typing import Protocol


class Authorizer(Protocol):
    @property
    def renewable(self) -> bool: ...

    def header(self) -> str:
        """The ``Authorization`` value, obtaining or refreshing it if needed (may block on a token request)."""
        ...

    def current(self) -> str | None:
        """The value if usable now without a request, else None: safe to call from an event loop."""
        ...

    def invalidate(self, header: str) -> None:
        """Forget ``header`` after the server refused it, so that the next ``header`` renews."""
        ...


def can_renew(auth: Authorizer | None, authorization: str | None, renewed: bool) -> bool:
    return auth is not None and auth.renewable and authorization is not None and not renewed
