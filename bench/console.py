"""Console page render times with 1M interactions in a dataset group (issue 12: each page ≤ 100 ms).

Starts ``openpersonalize serve``, imports generated VOD interactions (1M by default) with boto3, trains a
User-Personalization version and deploys a campaign, then times GET of each console page (median of
``--repeat`` requests, after one warm-up) and prints a table. Exits 1 if a page misses the target.

    .venv/bin/python bench/console.py
    .venv/bin/python bench/console.py --interactions 100000 --repeat 5
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

import httpx

from openpersonalize.demo.generator import generate_vod

from _server import client as make_client
from _server import free_port, poll, start_server

TARGET_MS = 100.0
SCHEMA = {"type": "record", "name": "Interactions", "namespace": "com.amazonaws.personalize.schema",
          "fields": [{"name": "USER_ID", "type": "string"}, {"name": "ITEM_ID", "type": "string"},
                     {"name": "EVENT_TYPE", "type": "string"}, {"name": "TIMESTAMP", "type": "long"}], "version": "1.0"}


def _setup(port: int, csv: Path) -> dict[str, str]:
    """Group, schema, dataset, import, solution, version, campaign, tracker; their ARNs by page name."""
    personalize = make_client("personalize", port)
    group = personalize.create_dataset_group(name="bench-console")["datasetGroupArn"]
    schema = personalize.create_schema(name="bench-console", schema=json.dumps(SCHEMA))["schemaArn"]
    dataset = personalize.create_dataset(name="bench-console", schemaArn=schema, datasetGroupArn=group,
                                         datasetType="Interactions")["datasetArn"]
    job = personalize.create_dataset_import_job(jobName="bench-console", datasetArn=dataset,
                                                dataSource={"dataLocation": str(csv)})["datasetImportJobArn"]
    poll(lambda: personalize.describe_dataset_import_job(datasetImportJobArn=job)["datasetImportJob"])
    solution = personalize.create_solution(name="bench-console", datasetGroupArn=group,
                                           recipeArn="arn:aws:personalize:::recipe/aws-user-personalization")["solutionArn"]
    version = personalize.create_solution_version(solutionArn=solution)["solutionVersionArn"]
    poll(lambda: personalize.describe_solution_version(solutionVersionArn=version)["solutionVersion"])
    campaign = personalize.create_campaign(name="bench-console", solutionVersionArn=version)["campaignArn"]
    poll(lambda: personalize.describe_campaign(campaignArn=campaign)["campaign"])
    tracker = personalize.create_event_tracker(name="bench-console", datasetGroupArn=group)["eventTrackerArn"]
    return {"group": group, "dataset": dataset, "solution": solution, "version": version, "campaign": campaign,
            "tracker": tracker}


def _time(client: httpx.Client, path: str, repeat: int) -> float:
    assert client.get(path).status_code == 200, path
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        response = client.get(path)
        samples.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, path
    return statistics.median(samples)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--interactions", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=9)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        frame = generate_vod(users=max(200, args.interactions // 50), items=max(400, args.interactions // 200),
                             interactions=args.interactions, seed=0).interactions
        csv = root / "interactions.csv"
        frame.select("USER_ID", "ITEM_ID", "EVENT_TYPE", "TIMESTAMP").write_csv(csv)
        port = free_port()
        server = start_server(root / "data", port)
        try:
            arns = _setup(port, csv)
            pages = {"dataset groups": "/console/", "schemas": "/console/schemas", "usage": "/console/usage",
                     "new solution": f"/console/solutions/new?group={quote(arns['group'], safe='')}",
                     **{name: f"/console/{name}?arn={quote(arn, safe='')}" for name, arn in arns.items()}}
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
                rows = [(name, _time(client, path, args.repeat)) for name, path in pages.items()]
        finally:
            server.terminate()
            server.wait(10)
    print(f"console pages, {frame.height:,} interactions in the group (median of {args.repeat} GETs)")
    print(f"{'page':<16} {'ms':>8}  target ≤ {TARGET_MS:.0f} ms")
    for name, ms in rows:
        print(f"{name:<16} {ms:>8.1f}  {'ok' if ms <= TARGET_MS else 'MISSED'}")
    return 0 if all(ms <= TARGET_MS for _, ms in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
