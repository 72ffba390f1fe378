"""Recommenders of domain dataset groups through boto3 (spec §2.7, §6): every use case on generated VOD and
e-commerce data, per-use-case userId/itemId rules, the automatic filter of watched / purchased items, no
scores, update / stop / start / delete, quota; plus the use-case data checks and weekly retraining in-process."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from _postgres import store_url
from conftest import unique, wait_for
from test_datasets import active_dataset, active_group, error_of, new_schema, wait_gone

from openpersonalize.config import Settings
from openpersonalize.control.common import ACTIVE, new_record
from openpersonalize.services import Services
from openpersonalize.data.metadata import Store
from openpersonalize.data.store import DataStore
from openpersonalize.demo.generator import GeneratedData, generate_ecommerce, generate_vod, write_csv
from openpersonalize.jobs import recommender_training
from openpersonalize.jobs.base import JobFailed
from openpersonalize.serving.domain import MAX_FILTERED_PER_TYPE, interacted_items
from openpersonalize.serving.realtime import UserHistory

PREFIX = "arn:aws:personalize:::recipe/"
VOD = {name: PREFIX + name for name in ("aws-vod-because-you-watched-x", "aws-vod-more-like-x", "aws-vod-most-popular",
                                         "aws-vod-trending-now", "aws-vod-top-picks")}
ECOMM = {name: PREFIX + name for name in ("aws-ecomm-popular-items-by-views", "aws-ecomm-popular-items-by-purchases",
                                           "aws-ecomm-frequently-bought-together",
                                           "aws-ecomm-customers-who-viewed-x-also-viewed", "aws-ecomm-recommended-for-you")}
METRIC_KEYS = {"coverage", "mean_reciprocal_rank_at_25", "normalized_discounted_cumulative_gain_at_10", "precision_at_5"}
NO_EXPLORATION = {"itemExplorationConfig": {"explorationWeight": "0"}}


@dataclass
class DomainGroup:
    arn: str
    tracking_id: str
    data: GeneratedData
    recommenders: dict[str, str]  # use case name → recommender ARN

    def history(self, user: str, event_type: str) -> set[str]:
        frame = self.data.interactions
        rows = frame.filter((pl.col("USER_ID") == user) & (pl.col("EVENT_TYPE").str.to_lowercase() == event_type.lower()))
        return set(rows.sort("TIMESTAMP")["ITEM_ID"].tail(MAX_FILTERED_PER_TYPE).to_list())

    def active_users(self, event_type: str, count: int) -> list[str]:
        """Users with events of the type and recent activity (the auto filter ignores 3-month-idle users)."""
        frame = self.data.interactions
        newest = frame.group_by("USER_ID").agg(pl.col("TIMESTAMP").max().alias("last"),
                                               (pl.col("EVENT_TYPE") == event_type).sum().alias("n"))
        cutoff = int(frame["TIMESTAMP"].max()) - 60 * 86400
        chosen = newest.filter((pl.col("last") > cutoff) & (pl.col("n") >= 3)).sort("n", descending=True)
        return chosen["USER_ID"].head(count).to_list()


def _import(personalize: Any, dataset: str, path: Path) -> None:
    job = personalize.create_dataset_import_job(jobName=unique("imp"), datasetArn=dataset,
                                                dataSource={"dataLocation": str(path)})["datasetImportJobArn"]
    described = wait_for(lambda: personalize.describe_dataset_import_job(datasetImportJobArn=job)["datasetImportJob"])
    assert described["status"] == "ACTIVE", described.get("failureReason")


def _domain_group(personalize: Any, folder: Path, domain: str, data: GeneratedData) -> tuple[str, str]:
    files = write_csv(data, folder)
    group, _ = active_group(personalize, domain=domain)
    for dataset_type, key in (("Interactions", "INTERACTIONS"), ("Items", "ITEMS")):
        dataset = active_dataset(personalize, group, dataset_type, new_schema(personalize, data.schemas[key], domain))
        _import(personalize, dataset, files[key.lower()])
    tracker = personalize.create_event_tracker(name=unique("trk"), datasetGroupArn=group)["eventTrackerArn"]
    return group, wait_for(lambda: personalize.describe_event_tracker(eventTrackerArn=tracker)["eventTracker"])["trackingId"]


def _create_all(personalize: Any, group: str, use_cases: dict[str, str]) -> dict[str, str]:
    """One recommender per use case, created together so the worker trains them back to back."""
    created = {}
    for name, recipe in use_cases.items():
        config = NO_EXPLORATION if name.endswith(("top-picks", "recommended-for-you")) else {}
        created[name] = personalize.create_recommender(name=unique("rec"), datasetGroupArn=group, recipeArn=recipe,
                                                       recommenderConfig=config)["recommenderArn"]
    for name, arn in created.items():
        described = wait_for(lambda arn=arn: personalize.describe_recommender(recommenderArn=arn)["recommender"], timeout=300)
        assert described["status"] == "ACTIVE", (name, described.get("failureReason"))
    return created


@pytest.fixture(scope="module")
def vod(personalize: Any, tmp_path_factory: pytest.TempPathFactory) -> DomainGroup:
    data = generate_vod(users=300, items=200, interactions=6000, seed=5)
    group, tracking = _domain_group(personalize, tmp_path_factory.mktemp("vod"), "VIDEO_ON_DEMAND", data)
    return DomainGroup(group, tracking, data, _create_all(personalize, group, VOD))


@pytest.fixture(scope="module")
def ecomm(personalize: Any, tmp_path_factory: pytest.TempPathFactory) -> DomainGroup:
    data = generate_ecommerce(users=300, items=200, interactions=8000, seed=5)
    group, tracking = _domain_group(personalize, tmp_path_factory.mktemp("ecomm"), "ECOMMERCE", data)
    return DomainGroup(group, tracking, data, _create_all(personalize, group, ECOMM))


def _items(runtime: Any, arn: str, **kwargs: Any) -> list[dict[str, Any]]:
    return list(runtime.get_recommendations(recommenderArn=arn, **kwargs)["itemList"])


# ---- lifecycle and describe ------------------------------------------------------------------------------------


def test_describe_and_list(personalize: Any, vod: DomainGroup) -> None:
    arn = vod.recommenders["aws-vod-top-picks"]
    recommender = personalize.describe_recommender(recommenderArn=arn)["recommender"]
    assert recommender["recipeArn"] == VOD["aws-vod-top-picks"] and recommender["datasetGroupArn"] == vod.arn
    assert recommender["recommenderConfig"] == {**NO_EXPLORATION, "minRecommendationRequestsPerSecond": 1}
    assert METRIC_KEYS <= set(recommender["modelMetrics"]) and "latestRecommenderUpdate" not in recommender
    assert all(0 <= v <= 1 for k, v in recommender["modelMetrics"].items() if k in METRIC_KEYS)
    assert "_modelArn" not in recommender  # private fields never reach the wire
    listed = personalize.list_recommenders(datasetGroupArn=vod.arn)["recommenders"]
    assert {r["recommenderArn"] for r in listed} == set(vod.recommenders.values())
    assert all(r["status"] == "ACTIVE" and r["recipeArn"] in VOD.values() for r in listed)
    page = personalize.list_recommenders(datasetGroupArn=vod.arn, maxResults=2)
    assert len(page["recommenders"]) == 2 and page["nextToken"]
    trending = personalize.describe_recommender(recommenderArn=vod.recommenders["aws-vod-trending-now"])["recommender"]
    assert "trend_prediction_accuracy" in trending["modelMetrics"]


def test_create_errors(personalize: Any, vod: DomainGroup, ecomm: DomainGroup) -> None:
    code, message = error_of(personalize.create_recommender, name=unique("r"), datasetGroupArn=vod.arn,
                             recipeArn=ECOMM["aws-ecomm-recommended-for-you"])
    assert code == "InvalidInputException" and "ECOMMERCE use case" in message and "VIDEO_ON_DEMAND" in message
    code, message = error_of(personalize.create_recommender, name=unique("r"), datasetGroupArn=vod.arn,
                             recipeArn=PREFIX + "aws-sims")
    assert code == "InvalidInputException" and "custom recipe" in message
    code, message = error_of(personalize.create_recommender, name=unique("r"), datasetGroupArn=vod.arn,
                             recipeArn=PREFIX + "aws-vod-nothing")
    assert code == "ResourceNotFoundException" and "aws-vod-nothing" in message
    code, message = error_of(personalize.create_recommender, name=unique("r"), datasetGroupArn=vod.arn,
                             recipeArn=VOD["aws-vod-most-popular"], recommenderConfig={"itemExplorationConfig": {"explorationWeight": "0.5"}})
    assert code == "InvalidInputException" and "aws-vod-most-popular" in message
    code, message = error_of(personalize.create_recommender, name=unique("r"), datasetGroupArn=vod.arn,
                             recipeArn=VOD["aws-vod-top-picks"], recommenderConfig={"itemExplorationConfig": {"explorationWeight": "1.5"}})
    assert code == "InvalidInputException" and "explorationWeight" in message and "1.5" in message
    code, message = error_of(personalize.create_recommender, name=unique("r"), datasetGroupArn=vod.arn,
                             recipeArn=VOD["aws-vod-top-picks"],
                             recommenderConfig={"trainingDataConfig": {"excludedDatasetColumns": {"ITEMS": ["NOPE"]}}})
    assert code == "InvalidInputException" and "NOPE" in message
    # the group already holds its five recommenders (spec §2.7 quota)
    code, message = error_of(personalize.create_recommender, name=unique("r"), datasetGroupArn=vod.arn,
                             recipeArn=VOD["aws-vod-most-popular"])
    assert code == "LimitExceededException" and "5" in message
    custom, _ = active_group(personalize)
    code, message = error_of(personalize.create_recommender, name=unique("r"), datasetGroupArn=custom,
                             recipeArn=VOD["aws-vod-most-popular"])
    assert code == "InvalidInputException" and "custom dataset group" in message
    empty, _ = active_group(personalize, domain="VIDEO_ON_DEMAND")
    code, message = error_of(personalize.create_recommender, name=unique("r"), datasetGroupArn=empty,
                             recipeArn=VOD["aws-vod-most-popular"])
    assert code == "InvalidInputException" and "Interactions dataset" in message
    name = personalize.describe_recommender(recommenderArn=vod.recommenders["aws-vod-most-popular"])["recommender"]["name"]
    code, message = error_of(personalize.create_recommender, name=name, datasetGroupArn=ecomm.arn,
                             recipeArn=ECOMM["aws-ecomm-popular-items-by-views"])
    assert code == "ResourceAlreadyExistsException" and name in message


# ---- serving: every use case -----------------------------------------------------------------------------------


def test_vod_use_cases_serve_with_their_rules(runtime: Any, vod: DomainGroup) -> None:
    users = vod.active_users("Watch", 5)
    item = str(vod.data.interactions["ITEM_ID"][0])
    for name, needs in (("aws-vod-because-you-watched-x", ("userId", "itemId")), ("aws-vod-more-like-x", ("userId", "itemId")),
                        ("aws-vod-most-popular", ("userId",)), ("aws-vod-top-picks", ("userId",))):
        arn = vod.recommenders[name]
        for missing in needs:
            request = {"userId": users[0], "itemId": item}
            request.pop(missing)
            code, message = error_of(runtime.get_recommendations, recommenderArn=arn, **request)
            assert code == "InvalidInputException" and missing in message and name in message
    trending = _items(runtime, vod.recommenders["aws-vod-trending-now"], numResults=10)  # no user needed
    assert len(trending) == 10
    for name in VOD:
        for user in users:
            items = _items(runtime, vod.recommenders[name], userId=user, itemId=item, numResults=20)
            assert len(items) == 20 and len({i["itemId"] for i in items}) == 20, name
            assert all("score" not in i for i in items), name  # domain recommenders never score (spec §2.14)


def test_watched_and_purchased_items_never_leak(runtime: Any, vod: DomainGroup, ecomm: DomainGroup) -> None:
    for group, event_type, names in (
        (vod, "Watch", ("aws-vod-because-you-watched-x", "aws-vod-more-like-x", "aws-vod-top-picks")),
        (ecomm, "Purchase", ("aws-ecomm-customers-who-viewed-x-also-viewed", "aws-ecomm-recommended-for-you")),
    ):
        for user in group.active_users(event_type, 6):
            seen = group.history(user, event_type)
            assert seen
            item = sorted(seen)[0]
            for name in names:
                shown = {i["itemId"] for i in _items(runtime, group.recommenders[name], userId=user, itemId=item, numResults=50)}
                assert not shown & seen, (name, user, shown & seen)
    # Most popular has no automatic filter: a heavy watcher sees some of what they watched.
    user = vod.active_users("Watch", 1)[0]
    shown = {i["itemId"] for i in _items(runtime, vod.recommenders["aws-vod-most-popular"], userId=user, numResults=100)}
    assert shown & vod.history(user, "Watch")


def test_a_new_watch_or_purchase_is_removed_at_once_any_case(runtime: Any, events: Any, vod: DomainGroup, ecomm: DomainGroup) -> None:
    for group, name, event_type in ((vod, "aws-vod-top-picks", "WATCH"), (ecomm, "aws-ecomm-recommended-for-you", "purchase")):
        arn = group.recommenders[name]
        user = group.active_users(event_type.title(), 1)[0]
        first = _items(runtime, arn, userId=user, numResults=10)[0]["itemId"]
        events.put_events(trackingId=group.tracking_id, userId=user, sessionId=unique("s"),
                          eventList=[{"eventType": event_type, "itemId": first, "sentAt": time.time()}])
        deadline = time.monotonic() + 10
        while first in {i["itemId"] for i in _items(runtime, arn, userId=user, numResults=50)}:
            assert time.monotonic() < deadline, f"{first} still recommended after a {event_type} event"
            time.sleep(0.1)


def _by_users(frame: pl.DataFrame) -> list[str]:
    """Item ids by how many distinct users interacted with them, most first."""
    counts = frame.group_by("ITEM_ID").agg(pl.col("USER_ID").n_unique().alias("n")).sort(["n", "ITEM_ID"], descending=[True, False])
    return counts["ITEM_ID"].to_list()


def test_ecommerce_use_cases(runtime: Any, ecomm: DomainGroup) -> None:
    data = ecomm.data.interactions
    bought, viewed = (_by_users(data.filter(pl.col("EVENT_TYPE") == kind)) for kind in ("Purchase", "View"))
    user = ecomm.active_users("Purchase", 1)[0]
    best = [i["itemId"] for i in _items(runtime, ecomm.recommenders["aws-ecomm-popular-items-by-purchases"], userId=user, numResults=5)]
    most_viewed = [i["itemId"] for i in _items(runtime, ecomm.recommenders["aws-ecomm-popular-items-by-views"], userId=user, numResults=5)]
    # popular by the use case's own event type (the model sees 90 % of users: the top may swap with a close one)
    assert best[0] in bought[:5] and most_viewed[0] in viewed[:5] and best[0] != most_viewed[0]
    together = ecomm.recommenders["aws-ecomm-frequently-bought-together"]
    assert len(_items(runtime, together, itemId=bought[0], numResults=10)) == 10  # userId not needed
    code, message = error_of(runtime.get_recommendations, recommenderArn=together, userId=user)
    assert code == "InvalidInputException" and "itemId" in message
    code, message = error_of(runtime.get_recommendations, recommenderArn=ecomm.recommenders["aws-ecomm-popular-items-by-views"])
    assert code == "InvalidInputException" and "userId" in message


# ---- update / stop / start / delete ----------------------------------------------------------------------------


def test_update_config_and_retrain(personalize: Any, runtime: Any, ecomm: DomainGroup) -> None:
    arn = ecomm.recommenders["aws-ecomm-recommended-for-you"]
    before = personalize.describe_recommender(recommenderArn=arn)["recommender"]
    config = {"itemExplorationConfig": {"explorationWeight": "0.5", "explorationItemAgeCutOff": "10"},
              "minRecommendationRequestsPerSecond": 3}
    personalize.update_recommender(recommenderArn=arn, recommenderConfig=config)
    done = wait_for(lambda: personalize.describe_recommender(recommenderArn=arn)["recommender"]["latestRecommenderUpdate"])
    assert done["status"] == "ACTIVE" and done["recommenderConfig"]["minRecommendationRequestsPerSecond"] == 3
    after = personalize.describe_recommender(recommenderArn=arn)["recommender"]
    assert after["recommenderConfig"] == config and after["modelMetrics"] == before["modelMetrics"]  # no retraining
    retrain = {**config, "trainingDataConfig": {"excludedDatasetColumns": {"ITEMS": ["PRICE"]}}}
    personalize.update_recommender(recommenderArn=arn, recommenderConfig=retrain)
    done = wait_for(lambda: personalize.describe_recommender(recommenderArn=arn)["recommender"]["latestRecommenderUpdate"], timeout=120)
    assert done["status"] == "ACTIVE", done.get("failureReason")
    assert personalize.describe_recommender(recommenderArn=arn)["recommender"]["recommenderConfig"] == retrain
    user = ecomm.active_users("Purchase", 1)[0]
    assert len(_items(runtime, arn, userId=user, numResults=10)) == 10


def test_stop_start_and_delete(personalize: Any, runtime: Any, vod: DomainGroup) -> None:
    arn = vod.recommenders["aws-vod-most-popular"]
    user = vod.active_users("Watch", 1)[0]
    expected = _items(runtime, arn, userId=user, numResults=5)
    code, message = error_of(personalize.start_recommender, recommenderArn=arn)
    assert code == "ResourceInUseException" and "ACTIVE" in message and "INACTIVE" in message
    assert personalize.stop_recommender(recommenderArn=arn)["recommenderArn"] == arn
    stopped = wait_for(lambda: personalize.describe_recommender(recommenderArn=arn)["recommender"], done=("INACTIVE",))
    assert stopped["status"] == "INACTIVE"
    code, message = error_of(runtime.get_recommendations, recommenderArn=arn, userId=user)
    assert code == "InvalidInputException" and "INACTIVE" in message
    code, _ = error_of(personalize.stop_recommender, recommenderArn=arn)
    assert code == "ResourceInUseException"
    code, _ = error_of(personalize.update_recommender, recommenderArn=arn, recommenderConfig={})
    assert code == "ResourceInUseException"
    personalize.start_recommender(recommenderArn=arn)
    assert wait_for(lambda: personalize.describe_recommender(recommenderArn=arn)["recommender"])["status"] == "ACTIVE"
    assert _items(runtime, arn, userId=user, numResults=5) == expected
    personalize.delete_recommender(recommenderArn=arn)
    wait_gone(lambda: personalize.describe_recommender(recommenderArn=arn))
    code, _ = error_of(runtime.get_recommendations, recommenderArn=arn, userId=user)
    assert code == "ResourceNotFoundException"
    code, _ = error_of(personalize.delete_recommender, recommenderArn=arn)
    assert code == "ResourceNotFoundException"
    vod.recommenders.pop("aws-vod-most-popular")


def test_group_delete_waits_for_recommenders(personalize: Any, vod: DomainGroup) -> None:
    code, message = error_of(personalize.delete_dataset_group, datasetGroupArn=vod.arn)
    assert code == "ResourceInUseException"


# ---- in-process: use-case data checks, auto-filter window, weekly retraining ----------------------------------


def test_use_case_minimum_counts_the_event_type_case_insensitively() -> None:
    frame = pl.DataFrame({"USER_ID": ["u"] * 4, "ITEM_ID": ["a", "b", "c", "d"], "TIMESTAMP": [1, 2, 3, 4],
                          "EVENT_TYPE": ["Watch", "watch", "Click", "WATCH"]})
    watched = recommender_training.select_event_type(frame, "Watch")
    assert watched["ITEM_ID"].to_list() == ["a", "b", "d"]
    with pytest.raises(JobFailed, match="Dataset has fewer than 1000 interactions after filtering by event type: Watch"):
        recommender_training.check_use_case_minimum(watched, "Watch", relaxed=False)
    recommender_training.check_use_case_minimum(watched, "Watch", relaxed=True)
    recommender_training.check_use_case_minimum(frame, None, relaxed=False)  # no required type: generic minimums only
    with pytest.raises(JobFailed, match="event type: Purchase"):
        recommender_training.check_use_case_minimum(recommender_training.select_event_type(frame, "Purchase"), "Purchase", relaxed=True)


def test_auto_filter_keeps_the_newest_100_and_ignores_idle_users() -> None:
    items = [f"i{n}" for n in range(150)]
    history = UserHistory(items + ["c"], ["Watch"] * 150 + ["Click"], [float(n) for n in range(151)])
    hidden = interacted_items(history, "watch", newest=151.0)
    assert hidden == items[50:]
    assert interacted_items(history, "Watch", newest=151.0 + 91 * 86400) == []


def test_weekly_retraining_while_active(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    services = Services(settings=settings, store=Store(store_url(settings.data_dir)), data=DataStore(tmp_path))
    group = "arn:aws:personalize:us-east-1:123456789012:dataset-group/g"
    records = {}
    for name, status in (("on", ACTIVE), ("off", "INACTIVE")):
        arn = f"arn:aws:personalize:us-east-1:123456789012:recommender/{name}"
        body = {"recommenderArn": arn, "status": status, "recipeArn": VOD["aws-vod-top-picks"], "recommenderConfig": {}}
        records[name] = services.store.create(new_record("recommender", arn, name, group, {**body, "_trainedAt": 1000.0}, {}))
    week = 7 * 86400.0
    assert recommender_training.retrain_due(services, 1000.0 + week - 1) == []
    assert recommender_training.retrain_due(services, 1000.0 + week) == [records["on"].arn]
    assert recommender_training.retrain_due(services, 1000.0 + week + 60) == []  # queued once, clock restarted
    assert recommender_training.retrain_due(services, 1000.0 + week + 3600, interval=3600.0) == [records["on"].arn]
    claimed = services.store.claim("w")
    assert claimed is not None and claimed.kind == "recommender-update" and claimed.payload == {"scheduled": True}


def test_missing_required_event_type_fails_the_create(personalize: Any, tmp_path: Path) -> None:
    """Most popular needs Watch events: a group with Clicks only ends CREATE FAILED with the spec's message."""
    data = generate_vod(users=40, items=30, interactions=600, seed=2)
    clicks = data.interactions.filter(pl.col("EVENT_TYPE") == "Click")
    clicks.write_csv(tmp_path / "clicks.csv")
    group, _ = active_group(personalize, domain="VIDEO_ON_DEMAND")
    dataset = active_dataset(personalize, group, "Interactions", new_schema(personalize, data.schemas["INTERACTIONS"], "VIDEO_ON_DEMAND"))
    _import(personalize, dataset, tmp_path / "clicks.csv")
    arn = personalize.create_recommender(name=unique("r"), datasetGroupArn=group, recipeArn=VOD["aws-vod-most-popular"])["recommenderArn"]
    failed = wait_for(lambda: personalize.describe_recommender(recommenderArn=arn)["recommender"], timeout=120)
    assert failed["status"] == "CREATE FAILED" and "modelMetrics" not in failed
    assert failed["failureReason"].startswith("Create failed. Dataset has fewer than 1000 interactions after filtering by event type: Watch")
    code, message = error_of(personalize.stop_recommender, recommenderArn=arn)
    assert code == "ResourceInUseException" and "CREATE FAILED" in message
    personalize.delete_recommender(recommenderArn=arn)
    wait_gone(lambda: personalize.describe_recommender(recommenderArn=arn))


def test_more_like_x_without_items_data_fails_with_a_reason(personalize: Any, tmp_path: Path) -> None:
    """More like X needs Items data (spec §6): an Items dataset whose import failed holds no rows, and the
    recommender must not go ACTIVE on interactions alone."""
    data = generate_vod(users=60, items=40, interactions=1500, seed=4)
    files = write_csv(data, tmp_path)
    group, _ = active_group(personalize, domain="VIDEO_ON_DEMAND")
    interactions = active_dataset(personalize, group, "Interactions", new_schema(personalize, data.schemas["INTERACTIONS"], "VIDEO_ON_DEMAND"))
    _import(personalize, interactions, files["interactions"])
    items = active_dataset(personalize, group, "Items", new_schema(personalize, data.schemas["ITEMS"], "VIDEO_ON_DEMAND"))
    (tmp_path / "broken.csv").write_text("NOT_A_COLUMN\nx\n")
    job = personalize.create_dataset_import_job(jobName=unique("imp"), datasetArn=items,
                                                dataSource={"dataLocation": str(tmp_path / "broken.csv")})["datasetImportJobArn"]
    assert wait_for(lambda: personalize.describe_dataset_import_job(datasetImportJobArn=job)["datasetImportJob"])["status"] == "CREATE FAILED"
    arn = personalize.create_recommender(name=unique("r"), datasetGroupArn=group, recipeArn=VOD["aws-vod-more-like-x"])["recommenderArn"]
    failed = wait_for(lambda: personalize.describe_recommender(recommenderArn=arn)["recommender"], timeout=120)
    assert failed["status"] == "CREATE FAILED"
    assert "needs Items data; the Items dataset has no rows" in failed["failureReason"]
