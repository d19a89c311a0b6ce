"""A publication-date high-water mark with an overlap window: what a station sensor keeps as its cursor.

Stations publish late and out of order within seconds, so each tick re-reads an overlap window before the
mark and remembers the ids it saw there; the cost of a tick grows with new data, never with history.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from ..timeutil import format_precise_datetime, parse_datetime


@dataclass(frozen=True)
class Published:
    id: str
    published: datetime


@dataclass(frozen=True)
class Watermark:
    high: datetime | None = None
    seen: frozenset[str] = field(default_factory=frozenset)

    def query_from(self, overlap: timedelta, initial: datetime) -> datetime:
        return self.high - overlap if self.high else initial

    def advance(self, found: Sequence[Published], overlap: timedelta) -> tuple[list[Published], Watermark]:
        """The entities not seen before, and the mark after them."""
        floor = self.high - overlap if self.high else None
        new = [p for p in found if p.id not in self.seen and (floor is None or p.published >= floor)]
        if not found:
            return [], self
        high = max([p.published for p in found] + ([self.high] if self.high else []))
        keep = frozenset(p.id for p in found if p.published >= high - overlap)
        return new, Watermark(high, keep)

    def to_json(self) -> str:
        return json.dumps(
            {"high": format_precise_datetime(self.high) if self.high else None, "seen": sorted(self.seen)}
        )

    @classmethod
    def from_json(cls, text: str | None) -> Watermark:
        if not text:
            return cls()
        data = json.loads(text)
        return cls(parse_datetime(data.get("high")), frozenset(data.get("seen", [])))


def batch_new(
    mark: Watermark, found: Sequence[tuple[Published, str]], overlap: timedelta, max_groups: int
) -> tuple[dict[str, list[Published]], Watermark]:
    """The new entities of ``found`` grouped by their key (a day, a session), earliest groups first.

    At most ``max_groups`` groups are returned; the mark then advances only over what they cover, so the
    groups left out come back on the next tick instead of being lost.
    """
    published = sorted((p for p, _ in found), key=lambda p: p.published)
    group_of = {p.id: group for p, group in found}
    new, _ = mark.advance(published, overlap)
    groups: dict[str, list[Published]] = {}
    for item in new:
        groups.setdefault(group_of[item.id], []).append(item)
    kept = sorted(groups, key=lambda g: min(p.published for p in groups[g]))[:max_groups]
    if len(kept) < len(groups):
        last = max(p.published for g in kept for p in groups[g])
        published = [p for p in published if p.published <= last]
    _, following = mark.advance(published, overlap)
    return {g: groups[g] for g in kept}, following
