"""Campaigns through boto3: create/describe/list/update/delete, $LATEST and auto-sync, quota (spec §2.6)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from conftest import unique, wait_for
from test_datasets import active_dataset, active_group, error_of, new_schema, wait_gone

from openpersonalize.demo.generator import GeneratedData, generate_vod, write_csv

UP = "arn:aws:personalize:::recipe/aws-user-personalization"
UP2 = "arn:aws:personalize:::recipe/aws-user-personalization-v2"
RANKING = "arn:aws:personalize:::recipe/aws-personalized-ranking"
SIMS = "arn:aws:personalize:::recipe/aws-sims"
POPULARITY = "arn:aws:personalize:::recipe/aws-popularity-count"
NO_EXPLORATION = {"itemExplorationConfig": {"explorationWeight": "0"}}


@dataclass
class ServingGroup:
    """A trained-on dataset group: generated VOD data imported, an event tracker, the truth of the data."""

    arn: str
    tracking_id: str
    items_dataset: str
    data: GeneratedData


def _import(personalize: Any, dataset: str, path: Path) -> None:
    job = personalize.create_dataset_import_job(jobName=unique("imp"), datasetArn=dataset,
                                                dataSource={"dataLocation": str(path)})["datasetImportJobArn"]
    described = wait_for(lambda: personalize.describe_dataset_import_job(datasetImportJobArn=job)["datasetImportJob"])
    assert described["status"] == "ACTIVE", described.get("failureReason")


def make_serving_group(personalize: Any, folder: Path, *, users: int = 300, items: int = 200, interactions: int = 6000) -> ServingGroup:
    data = generate_vod(users=users, items=items, interactions=interactions, seed=3)
    files = write_csv(data, folder)
    group, _ = active_group(personalize)
    datasets = {}
    for dataset_type, key in (("Interactions", "INTERACTIONS"), ("Items", "ITEMS")):
        datasets[key] = active_dataset(personalize, group, dataset_type, new_schema(personalize, data.schemas[key]))
        _import(personalize, datasets[key], files[key.lower()])
    tracker = personalize.create_event_tracker(name=unique("trk"), datasetGroupArn=group)["eventTrackerArn"]
    described = wait_for(lambda: personalize.describe_event_tracker(eventTrackerArn=tracker)["eventTracker"])
    return ServingGroup(group, described["trackingId"], datasets["ITEMS"], data)


def solution(personalize: Any, group: str, recipe: str) -> str:
    arn = personalize.create_solution(name=unique("sol"), datasetGroupArn=group, recipeArn=recipe,
                                      performAutoTraining=False)["solutionArn"]
    assert wait_for(lambda: personalize.describe_solution(solutionArn=arn)["solution"])["status"] == "ACTIVE"
    return str(arn)


def train(personalize: Any, solution_arn: str) -> str:
    arn = personalize.create_solution_version(solutionArn=solution_arn)["solutionVersionArn"]
    version = wait_for(lambda: personalize.describe_solution_version(solutionVersionArn=arn)["solutionVersion"], timeout=300)
    assert version["status"] == "ACTIVE", version.get("failureReason")
    return str(arn)


def deploy(personalize: Any, version: str, **kwargs: Any) -> str:
    arn = personalize.create_campaign(name=unique("cmp"), solutionVersionArn=version, **kwargs)["campaignArn"]
    described = wait_for(lambda: personalize.describe_campaign(campaignArn=arn)["campaign"])
    assert described["status"] == "ACTIVE", described.get("failureReason")
    return str(arn)


@pytest.fixture(scope="module")
def group(personalize: Any, tmp_path_factory: pytest.TempPathFactory) -> ServingGroup:
    return make_serving_group(personalize, tmp_path_factory.mktemp("campaigns"))


@pytest.fixture(scope="module")
def popularity(personalize: Any, group: ServingGroup) -> tuple[str, str]:
    sol = solution(personalize, group.arn, POPULARITY)
    return sol, train(personalize, sol)


def test_create_describe_list_delete(personalize: Any, runtime: Any, popularity: tuple[str, str]) -> None:
    sol, version = popularity
    started = time.monotonic()
    arn = deploy(personalize, version, minProvisionedTPS=3, tags=[{"tagKey": "team", "tagValue": "recs"}])
    assert time.monotonic() - started < 10  # ACTIVE within seconds
    campaign = personalize.describe_campaign(campaignArn=arn)["campaign"]
    assert campaign["solutionVersionArn"] == version and campaign["minProvisionedTPS"] == 3
    assert campaign["campaignArn"] == arn and "latestCampaignUpdate" not in campaign
    assert campaign["creationDateTime"] <= campaign["lastUpdatedDateTime"]
    listed = personalize.list_campaigns(solutionArn=sol)["campaigns"]
    assert [c["campaignArn"] for c in listed] == [arn] and listed[0]["status"] == "ACTIVE"
    assert arn in [c["campaignArn"] for c in personalize.list_campaigns()["campaigns"]]
    assert personalize.list_tags_for_resource(resourceArn=arn)["tags"] == [{"tagKey": "team", "tagValue": "recs"}]
    assert runtime.get_recommendations(campaignArn=arn, numResults=5)["itemList"]
    code, message = error_of(personalize.delete_solution, solutionArn=sol)
    assert code == "ResourceInUseException" and arn in message
    personalize.delete_campaign(campaignArn=arn)
    wait_gone(lambda: personalize.describe_campaign(campaignArn=arn))
    code, _ = error_of(runtime.get_recommendations, campaignArn=arn)
    assert code == "ResourceNotFoundException"
    personalize.describe_solution_version(solutionVersionArn=version)  # versions are untouched


def test_create_errors(personalize: Any, group: ServingGroup, popularity: tuple[str, str]) -> None:
    sol, version = popularity
    missing = version[: version.rindex("/")] + "/00000000"
    code, message = error_of(personalize.create_campaign, name=unique("c"), solutionVersionArn=missing)
    assert code == "ResourceNotFoundException" and missing in message
    code, message = error_of(personalize.create_campaign, name=unique("c"), solutionVersionArn=version,
                             campaignConfig={"syncWithLatestSolutionVersion": True})
    assert code == "InvalidInputException" and "$LATEST" in message
    code, message = error_of(personalize.create_campaign, name=unique("c"), solutionVersionArn=version,
                             campaignConfig={"itemExplorationConfig": {"explorationWeight": "0.5"}})
    assert code == "InvalidInputException" and "User-Personalization" in message
    empty = solution(personalize, group.arn, POPULARITY)
    code, message = error_of(personalize.create_campaign, name=unique("c"), solutionVersionArn=f"{empty}/$LATEST")
    assert code == "ResourceInUseException" and "no" in message
    name = unique("dup")
    arn = personalize.create_campaign(name=name, solutionVersionArn=version)["campaignArn"]
    code, _ = error_of(personalize.create_campaign, name=name, solutionVersionArn=version)
    assert code == "ResourceAlreadyExistsException"
    wait_for(lambda: personalize.describe_campaign(campaignArn=arn)["campaign"])
    personalize.delete_campaign(campaignArn=arn)


@pytest.mark.parametrize(
    ("config", "needle"),
    [
        ({"explorationWeight": "1.5"}, "from 0 to 1"),
        ({"explorationWeight": "lots"}, "must be a number"),
        ({"explorationItemAgeCutOff": "0"}, "at least 1"),
        ({"surprise": "1"}, "unknown key 'surprise'"),
    ],
)
def test_exploration_config_is_checked(personalize: Any, group: ServingGroup, up_version: str, config: dict[str, str], needle: str) -> None:
    code, message = error_of(personalize.create_campaign, name=unique("c"), solutionVersionArn=up_version,
                             campaignConfig={"itemExplorationConfig": config})
    assert code == "InvalidInputException" and needle in message


@pytest.fixture(scope="module")
def up_solution(personalize: Any, group: ServingGroup) -> str:
    return solution(personalize, group.arn, UP)


@pytest.fixture(scope="module")
def up_version(personalize: Any, up_solution: str) -> str:
    return train(personalize, up_solution)


def test_update_swaps_models_without_failed_requests(personalize: Any, runtime: Any, group: ServingGroup, up_version: str, popularity: tuple[str, str]) -> None:
    arn = deploy(personalize, up_version, campaignConfig=NO_EXPLORATION)
    user = str(group.data.interactions["USER_ID"][0])
    before = runtime.get_recommendations(campaignArn=arn, userId=user, numResults=10)["itemList"]
    assert all("score" in item for item in before)
    other = train(personalize, up_version.rsplit("/", 1)[0])
    personalize.update_campaign(campaignArn=arn, solutionVersionArn=other, minProvisionedTPS=2)
    pending = personalize.describe_campaign(campaignArn=arn)["campaign"]
    assert pending["latestCampaignUpdate"]["solutionVersionArn"] == other
    code, _ = error_of(personalize.update_campaign, campaignArn=arn, minProvisionedTPS=4)
    assert code == "ResourceInUseException" or pending["latestCampaignUpdate"]["status"] == "ACTIVE"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # requests keep succeeding while the update rolls out
        runtime.get_recommendations(campaignArn=arn, userId=user, numResults=10)
        campaign = personalize.describe_campaign(campaignArn=arn)["campaign"]
        if campaign["latestCampaignUpdate"]["status"] == "ACTIVE":
            break
    assert campaign["solutionVersionArn"] == other and campaign["minProvisionedTPS"] == 2
    assert campaign["status"] == "ACTIVE"
    code, message = error_of(personalize.update_campaign, campaignArn=arn, solutionVersionArn=popularity[1],
                             campaignConfig={"itemExplorationConfig": {"explorationWeight": "0.1"}})
    assert code == "InvalidInputException" and "User-Personalization" in message
    personalize.delete_campaign(campaignArn=arn)


def test_latest_alias_follows_new_versions(personalize: Any, runtime: Any, group: ServingGroup, up_solution: str, up_version: str) -> None:
    arn = deploy(personalize, f"{up_solution}/$LATEST",
                 campaignConfig={"syncWithLatestSolutionVersion": True, **NO_EXPLORATION})
    first = personalize.describe_campaign(campaignArn=arn)["campaign"]["solutionVersionArn"]
    assert first.startswith(up_solution + "/") and first != f"{up_solution}/$LATEST"
    newer = train(personalize, up_solution)
    campaign = wait_for(lambda: personalize.describe_campaign(campaignArn=arn)["campaign"].get("latestCampaignUpdate", {}))
    assert campaign["status"] == "ACTIVE" and campaign["solutionVersionArn"] == newer
    assert personalize.describe_campaign(campaignArn=arn)["campaign"]["solutionVersionArn"] == newer
    personalize.delete_campaign(campaignArn=arn)


def test_quota_of_active_campaigns_per_group(personalize: Any, tmp_path: Path) -> None:
    # A fresh group: the default quota is 5 active campaigns per dataset group (spec §11).
    other = make_serving_group(personalize, tmp_path, users=60, items=40, interactions=600)
    version = train(personalize, solution(personalize, other.arn, POPULARITY))
    made = [personalize.create_campaign(name=unique("q"), solutionVersionArn=version)["campaignArn"] for _ in range(5)]
    code, message = error_of(personalize.create_campaign, name=unique("q"), solutionVersionArn=version)
    assert code == "LimitExceededException" and "More than 5 resources in ACTIVE state" in message
    for arn in made:
        wait_for(lambda arn=arn: personalize.describe_campaign(campaignArn=arn)["campaign"])
        personalize.delete_campaign(campaignArn=arn)


def test_delete_twice_and_unknown(personalize: Any, popularity: tuple[str, str]) -> None:
    code, _ = error_of(personalize.describe_campaign, campaignArn="arn:aws:personalize:us-east-1:123456789012:campaign/nope")
    assert code == "ResourceNotFoundException"
    code, _ = error_of(personalize.update_campaign, campaignArn="arn:aws:personalize:us-east-1:123456789012:campaign/nope")
    assert code == "ResourceNotFoundException"
    code, message = error_of(personalize.list_campaigns, solutionArn="arn:aws:personalize:us-east-1:123456789012:solution/nope")
    assert code == "ResourceNotFoundException"
