"""One AUX day of N products, timed phase by phase in its own process (for its peak RSS): the listing at the
station (wall time, and the CPU time of our client parsing the pages), planning (tasks, expired-item lookup), writing the day's ledger of N verified items, and a re-run of the
day that finds everything recorded (its ledger read and the recorded check; no transfer)."""

from __future__ import annotations

import argparse
import json
import os
import time
from datetime import date
from pathlib import Path

from benchmarks.common import peak_rss_mib
from benchmarks.staging_child import bucket, client, s3
from rs_assets.core.catalog import SqliteCatalog
from rs_assets.core.catalog.mapping import CollectionNames
from rs_assets.core.services import Placement
from rs_assets.core.staging.parallel import expired_tasks, stage_recorded
from rs_assets.core.staging.products import aux_task, plan, published_on
from rs_assets.core.storage.bucket_rules import BucketRules
from rs_assets.core.storage.ledger import Ledger, ManifestEntry
from rs_assets.core.storage.object_store import ObjectStore
from rs_assets.core.storage.transfer import Transfer, TransferSettings


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--s3-endpoint", required=True)
    parser.add_argument("--day", required=True)
    parser.add_argument("--workdir", required=True)
    args = parser.parse_args()
    station = client(args.url, "ADGS")
    target = bucket(args.s3_endpoint, f"growth-{os.getpid()}")
    store = ObjectStore(s3(args.s3_endpoint))
    placement = Placement("copernicus", CollectionNames(), BucketRules.parse(f"*,*,*,30,{target}\n"))
    catalog = SqliteCatalog(Path(args.workdir) / f"growth-{os.getpid()}.sqlite")
    day = date.fromisoformat(args.day)
    clock, cpu = time.perf_counter(), time.process_time()
    products = station.products(published_on(day))
    listing, clock = time.perf_counter() - clock, time.perf_counter()
    listing_cpu = time.process_time() - cpu
    tasks, errors = plan(products, placement, task=aux_task)
    for collection in {t.collection for t in tasks}:
        catalog.ensure_collection(collection)
    expired_tasks(catalog, tasks)
    planning, clock = time.perf_counter() - clock, time.perf_counter()
    entries = [ManifestEntry(t.collection, t.build_item(t.href)) for t in tasks]
    ledger = Ledger(store, target, "ADGS/aux_files", args.day)
    ledger.open()
    ledger.close(entries)
    writing, clock = time.perf_counter() - clock, time.perf_counter()
    rerun = stage_recorded(
        station,
        Transfer(store, TransferSettings()),
        tasks,
        8,
        Ledger(store, target, "ADGS/aux_files", args.day),
    )
    rerun_seconds = time.perf_counter() - clock
    assert len(rerun.skipped) == len(tasks) and not errors, (len(rerun.skipped), len(tasks), errors[:3])
    size = store.head(target, ledger.key)
    print(
        json.dumps(
            {
                "products": len(products),
                "listing": listing,
                "listing_cpu": listing_cpu,
                "planning": planning,
                "ledger_write": writing,
                "ledger_bytes": size.size if size else 0,
                "rerun": rerun_seconds,
                "rss_mib": peak_rss_mib(),
            }
        )
    )


if __name__ == "__main__":
    main()
