"""Processing one partition of a processor's asset: a run for each item the driving steps' ledgers list for the
partition, then this processor's ledger, which the steps after it read.

One failed run loses no other. The ledger is merged, never overwritten: a re-run adds what it published to what
the earlier runs did.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from ..conversion.product_types import canonical_eopf_type
from ..errors import RsAssetsError
from ..storage.ledger import ManifestEntry, add_to_manifest, manifest_key, read_manifest
from .process import InputRef, Outcome, Processing, Processor, Request


@dataclass
class PartitionProcessing:
    inputs: list[ManifestEntry] = field(default_factory=list)
    outcomes: list[Outcome] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)


def driving_entries(
    entries: Sequence[ManifestEntry], collections: Sequence[str], product_types: Sequence[str]
) -> list[ManifestEntry]:
    """The entries a processor takes: of its input collections and product types, when it names any."""
    types = {canonical_eopf_type(t) for t in product_types}
    return [
        entry
        for entry in entries
        if (not collections or entry.collection in collections)
        and (
            not types
            or canonical_eopf_type(str(entry.item.get("properties", {}).get("product:type"))) in types
        )
    ]


def process_partition(
    run: Processing,
    processor: Processor,
    input_name: str,
    *,
    bucket: str,
    partition: str,
    driving_ledgers: Sequence[str],
    ledger: str,
    collections: Sequence[str] = (),
    product_types: Sequence[str] = (),
    log: Callable[[str], None] = lambda message: None,
) -> PartitionProcessing:
    store, plan = run.store, processor.plan()
    listed = [
        entry
        for name in driving_ledgers
        for entry in read_manifest(store, bucket, manifest_key(name, partition)) or []
    ]
    done = PartitionProcessing(inputs=driving_entries(listed, collections, product_types))
    log(f"{len(done.inputs)} items of {', '.join(driving_ledgers)} {partition} to process ({plan.label})")
    for entry in done.inputs:
        request = Request(processor, plan, [InputRef(input_name, entry.collection, entry.item["id"])])
        try:
            done.outcomes.append(run.run(request, log))
        except RsAssetsError as exc:
            done.failures.append(f"{entry.item['id']}: {exc}")
            log(f"{entry.item['id']}: {exc}")
    published = [ManifestEntry(c, item) for o in done.outcomes for c, item in o.published]
    add_to_manifest(store, bucket, manifest_key(ledger, partition), published)
    return done
