"""A staging run killed with SIGKILL mid-transfer leaves nothing half-done, and the next run resumes."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests

from rs_assets.core.catalog import OwnerNamespace, StacApiCatalog
from rs_assets.core.catalog.mapping import product_item_id
from rs_assets.core.storage.object_store import split_href
from rs_assets.simulator.config import Faults, SimStation
from tests.conftest import SimulatorFactory
from tests.integration.platform import make_platform, metadata
from tests.integration.test_aux_files import DAY, day_products, materialize

ROOT = Path(__file__).resolve().parents[2]


def test_sigkill_mid_transfer_then_rerun(
    simulator_factory: SimulatorFactory, s3_endpoint: str, stac_api_url: str, tmp_path: Path, unique: str
) -> None:
    slow = Faults(bytes_per_second=2_500_000)
    sim = simulator_factory(
        SimStation(name="ADGS", kind="auxip", products_per_day=16, days=2, product_scale=150, faults=slow)
    )
    platform = make_platform(s3_endpoint, stac_api_url, tmp_path, unique, sim)
    products = {p["Name"]: p for p in day_products(sim)}
    assert any(p["ContentLength"] > 5 * 1024 * 1024 for p in products.values())  # some go multipart

    spec = {
        "platform": {
            k: str(v) if isinstance(v, Path) else v for k, v in dataclasses.asdict(platform).items()
        },
        "partition": DAY.isoformat(),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.integration.aux_runner", json.dumps(spec)],
        cwd=ROOT,
        env=os.environ.copy(),
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(platform.listing()) < 3:
        time.sleep(0.2)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    killed_at = time.time()

    finished = platform.listing()
    assert 3 <= len(finished) < len(products), "the kill must land mid-day"
    for key, size in finished.items():  # every object under a final key is whole and verified
        product = products[key.rsplit("/", 1)[1]]
        assert size == product["ContentLength"]
        assert hashlib.md5(platform.read(key)).hexdigest() == product["Checksum"][0]["Value"]

    requests.post(
        f"{sim.url}/_sim/faults", json={"station": "ADGS", "faults": {}}, timeout=10
    ).raise_for_status()
    rerun = materialize(platform, "adgs/aux_files", "adgs/aux_catalog")
    assert rerun.success
    assert metadata(rerun, "adgs/aux_files")["skipped"] == len(finished)

    redownloaded = {r["path"] for r in sim.requests if r["time"] > killed_at and r["path"].endswith("$value")}
    finished_ids = {products[k.rsplit("/", 1)[1]]["Id"] for k in finished}
    assert not any(pid in path for path in redownloaded for pid in finished_ids)
    assert len(redownloaded) == len(products) - len(finished)
    assert platform.s3.list_multipart_uploads(Bucket=platform.data_bucket).get("Uploads", []) == []

    catalog = StacApiCatalog(stac_api_url, OwnerNamespace(owner=platform.owner))
    for name in products:
        item = catalog.get_item(f"s{name[1]}-aux", product_item_id(name))
        assert item is not None
        for asset in item["assets"].values():
            bucket, key = split_href(asset["href"])
            assert platform.s3.head_object(Bucket=bucket, Key=key)["ContentLength"] == asset["file:size"]
