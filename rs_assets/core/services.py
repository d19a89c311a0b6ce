"""What staging, conversion and processing steps share, built once per Dagster run from its resources
(``rs_assets.resources.services``) and once per CLI command from the settings: core functions take it instead of
the store, transfer, catalog, owner, collection names and bucket rules one by one (the last three are the
``Placement``, which pure planning takes alone).

``lease`` holds a station's concurrency slot while a step talks to that station, for steps that do not run in
the station's pool themselves (on-demand jobs, ADF staging inside processing). It is taken for one station at a
time and never while another is held, so two steps cannot wait on each other.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass

from .catalog import Catalog
from .catalog.mapping import CollectionNames
from .storage.bucket_rules import BucketRules
from .storage.object_store import ObjectStore
from .storage.transfer import Transfer

Lease = Callable[[str], AbstractContextManager[object]]


def no_lease(station: str) -> AbstractContextManager[object]:
    """Outside a Dagster run (the CLI, tests of the core) nothing else shares the station's slots."""
    return nullcontext()


@dataclass(frozen=True)
class Placement:
    """Where items and their objects go: the owner prefix, the collection names, the bucket rules (no I/O, so
    plans are pure)."""

    owner: str
    names: CollectionNames
    rules: BucketRules


@dataclass(frozen=True)
class Services:
    """``bookkeeping`` is the bucket of rs-assets' own records (staging manifests), apart from the data buckets."""

    store: ObjectStore
    transfer: Transfer
    catalog: Catalog
    placement: Placement
    bookkeeping: str
    lease: Lease = no_lease


class WithServices:
    """Shorthands for a step object (conversion, processing) that holds its ``services``."""

    services: Services

    @property
    def store(self) -> ObjectStore:
        return self.services.store

    @property
    def catalog(self) -> Catalog:
        return self.services.catalog

    @property
    def rules(self) -> BucketRules:
        return self.services.placement.rules

    @property
    def owner(self) -> str:
        return self.services.placement.owner
