"""Does the own SigV4 signer (``rs_assets.core.storage.sigv4``) still earn its place against botocore's?

The same small PUTs (the AUX-file case: 8 KiB bodies) are signed, and then sent to S3 through ``DirectS3``,
once with our signer and once with botocore's ``S3SigV4Auth`` behind the same interface. Printed: CPU per
signature, CPU per whole PUT (sign + send + answer), and the share of a PUT's CPU the signer costs.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import platform
import statistics
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from benchmarks.common import RESULTS
from rs_assets.core.storage.direct_s3 import DirectS3
from rs_assets.core.storage.sigv4 import S3Signer

KEYS = {"AWS_ACCESS_KEY_ID": "rsassets", "AWS_SECRET_ACCESS_KEY": "rsassets-local-secret"}


class BotocoreSigner:
    """botocore's signer behind ``S3Signer.sign``'s interface."""

    def __init__(self, credentials: Any, region: str):
        self.auth = S3SigV4Auth(credentials, "s3", region)

    def sign(
        self, method: str, host: str, path: str, headers: Mapping[str, str], payload: bytes | bytearray
    ) -> dict[str, str]:
        request = AWSRequest(
            method=method, url=f"http://{host}{path}", data=bytes(payload), headers=dict(headers)
        )
        self.auth.add_auth(request)
        return dict(request.headers.items())


def cpu_per_call(call: Any, count: int) -> float:
    started = time.process_time()
    for n in range(count):
        call(n)
    return (time.process_time() - started) / count


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--s3-endpoint", required=True)
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    os.environ.update(KEYS)
    credentials = Credentials(KEYS["AWS_ACCESS_KEY_ID"], KEYS["AWS_SECRET_ACCESS_KEY"])
    bucket = "sigv4-bench"
    boto3.client("s3", endpoint_url=args.s3_endpoint, region_name="us-east-1").create_bucket(Bucket=bucket)
    body = os.urandom(8192)
    md5 = hashlib.md5(body).hexdigest()
    headers = {"Content-MD5": md5, "Content-Length": str(len(body))}
    signers = {
        "own": S3Signer(credentials, "us-east-1"),
        "botocore": BotocoreSigner(credentials, "us-east-1"),
    }
    sign: dict[str, list[float]] = {name: [] for name in signers}
    put: dict[str, list[float]] = {name: [] for name in signers}
    for _ in range(args.repeat):
        for name, signer in signers.items():
            sign[name].append(
                cpu_per_call(
                    lambda n, s=signer: s.sign("PUT", "127.0.0.1", f"/b/k{n}", headers, body), args.count
                )
            )
            direct = DirectS3(args.s3_endpoint, "us-east-1", credentials)
            direct.signer = signer  # type: ignore[assignment]
            put[name].append(
                cpu_per_call(lambda n, d=direct, w=name: d.put(bucket, f"{w}/{n}", body, md5, {}), args.count)
            )

    def us(values: list[float]) -> float:
        return statistics.median(values) * 1e6

    own_sign, boto_sign = us(sign["own"]), us(sign["botocore"])
    own_put, boto_put = us(put["own"]), us(put["botocore"])
    keep = boto_put / own_put >= 1.05
    lines = [
        f"# sigv4 benchmark, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.node()}, {os.cpu_count()} cores",
        f"# command: benchmarks/run sigv4 --count {args.count} --repeat {args.repeat}",
        f"# {args.count} PUTs of 8 KiB per run through DirectS3 to SeaweedFS, median of {args.repeat} runs, CPU time",
        f"  sign, own signer          : {own_sign:7.1f} us",
        f"  sign, botocore S3SigV4Auth: {boto_sign:7.1f} us",
        f"  whole PUT, own signer     : {own_put:7.1f} us (signing {own_sign / own_put:.0%} of it)",
        f"  whole PUT, botocore signer: {boto_put:7.1f} us (signing {boto_sign / boto_put:.0%} of it)",
        f"  ratio CPU per PUT (botocore / own): {boto_put / own_put:.2f}",
        f"  verdict: {'keep the own signer' if keep else 'the own signer no longer earns its place'}"
        " (kept when it saves at least 5% of a small PUT's CPU)",
    ]
    text = "\n".join(lines)
    print(text)
    (RESULTS / "sigv4.txt").write_text(text + "\n")


if __name__ == "__main__":
    main()
