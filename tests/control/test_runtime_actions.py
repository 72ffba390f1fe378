"""GetActionRecommendations (spec §2.14) with boto3: a Next-Best-Action campaign, its filters (spec §7.2 Actions /
Action_Interactions conditions) and action interactions streamed by PutActionInteractions."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from conftest import unique, wait_for
from test_datasets import active_dataset, active_group, error_of, new_schema

from openpersonalize.demo.actions import GeneratedActions, generate_actions, write_actions_csv
from openpersonalize.demo.generator import generate_vod, write_csv

NBA = "arn:aws:personalize:::recipe/aws-next-best-action"


@dataclass(frozen=True)
class ActionGroup:
    arn: str
    campaign: str
    tracking_id: str  # the Action_Interactions dataset's, for PutActionInteractions
    actions: GeneratedActions


def _import(personalize: Any, group: str, dataset_type: str, schema: str, path: Path) -> str:
    dataset = active_dataset(personalize, group, dataset_type, new_schema(personalize, schema))
    job = personalize.create_dataset_import_job(jobName=unique("imp"), datasetArn=dataset, dataSource={"dataLocation": str(path)})
    done = wait_for(lambda: personalize.describe_dataset_import_job(datasetImportJobArn=job["datasetImportJobArn"])["datasetImportJob"])
    assert done["status"] == "ACTIVE", done.get("failureReason")
    return dataset


@pytest.fixture(scope="module")
def group(personalize: Any, tmp_path_factory: pytest.TempPathFactory) -> ActionGroup:
    vod = generate_vod(users=600, items=250, interactions=12_000, seed=3)
    actions = generate_actions(vod, seed=1)
    folder = tmp_path_factory.mktemp("nba")
    files, action_files = write_csv(vod, folder), write_actions_csv(actions, folder)
    arn, _ = active_group(personalize)
    _import(personalize, arn, "Interactions", vod.schemas["INTERACTIONS"], files["interactions"])
    _import(personalize, arn, "Actions", actions.schemas["ACTIONS"], action_files["actions"])
    taken = _import(personalize, arn, "Action_Interactions", actions.schemas["ACTION_INTERACTIONS"], action_files["action_interactions"])
    solution = personalize.create_solution(name=unique("nba"), datasetGroupArn=arn, recipeArn=NBA, performAutoTraining=False)["solutionArn"]
    wait_for(lambda: personalize.describe_solution(solutionArn=solution)["solution"])
    version = personalize.create_solution_version(solutionArn=solution)["solutionVersionArn"]
    trained = wait_for(lambda: personalize.describe_solution_version(solutionVersionArn=version)["solutionVersion"], timeout=180)
    assert trained["status"] == "ACTIVE", trained.get("failureReason")
    campaign = personalize.create_campaign(name=unique("nba"), solutionVersionArn=version)["campaignArn"]
    assert wait_for(lambda: personalize.describe_campaign(campaignArn=campaign)["campaign"])["status"] == "ACTIVE"
    tracking = personalize.describe_dataset(datasetArn=taken)["dataset"]["trackingId"]
    return ActionGroup(arn, campaign, tracking, actions)


def _filter(personalize: Any, group: ActionGroup, expression: str) -> str:
    arn = personalize.create_filter(name=unique("flt"), datasetGroupArn=group.arn, filterExpression=expression)["filterArn"]
    assert wait_for(lambda: personalize.describe_filter(filterArn=arn)["filter"])["status"] == "ACTIVE"
    return str(arn)


def _ids(answer: dict[str, Any]) -> list[str]:
    return [a["actionId"] for a in answer["actionList"]]


def _user(group: ActionGroup, k: int = 0) -> str:
    return str(group.actions.action_interactions["USER_ID"].unique(maintain_order=True)[k])


def test_actions_are_ranked_by_propensity(runtime: Any, group: ActionGroup) -> None:
    answer = runtime.get_action_recommendations(campaignArn=group.campaign, userId=_user(group))
    actions = answer["actionList"]
    assert len(actions) == 5  # the default numResults, of the 6 actions
    assert set(_ids(answer)) <= set(group.actions.actions["ACTION_ID"])
    scores = [a["score"] for a in actions]
    assert scores == sorted(scores, reverse=True) and all(0.0 <= s <= 1.0 for s in scores)
    assert answer["recommendationId"].startswith("RID-")
    every = runtime.get_action_recommendations(campaignArn=group.campaign, userId=_user(group), numResults=100)
    assert len(every["actionList"]) == 6 and _ids(every)[:5] == _ids(answer)


def test_propensities_follow_the_planted_tastes(runtime: Any, group: ActionGroup) -> None:
    """Users who took an action score it higher, on average, than users who declined it (planted data)."""
    frame = group.actions.action_interactions
    action = "a0"
    took = frame.filter((pl.col("ACTION_ID") == action) & (pl.col("EVENT_TYPE") == "TAKEN"))["USER_ID"].unique().sort()[:15]
    declined = frame.filter((pl.col("ACTION_ID") == action) & (pl.col("EVENT_TYPE") == "NOT_TAKEN"))["USER_ID"].unique().sort()[:15]

    def score(user: str) -> float:
        answer = runtime.get_action_recommendations(campaignArn=group.campaign, userId=user, numResults=100)
        return float(next(a["score"] for a in answer["actionList"] if a["actionId"] == action))

    assert sum(map(score, took)) / len(took) > sum(map(score, declined)) / len(declined)


def test_filters_on_action_metadata(personalize: Any, runtime: Any, group: ActionGroup) -> None:
    table = group.actions.actions
    topic = str(table["TOPIC"][0])
    by_topic = _filter(personalize, group, "EXCLUDE ActionID WHERE Actions.TOPIC IN ($TOPIC)")
    answer = runtime.get_action_recommendations(campaignArn=group.campaign, userId=_user(group), numResults=100,
                                                filterArn=by_topic, filterValues={"TOPIC": f'"{topic}"'})
    assert set(_ids(answer)) == set(table.filter(pl.col("TOPIC") != topic)["ACTION_ID"])
    threshold = int(table["VALUE"].median())
    by_value = _filter(personalize, group, "INCLUDE ActionID WHERE Actions.VALUE > ($VALUE)")
    answer = runtime.get_action_recommendations(campaignArn=group.campaign, userId=_user(group), numResults=100,
                                                filterArn=by_value, filterValues={"VALUE": str(threshold)})
    assert set(_ids(answer)) == set(table.filter(pl.col("VALUE") > threshold)["ACTION_ID"])
    code, message = error_of(runtime.get_action_recommendations, campaignArn=group.campaign, userId=_user(group),
                             filterArn=by_value)
    assert code == "InvalidInputException" and "VALUE" in message  # an INCLUDE placeholder must have a value


def test_filters_on_the_users_action_interactions(personalize: Any, events: Any, runtime: Any, group: ActionGroup) -> None:
    frame = group.actions.action_interactions
    user = _user(group, 1)
    viewed = set(frame.filter((pl.col("USER_ID") == user) & (pl.col("EVENT_TYPE") == "VIEWED"))["ACTION_ID"])
    seen = _filter(personalize, group, 'EXCLUDE ActionID WHERE Action_Interactions.EVENT_TYPE IN ("VIEWED")')
    answer = runtime.get_action_recommendations(campaignArn=group.campaign, userId=user, numResults=100, filterArn=seen)
    assert viewed and set(_ids(answer)) == set(group.actions.actions["ACTION_ID"]) - viewed
    # A newcomer's streamed TAKEN counts too (within a second: the action data is re-read when it changes).
    taken = _filter(personalize, group, 'EXCLUDE ActionID WHERE Action_Interactions.EVENT_TYPE IN ("TAKEN")')
    newcomer = unique("newcomer")
    before = runtime.get_action_recommendations(campaignArn=group.campaign, userId=newcomer, numResults=100, filterArn=taken)
    assert len(before["actionList"]) == 6
    events.put_action_interactions(trackingId=group.tracking_id, actionInteractions=[{
        "actionId": "a2", "userId": newcomer, "sessionId": "s-1", "timestamp": time.time(), "eventType": "TAKEN"}])
    deadline = time.monotonic() + 10
    while "a2" in _ids(runtime.get_action_recommendations(campaignArn=group.campaign, userId=newcomer, numResults=100,
                                                          filterArn=taken)):
        assert time.monotonic() < deadline, "the streamed TAKEN never reached the filter"
        time.sleep(0.2)


def test_requests_the_operation_refuses(personalize: Any, runtime: Any, group: ActionGroup) -> None:
    code, message = error_of(runtime.get_action_recommendations, campaignArn=group.campaign, userId="u", numResults=101)
    assert code == "InvalidInputException" and "at most 100" in message
    items = _filter(personalize, group, 'EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("click")')
    code, message = error_of(runtime.get_action_recommendations, campaignArn=group.campaign, userId="u", filterArn=items)
    assert code == "InvalidInputException" and "cannot filter actions" in message
    code, message = error_of(runtime.get_recommendations, campaignArn=group.campaign, userId="u")
    assert code == "InvalidInputException" and "GetActionRecommendations" in message
