"""Incremental update benchmark: trainingMode FULL vs UPDATE vs an automatic update, through the API.

ml-1m (ratings ≥ 4) is cut in time: the first ``--share`` of the interactions is imported and trained FULL;
the rest arrives by an INCREMENTAL import (new films among them). Then an UPDATE version is created and, as the
scheduler would every 2 hours, the deployed FULL version is refreshed in place (run from this process against
the server's data directory, as a separate worker process would). Prints wall times and what each model holds.

    .venv/bin/python bench/updates.py
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from _data import DatasetMissing, ml_1m_positive
from _server import client as make_client
from _server import free_port, poll, start_server
from training import PREFIX, load_group, to_csv

from openpersonalize.config import Settings
from openpersonalize.services import Services
from openpersonalize.data.metadata import Store
from openpersonalize.data.artifacts import model_dir
from openpersonalize.data.store import DataStore
from openpersonalize.jobs import updates
from openpersonalize.recipes.base import Recipe, TrainingData

UP = PREFIX + "aws-user-personalization"


def _version(personalize: Any, solution: str, mode: str) -> tuple[str, float]:
    started = time.perf_counter()
    arn = personalize.create_solution_version(solutionArn=solution, trainingMode=mode)["solutionVersionArn"]
    done = poll(lambda: personalize.describe_solution_version(solutionVersionArn=arn)["solutionVersion"], timeout=3600, interval=0.1)
    if done["status"] != "ACTIVE":
        raise RuntimeError(f"{mode} version failed: {done.get('failureReason')}")
    return str(arn), time.perf_counter() - started


def _cut(data: TrainingData, share: float) -> tuple[TrainingData, TrainingData]:
    order = np.argsort(data.timestamp, kind="stable")
    cut = int(len(order) * share)
    return data.select(np.sort(order[:cut])), data.select(np.sort(order[cut:]))


def _import(personalize: Any, group: str, csv: Path) -> None:
    dataset = personalize.list_datasets(datasetGroupArn=group)["datasets"][0]["datasetArn"]
    job = personalize.create_dataset_import_job(jobName=f"inc-{time.monotonic_ns()}", datasetArn=dataset, importMode="INCREMENTAL",
                                                dataSource={"dataLocation": str(csv)})["datasetImportJobArn"]
    done = poll(lambda: personalize.describe_dataset_import_job(datasetImportJobArn=job)["datasetImportJob"])
    if done["status"] != "ACTIVE":
        raise RuntimeError(f"incremental import failed: {done.get('failureReason')}")


def _items(work: Path, version: str) -> int:
    return len(Recipe.load(model_dir(work, version)).item_ids_)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--share", type=float, default=0.95, help="share of interactions (oldest) imported first")
    args = parser.parse_args()
    try:
        data = ml_1m_positive()
    except DatasetMissing as missing:
        print(missing)
        return 0
    first, rest = _cut(data, args.share)
    with tempfile.TemporaryDirectory(prefix="op-bench-updates-") as temp:
        work = Path(temp)
        port = free_port()
        server = start_server(work / "server", port)
        try:
            personalize = make_client("personalize", port)
            to_csv(first, work / "first.csv")
            to_csv(rest, work / "rest.csv")
            group = load_group(personalize, "ml-1m", work / "first.csv")
            solution = personalize.create_solution(name=f"s-{time.monotonic_ns()}", datasetGroupArn=group, recipeArn=UP,
                                                   performAutoTraining=False)["solutionArn"]
            poll(lambda: personalize.describe_solution(solutionArn=solution)["solution"])
            full, full_seconds = _version(personalize, solution, "FULL")
            campaign = personalize.create_campaign(name=f"c-{time.monotonic_ns()}", solutionVersionArn=full)["campaignArn"]
            poll(lambda: personalize.describe_campaign(campaignArn=campaign)["campaign"])
            _import(personalize, group, work / "rest.csv")
            # The automatic update first (it refreshes the FULL version, which an UPDATE version would retire).
            settings = Settings(data_dir=work, auto_update_seconds=0.0)
            worker = Services(settings=settings, store=Store(settings.metadata_database_url), data=DataStore(work))
            full_items = _items(work, full)
            started = time.perf_counter()
            refreshed = updates.run_auto_updates(worker)
            auto_seconds = time.perf_counter() - started
            update, update_seconds = _version(personalize, solution, "UPDATE")
            print(f"ml-1m ratings>=4: {first.n_interactions:,} interactions trained FULL, {rest.n_interactions:,} more "
                  f"imported INCREMENTAL (load is shared with other work on this machine)")
            print(f"{'step':<34} {'seconds':>8} {'items in the model':>19}")
            print(f"{'FULL version (fit + evaluation)':<34} {full_seconds:>8.1f} {full_items:>19,}")
            print(f"{'automatic update (in place)':<34} {auto_seconds:>8.1f} {_items(work, full):>19,}"
                  f"{'' if full in refreshed else '  (not run!)'}")
            print(f"{'UPDATE version (API, incl. queue)':<34} {update_seconds:>8.1f} {_items(work, update):>19,}")
            print(f"speed-up of UPDATE over FULL: {full_seconds / update_seconds:.1f}x")
        finally:
            server.terminate()
            server.wait(30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
