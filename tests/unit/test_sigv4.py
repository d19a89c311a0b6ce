"""Our S3 SigV4 signer against botocore's, on the same requests at the same instant."""

from datetime import UTC, datetime
from unittest import mock

import pytest
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from rs_assets.core.storage.sigv4 import S3Signer, canonical_host

NOW = datetime(2026, 11, 20, 23, 59, 58, tzinfo=UTC)


def botocore_headers(credentials: Credentials, url: str, headers: dict[str, str], body: bytes) -> dict:
    request = AWSRequest(method="PUT", url=url, data=body, headers=headers)
    with mock.patch("botocore.auth.get_current_datetime", return_value=NOW.replace(tzinfo=None)):
        S3SigV4Auth(credentials, "s3", "eu-west-3").add_auth(request)
    return dict(request.headers.items())


@pytest.mark.parametrize(
    ("endpoint", "path", "token"),
    [
        ("http://127.0.0.1:8333", "/bucket/o/c/S1A_AUX_PP2.SAFE/S1A%20AUX%2B%C3%A9.zip", None),
        ("https://s3.example.eu", "/bucket/key~with_safe-chars.txt", "SESSION-TOKEN"),
        ("http://[::1]:9000/prefix", "/prefix/bucket/a/b", None),
    ],
)
def test_signature_is_botocores(endpoint: str, path: str, token: str | None) -> None:
    credentials = Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", token)
    body = b"\x00 payload \xff" * 700
    headers = {
        "Content-MD5": "1B2M2Y8AsgTpgAmY7PhCfg==",
        "Content-Length": str(len(body)),
        "x-amz-meta-rs-md5": "d41d8cd98f00b204e9800998ecf8427e",
    }
    origin = endpoint.split("/prefix")[0]
    expected = botocore_headers(credentials, f"{origin}{path}", headers, body)
    ours = S3Signer(credentials, "eu-west-3").sign("PUT", canonical_host(endpoint), path, headers, body, NOW)
    assert ours == expected


def test_signing_key_follows_the_day_and_the_credentials() -> None:
    credentials = Credentials("AKID", "first-secret")
    signer = S3Signer(credentials, "us-east-1")
    first = signer.sign("PUT", "h", "/b/k", {}, b"x", NOW)["Authorization"]
    next_day = signer.sign("PUT", "h", "/b/k", {}, b"x", NOW.replace(day=21))["Authorization"]
    assert "20261120/us-east-1/s3" in first and "20261121/us-east-1/s3" in next_day
    credentials.secret_key = "rotated-secret"
    rotated = signer.sign("PUT", "h", "/b/k", {}, b"x", NOW)["Authorization"]
    assert rotated != first and "secret" not in rotated
