"""Client code as AWS's own sample notebooks write it, run unchanged against the server.

- Back-to-back creates: group → schema → dataset → import → solution → version → campaign, with no waits but
  the polling a client does on AWS (Personalize has no waiters).
- Deletes are asynchronous, as on AWS: right after a Delete call the resource is still described, in a DELETE
  state, and it disappears later. The clean-up notebooks wait in two ways — one loop leaves when a describe
  *succeeds* after the delete (dataset groups), the others when it raises ResourceNotFoundException — and both
  must end, for every deletable resource type.
- Every item of a User-Personalization answer carries a score.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from conftest import unique, wait_for

from openpersonalize.demo.generator import generate_vod, write_csv

UP = "arn:aws:personalize:::recipe/aws-user-personalization"
MOST_POPULAR = "arn:aws:personalize:::recipe/aws-vod-most-popular"
ROLE = "arn:aws:iam::123456789012:role/personalize"
LOOP_SECONDS = 30.0  # the notebooks wait up to 30 minutes; a deletion here takes about a second


def describes_right_after_delete(describe: Callable[[], dict[str, Any]]) -> str:
    """The dataset-group clean-up loop: it leaves as soon as a describe after the delete succeeds."""
    return str(describe()["status"])


def waits_until_not_found(describe: Callable[[], Any]) -> float:
    """The other clean-up loops: poll until ResourceNotFoundException; returns the seconds it took."""
    started = time.monotonic()
    while time.monotonic() - started < LOOP_SECONDS:
        try:
            describe()
        except ClientError as err:
            assert err.response["Error"]["Code"] == "ResourceNotFoundException"
            return time.monotonic() - started
        time.sleep(0.1)
    raise AssertionError(f"still described {LOOP_SECONDS} s after the delete")


def delete_like_the_notebooks(delete: Callable[[], Any], describe: Callable[[], dict[str, Any]]) -> None:
    delete()
    assert describes_right_after_delete(describe).startswith("DELETE")
    waits_until_not_found(describe)


def _import(personalize: Any, dataset: str, path: Path) -> str:
    return str(personalize.create_dataset_import_job(
        jobName=unique("imp"), datasetArn=dataset, dataSource={"dataLocation": str(path)}, roleArn=ROLE,
    )["datasetImportJobArn"])


@pytest.fixture(scope="module")
def chain(personalize: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Every create call straight after the one before it; a client polls only where AWS makes it wait."""
    data = generate_vod(users=200, items=150, interactions=4000, seed=5)
    files = write_csv(data, tmp_path_factory.mktemp("chain"))
    arns = {"group": personalize.create_dataset_group(name=unique("dg"))["datasetGroupArn"]}
    schema = personalize.create_schema(name=unique("s"), schema=data.schemas["INTERACTIONS"])["schemaArn"]
    arns["schema"] = schema
    arns["dataset"] = personalize.create_dataset(name=unique("d"), schemaArn=schema, datasetGroupArn=arns["group"],
                                                 datasetType="Interactions")["datasetArn"]
    arns["import"] = _import(personalize, arns["dataset"], files["interactions"])
    arns["solution"] = personalize.create_solution(name=unique("sol"), datasetGroupArn=arns["group"], recipeArn=UP,
                                                   performAutoTraining=False)["solutionArn"]
    arns["version"] = personalize.create_solution_version(solutionArn=arns["solution"])["solutionVersionArn"]
    version = wait_for(lambda: personalize.describe_solution_version(solutionVersionArn=arns["version"])["solutionVersion"], timeout=300)
    assert version["status"] == "ACTIVE", version.get("failureReason")
    arns["campaign"] = personalize.create_campaign(name=unique("cmp"), solutionVersionArn=arns["version"])["campaignArn"]
    campaign = wait_for(lambda: personalize.describe_campaign(campaignArn=arns["campaign"])["campaign"])
    assert campaign["status"] == "ACTIVE", campaign.get("failureReason")
    return arns


def test_back_to_back_creates_reach_recommendations(runtime: Any, chain: dict[str, str]) -> None:
    answer = runtime.get_recommendations(campaignArn=chain["campaign"], userId="1", numResults=25)["itemList"]
    assert len(answer) == 25


def test_every_user_personalization_item_has_a_score(runtime: Any, chain: dict[str, str]) -> None:
    """AWS: User-Personalization scores every item — exploration and cold items included (default exploration)."""
    for user in ("1", "2", "a-new-user"):
        answer = runtime.get_recommendations(campaignArn=chain["campaign"], userId=user, numResults=100)["itemList"]
        assert answer and all(isinstance(entry.get("score"), float) for entry in answer), answer


def test_every_resource_type_deletes_as_the_notebooks_wait(personalize: Any, chain: dict[str, str]) -> None:
    group = chain["group"]
    tracker = personalize.create_event_tracker(name=unique("trk"), datasetGroupArn=group)["eventTrackerArn"]
    filter_arn = personalize.create_filter(name=unique("f"), datasetGroupArn=group,
                                           filterExpression='EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("Watch")')["filterArn"]
    attribution = personalize.create_metric_attribution(
        name=unique("ma"), datasetGroupArn=group,
        metrics=[{"eventType": "Watch", "metricName": "WATCHES", "expression": "SAMPLECOUNT()"}],
        metricsOutputConfig={"roleArn": ROLE},
    )["metricAttributionArn"]
    for describe in (lambda: personalize.describe_event_tracker(eventTrackerArn=tracker)["eventTracker"],
                     lambda: personalize.describe_filter(filterArn=filter_arn)["filter"],
                     lambda: personalize.describe_metric_attribution(metricAttributionArn=attribution)["metricAttribution"]):
        assert wait_for(describe)["status"] == "ACTIVE"
    steps = [
        (lambda: personalize.delete_campaign(campaignArn=chain["campaign"]),
         lambda: personalize.describe_campaign(campaignArn=chain["campaign"])["campaign"]),
        (lambda: personalize.delete_solution(solutionArn=chain["solution"]),
         lambda: personalize.describe_solution(solutionArn=chain["solution"])["solution"]),
        (lambda: personalize.delete_event_tracker(eventTrackerArn=tracker),
         lambda: personalize.describe_event_tracker(eventTrackerArn=tracker)["eventTracker"]),
        (lambda: personalize.delete_filter(filterArn=filter_arn),
         lambda: personalize.describe_filter(filterArn=filter_arn)["filter"]),
        (lambda: personalize.delete_metric_attribution(metricAttributionArn=attribution),
         lambda: personalize.describe_metric_attribution(metricAttributionArn=attribution)["metricAttribution"]),
        (lambda: personalize.delete_dataset(datasetArn=chain["dataset"]),
         lambda: personalize.describe_dataset(datasetArn=chain["dataset"])["dataset"]),
        (lambda: personalize.delete_dataset_group(datasetGroupArn=group),
         lambda: personalize.describe_dataset_group(datasetGroupArn=group)["datasetGroup"]),
    ]
    for delete, describe in steps:
        delete_like_the_notebooks(delete, describe)
    personalize.delete_schema(schemaArn=chain["schema"])  # synchronous on AWS too: schemas have no status


def test_a_recommender_deletes_as_the_notebooks_wait(personalize: Any, tmp_path: Path) -> None:
    data = generate_vod(users=120, items=80, interactions=2500, seed=6)
    files = write_csv(data, tmp_path)
    group = personalize.create_dataset_group(name=unique("vod"), domain="VIDEO_ON_DEMAND")["datasetGroupArn"]
    schema = personalize.create_schema(name=unique("s"), schema=data.schemas["INTERACTIONS"], domain="VIDEO_ON_DEMAND")["schemaArn"]
    dataset = personalize.create_dataset(name=unique("d"), schemaArn=schema, datasetGroupArn=group,
                                         datasetType="Interactions")["datasetArn"]
    job = _import(personalize, dataset, files["interactions"])
    assert wait_for(lambda: personalize.describe_dataset_import_job(datasetImportJobArn=job)["datasetImportJob"])["status"] == "ACTIVE"
    recommender = personalize.create_recommender(name=unique("rec"), datasetGroupArn=group, recipeArn=MOST_POPULAR)["recommenderArn"]
    described = wait_for(lambda: personalize.describe_recommender(recommenderArn=recommender)["recommender"], timeout=120)
    assert described["status"] == "ACTIVE", described.get("failureReason")
    delete_like_the_notebooks(lambda: personalize.delete_recommender(recommenderArn=recommender),
                              lambda: personalize.describe_recommender(recommenderArn=recommender)["recommender"])
