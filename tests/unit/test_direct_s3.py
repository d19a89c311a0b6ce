"""Small PUTs signed with SigV4, over urllib3 or asyncio: retried when S3 says so, refused with the bucket and
key named."""

import asyncio
import hashlib
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import aiohttp
import pytest
from botocore.credentials import Credentials

from rs_assets.core.http import RetryPolicy
from rs_assets.core.storage.direct_s3 import DirectS3, DirectS3Error


class Recorder(BaseHTTPRequestHandler):
    replies: ClassVar[list[tuple[int, bytes]]] = []
    seen: ClassVar[list[dict]] = []

    def do_PUT(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Recorder.seen.append({"path": self.path, "headers": dict(self.headers), "body": body})
        status, payload = Recorder.replies.pop(0) if Recorder.replies else (200, b"")
        self.send_response(status)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def endpoint() -> Iterator[str]:
    Recorder.replies, Recorder.seen = [], []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


Put = Callable[..., None]


@pytest.fixture(params=["urllib3", "asyncio"])
def put(request: pytest.FixtureRequest, endpoint: str) -> Put:
    direct = DirectS3(endpoint, "us-east-1", Credentials("AKID", "SECRET"), retry=RetryPolicy(3, 0.01, 0.02))
    data = b"x" * 1000
    md5 = hashlib.md5(data).hexdigest()

    def put_sync(key: str = "o/c/item/file name.txt") -> None:
        direct.put("bucket", key, data, md5, {"rs-md5": md5})

    def put_async(key: str = "o/c/item/file name.txt") -> None:
        async def go() -> None:
            async with aiohttp.ClientSession() as http:
                await direct.put_async(http, "bucket", key, bytearray(data), md5, {"rs-md5": md5})

        asyncio.run(go())

    return put_sync if request.param == "urllib3" else put_async


def test_signed_with_md5_and_metadata_and_retried_on_503(put: Put) -> None:
    Recorder.replies = [(503, b"<Error><Code>SlowDown</Code></Error>")]
    put()
    assert len(Recorder.seen) == 2
    request = Recorder.seen[-1]
    assert request["path"] == "/bucket/o/c/item/file%20name.txt"
    assert request["headers"]["Authorization"].startswith("AWS4-HMAC-SHA256 Credential=AKID/")
    assert "SECRET" not in str(request["headers"])
    assert request["headers"]["Content-MD5"] and request["headers"]["x-amz-meta-rs-md5"]
    assert request["body"] == b"x" * 1000


def test_refusals_name_bucket_key_and_s3_code(put: Put) -> None:
    Recorder.replies = [(400, b"<Error><Code>BadDigest</Code></Error>")]
    with pytest.raises(DirectS3Error, match=r"s3://bucket/k/1 failed: BadDigest"):
        put("k/1")
    assert len(Recorder.seen) == 1, "a 400 is not retried"
    Recorder.replies = [(500, b"")] * 3
    with pytest.raises(DirectS3Error, match=r"s3://bucket/k/2 failed: HTTP 500"):
        put("k/2")
