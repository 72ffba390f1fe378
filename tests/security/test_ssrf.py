"""No SSRF: http(s) sources only for listed hosts, never to private addresses, no cross-host redirects, bounded."""

from __future__ import annotations

import http.server
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from openpersonalize.data.access import SYSTEM_ROOTS, Access, AccessDenied, _public
from openpersonalize.data.download import DownloadFailed, download

from conftest import unique, wait_for

from ._sandbox import Sandbox, healthy, import_job, new_dataset, start_sandbox, write_interactions

BODY = b"USER_ID,ITEM_ID,TIMESTAMP\nu,i,1\n"


class Source(http.server.ThreadingHTTPServer):
    """A tiny HTTP server on loopback: /data.csv, /big, /drip, /same (redirect here), /away (to another host)."""

    def __init__(self) -> None:
        self.requests = 0
        self.stop_drip = threading.Event()
        source = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                source.requests += 1
                port = source.server_address[1]
                if self.path == "/same":
                    self._redirect(f"http://127.0.0.1:{port}/data.csv")
                elif self.path == "/away":
                    self._redirect(f"http://localhost:{port}/metrics")
                elif self.path == "/drip":
                    self._drip()
                else:
                    body = BODY * 1000 if self.path == "/big" else BODY
                    self._send(body)

            def _redirect(self, location: str) -> None:
                self.send_response(302)
                self.send_header("Location", location)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def _send(self, body: bytes) -> None:
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _drip(self) -> None:
                self.send_response(200)
                self.end_headers()
                while not source.stop_drip.wait(0.2):
                    try:
                        self.wfile.write(b"x")
                        self.wfile.flush()
                    except OSError:
                        return

            def log_message(self, *args: Any) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.server_address[1]}{path}"

    def close(self) -> None:
        self.stop_drip.set()
        self.shutdown()


@pytest.fixture()
def source() -> Iterator[Source]:
    server = Source()
    yield server
    server.close()


def policy(hosts: set[str], private: bool = True, max_bytes: int = 1 << 20, deadline: float = 5.0) -> Access:
    return Access(local_roots=(), forbidden=SYSTEM_ROOTS, http_hosts=frozenset(hosts), http_private=private,
                  http_max_bytes=max_bytes, http_deadline=deadline, grants=None)


@pytest.mark.parametrize("address", [
    "127.0.0.1", "127.1.2.3", "::1", "::ffff:127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254",
    "100.64.0.1", "0.0.0.0", "::", "fe80::1", "fd00::1", "224.0.0.1",
])
def test_private_loopback_and_link_local_addresses_are_not_public(address: str) -> None:
    assert not _public(address)


def test_public_addresses_are_public() -> None:
    assert _public("93.184.216.34") and _public("2606:2800:220:1:248:1893:25c8:1946")


@pytest.mark.parametrize("host", ["127.0.0.1", "2130706433", "0x7f000001", "0177.0.0.1", "127.1", "localhost"])
def test_every_numeric_form_of_loopback_is_refused_after_resolution(host: str) -> None:
    with pytest.raises(AccessDenied, match="non-public address"):
        policy({host}, private=False).address(host, 80)


def test_unlisted_hosts_are_refused_before_any_connection(source: Source, tmp_path: Path) -> None:
    with pytest.raises(AccessDenied, match="OPENPERSONALIZE_HTTP_SOURCES"):
        download(policy(set()), source.url("/data.csv"), tmp_path / "x")
    assert source.requests == 0


def test_same_host_redirects_are_followed_other_hosts_are_not(source: Source, tmp_path: Path) -> None:
    download(policy({"127.0.0.1", "localhost"}), source.url("/same"), tmp_path / "same")
    assert (tmp_path / "same").read_bytes() == BODY
    with pytest.raises(DownloadFailed, match="redirects to another host"):
        download(policy({"127.0.0.1", "localhost"}), source.url("/away"), tmp_path / "away")
    assert source.requests == 3  # /same, /data.csv, /away — never /metrics


def test_the_size_cap_is_checked_while_streaming(source: Source, tmp_path: Path) -> None:
    with pytest.raises(DownloadFailed, match="larger than 4096 bytes"):
        download(policy({"127.0.0.1"}, max_bytes=4096), source.url("/big"), tmp_path / "big")


def test_a_dripping_source_hits_the_deadline(source: Source, tmp_path: Path) -> None:
    started = time.monotonic()
    with pytest.raises(DownloadFailed, match="longer than 1 s"):
        download(policy({"127.0.0.1"}, deadline=1.0), source.url("/drip"), tmp_path / "drip")
    assert time.monotonic() - started < 3


def test_failure_reasons_are_no_port_scanner(tmp_path: Path) -> None:
    closed = "http://127.0.0.1:9/x.csv"  # the discard port: nothing listens there
    with pytest.raises(DownloadFailed) as failure:
        download(policy({"127.0.0.1"}), closed, tmp_path / "x")
    assert "refused" not in str(failure.value).lower() and "errno" not in str(failure.value).lower()


@pytest.fixture(scope="module")
def listed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    """A server that lists loopback names as HTTP sources but keeps private addresses refused (the default)."""
    box = start_sandbox(tmp_path_factory.mktemp("ssrf"), OPENPERSONALIZE_HTTP_SOURCES="127.0.0.1,2130706433,localhost")
    yield box
    box.server.stop()


def test_imports_never_reach_loopback(sandbox: Sandbox, listed: Sandbox, source: Source) -> None:
    cases = [(sandbox, source.url("/data.csv"), "not allowed (OPENPERSONALIZE_HTTP_SOURCES)"),
             (listed, source.url("/data.csv"), "non-public address"),
             (listed, source.url("/data.csv", host="2130706433"), "non-public address"),
             (listed, source.url("/data.csv", host="localhost"), "non-public address"),
             (listed, f"http://127.0.0.1:{listed.server.port}/metrics", "non-public address")]
    for box, url, reason in cases:
        job = import_job(box.client, new_dataset(box.client)[1], url)
        assert job["status"] == "CREATE FAILED" and reason in job["failureReason"], (url, job["failureReason"])
        healthy(box)
    assert source.requests == 0


def test_a_dripping_source_neither_stalls_other_jobs_nor_runs_forever(tmp_path_factory: pytest.TempPathFactory,
                                                                      source: Source) -> None:
    box = start_sandbox(tmp_path_factory.mktemp("drip"), OPENPERSONALIZE_HTTP_SOURCES="127.0.0.1",
                        OPENPERSONALIZE_HTTP_ALLOW_PRIVATE="1", OPENPERSONALIZE_HTTP_DEADLINE_SECONDS="8")
    try:
        client = box.client
        _, dataset = new_dataset(client)
        slow = client.create_dataset_import_job(jobName=unique("drip"), datasetArn=dataset,
                                                dataSource={"dataLocation": source.url("/drip")})["datasetImportJobArn"]
        _, other = new_dataset(client)
        assert import_job(client, other, str(write_interactions(box.root / "in" / "i.csv")))["status"] == "ACTIVE"
        still = client.describe_dataset_import_job(datasetImportJobArn=slow)["datasetImportJob"]["status"]
        assert still == "CREATE IN_PROGRESS"  # the other import finished while the slow one was still dripping
        job = wait_for(lambda: client.describe_dataset_import_job(datasetImportJobArn=slow)["datasetImportJob"], timeout=30)
        assert job["status"] == "CREATE FAILED" and "longer than 8 s" in job["failureReason"]
    finally:
        box.server.stop()
