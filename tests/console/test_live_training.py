"""The live training view shows the job's phase and progress while the version trains, and Stop stops it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from playwright.sync_api import Page, expect

from console_fixtures import shoot, unlabelled_fields
from conftest import LiveServer, unique, wait_for
from openpersonalize.console.app import link
from openpersonalize.demo.generator import generate_vod

SCHEMA = (Path(__file__).parent / "interactions_schema.json").read_text()


def _training_version(server: LiveServer, tmp_path: Path) -> str:
    """A solution version with many HPO trials on a few thousand interactions: long enough to watch (and stop)."""
    personalize: Any = server.client("personalize")
    name = unique("live")
    frame = generate_vod(users=300, items=400, interactions=20_000, seed=3).interactions
    csv = tmp_path / "interactions.csv"
    frame.select("USER_ID", "ITEM_ID", "EVENT_TYPE", "TIMESTAMP").write_csv(csv)
    group = personalize.create_dataset_group(name=name)["datasetGroupArn"]
    schema = personalize.create_schema(name=name, schema=json.dumps(json.loads(SCHEMA)))["schemaArn"]
    dataset = personalize.create_dataset(name=name, schemaArn=schema, datasetGroupArn=group, datasetType="Interactions")["datasetArn"]
    job = personalize.create_dataset_import_job(jobName=name, datasetArn=dataset, dataSource={"dataLocation": str(csv)})
    assert wait_for(lambda: personalize.describe_dataset_import_job(datasetImportJobArn=job["datasetImportJobArn"])["datasetImportJob"])["status"] == "ACTIVE"
    solution = personalize.create_solution(
        name=name, datasetGroupArn=group, recipeArn="arn:aws:personalize:::recipe/aws-user-personalization", performHPO=True,
        solutionConfig={"hpoConfig": {"hpoResourceConfig": {"maxNumberOfTrainingJobs": "40", "maxParallelTrainingJobs": "1"}}},
    )["solutionArn"]
    return str(personalize.create_solution_version(solutionArn=solution)["solutionVersionArn"])


def test_live_training_shows_progress_and_stops(page: Page, console_server: LiveServer, tmp_path: Path) -> None:
    version = _training_version(console_server, tmp_path)
    page.goto(link("version", version))
    live = page.locator("#live")
    expect(live).to_contain_text("CREATE IN_PROGRESS", timeout=90_000)
    expect(live).to_contain_text("Phase: HPO", timeout=60_000)
    expect(live).to_contain_text("trials on a validation split")  # the phase's detail: trials done of the total
    expect(page.get_by_role("img", name="training progress")).to_be_visible()
    shoot(page, "08-training-live")
    assert unlabelled_fields(page) == []
    page.get_by_role("button", name="Stop training").click()
    expect(page.locator("h1 .status")).to_contain_text("CREATE STOP")
    expect(page.locator("h1 .status")).to_have_text("CREATE STOPPED", timeout=60_000)  # the live panel reloads the page
