from __future__ import annotations

from typing import Any

import dagster as dg
from dagster_aws.s3 import S3Resource


class ObjectStorage(dg.ConfigurableResource):
    """S3 through dagster-aws' ``S3Resource``, plus the bucket staged data goes to."""

    s3: S3Resource
    bucket: str

    def client(self) -> Any:
        return self.s3.get_client()
