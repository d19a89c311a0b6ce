"""The transfer engine against SeaweedFS: part boundaries, verification failures, skip when verified."""

from __future__ import annotations

import hashlib
import time

import pytest

from rs_assets.core.staging.parallel import StageTask, stage_recorded
from rs_assets.core.storage.ledger import Ledger, ManifestEntry, read_manifest
from rs_assets.core.storage.object_store import ObjectStore
from rs_assets.core.storage.transfer import MiB, Source, Transfer, TransferSettings, VerificationError
from rs_assets.resources import ObjectStorage
from rs_assets.simulator.config import SimStation
from tests.conftest import SimulatorFactory, client_for, one_file_station
from tests.integration.platform import ACCESS_KEY, SECRET_KEY

PART = 5 * MiB


@pytest.fixture
def store(s3_endpoint: str, unique: str) -> tuple[ObjectStore, str]:
    client = ObjectStorage(
        endpoint_url=s3_endpoint,
        region_name="us-east-1",
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        bucket="x",
    ).client()
    client.create_bucket(Bucket=f"t-{unique}")
    return ObjectStore(client), f"t-{unique}"


@pytest.mark.parametrize("size", [PART - 1, PART, PART + 1, 2 * PART, 2 * PART + 12345])
def test_part_boundaries_keep_every_byte(
    simulator_factory: SimulatorFactory, store: tuple[ObjectStore, str], size: int
) -> None:
    sim, client, file = one_file_station(simulator_factory, size)
    object_store, bucket = store
    transfer = Transfer(
        object_store, TransferSettings(part_size=PART, upload_concurrency=2, read_chunk=700_000)
    )
    result = transfer.stage(client, Source("Files", file.Id, file.Name, file.Size), bucket, f"k/{file.Name}")
    body = object_store.client.get_object(Bucket=bucket, Key=f"k/{file.Name}")["Body"].read()
    assert hashlib.md5(body).hexdigest() == sim.data.pattern.md5(file.Id, size)
    assert result.object.size == size and not result.skipped
    again = transfer.stage(client, Source("Files", file.Id, file.Name, file.Size), bucket, f"k/{file.Name}")
    assert again.skipped


@pytest.mark.parametrize("multipart", [False, True])
def test_wrong_md5_never_becomes_an_object(
    simulator_factory: SimulatorFactory, store: tuple[ObjectStore, str], multipart: bool
) -> None:
    size = PART + 10 if multipart else 1000
    _sim, client, file = one_file_station(simulator_factory, size)
    object_store, bucket = store
    transfer = Transfer(object_store, TransferSettings(part_size=PART))
    with pytest.raises(VerificationError, match=r"station 'INS'.*MD5 .* does not match"):
        transfer.stage(client, Source("Files", file.Id, file.Name, file.Size, md5="0" * 32), bucket, "k/bad")
    assert object_store.head(bucket, "k/bad") is None
    assert object_store.client.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


class SlowCheckpoints(Ledger):
    """Checkpoints land late: a final manifest written before them would be overwritten by an older one."""

    def __init__(self, *args: object) -> None:
        super().__init__(*args)  # type: ignore[arg-type]
        self.checkpoints: list[int] = []
        self.closing = False

    def save(self, entries: list[ManifestEntry]) -> None:
        if not self.closing:
            time.sleep(0.3)
            self.checkpoints.append(len(entries))
        super().save(entries)

    def close(self, entries: list[ManifestEntry]) -> None:
        self.closing = True
        super().close(entries)


def test_checkpoints_never_overwrite_the_final_manifest(
    simulator_factory: SimulatorFactory, store: tuple[ObjectStore, str]
) -> None:
    station = SimStation(
        name="CKP", kind="cadip", sessions=1, retransfers=0, channels=1, blocks_per_channel=6, chunk_size=2000
    )
    sim = simulator_factory(station)
    client = client_for(sim, "CKP")
    object_store, bucket = store
    files = client.files(None)
    tasks = [
        StageTask(
            Source("Files", f.Id, f.Name, f.Size),
            bucket,
            f"s/{f.Name}",
            "chunks",
            f.Name,
            lambda href, name=f.Name, size=f.Size: {
                "id": name,
                "assets": {name: {"href": href, "file:size": size}},
            },
        )
        for f in files
    ]
    ledger = SlowCheckpoints(object_store, bucket, "chunks", "day")
    report = stage_recorded(client, Transfer(object_store), tasks, 2, ledger, checkpoint_seconds=0)
    assert len(report.staged) == len(files) == 6
    assert ledger.checkpoints and max(ledger.checkpoints) < len(files)  # written while staging went on
    final = read_manifest(object_store, bucket, ledger.key)
    assert final is not None and {e.item["id"] for e in final} == {f.Name for f in files}
    assert object_store.head(bucket, ledger.marker) is None
