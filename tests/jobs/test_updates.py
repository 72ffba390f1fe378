"""Model refreshes without retraining, through boto3 (spec §2.5, §3.4): trainingMode UPDATE, the 2-hourly
automatic updates of deployed User-Personalization models, Semantic-Similarity incremental updates.

The scheduler's update passes run here in the test process, against the server's data directory and metadata,
as a separate ``openpersonalize worker`` process would: the server must notice the rewritten model by itself.
The server is this module's own, so no other test's campaign is refreshed under it.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from _postgres import store_url
from conftest import LiveServer, unique, wait_for
from test_campaigns import NO_EXPLORATION, UP, ServingGroup, deploy, make_serving_group, solution, train

from openpersonalize.config import Settings
from openpersonalize.services import Services
from openpersonalize.data.metadata import Store
from openpersonalize.data.artifacts import model_dir
from openpersonalize.data.store import DataStore
from openpersonalize.jobs import updates
from openpersonalize.recipes.base import Recipe

SEMANTIC = "arn:aws:personalize:::recipe/aws-semantic-similarity"


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    # Each test deploys its own campaigns in one dataset group: more than the default quota of 5.
    server = LiveServer(tmp_path_factory.mktemp("updates-server"), env={"OPENPERSONALIZE_QUOTA_ACTIVE_CAMPAIGNS_PER_GROUP": "100"})
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def clients(live: LiveServer) -> tuple[Any, Any, Any]:
    return live.client("personalize"), live.client("personalize-events"), live.client("personalize-runtime")


@pytest.fixture(scope="module")
def group(clients: tuple[Any, Any, Any], tmp_path_factory: pytest.TempPathFactory) -> ServingGroup:
    return make_serving_group(clients[0], tmp_path_factory.mktemp("updates"), users=150, items=100, interactions=3000)


@pytest.fixture()
def worker(live: LiveServer) -> Services:
    """The metadata and data of the live server, seen from another process (as an external worker sees them)."""
    settings = Settings(data_dir=live.data_dir)
    return Services(settings=settings, store=Store(store_url(settings.data_dir)), data=DataStore(live.data_dir))


def _new_item(events: Any, group: ServingGroup, watchers: int) -> str:
    """A new item (PutItems) that ``watchers`` known users then watch (PutEvents)."""
    item = unique("new-film")
    properties = {"title": "A New Film", "genres": "Drama", "creationTimestamp": int(time.time()), "description": "new"}
    events.put_items(datasetArn=group.items_dataset, items=[{"itemId": item, "properties": json.dumps(properties)}])
    for user in range(1, watchers + 1):
        events.put_events(trackingId=group.tracking_id, userId=f"u{user}", sessionId=unique("s"),
                          eventList=[{"eventType": "Watch", "itemId": item, "sentAt": time.time()}])
    return item


def _recommended(runtime: Any, campaign: str) -> set[str]:
    """Every item a visitor without history may be recommended (exploration is off on these campaigns)."""
    answer = runtime.get_recommendations(campaignArn=campaign, userId=unique("visitor"), numResults=500)
    return {i["itemId"] for i in answer["itemList"]}


def _model(live: LiveServer, version: str) -> Recipe:
    return Recipe.load(model_dir(live.data_dir, version))


def _version(personalize: Any, arn: str) -> dict[str, Any]:
    return dict(personalize.describe_solution_version(solutionVersionArn=arn)["solutionVersion"])


def test_update_mode_warm_starts_from_the_full_model(live: LiveServer, clients: tuple[Any, Any, Any], group: ServingGroup) -> None:
    personalize, events, runtime = clients
    sol = solution(personalize, group.arn, UP)
    full = train(personalize, sol)
    before = deploy(personalize, full, campaignConfig=NO_EXPLORATION)
    item = _new_item(events, group, watchers=5)
    assert item not in _recommended(runtime, before)  # the FULL model never saw it

    arn = personalize.create_solution_version(solutionArn=sol, trainingMode="UPDATE")["solutionVersionArn"]
    update = wait_for(lambda: _version(personalize, arn), timeout=120)
    assert update["status"] == "ACTIVE", update.get("failureReason")
    assert update["trainingMode"] == "UPDATE" and update["trainingType"] == "MANUAL"
    after = deploy(personalize, arn, campaignConfig=NO_EXPLORATION)
    assert item in _recommended(runtime, after)  # in the catalogue, popular among 5 users
    assert item not in _recommended(runtime, before)

    old, new = _model(live, full), _model(live, arn)
    assert np.array_equal(old.transition_, new.transition_) and np.array_equal(old.ease_, new.ease_)  # no refit
    assert np.array_equal(old.item_ids_[old.vocabulary_], new.item_ids_[new.vocabulary_])
    assert item in set(new.item_ids_) and item not in set(old.item_ids_)
    # Not evaluated again: the learnt model is the FULL version's, and so are its metrics.
    metrics = [personalize.get_solution_metrics(solutionVersionArn=v)["metrics"] for v in (full, arn)]
    assert metrics[0] == metrics[1] and metrics[0]
    listed = personalize.list_solution_versions(solutionArn=sol)["solutionVersions"]
    assert {v["solutionVersionArn"]: v["trainingMode"] for v in listed} == {full: "FULL", arn: "UPDATE"}


def test_automatic_update_refreshes_the_deployed_model_in_place(
    live: LiveServer, clients: tuple[Any, Any, Any], group: ServingGroup, worker: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    personalize, events, runtime = clients
    monkeypatch.setattr(worker.settings, "auto_update_seconds", 1.0)
    sol = solution(personalize, group.arn, UP)
    full = train(personalize, sol)
    campaign = deploy(personalize, full, campaignConfig=NO_EXPLORATION)
    time.sleep(1.1)  # the interval since training has passed
    assert full not in updates.run_auto_updates(worker)  # nothing new since the training read the data
    item = _new_item(events, group, watchers=5)
    assert item not in _recommended(runtime, campaign)
    described = personalize.describe_campaign(campaignArn=campaign)["campaign"]
    metrics = personalize.get_solution_metrics(solutionVersionArn=full)["metrics"]

    failures: list[BaseException] = []
    stop = threading.Event()

    def traffic() -> None:  # requests keep coming while the model is replaced: none may fail
        while not stop.is_set():
            try:
                runtime.get_recommendations(campaignArn=campaign, userId="u3", numResults=10)
            except Exception as exc:
                failures.append(exc)

    thread = threading.Thread(target=traffic)
    thread.start()
    try:
        assert full in updates.run_auto_updates(worker)
        deadline = time.monotonic() + 15
        while item not in _recommended(runtime, campaign) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert item in _recommended(runtime, campaign)  # the server swapped in the refreshed model
    finally:
        stop.set()
        thread.join()
    assert failures == []
    assert full not in updates.run_auto_updates(worker)  # nothing new since this update
    # No new version, no new metrics; the campaign's lastUpdatedDateTime shows the refresh.
    assert [v["solutionVersionArn"] for v in personalize.list_solution_versions(solutionArn=sol)["solutionVersions"]] == [full]
    assert personalize.get_solution_metrics(solutionVersionArn=full)["metrics"] == metrics
    refreshed = personalize.describe_campaign(campaignArn=campaign)["campaign"]
    assert refreshed["lastUpdatedDateTime"] > described["lastUpdatedDateTime"]
    assert refreshed["solutionVersionArn"] == full and _version(personalize, full)["trainingMode"] == "FULL"


def test_no_automatic_updates_for_update_mode_versions(
    clients: tuple[Any, Any, Any], group: ServingGroup, worker: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    personalize, events, _ = clients
    monkeypatch.setattr(worker.settings, "auto_update_seconds", 1.0)
    sol = solution(personalize, group.arn, UP)
    full = train(personalize, sol)
    deploy(personalize, full, campaignConfig=NO_EXPLORATION)
    arn = personalize.create_solution_version(solutionArn=sol, trainingMode="UPDATE")["solutionVersionArn"]
    assert wait_for(lambda: _version(personalize, arn), timeout=120)["status"] == "ACTIVE"
    deploy(personalize, arn, campaignConfig=NO_EXPLORATION)
    time.sleep(1.1)
    _new_item(events, group, watchers=2)
    refreshed = updates.run_auto_updates(worker)
    assert full not in refreshed and arn not in refreshed  # AWS stops updating a version once UPDATE was used


def test_semantic_similarity_incremental_update_embeds_new_items(
    live: LiveServer, clients: tuple[Any, Any, Any], group: ServingGroup, worker: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    personalize, events, runtime = clients
    monkeypatch.setattr(worker.settings, "incremental_update_seconds", 1.0)
    sol = personalize.create_solution(name=unique("sem"), datasetGroupArn=group.arn, recipeArn=SEMANTIC,
                                      performAutoTraining=False, performIncrementalUpdate=True)["solutionArn"]
    assert wait_for(lambda: personalize.describe_solution(solutionArn=sol)["solution"])["status"] == "ACTIVE"
    version = train(personalize, sol)
    campaign = deploy(personalize, version)
    time.sleep(1.1)
    assert version not in updates.run_incremental_updates(worker)  # the Items dataset has not changed
    source = group.data.items.row(0, named=True)
    twin = unique("twin")
    properties = {"title": source["TITLE"], "genres": source["GENRES"], "creationTimestamp": int(time.time()),
                  "description": source["DESCRIPTION"]}
    events.put_items(datasetArn=group.items_dataset, items=[{"itemId": twin, "properties": json.dumps(properties)}])

    def related() -> list[str]:
        answer = runtime.get_recommendations(campaignArn=campaign, itemId=source["ITEM_ID"], numResults=10)
        return [i["itemId"] for i in answer["itemList"]]

    assert twin not in related()  # not embedded yet
    assert version in updates.run_incremental_updates(worker)
    deadline = time.monotonic() + 15
    while twin not in related() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert related()[0] == twin  # the same text: the most similar item
    model = Recipe.load(model_dir(live.data_dir, version))
    assert int(model.embedded_last_update_) == 1  # only the new item was embedded, not the catalogue
    assert [v["solutionVersionArn"] for v in personalize.list_solution_versions(solutionArn=sol)["solutionVersions"]] == [version]
