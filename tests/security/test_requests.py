"""Browser-proof defaults and bounded requests: content types, Host, caps before buffering, deadlines, signing."""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from ._sandbox import Sandbox, healthy, peak_rss_kb, start_sandbox

KEY, SECRET = "AKIDSECURITY", "security-secret"
FOREIGN = {"Origin": "http://evil.example", "Content-Type": "text/plain"}


@pytest.fixture(scope="module")
def quick(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    """No keys, a 64 KiB body cap and 1 s request deadlines, so the slow cases are fast to test."""
    box = start_sandbox(tmp_path_factory.mktemp("quick"), OPENPERSONALIZE_MAX_BODY_BYTES=str(64 << 10),
                        OPENPERSONALIZE_REQUEST_SECONDS="1")
    yield box
    box.server.stop()


@pytest.fixture(scope="module")
def keyed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    box = start_sandbox(tmp_path_factory.mktemp("keyed"), OPENPERSONALIZE_ACCESS_KEYS=f"{KEY}:{SECRET}")
    yield box
    box.server.stop()


def raw(port: int, head: bytes, body: bytes = b"", wait: float = 5.0) -> bytes:
    """Send raw bytes, return what the server answered before closing or ``wait`` seconds."""
    with socket.create_connection(("127.0.0.1", port), timeout=wait) as sock:
        sock.sendall(head + body)
        try:
            return sock.recv(65536)
        except TimeoutError:
            return b""


def status(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/1.1 ") else 0


def test_cors_simple_requests_from_a_web_page_are_refused(sandbox: Sandbox) -> None:
    url = sandbox.server.url
    for path in ("/events", "/items", "/users", "/recommendations", "/personalize-ranking", "/"):
        for headers in (FOREIGN, {"Origin": "http://evil.example"}):
            answer = httpx.post(url + path, headers=headers, content=b'{"trackingId": "x", "sessionId": "s"}')
            assert answer.status_code == 415 and answer.json()["__type"] == "UnsupportedMediaTypeException", path
    healthy(sandbox)


def test_a_foreign_host_is_refused_without_keys(sandbox: Sandbox) -> None:
    headers = {"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "AmazonPersonalize.ListDatasetGroups"}
    refused = httpx.post(sandbox.server.url + "/", headers={**headers, "Host": "evil.example"}, content=b"{}")
    assert refused.status_code == 403 and refused.json()["__type"] == "AccessDeniedException"
    for host in ("localhost", f"localhost:{sandbox.server.port}", "127.0.0.1"):
        assert httpx.post(sandbox.server.url + "/", headers={**headers, "Host": host}, content=b"{}").status_code == 200
    assert httpx.get(sandbox.server.url + "/metrics", headers={"Host": "evil.example"}).status_code == 403


def test_a_declared_oversized_body_is_refused_before_it_is_sent(sandbox: Sandbox) -> None:
    before = peak_rss_kb(sandbox.server.process.pid)  # type: ignore[union-attr]
    head = (b"POST /events HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Content-Length: 314572800\r\n\r\n")
    answer = raw(sandbox.server.port, head)  # no body sent at all: the answer cannot have waited for it
    assert status(answer) == 413 and b"RequestEntityTooLargeException" in answer
    assert peak_rss_kb(sandbox.server.process.pid) - before < 50_000  # type: ignore[union-attr]
    healthy(sandbox)


def test_a_chunked_body_is_cut_off_at_the_cap(quick: Sandbox) -> None:
    head = (b"POST /events HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n")
    chunk = b"%x\r\n%s\r\n" % (32 << 10, b"x" * (32 << 10))
    answer = raw(quick.server.port, head, chunk * 3)
    assert status(answer) == 413
    healthy(quick)


def test_an_oversized_header_is_refused_and_others_are_served(sandbox: Sandbox) -> None:
    with socket.create_connection(("127.0.0.1", sandbox.server.port), timeout=10) as sock:
        sock.sendall(b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ")
        started = time.monotonic()
        try:
            for _ in range(200):  # up to 200 MB, as the probe sent; the server must stop it long before
                sock.sendall(b"a" * (1 << 20))
        except OSError:
            pass
        answer = sock.recv(4096)
    assert status(answer) in (431, 0) and time.monotonic() - started < 5
    healthy(sandbox)


def test_a_slow_head_and_a_slow_body_are_timed_out(quick: Sandbox) -> None:
    started = time.monotonic()
    assert status(raw(quick.server.port, b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\n")) == 408
    head = (b"POST /events HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Content-Length: 100\r\n\r\n")
    answer = raw(quick.server.port, head, b"{")
    assert status(answer) == 408 and b"RequestTimeoutException" in answer
    assert time.monotonic() - started < 6
    healthy(quick)


def test_an_idle_connection_is_closed(quick: Sandbox) -> None:
    with socket.create_connection(("127.0.0.1", quick.server.port), timeout=5) as sock:
        started = time.monotonic()
        assert sock.recv(1) == b""
        assert time.monotonic() - started < 4


def test_deep_json_is_a_typed_400(sandbox: Sandbox) -> None:
    body = b'{"nextToken": ' + b"[" * 1000 + b"]" * 1000 + b"}"
    answer = httpx.post(sandbox.server.url + "/", content=body, headers={
        "Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "AmazonPersonalize.ListSchemas"})
    assert answer.status_code == 400 and answer.json()["__type"] == "SerializationException"
    shallow = b'{"name": "[[[[{{{{"}'  # brackets inside strings are not nesting
    answer = httpx.post(sandbox.server.url + "/", content=shallow, headers={
        "Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "AmazonPersonalize.DescribeSchema"})
    assert answer.json()["__type"] != "SerializationException"


# ---- with access keys --------------------------------------------------------------------------------------------


def _signed(url: str, target: str | None, body: bytes, method: str = "POST", path: str = "/") -> AWSRequest:
    headers = {"Content-Type": "application/x-amz-json-1.1",
               "X-Amz-Date": dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")}
    if target:
        headers["X-Amz-Target"] = f"AmazonPersonalize.{target}"
    request = AWSRequest(method=method, url=url + path, data=body, headers=headers)
    SigV4Auth(Credentials(KEY, SECRET), "personalize", "us-east-1").add_auth(request)
    return request


def test_an_unsigned_huge_body_is_refused_before_reading(keyed: Sandbox) -> None:
    head = (b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-amz-json-1.1\r\n"
            b"X-Amz-Target: AmazonPersonalize.ListSchemas\r\nContent-Length: 4000000\r\n\r\n")
    answer = raw(keyed.server.port, head)
    assert status(answer) == 403 and b"UnrecognizedClientException" in answer


def test_metrics_needs_a_signature_when_keys_are_set(keyed: Sandbox) -> None:
    assert httpx.get(keyed.server.url + "/metrics").status_code == 403
    request = _signed(keyed.server.url, None, b"", method="GET", path="/metrics")
    answer = httpx.get(keyed.server.url + "/metrics", headers=dict(request.headers))
    assert answer.status_code == 200 and "openpersonalize" in answer.text


def test_the_operation_header_must_be_signed(keyed: Sandbox) -> None:
    body = json.dumps({"datasetGroupArn": "arn:aws:personalize:us-east-1:123456789012:dataset-group/x"}).encode()
    request = _signed(keyed.server.url, None, body)  # signed without X-Amz-Target, which is added afterwards
    headers = {**dict(request.headers), "X-Amz-Target": "AmazonPersonalize.DeleteDatasetGroup"}
    answer = httpx.post(keyed.server.url + "/", headers=headers, content=body)
    assert answer.status_code == 403 and "X-Amz-Target" in answer.json()["message"]
    good = _signed(keyed.server.url, "DescribeDatasetGroup", body)
    assert httpx.post(keyed.server.url + "/", headers=dict(good.headers), content=body).json()["__type"] == \
        "ResourceNotFoundException"


def test_a_non_loopback_bind_without_keys_needs_the_opt_in() -> None:
    env = {k: v for k, v in os.environ.items() if k != "OPENPERSONALIZE_ACCESS_KEYS"}
    done = subprocess.run([sys.executable, "-m", "openpersonalize.cli", "serve", "--host", "0.0.0.0", "--no-demo"],
                          env=env, capture_output=True, timeout=60)
    assert done.returncode != 0 and b"--allow-unauthenticated-network" in done.stderr
