"""Which hosts may see our credentials, and where a redirect leads.

A station's download may redirect to object storage on another host; the bearer token (or basic password) must
not follow it there unless that host is trusted (the station's own host always is).
"""

from __future__ import annotations

from urllib.parse import urljoin, urlsplit

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
MAX_REDIRECTS = 5


def netloc(url: str) -> str:
    parts = urlsplit(url if "://" in url else f"http://{url}")
    return f"{(parts.hostname or '').lower()}:{parts.port or (443 if parts.scheme == 'https' else 80)}"


class HostTrust:
    def __init__(self, home: str, trusted: tuple[str, ...] = ()):
        self._hosts = {netloc(home)} | {netloc(host) for host in trusted}

    def trusts(self, url: str) -> bool:
        return netloc(url) in self._hosts


def redirect_target(url: str, status: int, location: str | None) -> str | None:
    """The next URL when the answer is a redirect, else None."""
    if status in REDIRECT_STATUSES and location:
        return urljoin(url, location)
    return None
