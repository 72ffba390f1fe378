"""Shared fixtures: a live server process on loopback and boto3 clients pointed at it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import botocore.config
import pytest
from _postgres import store_url

from openpersonalize.config import Settings
from openpersonalize.control.context import RequestContext
from openpersonalize.data.metadata import Store
from openpersonalize.data.store import DataStore
from openpersonalize.services import Services
from seaweedfs import SeaweedFS

REGION = "us-east-1"
# The baseline models live with the benchmarks (bench/baselines/), outside the shipped package.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
# Test inputs live in pytest's and tempfile's directories and are served from loopback; tests/security/ starts
# servers with the strict defaults instead.
TEST_ACCESS = {
    "OPENPERSONALIZE_LOCAL_PATHS": tempfile.gettempdir(),
    "OPENPERSONALIZE_HTTP_SOURCES": "127.0.0.1,localhost",
    "OPENPERSONALIZE_HTTP_ALLOW_PRIVATE": "1",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LiveServer:
    """An ``openpersonalize serve`` subprocess; restartable, killable (for crash tests)."""

    def __init__(self, data_dir: Path, env: dict[str, str] | None = None, *, demo: bool = False,
                 args: tuple[str, ...] = ()) -> None:
        self.data_dir = data_dir
        self.demo = demo
        self.args = args  # more ``serve`` options (--workers 2, --no-worker for an API node of a cluster)
        self.port = free_port()
        # Tests share one server, so the quota of 5 active dataset groups (spec §11) is raised here; quota tests
        # start their own server with the quota they check.
        quotas = {
            "OPENPERSONALIZE_QUOTA_ACTIVE_DATASET_GROUPS": "100000",
            "OPENPERSONALIZE_QUOTA_ACTIVE_SOLUTIONS_PER_GROUP": "100000",
        }
        # Deleted resources stay DELETE PENDING for a moment, as on AWS (config.Settings.delete_seconds): long
        # enough for a describe right after the delete, short enough not to slow the suite.
        timing = {"OPENPERSONALIZE_DELETE_SECONDS": "0.5"}
        # The metadata store of this data directory in this test run (tests/_postgres.py): a SQLite file, or on
        # the PostgreSQL leg a database of its own.
        store = {"OPENPERSONALIZE_METADATA_URL": store_url(data_dir)}
        self.env = {**os.environ, "OPENPERSONALIZE_RELAXED_MINIMUMS": "1", **quotas, **timing, **TEST_ACCESS, **store, **(env or {})}
        self.metadata_url = self.env["OPENPERSONALIZE_METADATA_URL"]
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = data_dir / "server.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "openpersonalize.cli", "serve", "--port", str(self.port), "--data-dir", str(self.data_dir), "--demo" if self.demo else "--no-demo", *self.args],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited: {self.log_path.read_text()[-3000:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("server did not start in 30 s")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()

    def kill(self) -> None:
        """SIGKILL: no chance to flush or clean up."""
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)

    def client(self, service: str, **kwargs: Any) -> Any:
        return make_client(service, self.url, **kwargs)


def make_client(service: str, url: str, **kwargs: Any) -> Any:
    config = botocore.config.Config(retries={"max_attempts": 1}, read_timeout=120)
    return boto3.client(
        service,
        endpoint_url=url,
        region_name=kwargs.pop("region_name", REGION),
        aws_access_key_id=kwargs.pop("aws_access_key_id", "AKIDEXAMPLE"),
        aws_secret_access_key=kwargs.pop("aws_secret_access_key", "secret"),
        config=config,
        **kwargs,
    )


def s3_env(url: str) -> dict[str, str]:
    """Environment for a server process that reads/writes S3 at ``url`` (dummy credentials, as for moto)."""
    return {
        "AWS_ENDPOINT_URL_S3": url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }


@pytest.fixture(scope="session")
def s3_server() -> Iterator[str]:
    """moto's S3 in server mode on loopback (a real S3-compatible endpoint); yields its URL."""
    from moto.server import ThreadedMotoServer

    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    host, port = moto.get_host_and_port()
    yield f"http://{host}:{port}"
    moto.stop()


@pytest.fixture(scope="session")
def s3(s3_server: str) -> Any:
    """A boto3 S3 client for the test side of ``s3_server`` (upload inputs, read outputs)."""
    return boto3.client("s3", endpoint_url=s3_server, region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing")


@pytest.fixture(scope="session")
def seaweedfs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedFS]:
    """SeaweedFS (a real S3 server) on loopback, started once per session by the first test that asks for it."""
    weed = SeaweedFS(tmp_path_factory.mktemp("seaweedfs"))
    weed.start()
    yield weed
    weed.stop()


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory, s3_server: str) -> Iterator[LiveServer]:
    # One job thread: tests hold a job (tests/control/test_filters_in_use.py, test_progress_report.py) to watch the queue.
    live = LiveServer(tmp_path_factory.mktemp("server"), env={**s3_env(s3_server), "OPENPERSONALIZE_WORKER_THREADS": "1"})
    live.start()
    yield live
    live.stop()


@pytest.fixture(scope="session")
def personalize(server: LiveServer) -> Any:
    return server.client("personalize")


@pytest.fixture(scope="session")
def events(server: LiveServer) -> Any:
    return server.client("personalize-events")


@pytest.fixture(scope="session")
def runtime(server: LiveServer) -> Any:
    return server.client("personalize-runtime")


def wait_for(describe: Callable[[], dict[str, Any]], done: tuple[str, ...] = ("ACTIVE",), timeout: float = 60) -> dict[str, Any]:
    """Poll a Describe call until its status is final (clients poll: there are no waiters)."""
    final = done + ("CREATE FAILED", "FAILED", "COMPLETED", "CREATE STOPPED")
    deadline = time.monotonic() + timeout
    while True:
        record = describe()
        if record.get("status") in final or time.monotonic() > deadline:
            return record
        time.sleep(0.05)


def unique(prefix: str) -> str:
    """Resource names are unique per account: tests sharing one server use distinct names."""
    return f"{prefix}-{time.monotonic_ns() % 10**12}"


@pytest.fixture()
def local(tmp_path: Path) -> RequestContext:
    """A control-plane context without a server or worker: resources stay in the state the test puts them in."""
    services = Services(
        settings=Settings(data_dir=tmp_path), store=Store(store_url(tmp_path)), data=DataStore(tmp_path)
    )
    return RequestContext(services=services, region="us-east-1", account_id="123456789012", request_id="t")
