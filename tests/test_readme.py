"""The README's code runs as written: its Python and shell blocks, in order, against a server started here.

Only what cannot be pasted verbatim is adapted: the address (a free port instead of 8080), the data path of
the training example (a CSV generated here), the ``<...Arn>`` placeholders (the ARNs the Python blocks
created) and ``.venv/bin/`` (this interpreter's directory). Three kinds of shell line are not run as such, each
for a stated reason: ``make run`` / ``make test`` are the set-up this very test stands on; ``serve`` and
``worker`` run until stopped, so they are started, checked and stopped; benchmarks take minutes on data that
is not in the repository, so each is run with ``--help``.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import LiveServer, free_port

from openpersonalize.demo.generator import generate_vod

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
FENCE = re.compile(r"^```(\w+)\n(.*?)^```", re.S | re.M)
BLOCKS_SECONDS = 240
PLACEHOLDERS = {"<solutionVersionArn>": "version", "<solutionArn>": "solution"}


def blocks(language: str) -> list[str]:
    return [code for lang, code in FENCE.findall((ROOT / "README.md").read_text()) if lang == language]


def shell_lines(code: str) -> list[str]:
    """Commands of a shell block: continuation lines joined, comments and blank lines dropped."""
    joined = code.replace("\\\n", " ")
    return [line.split("  #")[0].strip() for line in joined.splitlines() if line.strip() and not line.lstrip().startswith("#")]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The directory a user would stand in: the server's data under ./var, as `make run` has it."""
    return tmp_path_factory.mktemp("readme")


@pytest.fixture(scope="module")
def readme_server(workdir: Path) -> Any:
    live = LiveServer(workdir / "var", demo=True)
    live.start()
    yield live
    live.stop()


@pytest.fixture(scope="module")
def namespace(readme_server: LiveServer, workdir: Path) -> dict[str, Any]:
    """Every Python block, in order, in one namespace (a user pasting them into one session)."""
    csv = workdir / "interactions.csv"
    generate_vod(users=120, items=100, interactions=3000, seed=1).interactions.select(
        "USER_ID", "ITEM_ID", "EVENT_TYPE", "TIMESTAMP").write_csv(csv)
    scope: dict[str, Any] = {}
    signal.signal(signal.SIGALRM, _too_slow)
    signal.alarm(BLOCKS_SECONDS)  # the README's wait loops poll until a status: a broken product must fail, not hang
    try:
        for code in blocks("python"):
            code = code.replace("http://127.0.0.1:8080", readme_server.url).replace("/path/to/interactions.csv", str(csv))
            exec(compile(code, "README.md", "exec"), scope)  # noqa: S102 - the README is ours
    finally:
        signal.alarm(0)
    return scope


def _too_slow(signum: int, frame: Any) -> None:
    raise TimeoutError(f"the README's Python blocks did not finish in {BLOCKS_SECONDS} s")


def test_python_blocks_run(namespace: dict[str, Any]) -> None:
    status = namespace["personalize"].describe_solution_version(solutionVersionArn=namespace["version"])
    assert status["solutionVersion"]["status"] == "ACTIVE"
    assert namespace["campaign"].startswith("arn:aws:personalize:")


def _adapt(line: str, server: LiveServer, scope: dict[str, Any]) -> str:
    line = line.replace("http://127.0.0.1:8080", server.url).replace(".venv/bin/", f"{BIN}/")
    for placeholder, name in PLACEHOLDERS.items():
        line = line.replace(placeholder, str(scope[name]))
    return line


def _env(server: LiveServer) -> dict[str, str]:
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", "AWS_ACCESS_KEY_ID": "any",
           "AWS_SECRET_ACCESS_KEY": "any", "AWS_DEFAULT_REGION": "us-east-1"}
    return {k: v for k, v in env.items() if not k.startswith("AWS_ENDPOINT_URL")}


def _run_long_lived(argv: list[str], env: dict[str, str], cwd: Path) -> None:
    """serve / worker: start on a free port and a scratch data dir, check it is up, stop it."""
    if "serve" in argv:
        port = free_port()
        argv = [port_or(a, port) for a in argv] + ["--no-demo"]
    argv = [str(cwd / "scratch-var") if a == "./var" else a for a in argv]
    process = subprocess.Popen(argv, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert process.poll() is None, process.stderr.read().decode() if process.stderr else ""
            if "serve" not in argv or _answers(port):
                break
            time.sleep(0.1)
        else:
            raise AssertionError(f"{argv} did not start")
        time.sleep(0.5)
        assert process.poll() is None
    finally:
        process.terminate()
        process.wait(10)


def port_or(arg: str, port: int) -> str:
    return str(port) if arg == "8080" else arg


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


def test_shell_blocks_run(namespace: dict[str, Any], readme_server: LiveServer, workdir: Path, s3_server: str,
                          s3: Any) -> None:
    env = _env(readme_server)
    if "personalize" not in {bucket["Name"] for bucket in s3.list_buckets()["Buckets"]}:
        s3.create_bucket(Bucket="personalize")  # the README's "Data on S3" bucket, on the suite's own S3 server
    ran = []
    for code in blocks("sh"):
        for line in shell_lines(code):
            if line.startswith("make "):
                continue  # the set-up this test stands on (`make test` runs this very file)
            line = _adapt(line, readme_server, namespace)
            if line.startswith("export "):
                for name, value in (pair.split("=", 1) for pair in shlex.split(line)[1:]):
                    env[name] = value.replace("http://127.0.0.1:8080", readme_server.url).replace(
                        "http://127.0.0.1:8333", s3_server)
                continue
            argv = shlex.split(line)
            if argv[1:2] in (["serve"], ["worker"]):
                _run_long_lived(argv, env, workdir)
            elif len(argv) > 1 and argv[1].startswith("bench/"):
                argv = [sys.executable, str(ROOT / argv[1]), "--help"]  # minutes of work on data kept out of the repository
                subprocess.run(argv, env=env, cwd=ROOT, check=True, capture_output=True, timeout=120)
            else:
                done = subprocess.run(argv, env=env, cwd=workdir, capture_output=True, text=True, timeout=300)
                assert done.returncode == 0, f"{line}\n{done.stdout}\n{done.stderr}"
            ran.append(line)
    assert any("export-model" in line for line in ran) and any(line.startswith("aws ") for line in ran)
