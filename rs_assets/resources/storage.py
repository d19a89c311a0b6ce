from pathlib import Path
from typing import Any

from dagster_aws.s3 import S3Resource

import rs_assets
from rs_assets.core.bucket_rules import BucketRules
from rs_assets.core.object_store import ObjectStore
from rs_assets.core.transfer import MiB, Transfer, TransferSettings

DEFAULT_RULES = str(Path(rs_assets.__file__).parent / "data" / "bucket_rules.csv")


class ObjectStorage(S3Resource):
    """dagster-aws' ``S3Resource`` plus where staged data goes (bucket rules) and how it is moved.

    ``bucket`` holds rs-assets' own bookkeeping (staging manifests); data buckets come from the rules.
    It extends ``S3Resource`` rather than nesting one: Dagster's nested-resource path still calls a
    deprecated API, and deprecations are errors here.
    """

    bucket: str
    bucket_rules_file: str = DEFAULT_RULES
    part_size_mib: int = 32
    upload_concurrency: int = 4

    def client(self) -> Any:
        return self.get_client()

    def store(self) -> ObjectStore:
        return ObjectStore(self.client())

    def rules(self) -> BucketRules:
        return BucketRules.load(self.bucket_rules_file)

    def transfer(self) -> Transfer:
        return Transfer(
            self.store(),
            TransferSettings(part_size=self.part_size_mib * MiB, upload_concurrency=self.upload_concurrency),
        )
