"""boto3 helpers for the recipe tests that train through the live server (tests/conftest.py's ``server``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from conftest import unique, wait_for

from openpersonalize.demo.generator import GeneratedData, write_csv

ACTIVE = "ACTIVE"
RECIPE = "arn:aws:personalize:::recipe/"


def group_with(personalize: Any, data: GeneratedData, folder: Path, dataset_types: tuple[str, ...]) -> str:
    """An ACTIVE dataset group holding ``dataset_types`` (e.g. "INTERACTIONS", "ITEMS") of ``data``, imported."""
    files = write_csv(data, folder)
    group = personalize.create_dataset_group(name=unique("dg"))["datasetGroupArn"]
    assert wait_for(lambda: personalize.describe_dataset_group(datasetGroupArn=group)["datasetGroup"])["status"] == ACTIVE
    for dataset_type in dataset_types:
        dataset = new_dataset(personalize, group, dataset_type, data.schemas[dataset_type])
        job = personalize.create_dataset_import_job(
            jobName=unique("imp"), datasetArn=dataset, dataSource={"dataLocation": str(files[dataset_type.lower()])}
        )["datasetImportJobArn"]
        done = wait_for(lambda: personalize.describe_dataset_import_job(datasetImportJobArn=job)["datasetImportJob"])
        assert done["status"] == ACTIVE, done.get("failureReason")
    return str(group)


def new_dataset(personalize: Any, group: str, dataset_type: str, schema_text: str) -> str:
    schema = personalize.create_schema(name=unique("s"), schema=schema_text)["schemaArn"]
    arn = personalize.create_dataset(name=unique("d"), schemaArn=schema, datasetGroupArn=group,
                                     datasetType=dataset_type)["datasetArn"]
    assert wait_for(lambda: personalize.describe_dataset(datasetArn=arn)["dataset"])["status"] == ACTIVE
    return str(arn)


def train(personalize: Any, group: str, recipe: str, **kwargs: Any) -> dict[str, Any]:
    """Create a solution of ``recipe`` (auto-training off) and one version; the finished version."""
    solution = personalize.create_solution(name=unique("sol"), datasetGroupArn=group, recipeArn=RECIPE + recipe,
                                           performAutoTraining=False, **kwargs)["solutionArn"]
    assert wait_for(lambda: personalize.describe_solution(solutionArn=solution)["solution"])["status"] == ACTIVE
    arn = personalize.create_solution_version(solutionArn=solution)["solutionVersionArn"]
    return dict(wait_for(lambda: personalize.describe_solution_version(solutionVersionArn=arn)["solutionVersion"],
                         timeout=300))


def metrics_of(personalize: Any, version: dict[str, Any]) -> dict[str, float]:
    assert version["status"] == ACTIVE, version.get("failureReason")
    return dict(personalize.get_solution_metrics(solutionVersionArn=version["solutionVersionArn"])["metrics"])
