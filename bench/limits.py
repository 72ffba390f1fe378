"""Resource bounds under hostile input: the server's peak RSS (and time) per attack, as a table.

Starts ``openpersonalize serve`` (as tests/conftest.py does) and, for each case, resets the server's peak RSS
(VmHWM), runs the attack, and reports the peak above the idle baseline, how long it took to be refused and
whether a normal call was answered right after:

- a 2 GB sparse file (``truncate``: all NUL bytes, no newline) as a dataset import;
- four concurrent unsigned 300 MB request bodies, declared (Content-Length) or chunked, without keys (refused
  at the body cap) and with keys (refused before the body is read);
- a 200 MB header line, and how long another client waits meanwhile.

    .venv/bin/python bench/limits.py
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from _server import client as make_client
from _server import free_port, peak_rss_mib, poll, reset_peak_rss, start_server

TARGET_MIB = 256  # peak above the idle baseline, per case
BODY_BYTES = 300 << 20
CHUNK = b"\0" * (1 << 20)
SCHEMA = {
    "type": "record", "name": "Interactions", "namespace": "com.amazonaws.personalize.schema",
    "fields": [{"name": "USER_ID", "type": "string"}, {"name": "ITEM_ID", "type": "string"},
               {"name": "TIMESTAMP", "type": "long"}],
    "version": "1.0",
}


@dataclass
class Row:
    case: str
    seconds: float
    peak_above_idle_mib: float
    outcome: str
    healthy: bool

    @property
    def passed(self) -> bool:
        return self.healthy and self.peak_above_idle_mib <= TARGET_MIB


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def normal_call(port: int, keys: str) -> Callable[[], None]:
    """ListDatasetGroups, signed with the server's key when it has one."""
    key, _, secret = keys.partition(":")
    client = boto3.client("personalize", endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1",
                          aws_access_key_id=key or "bench", aws_secret_access_key=secret or "bench")
    return lambda: client.list_dataset_groups(maxResults=1) and None


def measure(case: str, pid: int, call: Callable[[], None], attack: Callable[[], str]) -> Row:
    time.sleep(0.5)
    idle = rss_mib(pid)
    reset_peak_rss(pid)
    started = time.monotonic()
    outcome = attack()
    seconds = time.monotonic() - started
    peak = peak_rss_mib(pid) - idle
    try:
        call()
        healthy = True
    except Exception:  # any failure of the normal call is the finding
        healthy = False
    return Row(case, seconds, peak, outcome, healthy)


def sparse_import(client: Any, work: Path) -> Callable[[], str]:
    path = work / "sparse.csv"
    subprocess.run(["truncate", "-s", "2G", str(path)], check=True)
    stamp = time.monotonic_ns()
    schema = client.create_schema(name=f"limits-{stamp}", schema=json.dumps(SCHEMA))["schemaArn"]
    group = client.create_dataset_group(name=f"limits-{stamp}")["datasetGroupArn"]
    poll(lambda: client.describe_dataset_group(datasetGroupArn=group)["datasetGroup"])
    dataset = client.create_dataset(name=f"limits-{stamp}", schemaArn=schema, datasetGroupArn=group,
                                    datasetType="Interactions")["datasetArn"]
    poll(lambda: client.describe_dataset(datasetArn=dataset)["dataset"])

    def attack() -> str:
        arn = client.create_dataset_import_job(jobName=f"limits-{stamp}", datasetArn=dataset,
                                               dataSource={"dataLocation": str(path)})["datasetImportJobArn"]
        job = poll(lambda: client.describe_dataset_import_job(datasetImportJobArn=arn)["datasetImportJob"])
        return f"{job['status']}: {job.get('failureReason', '')[-60:]}"

    return attack


def _send_body(port: int, chunked: bool, answers: list[str]) -> None:
    length = b"Transfer-Encoding: chunked" if chunked else b"Content-Length: %d" % BODY_BYTES
    head = (b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-amz-json-1.1\r\n"
            b"X-Amz-Target: AmazonPersonalize.ListSchemas\r\n%s\r\n\r\n" % length)
    piece = b"%x\r\n%s\r\n" % (len(CHUNK), CHUNK) if chunked else CHUNK
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        try:
            sock.sendall(head)
            for _ in range(BODY_BYTES // len(CHUNK)):
                sock.sendall(piece)
        except OSError:
            pass  # the server stopped reading: that is the point
        answer = sock.recv(256)
    answers.append(answer.split(b"\r\n", 1)[0].decode(errors="replace"))


def unsigned_bodies(port: int, chunked: bool) -> Callable[[], str]:
    """Four at once; ``chunked``: no Content-Length, so the cap must be counted while the body streams in."""

    def attack() -> str:
        answers: list[str] = []
        threads = [threading.Thread(target=_send_body, args=(port, chunked, answers)) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return ", ".join(sorted(set(answers))) or "no answer"

    return attack


def huge_header(port: int) -> Callable[[], str]:
    def attack() -> str:
        waited: list[float] = []
        sock = socket.create_connection(("127.0.0.1", port), timeout=60)
        sock.sendall(b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ")

        def other() -> None:
            started = time.monotonic()
            make_client("personalize", port).list_dataset_groups(maxResults=1)
            waited.append(time.monotonic() - started)

        probe = threading.Thread(target=other)
        probe.start()
        try:
            for _ in range(200):
                sock.sendall(CHUNK)
        except OSError:
            pass
        answer = sock.recv(256).split(b"\r\n", 1)[0].decode(errors="replace")
        sock.close()
        probe.join()
        return f"{answer or 'closed'}; another client waited {waited[0] * 1000:.0f} ms"

    return attack


def table(rows: list[Row]) -> str:
    lines = [f"{'case':<52} {'seconds':>8} {'peak-idle MiB':>14} {'target':>9}  {'normal call':>11}  outcome"]
    for r in rows:
        lines.append(f"{r.case:<52} {r.seconds:>8.2f} {r.peak_above_idle_mib:>14.0f} {'<= ' + str(TARGET_MIB):>9}  "
                     f"{'answered' if r.healthy else 'FAILED':>11}  {r.outcome}  {'pass' if r.passed else 'FAIL'}")
    return "\n".join(lines)


def main() -> int:
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="op-bench-limits-") as temp:
        work = Path(temp)
        for keys in ("", "AKIDBENCH:bench-secret"):
            port = free_port()
            server = start_server(work / f"server{len(keys)}", port, env={"OPENPERSONALIZE_ACCESS_KEYS": keys})
            try:
                label, call = "with keys" if keys else "no keys", normal_call(port, keys)
                if not keys:
                    attack = sparse_import(make_client("personalize", port), work)
                    rows.append(measure("2 GB sparse import", server.pid, call, attack))
                    rows.append(measure("200 MB header line", server.pid, call, huge_header(port)))
                for chunked in (False, True):
                    case = f"4 x 300 MB unsigned {'chunked ' if chunked else ''}bodies, {label}"
                    rows.append(measure(case, server.pid, call, unsigned_bodies(port, chunked)))
            finally:
                server.terminate()
                server.wait(30)
            print(f"done: {label}", flush=True)
    print()
    print(table(rows))
    return 0 if all(r.passed for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
