"""Cluster benchmark: one process on SQLite and local files against the multi-node topology of
deploy/docker-compose.yml: PostgreSQL (metadata, job queue and event log), SeaweedFS (S3: inputs, datasets, models,
job outputs), two API nodes (``serve --no-worker``) and two ``worker`` processes.

For each layout, on generated VOD data (``--users/--items/--interactions``):
- import: CreateDatasetImportJob of the interactions and items, seconds until both are ACTIVE;
- training: a User-Personalization solution version, seconds until ACTIVE;
- GetRecommendations throughput: ``--threads`` client threads for ``--seconds``, against one API node and
  (cluster) against both;
- cross-node event lag (cluster): PutEvents of a new session on node A, then GetRecommendations on node B until
  the answer for that session changes; p50 / p99 over ``--events`` sessions, or how many never changed within
  ``--lag-timeout``.

PostgreSQL and SeaweedFS are throw-away servers on loopback (tests/_postgres.py, tests/seaweedfs.py). Every cluster
process has a data directory of its own and the cluster's inputs are read from S3: the nodes share nothing but the
database and the bucket, as on separate hosts.

    .venv/bin/python bench/cluster.py
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from _postgres import PostgresServer  # noqa: E402
from _server import client, free_port, poll, start_server  # noqa: E402
from seaweedfs import SeaweedFS  # noqa: E402

from openpersonalize.demo.generator import generate_vod, write_csv  # noqa: E402

UP = "arn:aws:personalize:::recipe/aws-user-personalization"
RELAXED = {"OPENPERSONALIZE_RELAXED_MINIMUMS": "1"}


def _ms(samples: list[float]) -> str:
    ordered = sorted(samples)
    return f"p50 {1000 * statistics.median(ordered):.0f} ms, p99 {1000 * ordered[int(0.99 * (len(ordered) - 1))]:.0f} ms"


class Layout:
    """API nodes and workers under ``root/name``, each on a data directory of its own; ``env`` says where the
    state they share lives (none: SQLite and local files in the one node's directory)."""

    def __init__(self, name: str, root: Path, env: dict[str, str]) -> None:
        self.name, self.root = name, root / name
        self.env = {**RELAXED, **env}
        self.processes: list[subprocess.Popen[bytes]] = []
        self.ports: list[int] = []

    def start(self, api_nodes: int, workers: int) -> None:
        args = ("--no-worker",) if workers else ()
        for index in range(api_nodes):
            self.ports.append(free_port())
            self.processes.append(start_server(self.root / f"api-{index}", self.ports[-1], self.env, args))
        for index in range(workers):
            data_dir = self.root / f"worker-{index}"
            data_dir.mkdir(parents=True)
            log = open(data_dir / "worker.log", "ab")
            self.processes.append(subprocess.Popen(
                [sys.executable, "-m", "openpersonalize.cli", "worker", "--data-dir", str(data_dir),
                 "--log-level", "warning"],
                env={**os.environ, "OPENBLAS_NUM_THREADS": "1", "OPENPERSONALIZE_LOCAL_PATHS": str(self.root),
                     **self.env}, stdout=log, stderr=subprocess.STDOUT))

    def stop(self) -> None:
        for process in self.processes:
            process.terminate()
            process.wait(30)


def _dataset(personalize: Any, group: str, kind: str, schema: str) -> str:
    arn = personalize.create_schema(name=f"{group.rsplit('/', 1)[1]}-{kind}", schema=schema)["schemaArn"]
    dataset = personalize.create_dataset(name=f"{group.rsplit('/', 1)[1]}-{kind}", schemaArn=arn,
                                         datasetGroupArn=group, datasetType=kind)["datasetArn"]
    poll(lambda: personalize.describe_dataset(datasetArn=dataset)["dataset"])
    return str(dataset)


def flow(layout: Layout, data: Any, files: dict[str, str]) -> dict[str, Any]:
    personalize = client("personalize", layout.ports[0])
    group = personalize.create_dataset_group(name=f"bench-{layout.name}")["datasetGroupArn"]
    poll(lambda: personalize.describe_dataset_group(datasetGroupArn=group)["datasetGroup"])
    datasets = {kind: _dataset(personalize, group, kind, data.schemas[kind.upper()]) for kind in ("Interactions", "Items")}
    started = time.perf_counter()
    jobs = [personalize.create_dataset_import_job(jobName=f"bench-{layout.name}-{kind}", datasetArn=arn,
                                                  dataSource={"dataLocation": files[kind.lower()]})["datasetImportJobArn"]
            for kind, arn in datasets.items()]
    for job in jobs:
        described = poll(lambda: personalize.describe_dataset_import_job(datasetImportJobArn=job)["datasetImportJob"])
        assert described["status"] == "ACTIVE", described.get("failureReason")
    imported = time.perf_counter() - started
    tracker = personalize.create_event_tracker(name=f"bench-{layout.name}", datasetGroupArn=group)["eventTrackerArn"]
    tracking_id = poll(lambda: personalize.describe_event_tracker(eventTrackerArn=tracker)["eventTracker"])["trackingId"]
    solution = personalize.create_solution(name=f"bench-{layout.name}", datasetGroupArn=group, recipeArn=UP,
                                           performAutoTraining=False)["solutionArn"]
    poll(lambda: personalize.describe_solution(solutionArn=solution)["solution"])
    started = time.perf_counter()
    version = personalize.create_solution_version(solutionArn=solution)["solutionVersionArn"]
    assert poll(lambda: personalize.describe_solution_version(solutionVersionArn=version)["solutionVersion"])["status"] == "ACTIVE"
    trained = time.perf_counter() - started
    campaign = personalize.create_campaign(name=f"bench-{layout.name}", solutionVersionArn=version,
                                           campaignConfig={"itemExplorationConfig": {"explorationWeight": "0"}})["campaignArn"]
    assert poll(lambda: personalize.describe_campaign(campaignArn=campaign)["campaign"])["status"] == "ACTIVE"
    return {"import": imported, "train": trained, "campaign": campaign, "tracking_id": tracking_id}


def throughput(ports: list[int], campaign: str, users: list[str], threads: int, seconds: float) -> float:
    done = [0] * threads
    stop = time.monotonic() + seconds

    def run(index: int) -> None:
        runtime = client("personalize-runtime", ports[index % len(ports)])
        n = 0
        while time.monotonic() < stop:
            runtime.get_recommendations(campaignArn=campaign, userId=users[n % len(users)], numResults=10)
            n += 1
        done[index] = n

    pool = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    return sum(done) / seconds


def event_lag(ports: list[int], campaign: str, tracking_id: str, items: list[str], sessions: int, timeout: float) -> tuple[list[float], int]:
    events, runtime = client("personalize-events", ports[0]), client("personalize-runtime", ports[1])
    lags, unchanged = [], 0
    for n in range(sessions):
        session = f"lag-{n}-{time.monotonic_ns()}"
        before = [i["itemId"] for i in runtime.get_recommendations(campaignArn=campaign, userId=session)["itemList"]]
        watched = items[(7 * n) % len(items): (7 * n) % len(items) + 5] or items[:5]
        now = time.time()
        events.put_events(trackingId=tracking_id, sessionId=session,
                          eventList=[{"eventType": "Watch", "itemId": item, "sentAt": now + k} for k, item in enumerate(watched)])
        sent = time.perf_counter()
        while True:
            after = [i["itemId"] for i in runtime.get_recommendations(campaignArn=campaign, userId=session)["itemList"]]
            if after != before:
                lags.append(time.perf_counter() - sent)
                break
            if time.perf_counter() - sent > timeout:
                unchanged += 1
                break
            time.sleep(0.005)
    return lags, unchanged


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=2000)
    parser.add_argument("--items", type=int, default=1000)
    parser.add_argument("--interactions", type=int, default=100_000)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--events", type=int, default=30)
    parser.add_argument("--lag-timeout", type=float, default=3.0)
    args = parser.parse_args()
    data = generate_vod(users=args.users, items=args.items, interactions=args.interactions, seed=1)
    users = data.interactions["USER_ID"].unique().to_list()
    items = data.interactions["ITEM_ID"].value_counts(sort=True)["ITEM_ID"].to_list()[:200]
    postgres = PostgresServer().start()
    with tempfile.TemporaryDirectory() as work:
        weed = SeaweedFS(Path(work) / "seaweedfs")
        try:
            weed.start()
            bucket = weed.create_bucket("bench-cluster")
            metadata = postgres.database("bench_cluster")
            single = Layout("single", Path(work), {})
            cluster = Layout("cluster", Path(work), {
                "OPENPERSONALIZE_METADATA_URL": metadata, "OPENPERSONALIZE_EVENTS_URL": metadata,
                "OPENPERSONALIZE_OBJECT_STORE": f"s3://{bucket}/op", **weed.env()})
            # The single node reads its inputs beside its data directory (OPENPERSONALIZE_LOCAL_PATHS); the
            # cluster's job may run on either worker, so its inputs are in the bucket.
            local = write_csv(data, single.root / "input")
            inputs = {"single": {kind: str(local[kind]) for kind in ("interactions", "items")}, "cluster": {}}
            for kind in ("interactions", "items"):
                weed.client().upload_file(str(local[kind]), bucket, f"input/{local[kind].name}")
                inputs["cluster"][kind] = f"s3://{bucket}/input/{local[kind].name}"
            try:
                single.start(api_nodes=1, workers=0)
                cluster.start(api_nodes=2, workers=2)
                rows = []
                for layout in (single, cluster):
                    result = flow(layout, data, inputs[layout.name])
                    one = throughput(layout.ports[:1], result["campaign"], users, args.threads, args.seconds)
                    rows.append((layout.name, result, one))
                for name, result, one in rows:
                    print(f"{name:<8} import {result['import']:6.1f} s   training {result['train']:6.1f} s   "
                          f"GetRecommendations, one node: {one:7.0f} req/s")
                both = throughput(cluster.ports, rows[1][1]["campaign"], users, args.threads, args.seconds)
                print(f"cluster  GetRecommendations, two nodes: {both:7.0f} req/s ({args.threads} client threads)")
                lags, unchanged = event_lag(cluster.ports, rows[1][1]["campaign"], rows[1][1]["tracking_id"], items,
                                            args.events, args.lag_timeout)
                shown = _ms(lags) if lags else "none"
                print(f"cluster  PutEvents on node A → node B's answer changed: {shown}; unchanged after "
                      f"{args.lag_timeout:g} s: {unchanged} of {args.events}")
            finally:
                single.stop()
                cluster.stop()
        finally:
            weed.stop()
            postgres.stop()


if __name__ == "__main__":
    main()
