"""CreateSolution / Describe / List / Update / Delete through boto3 (spec §2.5): every bad config is refused."""

from __future__ import annotations

import json
from typing import Any

import pytest
from conftest import unique, wait_for
from test_datasets import active_dataset, active_group, error_of, new_schema, wait_gone
from test_filters import INTERACTIONS

UP = "arn:aws:personalize:::recipe/aws-user-personalization"
UP2 = "arn:aws:personalize:::recipe/aws-user-personalization-v2"
SIMS = "arn:aws:personalize:::recipe/aws-sims"
ITEMS = json.dumps({
    "type": "record", "name": "Items",
    "fields": [{"name": "ITEM_ID", "type": "string"}, {"name": "GENRES", "type": "string", "categorical": True},
               {"name": "PRICE", "type": "float"}, {"name": "RATING", "type": ["null", "float"]}],
})


@pytest.fixture(scope="module")
def group(personalize: Any) -> str:
    arn, _ = active_group(personalize)
    active_dataset(personalize, arn, "Interactions", new_schema(personalize, INTERACTIONS))
    active_dataset(personalize, arn, "Items", new_schema(personalize, ITEMS))
    return arn


def _create(personalize: Any, group: str, **kwargs: Any) -> str:
    return str(personalize.create_solution(name=unique("sol"), datasetGroupArn=group, **kwargs)["solutionArn"])


def test_create_describe_list_update_delete(personalize: Any, group: str) -> None:
    config = {"algorithmHyperParameters": {"hidden_dimension": "64"}, "eventValueThreshold": "0.5",
              "optimizationObjective": {"itemAttribute": "PRICE", "objectiveSensitivity": "LOW"}}
    arn = _create(personalize, group, recipeArn=UP, eventType="Watch", solutionConfig=config, performAutoTraining=False)
    solution = wait_for(lambda: personalize.describe_solution(solutionArn=arn)["solution"])
    assert solution["status"] == "ACTIVE"
    assert solution["recipeArn"] == UP and solution["eventType"] == "Watch"
    assert solution["solutionConfig"]["algorithmHyperParameters"] == {"hidden_dimension": "64"}
    assert solution["performAutoTraining"] is False and solution["performHPO"] is False
    assert arn in [s["solutionArn"] for s in personalize.list_solutions(datasetGroupArn=group)["solutions"]]

    personalize.update_solution(solutionArn=arn, performAutoTraining=True,
                                solutionUpdateConfig={"autoTrainingConfig": {"schedulingExpression": "rate(3 days)"}})
    updated = wait_for(lambda: personalize.describe_solution(solutionArn=arn)["solution"]["latestSolutionUpdate"])
    assert updated["status"] == "ACTIVE"
    solution = personalize.describe_solution(solutionArn=arn)["solution"]
    assert solution["performAutoTraining"] is True
    assert solution["solutionConfig"]["autoTrainingConfig"] == {"schedulingExpression": "rate(3 days)"}

    personalize.delete_solution(solutionArn=arn)
    wait_gone(lambda: personalize.describe_solution(solutionArn=arn))


def test_automatic_training_is_on_by_default(personalize: Any, group: str) -> None:
    arn = _create(personalize, group, recipeArn=SIMS)
    assert personalize.describe_solution(solutionArn=arn)["solution"]["performAutoTraining"] is True


@pytest.mark.parametrize(
    ("kwargs", "code", "fragment"),
    [
        ({}, "InvalidInputException", "exactly one of recipeArn or performAutoML"),
        ({"recipeArn": "arn:aws:personalize:::recipe/aws-nope"}, "ResourceNotFoundException", "aws-nope"),
        ({"recipeArn": "arn:aws:personalize:::recipe/aws-vod-top-picks"}, "InvalidInputException", "CreateRecommender"),
        ({"recipeArn": "arn:aws:personalize:::recipe/aws-hrnn"}, "InvalidInputException", "legacy"),
        ({"recipeArn": UP, "solutionConfig": {"algorithmHyperParameters": {"depth": "3"}}},
         "InvalidInputException", "depth"),
        ({"recipeArn": UP, "solutionConfig": {"algorithmHyperParameters": {"hidden_dimension": "5000"}}},
         "InvalidInputException", "hidden_dimension"),
        ({"recipeArn": UP, "solutionConfig": {"algorithmHyperParameters": {"bptt": "many"}}},
         "InvalidInputException", "bptt"),
        ({"recipeArn": UP, "solutionConfig": {"eventsConfig": {"eventParametersList": [{"eventType": "Watch", "weight": 1}]}}},
         "InvalidInputException", "v2 recipes"),
        ({"recipeArn": UP2, "performHPO": True}, "InvalidInputException", "performHPO"),
        ({"recipeArn": SIMS, "performIncrementalUpdate": True}, "InvalidInputException", "semantic-similarity"),
        ({"recipeArn": UP, "solutionConfig": {"optimizationObjective": {"itemAttribute": "RATING"}}},
         "InvalidInputException", "numeric, non-nullable"),
        ({"recipeArn": SIMS, "solutionConfig": {"optimizationObjective": {"itemAttribute": "PRICE"}}},
         "InvalidInputException", "optimizationObjective"),
        ({"recipeArn": UP, "solutionConfig": {"autoTrainingConfig": {"schedulingExpression": "rate(45 days)"}}},
         "InvalidInputException", "from 1 to 30"),
        ({"recipeArn": UP, "solutionConfig": {"eventValueThreshold": "high"}}, "InvalidInputException", "eventValueThreshold"),
        ({"recipeArn": UP, "solutionConfig": {"trainingDataConfig": {"excludedDatasetColumns": {"ITEMS": ["COLOUR"]}}}},
         "InvalidInputException", "COLOUR"),
        ({"recipeArn": UP, "solutionConfig": {"trainingDataConfig": {"excludedDatasetColumns": {
            "INTERACTIONS": ["EVENT_TYPE", "USER_ID"]}}}}, "InvalidInputException", "EVENT_TYPE, USER_ID; ids"),
        ({"recipeArn": UP, "performHPO": True, "solutionConfig": {"hpoConfig": {"algorithmHyperParameterRanges": {
            "integerHyperParameterRanges": [{"name": "hidden_dimension", "minValue": 8, "maxValue": 64}]}}}},
         "InvalidInputException", "hidden_dimension"),
        ({"recipeArn": UP, "performHPO": True, "solutionConfig": {"hpoConfig": {
            "hpoResourceConfig": {"maxNumberOfTrainingJobs": "41"}}}}, "InvalidInputException", "maxNumberOfTrainingJobs"),
    ],
)
def test_bad_configs_are_refused(personalize: Any, group: str, kwargs: dict[str, Any], code: str, fragment: str) -> None:
    got_code, message = error_of(personalize.create_solution, name=unique("bad"), datasetGroupArn=group, **kwargs)
    assert got_code == code
    assert fragment in message


def test_unknown_group_and_solution(personalize: Any) -> None:
    code, _ = error_of(personalize.create_solution, name=unique("s"), recipeArn=UP,
                       datasetGroupArn="arn:aws:personalize:us-east-1:123456789012:dataset-group/none")
    assert code == "ResourceNotFoundException"
    code, _ = error_of(personalize.describe_solution, solutionArn="arn:aws:personalize:us-east-1:123456789012:solution/none")
    assert code == "ResourceNotFoundException"
