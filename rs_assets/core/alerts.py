"""Run-failure alerts: one JSON message per failed run, posted to the operator's webhook.

The message carries ``text`` (what Slack, Mattermost and Teams incoming webhooks display) and the same facts as
fields for anything that routes alerts: job, station, partition, reason and a link to the run in the UI. The
webhook URL usually embeds a token: it is never written to a message, a log line or an error; errors name its
host only.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import asdict, dataclass
from urllib.parse import urlsplit

import urllib3

from .errors import RsAssetsError
from .http import HttpError, RetryPolicy, SyncHttp

REASON_CHARS = 1000


@dataclass(frozen=True)
class RunFailure:
    run_id: str
    job: str
    station: str | None
    partition: str | None
    reason: str
    url: str


def station_of_job(job: str, stations: Collection[str]) -> str | None:
    """The station a job belongs to: its names start with the station's (``ins_session_staging``, ``adgs_staging``)."""
    matches = [s for s in stations if job.startswith(f"{s.lower()}_")]
    return max(matches, key=len) if matches else None


def failure_message(failure: RunFailure) -> dict[str, str | None]:
    where = " ".join(
        part
        for part in (
            failure.station and f"station {failure.station}",
            failure.partition and f"partition {failure.partition}",
        )
        if part
    )
    reason = " ".join(failure.reason.split())[:REASON_CHARS]
    text = f"rs-assets run of {failure.job} failed{f' ({where})' if where else ''}: {reason} {failure.url}"
    return {"text": text, **asdict(failure), "reason": reason}


def webhook_host(url: str) -> str:
    """What an error may say about the webhook: scheme, host and port, never its path or query."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname}{f':{parts.port}' if parts.port else ''}"


class Webhook:
    def __init__(self, url: str, policy: RetryPolicy | None = None):
        if not url.startswith(("http://", "https://")):
            raise RsAssetsError("the alert webhook must be an http:// or https:// URL")
        self._url = url
        self._http = SyncHttp(
            urllib3.PoolManager(timeout=urllib3.Timeout(connect=5, read=10)),
            policy or RetryPolicy(attempts=4, max_backoff=5.0),
        )

    def post(self, message: dict[str, str | None]) -> None:
        try:
            response = self._http.request(
                "POST",
                self._url,
                what="alert webhook",
                headers={"Content-Type": "application/json"},
                body=json.dumps(message).encode(),
            )
        except HttpError as exc:
            raise self._refused(exc.reason) from None
        if response.status >= 300:
            raise self._refused(f"HTTP {response.status}")

    def _refused(self, why: str) -> RsAssetsError:
        return RsAssetsError(f"alert webhook at {webhook_host(self._url)} did not take the message ({why})")
