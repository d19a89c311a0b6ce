"""CADIP sessions: what a session's files say about its completeness, and how its files are staged.

A session is complete when every channel 1..NumChannels has its final block and no block number below it is
missing; a station's ``QualityInfo.TotalChunks`` is cross-checked when given. Partial sessions are staged as
their files arrive, so completeness is reported on every run, per channel.

Publication is a catch-up, never a one-shot: each run merges the files it verified into the session's staging
manifest (``_rs-assets/manifests/{station}/cadip_sessions/{session}.json``) before it touches the catalog, then
upserts the item over everything the manifest holds. A run that fails on the catalog leaves the manifest ahead
of the item; the next run, or ``publish_staged_session`` once the station evicted the session, closes the gap
without downloading anything, and ``unpublished_files`` is how a reconciliation finds such a gap.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from ..catalog.mapping import HARVESTED, OBJECTS_LOST, platform_of_satellite, session_item
from ..errors import RsAssetsError
from ..services import Placement, Services
from ..station.client import StationClient
from ..station.models import File, Session
from ..station.odata import Expr, F, all_of
from ..storage.ledger import ManifestEntry, manifest_key, manifest_prefix, read_manifest, write_manifest
from ..storage.transfer import Source
from ..timeutil import format_item_datetime
from .parallel import StageOutcome, StageTask, StagingReport, object_key, stage_all


@dataclass(frozen=True)
class ChannelState:
    """One channel's distinct block numbers; ``files`` counts retransferred copies of a block too."""

    channel: int
    blocks: tuple[int, ...]
    final_block: int | None
    expected_chunks: int | None
    files: int = 0

    @property
    def missing(self) -> tuple[int, ...]:
        """Block numbers below the highest one seen (or the final one) that no file carries."""
        last = self.final_block or (max(self.blocks) if self.blocks else 0)
        present = set(self.blocks)
        return tuple(b for b in range(1, last + 1) if b not in present)

    @property
    def complete(self) -> bool:
        if self.final_block is None or self.missing:
            return False
        return self.expected_chunks is None or len(self.blocks) == self.expected_chunks

    @property
    def summary(self) -> str:
        copies = self.files - len(self.blocks)
        again = f", {copies} retransferred copies" if copies > 0 else ""
        if self.complete:
            return f"complete ({len(self.blocks)} blocks{again})"
        parts = [f"{len(self.blocks)} blocks{again}"]
        if self.final_block is None:
            parts.append("final block not yet published")
        if self.missing:
            parts.append(f"missing {', '.join(map(str, self.missing[:10]))}")
        if self.expected_chunks is not None and len(self.blocks) != self.expected_chunks:
            parts.append(f"station expects {self.expected_chunks}")
        return "; ".join(parts)


@dataclass(frozen=True)
class Completeness:
    session_id: str
    channels: tuple[ChannelState, ...]

    @property
    def complete(self) -> bool:
        return bool(self.channels) and all(c.complete for c in self.channels)

    def as_table(self) -> str:
        rows = ["| channel | blocks | state |", "| ---: | ---: | --- |"]
        rows += [f"| {c.channel} | {len(c.blocks)} | {c.summary} |" for c in self.channels]
        return "\n".join(rows)


def completeness(session: Session, files: Sequence[File]) -> Completeness:
    expected = {q.Channel: q.TotalChunks for q in session.QualityInfo}
    states = []
    for channel in range(1, session.NumChannels + 1):
        mine = [f for f in files if f.Channel == channel]
        finals = [f.BlockNumber for f in mine if f.FinalBlock]
        states.append(
            ChannelState(
                channel=channel,
                blocks=tuple(sorted({f.BlockNumber for f in mine})),
                final_block=max(finals) if finals else None,
                expected_chunks=expected.get(channel),
                files=len(mine),
            )
        )
    return Completeness(session.SessionId, tuple(states))


def session_files_filter(session_id: str) -> Expr:
    """Files of one session, queried by id (``$expand`` is not relied upon)."""
    return F("SessionId").eq(session_id)


def earliest_eviction(files: Sequence[File]) -> datetime | None:
    dates = [f.EvictionDate for f in files if f.EvictionDate]
    return min(dates) if dates else None


def eviction_at_risk(files: Sequence[File], state: Completeness, now: datetime, margin: timedelta) -> bool:
    """A session not completely staged whose first file leaves the station within ``margin``."""
    first = earliest_eviction(files)
    return not state.complete and first is not None and first - now <= margin


@dataclass(frozen=True)
class SessionPlan:
    collection: str
    bucket: str
    tasks: list[StageTask] = field(default_factory=list)


def plan_session(session: Session, files: Sequence[File], placement: Placement) -> SessionPlan:
    """Staging tasks for every file of ``session``: ``{owner}/{collection}/{SessionId}/{file name}``."""
    owner = placement.owner
    collection = placement.names.for_session(platform_of_satellite(session.Satellite))
    where = placement.rules.place(owner, collection, "*")
    foreign = [f.Name for f in files if f.SessionId != session.SessionId]
    if foreign:
        raise RsAssetsError(
            f"session {session.SessionId}: files of another session in its listing: {', '.join(foreign[:3])}"
        )
    tasks = [
        StageTask(
            source=Source("Files", f.Id, f.Name, f.Size),
            bucket=where.bucket,
            key=object_key(owner, collection, session.SessionId, f.Name),
            collection=collection,
            item_id=session.SessionId,
            build_item=lambda href: {},
        )
        for f in sorted(files, key=lambda f: (f.Channel, f.BlockNumber))
    ]
    return SessionPlan(collection, where.bucket, tasks)


@dataclass(frozen=True)
class SessionStatus:
    """What the last staging run of a session reported."""

    key: str
    complete: bool
    earliest_eviction: datetime | None


def sessions_at_risk(
    statuses: Sequence[SessionStatus], now: datetime, margin: timedelta
) -> list[SessionStatus]:
    """Sessions not completely staged whose first file leaves the station within ``margin``, soonest first."""
    risky = [
        s
        for s in statuses
        if not s.complete and s.earliest_eviction is not None and s.earliest_eviction - now <= margin
    ]
    return sorted(risky, key=lambda s: s.earliest_eviction or now)


@dataclass
class SessionReport:
    session: Session
    files: list[File]
    staging: StagingReport
    state: Completeness
    collection: str
    staged: dict[str, str]

    @property
    def earliest_eviction(self) -> datetime | None:
        return earliest_eviction(self.files)


def session_ledger(station: str) -> str:
    """The manifest family of a station's sessions, named like its asset (``ins/cadip_sessions``)."""
    return f"{station.lower()}/cadip_sessions"


def stage_session(
    client: StationClient,
    services: Services,
    session_id: str,
    parallel: int,
    on_done: Callable[[StageOutcome], None] | None = None,
    on_planned: Callable[[int], None] | None = None,
) -> SessionReport:
    """Stage what is not yet staged of one session, record it in the session's manifest, then bring the item up to
    date with every file the manifest holds (this run's and earlier runs')."""
    found = client.sessions(F("SessionId").eq(session_id))
    if not found:
        caught_up = publish_staged_session(services, client.name, session_id)
        raise RsAssetsError(
            f"station {client.name!r} has no session {session_id!r} (evicted, or never published)"
            + (f"; its item was brought up to date with {caught_up} staged files" if caught_up else "")
        )
    session = found[0]
    files = client.files(session_files_filter(session_id))
    plan = plan_session(session, files, services.placement)
    if on_planned:
        on_planned(len(plan.tasks))
    report = stage_all(client, services.transfer, plan.tasks, parallel, on_done)
    staged = {o.task.source.name: o.result.object.href for o in report.succeeded if o.result}
    done = [f for f in files if f.Name in staged]
    if staged:
        item = record_staged_session(
            services, client.name, plan.collection, session_item(session, done, staged)
        )
        publish_session_item(services, plan.collection, item)
    return SessionReport(session, files, report, completeness(session, done), plan.collection, staged)


def record_staged_session(services: Services, station: str, collection: str, fresh: dict) -> dict:
    """Merge ``fresh`` into the session's manifest (the commit point of its staging) and return what it holds."""
    bucket, key = services.bookkeeping, manifest_key(session_ledger(station), fresh["id"])
    recorded = read_manifest(services.store, bucket, key) or []
    item = merged_session_item(recorded[0].item if recorded else None, fresh)
    write_manifest(services.store, bucket, key, [ManifestEntry(collection, item)])
    return item


def publish_session_item(services: Services, collection: str, item: dict) -> dict:
    """Upsert ``item`` merged over the published one (which may hold what a concurrent run added)."""
    catalog = services.catalog
    catalog.ensure_collection(collection)
    merged = merged_session_item(catalog.get_item(collection, item["id"]), item)
    catalog.upsert_items(collection, [merged])
    return merged


def publish_staged_session(services: Services, station: str, session_id: str) -> int:
    """Bring a session's item up to date from its manifest alone (no station needed); how many files it lacked."""
    key = manifest_key(session_ledger(station), session_id)
    recorded = read_manifest(services.store, services.bookkeeping, key)
    if not recorded:
        return 0
    entry = recorded[0]
    missing = unpublished_files(entry.item, services.catalog.get_item(entry.collection, session_id))
    if missing:
        publish_session_item(services, entry.collection, entry.item)
    return len(missing)


@dataclass
class Reconciliation:
    """``behind``: sessions whose item lacks staged files; ``in_sync``: manifest ETag of each session found
    complete in the catalog, so that the next pass reads only the manifests that changed since."""

    behind: list[str] = field(default_factory=list)
    in_sync: dict[str, str] = field(default_factory=dict)


def reconcile_sessions(
    services: Services, station: str, known: dict[str, str], since: datetime
) -> Reconciliation:
    """Compare each session manifest written since ``since`` with its published item."""
    found = Reconciliation()
    prefix = manifest_prefix(session_ledger(station))
    for info in services.store.list(services.bookkeeping, prefix):
        session_id = info.key.removeprefix(prefix).removesuffix(".json")
        if not info.key.endswith(".json") or (info.modified is not None and info.modified < since):
            continue
        if info.etag and known.get(session_id) == info.etag:
            found.in_sync[session_id] = info.etag
            continue
        recorded = read_manifest(services.store, services.bookkeeping, info.key)
        if not recorded:
            continue
        entry = recorded[0]
        if unpublished_files(entry.item, services.catalog.get_item(entry.collection, session_id)):
            found.behind.append(session_id)
        else:
            found.in_sync[session_id] = info.etag
    return found


def unpublished_files(recorded: dict, published: dict | None) -> list[str]:
    """Files the manifest holds as staged that the published item lacks (or points elsewhere for)."""
    assets = (published or {}).get("assets", {})
    return [
        name
        for name, asset in recorded.get("assets", {}).items()
        if assets.get(name, {}).get("href") != asset.get("href")
    ]


def merged_session_item(current: dict | None, fresh: dict) -> dict:
    """``fresh`` over the item already published: two runs of one session may overlap, and the one whose listing
    is older may finish last; what the other one published (files, the quality report that comes once the
    downlink ended) is kept."""
    if current is None:
        return fresh
    assets = {**current.get("assets", {}), **fresh["assets"]}
    properties = {**current.get("properties", {}), **fresh["properties"]}
    if fresh["assets"]:  # files staged again after the lifecycle expired the session: it is live again
        properties.pop("unpublished", None)
        properties.pop(OBJECTS_LOST, None)
    if all(str(a.get("href", "")).startswith("s3://") for a in assets.values()):
        properties.pop(HARVESTED, None)  # every file of a harvested session is staged now
    ordered = dict(
        sorted(
            assets.items(),
            key=lambda pair: (pair[1].get("cadip:channel", 0), pair[1].get("cadip:block_number", 0), pair[0]),
        )
    )
    return {**fresh, "properties": properties, "assets": ordered}


def sessions_published_on(client: StationClient, day: date) -> list[str]:
    """Ids of the sessions with files published during ``day`` (UTC), in order of first publication."""
    start = datetime.combine(day, time(0), tzinfo=UTC)
    files = client.files(
        all_of(F("PublicationDate").ge(start), F("PublicationDate").lt(start + timedelta(days=1)))
    )
    ordered = sorted(files, key=lambda f: f.PublicationDate or start)
    return list(dict.fromkeys(f.SessionId for f in ordered))


def late_files(
    client: StationClient, services: Services, now: datetime, within: timedelta, lookback: timedelta
) -> list[str]:
    """Files the station published between ``now - lookback`` and ``now - within`` that their session's manifest
    does not hold as staged: a session's files must be staged within ``within`` of their publication."""
    files = client.files(
        all_of(F("PublicationDate").ge(now - lookback), F("PublicationDate").lt(now - within))
    )
    by_session: dict[str, list[File]] = {}
    for f in files:
        by_session.setdefault(f.SessionId, []).append(f)
    late: list[str] = []
    for session_id, published in sorted(by_session.items()):
        key = manifest_key(session_ledger(client.name), session_id)
        recorded = read_manifest(services.store, services.bookkeeping, key)
        staged = recorded[0].item.get("assets", {}) if recorded else {}
        late += [
            f"{session_id}/{f.Name} (published {format_item_datetime(f.PublicationDate)})"
            for f in sorted(published, key=lambda f: f.Name)
            if f.Name not in staged
        ]
    return late
