"""Batch inference benchmark: 1M users × 25 recommendations through the live API, end to end (issue 5).

Starts ``openpersonalize serve`` as a subprocess, imports synthetic interactions (every user has a history;
users share planted tastes so the model has something to learn), trains User-Personalization once, then runs
one CreateBatchInferenceJob per input size (``--sizes``: the first N users, one ``{"userId"}`` line each), each
in a freshly started server on the same data, so every job's memory is its own. While a job runs, a progress bar
shows its percentage from ``GET /progress/<arn>`` (what ``openpersonalize progress`` reads) and the server's
resident memory is sampled. Per size it reports wall time, lines per second, RSS before the job, the peak during
it and their difference (the job's own memory: model, histories, buffers), and RSS at 25/50/75/100 % of the
input. Streaming means the difference is about the same for every input size. Exits 1 if the 1M-line job
misses the 5-minute target or any output is short.

    .venv/bin/python bench/batch.py                                        # 1M users; inputs of 100k and 1M
    .venv/bin/python bench/batch.py --users 200000 --sizes 20000,200000    # a quicker run
    .venv/bin/python bench/batch.py --ray --sizes 1000000                  # also through 1 and 2 Ray workers

``--ray`` (the ``[ray]`` extra) runs each size three times: in the server's worker as usual, then with the input split
across Ray tasks (jobs/fanout.py) on a local cluster of 1 and then 2 workers (the server started with OPENPERSONALIZE_RAY_ADDRESS=local:N,
a cluster of N workers inside it on loopback, ended with it), and prints each one's speed-up over the local
path. The server's RSS columns then leave out the Ray workers' memory. On a 2-core machine the local path already
scores on two threads, so two Ray workers can at best match it; the split pays on a cluster of several machines.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from _server import client as make_client
from _server import free_port, peak_rss_mib, poll, reset_peak_rss, start_server

TARGET_SECONDS = 300.0  # issue 5: 1M users × 25 in ≤ 5 minutes on 2 cores
UP = "arn:aws:personalize:::recipe/aws-user-personalization"
ROLE = "arn:aws:iam::123456789012:role/bench"
SCHEMA = {
    "type": "record", "name": "Interactions", "namespace": "com.amazonaws.personalize.schema",
    "fields": [{"name": "USER_ID", "type": "string"}, {"name": "ITEM_ID", "type": "string"},
               {"name": "EVENT_TYPE", "type": "string"}, {"name": "TIMESTAMP", "type": "long"}],
    "version": "1.0",
}
TASTES = 50  # planted user groups, each preferring its own slice of the catalogue


def generate(path: Path, users: int, items: int, per_user: int, seed: int = 11) -> None:
    """Each user: ``per_user`` events, mostly from their taste group's items, the rest popular (Zipf)."""
    rng = np.random.default_rng(seed)
    n = users * per_user
    user = np.repeat(np.arange(users), per_user)
    taste = user % TASTES
    own = taste * (items // TASTES) + rng.integers(0, items // TASTES, n)
    popular = rng.zipf(1.3, n) % items
    item = np.where(rng.random(n) < 0.7, own, popular)
    frame = pl.DataFrame({
        "USER_ID": user, "ITEM_ID": item, "EVENT_TYPE": "click",
        "TIMESTAMP": 1_700_000_000 + np.tile(np.arange(per_user) * 3600, users) + rng.integers(0, 600, n),
    }).with_columns(pl.format("u{}", "USER_ID").alias("USER_ID"), pl.format("i{}", "ITEM_ID").alias("ITEM_ID"))
    frame.write_csv(path)


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def job_progress(port: int, arn: str) -> dict[str, Any]:
    """The server's progress report (api/progress.py): status and percent of the input answered."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/progress/{arn}", timeout=30) as answer:
        return dict(json.loads(answer.read()))


def write_input(path: Path, users: int) -> None:
    with open(path, "wb") as out:
        for start in range(0, users, 100_000):
            out.write("".join(f'{{"userId": "u{u}"}}\n' for u in range(start, min(users, start + 100_000))).encode())


def train(client: Any, csv: Path) -> tuple[str, float]:
    stamp = time.monotonic_ns()
    schema = client.create_schema(name=f"bench-{stamp}", schema=json.dumps(SCHEMA))["schemaArn"]
    group = client.create_dataset_group(name=f"bench-{stamp}")["datasetGroupArn"]
    poll(lambda: client.describe_dataset_group(datasetGroupArn=group)["datasetGroup"])
    dataset = client.create_dataset(name=f"bench-{stamp}", schemaArn=schema, datasetGroupArn=group,
                                    datasetType="Interactions")["datasetArn"]
    poll(lambda: client.describe_dataset(datasetArn=dataset)["dataset"])
    job = client.create_dataset_import_job(jobName=f"bench-{stamp}", datasetArn=dataset,
                                           dataSource={"dataLocation": str(csv)})["datasetImportJobArn"]
    imported = poll(lambda: client.describe_dataset_import_job(datasetImportJobArn=job)["datasetImportJob"])
    assert imported["status"] == "ACTIVE", imported.get("failureReason")
    solution = client.create_solution(name=f"bench-{stamp}", datasetGroupArn=group, recipeArn=UP,
                                      performAutoTraining=False)["solutionArn"]
    poll(lambda: client.describe_solution(solutionArn=solution)["solution"])
    started = time.monotonic()
    version = client.create_solution_version(solutionArn=solution)["solutionVersionArn"]
    trained = poll(lambda: client.describe_solution_version(solutionVersionArn=version)["solutionVersion"], timeout=3600)
    assert trained["status"] == "ACTIVE", trained.get("failureReason")
    return version, time.monotonic() - started


def run_job(client: Any, port: int, pid: int, version: str, source: Path, target: Path,
            results: int) -> tuple[dict[str, Any], list[tuple[float, float]]]:
    """Run one job to its end; returns its description and (percent answered, RSS MiB) samples."""
    arn = client.create_batch_inference_job(
        jobName=f"bench-{time.monotonic_ns()}", solutionVersionArn=version, roleArn=ROLE, numResults=results,
        jobInput={"s3DataSource": {"path": str(source)}}, jobOutput={"s3DataDestination": {"path": f"{target}/"}},
    )["batchInferenceJobArn"]
    samples: list[tuple[float, float]] = []
    columns = (TextColumn("batch inference"), BarColumn(), TextColumn("{task.percentage:>5.1f}%"), TimeElapsedColumn())
    with Progress(*columns) as bar:
        task = bar.add_task("job", total=100.0)
        while True:
            report = job_progress(port, arn)
            percent = float(report["percent"] or 0.0)
            samples.append((percent, rss_mib(pid)))
            bar.update(task, completed=percent)
            if report["status"] in ("ACTIVE", "CREATE FAILED"):
                break
            time.sleep(0.5)
    return client.describe_batch_inference_job(batchInferenceJobArn=arn)["batchInferenceJob"], samples


@dataclass
class Case:
    lines: int
    seconds: float
    before: float  # server RSS (MiB) just before the job was created
    peak: float  # highest RSS while it ran
    at: list[float]  # RSS at 25, 50, 75 and 100 % of the input
    status: str
    failure: str | None
    written: int
    label: str = "local"  # where the lines were answered: the server's worker, or Ray with N workers


def _at(samples: list[tuple[float, float]], percent: float) -> float:
    return next((rss for done, rss in samples if done >= percent), float("nan"))


def measure(root: Path, version: str, lines: int, results: int, env: dict[str, str] | None = None,
            label: str = "local") -> Case:
    """One job over the first ``lines`` users, in a server started for it."""
    source, target = root / f"users-{lines}.jsonl", root / f"out-{lines}-{label}"
    if not source.exists():
        write_input(source, lines)
    port = free_port()
    server = start_server(root / "server", port, env)
    try:
        client = make_client("personalize", port)
        client.list_dataset_groups()  # the request path's lazy imports happen before the baseline, not in the job
        time.sleep(1.0)
        before = rss_mib(server.pid)
        reset_peak_rss(server.pid)
        started = time.monotonic()
        job, samples = run_job(client, port, server.pid, version, source, target, results)
        seconds = time.monotonic() - started
        peak = peak_rss_mib(server.pid)
    finally:
        server.terminate()
        server.wait(30)
    output = target / source.name
    written = sum(1 for _ in open(f"{output}.out", "rb")) if job["status"] == "ACTIVE" else 0
    return Case(lines, seconds, before, peak, [_at(samples, p) for p in (25, 50, 75, 100)], job["status"],
                job.get("failureReason"), written, label)


def measure_ray(root: Path, version: str, lines: int, results: int, workers: int) -> Case:
    return measure(root, version, lines, results, {"OPENPERSONALIZE_RAY_ADDRESS": f"local:{workers}"}, f"Ray × {workers}")


def train_once(root: Path, args: argparse.Namespace) -> tuple[str, float]:
    csv = root / "interactions.csv"
    generate(csv, args.users, args.items, args.per_user)
    port = free_port()
    server = start_server(root / "server", port)
    try:
        return train(make_client("personalize", port), csv)
    finally:
        server.terminate()
        server.wait(30)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--sizes", default="100000,1000000", help="input lines per job, comma-separated (≤ --users)")
    parser.add_argument("--items", type=int, default=5000)
    parser.add_argument("--per-user", type=int, default=8)
    parser.add_argument("--results", type=int, default=25)
    parser.add_argument("--ray", action="store_true", help="also answer each size through 1 and 2 local Ray workers")
    args = parser.parse_args()
    if args.ray and importlib.util.find_spec("ray") is None:
        parser.error("--ray needs the [ray] extra")
    sizes = [min(int(n), args.users) for n in args.sizes.split(",")]
    with tempfile.TemporaryDirectory(prefix="op-bench-batch-") as tmp:
        root = Path(tmp)
        version, train_seconds = train_once(root, args)
        cases = []
        for lines in sizes:
            cases.append(measure(root, version, lines, args.results))
            if args.ray:
                cases += [measure_ray(root, version, lines, args.results, workers) for workers in (1, 2)]
    print(f"\nUser-Personalization on {args.users:,} users × {args.per_user} events, {args.items:,} items: "
          f"trained in {train_seconds:.0f} s; numResults {args.results}.")
    print("\n| input lines | answered by | batch s | lines/s | speed-up | RSS before MiB | peak during MiB "
          "| peak − before MiB | RSS at 25/50/75/100 % MiB | status | target |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    local = {case.lines: case.seconds for case in cases if case.label == "local"}
    for case in cases:
        at = " / ".join(f"{v:.0f}" for v in case.at)
        target = f"≤ {TARGET_SECONDS:.0f} s" if case.lines >= 1_000_000 else "-"
        print(f"| {case.lines:,} | {case.label} | {case.seconds:.0f} | {case.written / case.seconds:,.0f} | "
              f"{local[case.lines] / case.seconds:.2f}× | {case.before:.0f} | "
              f"{case.peak:.0f} | {case.peak - case.before:.0f} | {at} | {case.status} | {target} |")
        if case.failure:
            print(case.failure)
    passed = all(c.status == "ACTIVE" and c.written == c.lines for c in cases)
    return 0 if passed and all(c.seconds <= TARGET_SECONDS for c in cases if c.lines >= 1_000_000) else 1


if __name__ == "__main__":
    sys.exit(main())
