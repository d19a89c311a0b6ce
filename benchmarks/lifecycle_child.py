"""One cleanup of the lifecycle benchmark, in a process of its own so that its peak RSS is its own."""

from __future__ import annotations

import argparse
import json
import time
from datetime import UTC, datetime
from pathlib import Path

from benchmarks.common import peak_rss_mib
from rs_assets.core.catalog import OwnerNamespace, SqliteCatalog
from rs_assets.core.catalog.mapping import CollectionNames
from rs_assets.core.lifecycle.expiry import run_expiry
from rs_assets.core.services import Placement, Services
from rs_assets.core.storage.bucket_rules import BucketRules
from rs_assets.core.storage.object_store import ObjectStore
from rs_assets.core.storage.transfer import Transfer, TransferSettings
from rs_assets.resources import ObjectStorage


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--s3-endpoint", required=True)
    parser.add_argument("--bucket", required=True)
    parser.add_argument("--catalog", type=Path, required=True)
    parser.add_argument("--collection", required=True)
    args = parser.parse_args()
    client = ObjectStorage(
        endpoint_url=args.s3_endpoint, region_name="us-east-1", bucket=args.bucket
    ).client()
    store = ObjectStore(client)
    services = Services(
        store,
        Transfer(store, TransferSettings()),
        SqliteCatalog(args.catalog, OwnerNamespace(owner="bench")),
        Placement("bench", CollectionNames(), BucketRules.parse(f"*,*,*,7,{args.bucket}\n")),
        args.bucket,
    )
    started = time.perf_counter()
    report = run_expiry(services, args.collection, datetime.now(UTC))
    seconds = time.perf_counter() - started
    assert not report.failures and not report.problems, report.failures[:3] + report.problems[:3]
    print(
        json.dumps(
            {
                "seconds": seconds,
                "items": len(report.expired),
                "objects": report.objects_deleted,
                "rss_mib": peak_rss_mib(),
            }
        )
    )


if __name__ == "__main__":
    main()
