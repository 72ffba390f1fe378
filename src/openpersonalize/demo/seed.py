"""The demo that ``make run`` seeds into an empty store, through the server's own public API.

A VOD dataset group from the generator: Interactions, Items and Users imported from CSV, an event tracker,
a User-Personalization solution trained, then a campaign and a filter that excludes watched titles — so the
README's boto3 snippet answers with recommendations within a minute of start-up. It runs in a background
thread, as a boto3 client of this very server, so it exercises exactly what a user would call: signed with
the first configured access key when keys are set, and importing CSVs written under a local root the server
may read (never its own data directory, which imports refuse).
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import botocore.config

from ..config import Settings
from ..data.access import Access, AccessDenied
from .generator import generate_vod, write_csv

log = logging.getLogger("openpersonalize.demo")
GROUP = "demo-vod"
CAMPAIGN = "demo-vod-top-picks"
FILTER = "demo-exclude-watched"
SOLUTION = "demo-vod-user-personalization"
RECIPE = "arn:aws:personalize:::recipe/aws-user-personalization"
FINAL = ("ACTIVE", "CREATE FAILED", "CREATE STOPPED")
DEMO_FOLDER = "openpersonalize-demo"


def _client(port: int, key: tuple[str, str]) -> Any:
    return boto3.client(
        "personalize", endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1",
        aws_access_key_id=key[0], aws_secret_access_key=key[1],
        config=botocore.config.Config(retries={"max_attempts": 2}),
    )


def demo_folder(settings: Settings) -> Path | None:
    """Where the demo's CSVs go: the first local root whose demo folder the server may read, or None."""
    access = Access.of(settings)
    for root in settings.local_paths:
        folder = root.resolve() / DEMO_FOLDER
        try:
            return access.local_file(folder, str(folder))
        except AccessDenied:
            continue
    return None


def _wait(describe: Callable[[], dict[str, Any]], what: str, timeout: float = 600) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        record = describe()
        if record["status"] in FINAL:
            if record["status"] != "ACTIVE":
                raise RuntimeError(f"{what} ended {record['status']}: {record.get('failureReason', '')}")
            return record
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} is still {record['status']} after {timeout:.0f} s")
        time.sleep(0.2)


def _wait_for_port(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"the server did not open port {port}")


def seed(port: int, work_dir: Path, key: tuple[str, str] = ("demo", "demo")) -> str:
    """Create the whole demo (signed with ``key``); returns the campaign ARN."""
    client = _client(port, key)
    data = generate_vod(users=1000, items=600, interactions=60_000, seed=42)
    files = write_csv(data, work_dir)
    group = client.create_dataset_group(name=GROUP)["datasetGroupArn"]
    _wait(lambda: client.describe_dataset_group(datasetGroupArn=group)["datasetGroup"], "dataset group")
    for dataset_type, stem in (("Interactions", "interactions"), ("Items", "items"), ("Users", "users")):
        schema = client.create_schema(name=f"demo-vod-{stem}", schema=data.schemas[stem.upper()])["schemaArn"]
        dataset = client.create_dataset(name=f"demo-vod-{stem}", schemaArn=schema, datasetGroupArn=group,
                                        datasetType=dataset_type)["datasetArn"]
        _wait(lambda: client.describe_dataset(datasetArn=dataset)["dataset"], f"{stem} dataset")
        job = client.create_dataset_import_job(jobName=f"demo-vod-{stem}", datasetArn=dataset,
                                               dataSource={"dataLocation": str(files[stem])})["datasetImportJobArn"]
        _wait(lambda: client.describe_dataset_import_job(datasetImportJobArn=job)["datasetImportJob"], f"{stem} import")
    client.create_event_tracker(name="demo-vod-tracker", datasetGroupArn=group)
    solution = client.create_solution(name=SOLUTION, datasetGroupArn=group, recipeArn=RECIPE)["solutionArn"]
    _wait(lambda: client.describe_solution(solutionArn=solution)["solution"], "solution")
    version = client.create_solution_version(solutionArn=solution)["solutionVersionArn"]
    _wait(lambda: client.describe_solution_version(solutionVersionArn=version)["solutionVersion"], "training")
    client.create_filter(name=FILTER, datasetGroupArn=group,
                         filterExpression='EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("Watch")')
    campaign = client.create_campaign(name=CAMPAIGN, solutionVersionArn=version)["campaignArn"]
    _wait(lambda: client.describe_campaign(campaignArn=campaign)["campaign"], "campaign")
    return str(campaign)


def start_in_background(port: int, settings: Settings, store_is_empty: Callable[[], bool]) -> threading.Thread | None:
    """Seed the demo once the server listens, if the store holds no dataset group yet."""
    if not store_is_empty():
        return None
    folder = demo_folder(settings)
    if folder is None:
        log.warning("no demo: no local root outside the data directory to write its CSVs (OPENPERSONALIZE_LOCAL_PATHS)")
        return None
    key = next(iter(settings.access_keys.items()), ("demo", "demo"))

    def run() -> None:
        try:
            _wait_for_port(port)
            campaign = seed(port, folder, key)
            log.info("demo ready: campaign %s (try runtime.get_recommendations(campaignArn=..., userId='u1'))", campaign)
        except Exception:  # the demo is a convenience: its failure must not take the server down
            log.exception("the demo could not be created")

    thread = threading.Thread(target=run, name="demo", daemon=True)
    thread.start()
    return thread
