"""When a request is tried again, how long to wait, and when to give up: the one rule every transport follows.

Retriable: connection errors, timeouts and truncated bodies; 408, 425, 429 and every 5xx. A ``Retry-After``
(seconds or an HTTP date) wins over the exponential backoff, capped so a confused server cannot park a run.
A download that keeps making progress is not failing: only tries without progress count.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Literal

from ..timeutil import utcnow

RETRIABLE_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 6
    backoff: float = 0.5
    max_backoff: float = 20.0
    max_retry_after: float = 120.0

    def delay(self, attempt: int, retry_after: str | None = None) -> float:
        """Seconds to wait before attempt ``attempt + 1``; a server's ``Retry-After`` wins when it gives one."""
        hinted = parse_retry_after(retry_after)
        if hinted is not None:
            return min(hinted, self.max_retry_after)
        base = min(self.backoff * 2 ** (attempt - 1), self.max_backoff)
        return base * (0.5 + random.random() / 2)


def parse_retry_after(value: str | None) -> float | None:
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        return max(0.0, (parsedate_to_datetime(value) - utcnow()).total_seconds())
    except (TypeError, ValueError):
        return None


def is_retriable_status(status: int) -> bool:
    return status in RETRIABLE_STATUS or status >= 500


class Tries:
    """One logical request's failures: the delay before the next try, or None once the policy is spent."""

    def __init__(self, policy: RetryPolicy):
        self.policy = policy
        self.count = 0

    def failed(self, *, progressed: bool = False, retry_after: str | None = None) -> float | None:
        self.count = 1 if progressed else self.count + 1
        if self.count >= self.policy.attempts:
            return None
        return self.policy.delay(self.count, retry_after)


Verdict = Literal["ok", "renew", "retry", "final"]


def verdict(status: int, *, can_renew: bool) -> Verdict:
    """What an answer means for the request: done, renew the credentials once, try again, or final (the caller
    reads the status: 404 is not found, 409 a conflict, another 4xx a refusal)."""
    if status < 300:
        return "ok"
    if status == 401 and can_renew:
        return "renew"
    if is_retriable_status(status):
        return "retry"
    return "final"
