"""Launching a backfill of daily partitions on a running Dagster instance, over its GraphQL API."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import requests

from .errors import RsAssetsError

LAUNCH = """
mutation($params: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $params) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on PythonError { message }
    ... on PartitionKeysNotFoundError { message }
    ... on UnauthorizedError { message }
    ... on InvalidSubsetError { message }
  }
}
"""


def days(start: str, end: str) -> list[str]:
    """Every day from ``start`` to ``end`` inclusive, as partition keys."""
    try:
        first, last = date.fromisoformat(start), date.fromisoformat(end)
    except ValueError as exc:
        raise RsAssetsError(f"days must be written YYYY-MM-DD: {exc}") from None
    if last < first:
        raise RsAssetsError(f"the backfill ends ({end}) before it starts ({start})")
    return [(first + timedelta(days=n)).isoformat() for n in range((last - first).days + 1)]


@dataclass(frozen=True)
class Backfill:
    id: str
    partitions: list[str]
    url: str


def launch_backfill(ui_url: str, asset: str, partitions: list[str], title: str | None = None) -> Backfill:
    ui_url = ui_url.rstrip("/")
    params = {
        "partitionNames": partitions,
        "assetSelection": [{"path": asset.split("/")}],
        "title": title or f"{asset} {partitions[0]}..{partitions[-1]}",
    }
    try:
        response = requests.post(
            f"{ui_url}/graphql", json={"query": LAUNCH, "variables": {"params": params}}, timeout=60
        )
    except requests.RequestException as exc:
        raise RsAssetsError(f"Dagster at {ui_url} is unreachable: {type(exc).__name__}") from None
    if response.status_code != 200:
        raise RsAssetsError(
            f"Dagster at {ui_url} answered HTTP {response.status_code}: {response.text[:200]}"
        )
    body = response.json()
    if body.get("errors"):
        raise RsAssetsError(
            f"Dagster at {ui_url} refused the backfill of {asset}: {body['errors'][0].get('message')}"
        )
    result = body["data"]["launchPartitionBackfill"]
    if result["__typename"] != "LaunchBackfillSuccess":
        raise RsAssetsError(
            f"backfill of {asset} refused ({result['__typename']}): {result.get('message', '')}"
        )
    return Backfill(result["backfillId"], partitions, f"{ui_url}/overview/backfills/{result['backfillId']}")


STATUS = """
query($id: String!) { partitionBackfillOrError(backfillId: $id) {
  __typename
  ... on PartitionBackfill { status assetBackfillData { assetBackfillStatuses {
    ... on AssetPartitionsStatusCounts { numPartitionsTargeted numPartitionsMaterialized numPartitionsFailed }
  } } }
  ... on PythonError { message }
  ... on BackfillNotFoundError { message }
} }
"""
FINISHED = frozenset({"COMPLETED", "COMPLETED_SUCCESS", "COMPLETED_FAILED", "FAILED", "CANCELED"})


@dataclass(frozen=True)
class BackfillStatus:
    status: str
    targeted: int
    materialized: int
    failed: int

    @property
    def finished(self) -> bool:
        return self.status in FINISHED


def backfill_status(ui_url: str, backfill_id: str) -> BackfillStatus:
    """Partitions targeted, materialized and failed, summed over the backfill's assets."""
    ui_url = ui_url.rstrip("/")
    try:
        response = requests.post(
            f"{ui_url}/graphql", json={"query": STATUS, "variables": {"id": backfill_id}}, timeout=60
        )
        body = response.json()
    except (requests.RequestException, ValueError) as exc:
        raise RsAssetsError(
            f"Dagster at {ui_url}: status of backfill {backfill_id}: {type(exc).__name__}"
        ) from None
    found = (body.get("data") or {}).get("partitionBackfillOrError") or {}
    if found.get("__typename") != "PartitionBackfill":
        raise RsAssetsError(f"Dagster at {ui_url}: backfill {backfill_id}: {found.get('message') or body}")
    counts = [c for c in (found.get("assetBackfillData") or {}).get("assetBackfillStatuses", []) if c]
    return BackfillStatus(
        found["status"],
        sum(c["numPartitionsTargeted"] for c in counts),
        sum(c["numPartitionsMaterialized"] for c in counts),
        sum(c["numPartitionsFailed"] for c in counts),
    )
