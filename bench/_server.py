"""What every API benchmark needs: a live ``openpersonalize serve`` subprocess, a boto3 client, polling."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import botocore.config


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(data_dir: Path, port: int, env: dict[str, str] | None = None,
                 args: tuple[str, ...] = ()) -> subprocess.Popen[bytes]:
    """A server on ``data_dir``; it may read and write beside it (the bench's inputs live in ``data_dir.parent``).
    ``args``: more ``serve`` options (``--no-worker`` for an API node of a cluster, ``--workers 2``)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    log = open(data_dir / f"server-{port}.log" if args else data_dir / "server.log", "ab")
    roots = {"OPENPERSONALIZE_LOCAL_PATHS": str(data_dir.parent)}
    process = subprocess.Popen(
        [sys.executable, "-m", "openpersonalize.cli", "serve", "--port", str(port), "--data-dir", str(data_dir),
         "--log-level", "warning", "--no-demo", *args],
        stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "OPENBLAS_NUM_THREADS": "1", **roots, **(env or {})},
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited: {(data_dir / 'server.log').read_text()[-2000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return process
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise RuntimeError("server did not start in 30 s")


def client(service: str, port: int) -> Any:
    return boto3.client(
        service, endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1",
        aws_access_key_id="bench", aws_secret_access_key="bench",
        config=botocore.config.Config(retries={"max_attempts": 1}, read_timeout=600),
    )


def peak_rss_mib(pid: int, field: str = "VmHWM") -> float:
    """The process's peak resident memory (``field="VmRSS"``: its current one), MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def reset_peak_rss(pid: int) -> None:
    # Writing 5 to clear_refs resets VmHWM (Linux ≥ 4.0), so each case reports its own peak.
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        pass


FINAL = ("ACTIVE", "CREATE FAILED", "CREATE STOPPED")


def poll(describe: Callable[[], dict[str, Any]], timeout: float = 600, interval: float = 0.02) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        record = describe()
        if record["status"] in FINAL or time.monotonic() > deadline:
            return record
        time.sleep(interval)


def wait_for_shortlists(port: int, users: int, timeout: float = 900.0, settle: int = 0) -> float:
    """Seconds until the served model's shortlists cover ``users`` users (serving/shortlists.py, /metrics); with
    ``settle``, also until that many polls in a row report the same count (several processes: each answers a
    poll with its own count, so the builds of all of them have ended)."""
    started = time.monotonic()
    seen: list[float] = []
    while time.monotonic() - started < timeout:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
            text = response.read().decode()
        listed = [float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                  if line.startswith('openpersonalize_cache_entries{cache="shortlists"}')]
        seen = (seen + listed[:1])[-max(settle, 1):]
        if listed and listed[0] >= users and len(seen) >= settle and len(set(seen)) == 1:
            return time.monotonic() - started
        time.sleep(1.0)
    raise RuntimeError("the shortlists did not cover every user in time")
