"""USER_SEGMENTATION and PERSONALIZED_ACTIONS solution versions through boto3: import generated data, train,
read the metrics of spec §9.2, and the data each recipe requires (spec §4.8)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from conftest import unique, wait_for
from test_datasets import active_dataset, active_group, new_schema

from openpersonalize.demo.actions import generate_actions, write_actions_csv
from openpersonalize.demo.generator import GeneratedData, generate_vod, write_csv

PREFIX = "arn:aws:personalize:::recipe/"
ITEM_AFFINITY = PREFIX + "aws-item-affinity"
ATTRIBUTE_AFFINITY = PREFIX + "aws-item-attribute-affinity"
NEXT_BEST_ACTION = PREFIX + "aws-next-best-action"
SEGMENT_KEYS = {"coverage", "hits_at_1_percent", "recall_at_1_percent"}
ACTION_KEYS = {"auc", "coverage", "precision", "recall"}


def _import(personalize: Any, dataset: str, path: Path) -> None:
    job = personalize.create_dataset_import_job(jobName=unique("imp"), datasetArn=dataset,
                                                dataSource={"dataLocation": str(path)})["datasetImportJobArn"]
    described = wait_for(lambda: personalize.describe_dataset_import_job(datasetImportJobArn=job)["datasetImportJob"])
    assert described["status"] == "ACTIVE", described.get("failureReason")


def _add(personalize: Any, group: str, dataset_type: str, schema: str, path: Path) -> None:
    _import(personalize, active_dataset(personalize, group, dataset_type, new_schema(personalize, schema)), path)


@pytest.fixture(scope="module")
def vod(tmp_path_factory: pytest.TempPathFactory) -> tuple[GeneratedData, dict[str, Path]]:
    data = generate_vod(users=500, items=200, interactions=8000, seed=5)
    return data, write_csv(data, tmp_path_factory.mktemp("vod"))


@pytest.fixture(scope="module")
def group(personalize: Any, vod: tuple[GeneratedData, dict[str, Path]], tmp_path_factory: pytest.TempPathFactory) -> str:
    """Interactions, Items (with a textual DESCRIPTION), Actions and Action_Interactions."""
    data, files = vod
    arn, _ = active_group(personalize)
    _add(personalize, arn, "Interactions", data.schemas["INTERACTIONS"], files["interactions"])
    _add(personalize, arn, "Items", data.schemas["ITEMS"], files["items"])
    actions = generate_actions(data, seed=2)
    action_files = write_actions_csv(actions, tmp_path_factory.mktemp("actions"))
    _add(personalize, arn, "Actions", actions.schemas["ACTIONS"], action_files["actions"])
    _add(personalize, arn, "Action_Interactions", actions.schemas["ACTION_INTERACTIONS"],
         action_files["action_interactions"])
    return arn


@pytest.fixture(scope="module")
def bare_group(personalize: Any, vod: tuple[GeneratedData, dict[str, Path]]) -> str:
    """Interactions only: neither Items nor Actions."""
    data, files = vod
    arn, _ = active_group(personalize)
    _add(personalize, arn, "Interactions", data.schemas["INTERACTIONS"], files["interactions"])
    return arn


def _train(personalize: Any, group: str, recipe: str, **kwargs: Any) -> dict[str, Any]:
    solution = personalize.create_solution(name=unique("sol"), datasetGroupArn=group, recipeArn=recipe,
                                           performAutoTraining=False, **kwargs)["solutionArn"]
    wait_for(lambda: personalize.describe_solution(solutionArn=solution)["solution"])
    arn = personalize.create_solution_version(solutionArn=solution)["solutionVersionArn"]
    return wait_for(lambda: personalize.describe_solution_version(solutionVersionArn=arn)["solutionVersion"],
                    timeout=300)


def _metrics(personalize: Any, version: dict[str, Any]) -> dict[str, float]:
    assert version["status"] == "ACTIVE", version.get("failureReason")
    return personalize.get_solution_metrics(solutionVersionArn=version["solutionVersionArn"])["metrics"]


@pytest.mark.parametrize("recipe", [ITEM_AFFINITY, ATTRIBUTE_AFFINITY])
def test_affinity_recipes_train_and_report_segment_metrics(personalize: Any, group: str, recipe: str) -> None:
    config = {"algorithmHyperParameters": {"hidden_dimension": "48"}}
    metrics = _metrics(personalize, _train(personalize, group, recipe, solutionConfig=config))
    assert set(metrics) == SEGMENT_KEYS
    # 500 users → segments of 5; planted tastes put about one real future viewer in each.
    assert 0.3 < metrics["hits_at_1_percent"] <= 5 and 0.0 < metrics["recall_at_1_percent"] <= 1.0
    assert 0.0 < metrics["coverage"] <= 1.0


def test_next_best_action_trains_and_reports_action_metrics(personalize: Any, group: str) -> None:
    config = {"featureTransformationParameters": {"action_optimization_period": "7"}}
    version = _train(personalize, group, NEXT_BEST_ACTION, solutionConfig=config)
    metrics = _metrics(personalize, version)
    assert set(metrics) == ACTION_KEYS
    assert metrics["auc"] > 0.65 and 0.0 < metrics["precision"] <= 1.0 and 0.0 < metrics["recall"] <= 1.0
    assert version["solutionConfig"]["featureTransformationParameters"]["action_optimization_period"] == "7"


@pytest.mark.parametrize(
    ("recipe", "message"),
    [
        (ATTRIBUTE_AFFINITY, "Item-Attribute-Affinity needs an Items dataset in the dataset group"),
        (NEXT_BEST_ACTION, "Next-Best-Action needs an Actions dataset in the dataset group"),
    ],
)
def test_required_datasets_fail_the_version(personalize: Any, bare_group: str, recipe: str, message: str) -> None:
    version = _train(personalize, bare_group, recipe)
    assert version["status"] == "CREATE FAILED"
    assert message in version["failureReason"]
