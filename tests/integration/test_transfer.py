"""The transfer engine against SeaweedFS: part boundaries, verification failures, skip when verified."""

from __future__ import annotations

import hashlib

import pytest

from rs_assets.core.object_store import ObjectStore
from rs_assets.core.transfer import MiB, Source, Transfer, TransferSettings, VerificationError
from rs_assets.resources import ObjectStorage
from tests.conftest import SimulatorFactory, one_file_station
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
