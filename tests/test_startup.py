"""``openpersonalize worker`` and ``serve`` misconfigured: one line saying what is wrong, never a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.parametrize(("args", "needle"), [
    (["--metadata-url", "notaurl"], "cannot start: Could not parse"),
    (["--metadata-url", "postgresql://op:wrong@127.0.0.1:1/op"], "cannot start: (psycopg.OperationalError)"),
    (["--object-store", "s3:/bucket/prefix"], "cannot start: object store 's3:/bucket/prefix' is neither"),
])
def test_a_misconfigured_process_stops_with_one_line(tmp_path: Path, args: list[str], needle: str) -> None:
    for command in ("worker", "serve"):
        done = subprocess.run([sys.executable, "-m", "openpersonalize.cli", command, "--data-dir", str(tmp_path), *args],
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 1, done.stderr
        assert needle in done.stderr and "Traceback" not in done.stderr, done.stderr
