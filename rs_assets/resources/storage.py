import threading
from pathlib import Path
from typing import Any

import boto3
import dagster as dg
from botocore import UNSIGNED
from botocore.config import Config
from botocore.credentials import Credentials
from dagster_aws.s3 import S3Resource
from pydantic import PrivateAttr

import rs_assets
from rs_assets.core.storage.bucket_rules import BucketRules
from rs_assets.core.storage.direct_s3 import DirectS3
from rs_assets.core.storage.object_store import ObjectStore
from rs_assets.core.storage.transfer import MiB, Transfer, TransferSettings

DEFAULT_RULES = str(Path(rs_assets.__file__).parent / "data" / "bucket_rules.csv")

_sessions: dict[str | None, boto3.session.Session] = {}
_sessions_lock = threading.Lock()


def _session(profile_name: str | None) -> boto3.session.Session:
    """One boto3 session per profile and process, used under ``_sessions_lock`` (sessions are not
    thread-safe): a new session loads botocore's S3 model again, about 0.2 s of CPU per run."""
    if profile_name not in _sessions:
        _sessions[profile_name] = boto3.session.Session(profile_name=profile_name)
    return _sessions[profile_name]


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

    _client: Any = PrivateAttr(default=None)
    _direct: Any = PrivateAttr(default=None)

    def client(self) -> Any:
        """One client per run, with a connection pool sized for parallel downloads times part uploads."""
        if self._client is None:
            with _sessions_lock:
                self._client = _session(self.profile_name).client(
                    "s3",
                    region_name=self.region_name,
                    endpoint_url=self.endpoint_url,
                    use_ssl=self.use_ssl,
                    verify=self.verify,
                    aws_access_key_id=self.aws_access_key_id,
                    aws_secret_access_key=self.aws_secret_access_key,
                    aws_session_token=self.aws_session_token,
                    # Uploads carry their own checksum (Content-MD5, or CRC32 per part), so botocore's default
                    # extra checksum is only CPU; parameters are built here, so validating them is too.
                    config=Config(
                        max_pool_connections=64,
                        retries={"max_attempts": self.max_attempts, "mode": "standard"},
                        request_checksum_calculation="when_required",
                        response_checksum_validation="when_required",
                        parameter_validation=False,
                        signature_version=UNSIGNED if self.use_unsigned_session else None,
                    ),
                )
        return self._client

    def store(self) -> ObjectStore:
        return ObjectStore(self.client(), self._direct_s3())

    def _direct_s3(self) -> DirectS3 | None:
        """Small PUTs bypass boto3's pipeline where the endpoint is a URL (SeaweedFS, MinIO, ...)."""
        if not self.endpoint_url:
            return None
        if self._direct is None:
            credentials = (
                Credentials(self.aws_access_key_id, self.aws_secret_access_key, self.aws_session_token)
                if self.aws_access_key_id and self.aws_secret_access_key
                else self._profile_credentials()
            )
            if credentials is None:
                return None
            self._direct = DirectS3(self.endpoint_url, self.region_name or "us-east-1", credentials)
        return self._direct

    def _profile_credentials(self) -> Credentials | None:
        with _sessions_lock:
            return _session(self.profile_name).get_credentials()

    def get_client(self) -> Any:
        """The same client as ``client()``: dagster-aws would build a second one (and a session) per run."""
        return self.client()

    def rules(self) -> BucketRules:
        rules = BucketRules.load(self.bucket_rules_file)
        for warning in rules.warnings:
            dg.get_dagster_logger().warning(warning)
        return rules

    def transfer(self) -> Transfer:
        return Transfer(
            self.store(),
            TransferSettings(part_size=self.part_size_mib * MiB, upload_concurrency=self.upload_concurrency),
        )
