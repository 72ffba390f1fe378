"""Import benchmark: synthetic interactions CSVs (1M and 20M rows) through the live API, end to end.

Starts ``openpersonalize serve`` as a subprocess (as tests/conftest.py does), creates a schema, dataset group
and Interactions dataset with boto3, then for each size times CreateDatasetImportJob → ACTIVE and reads the
server's peak resident memory (VmHWM in /proc/<pid>/status). Prints one table row per size; exits 1 if a
target is missed.

    .venv/bin/python bench/import.py                  # 1M and 20M rows
    .venv/bin/python bench/import.py --sizes 1000000  # just the 1M case
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from openpersonalize.data.store import DataStore

from _server import client as make_client
from _server import free_port, peak_rss_mib, poll, reset_peak_rss, start_server

# Targets of the import issue: 1M rows in ≤ 5 s, 20M rows in ≤ 90 s with peak RSS ≤ 4 GiB.
TARGET_SECONDS = {1_000_000: 5.0, 20_000_000: 90.0}
TARGET_RSS_MIB = 4096
CHUNK_ROWS = 5_000_000  # generate in chunks so the bench process itself stays small
SCHEMA = {
    "type": "record", "name": "Interactions", "namespace": "com.amazonaws.personalize.schema",
    "fields": [{"name": "USER_ID", "type": "string"}, {"name": "ITEM_ID", "type": "string"},
               {"name": "EVENT_TYPE", "type": "string"}, {"name": "EVENT_VALUE", "type": ["null", "float"]},
               {"name": "TIMESTAMP", "type": "long"}],
    "version": "1.0",
}


@dataclass
class Result:
    rows: int
    seconds: float
    peak_rss_mib: float
    status: str

    @property
    def passed(self) -> bool:
        limit = TARGET_SECONDS.get(self.rows, float("inf"))
        return self.status == "ACTIVE" and self.seconds <= limit and self.peak_rss_mib <= TARGET_RSS_MIB


def generate(path: Path, rows: int, seed: int = 7) -> None:
    """Zipf-ish items, 1/20 as many users as rows, a year of timestamps; not derived from any real dataset."""
    rng = np.random.default_rng(seed)
    with open(path, "wb") as out:
        for start in range(0, rows, CHUNK_ROWS):
            n = min(CHUNK_ROWS, rows - start)
            frame = pl.DataFrame(
                {
                    "USER_ID": rng.integers(0, max(rows // 20, 1), n),
                    "ITEM_ID": rng.zipf(1.3, n) % 200_000,
                    "EVENT_TYPE": np.array(["click", "watch", "purchase"])[rng.integers(0, 3, n)],
                    "EVENT_VALUE": np.round(rng.random(n), 3),
                    "TIMESTAMP": 1_700_000_000 + rng.integers(0, 365 * 86_400, n),
                }
            ).with_columns(pl.format("u{}", "USER_ID").alias("USER_ID"), pl.format("i{}", "ITEM_ID").alias("ITEM_ID"))
            frame.write_csv(out, include_header=start == 0)


def make_dataset(client: Any) -> str:
    stamp = time.monotonic_ns()
    schema = client.create_schema(name=f"bench-{stamp}", schema=json.dumps(SCHEMA))["schemaArn"]
    group = client.create_dataset_group(name=f"bench-{stamp}")["datasetGroupArn"]
    poll(lambda: client.describe_dataset_group(datasetGroupArn=group)["datasetGroup"])
    dataset = client.create_dataset(name=f"bench-{stamp}", schemaArn=schema, datasetGroupArn=group, datasetType="Interactions")
    arn = str(dataset["datasetArn"])
    poll(lambda: client.describe_dataset(datasetArn=arn)["dataset"])
    return arn


def run_one(client: Any, pid: int, dataset: str, csv_path: Path, rows: int) -> Result:
    reset_peak_rss(pid)
    started = time.perf_counter()
    arn = client.create_dataset_import_job(
        jobName=f"bench-{rows}-{time.monotonic_ns()}", datasetArn=dataset, dataSource={"dataLocation": str(csv_path)}
    )["datasetImportJobArn"]
    job = poll(lambda: client.describe_dataset_import_job(datasetImportJobArn=arn)["datasetImportJob"])
    seconds = time.perf_counter() - started
    status = job["status"] if job["status"] != "CREATE FAILED" else f"FAILED: {job.get('failureReason', '')[:60]}"
    return Result(rows, seconds, peak_rss_mib(pid), status)


def table(results: list[Result]) -> str:
    lines = [f"{'rows':>12} {'seconds':>9} {'rows/s':>12} {'peak RSS MiB':>13} {'target':>22}  result"]
    for r in results:
        target = f"<= {TARGET_SECONDS.get(r.rows, float('inf')):g} s, <= {TARGET_RSS_MIB} MiB"
        verdict = "pass" if r.passed else f"FAIL ({r.status})" if r.status != "ACTIVE" else "FAIL"
        lines.append(f"{r.rows:>12,} {r.seconds:>9.2f} {r.rows / r.seconds:>12,.0f} {r.peak_rss_mib:>13.0f} {target:>22}  {verdict}")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000000,20000000", help="comma-separated row counts")
    parser.add_argument("--workdir", default=None, help="where CSVs and the server's data go (default: a temp dir)")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    with tempfile.TemporaryDirectory(prefix="op-bench-import-", dir=args.workdir) as temp:
        work = Path(temp)
        for rows in sizes:
            started = time.perf_counter()
            generate(work / f"{rows}.csv", rows)
            size = (work / f"{rows}.csv").stat().st_size / 2**20
            print(f"generated {rows:,} rows ({size:,.0f} MiB) in {time.perf_counter() - started:.1f} s", flush=True)
        (work / "server").mkdir()
        port = free_port()
        server = start_server(work / "server", port)
        try:
            client = make_client("personalize", port)
            results = []
            for rows in sizes:
                dataset = make_dataset(client)
                result = run_one(client, server.pid, dataset, work / f"{rows}.csv", rows)
                landed = DataStore(work / "server").bulk_rows(dataset)
                if result.status == "ACTIVE" and landed != rows:
                    result.status = f"{landed:,} rows landed"
                results.append(result)
                print(f"imported {rows:,} rows: {result.status} in {result.seconds:.2f} s", flush=True)
        finally:
            server.terminate()
            server.wait(30)
    print()
    print(table(results))
    return 0 if all(r.passed for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
