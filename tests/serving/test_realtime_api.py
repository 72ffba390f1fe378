"""Real-time behaviour through boto3 (spec §10): events change the next answer within a second, sessions merge
into users, PutItems items become explorable, impressions demote items shown and never chosen."""

from __future__ import annotations

import time
from typing import Any

import pytest
from conftest import unique
from test_campaigns import NO_EXPLORATION, UP, ServingGroup, deploy, make_serving_group, solution, train

GENRE = "Fantasy"  # a mid-sized genre of the generated catalogue: rare among the most popular items


@pytest.fixture(scope="module")
def group(personalize: Any, tmp_path_factory: pytest.TempPathFactory) -> ServingGroup:
    return make_serving_group(personalize, tmp_path_factory.mktemp("realtime"))


@pytest.fixture(scope="module")
def version(personalize: Any, group: ServingGroup) -> str:
    return train(personalize, solution(personalize, group.arn, UP))


@pytest.fixture(scope="module")
def campaign(personalize: Any, version: str) -> str:
    return deploy(personalize, version, campaignConfig=NO_EXPLORATION)


def _genres(group: ServingGroup) -> dict[str, set[str]]:
    return {row["ITEM_ID"]: set(row["GENRES"].split("|")) for row in group.data.items.iter_rows(named=True)}


def _share(items: list[dict[str, Any]], genres: dict[str, set[str]]) -> float:
    return sum(GENRE in genres.get(i["itemId"], set()) for i in items) / max(len(items), 1)


def _watch(item: str, at: float, **extra: Any) -> dict[str, Any]:
    return {"eventType": "Watch", "itemId": item, "sentAt": at, **extra}


def _genre_items(group: ServingGroup, genres: dict[str, set[str]], n: int) -> list[str]:
    counts = group.data.interactions["ITEM_ID"].value_counts(sort=True)["ITEM_ID"].to_list()
    return [item for item in counts if GENRE in genres.get(item, set())][:n]


def test_events_of_a_new_visitor_change_the_next_recommendation(events: Any, runtime: Any, group: ServingGroup, campaign: str) -> None:
    genres = _genres(group)
    session = unique("visitor")
    before = runtime.get_recommendations(campaignArn=campaign, userId=session, numResults=20)["itemList"]
    watched = _genre_items(group, genres, 6)
    now = time.time()
    events.put_events(trackingId=group.tracking_id, sessionId=session,
                      eventList=[_watch(item, now + k) for k, item in enumerate(watched)])
    sent = time.monotonic()
    after = runtime.get_recommendations(campaignArn=campaign, userId=session, numResults=20)["itemList"]
    assert time.monotonic() - sent < 1.0  # the very next request reflects the events
    assert _share(after, genres) >= _share(before, genres) + 0.25, (_share(before, genres), _share(after, genres))


def test_session_history_merges_into_the_user(events: Any, runtime: Any, group: ServingGroup, campaign: str) -> None:
    genres = _genres(group)
    session, user = unique("sess"), unique("user")
    now = time.time()
    events.put_events(trackingId=group.tracking_id, sessionId=session,
                      eventList=[_watch(item, now + k) for k, item in enumerate(_genre_items(group, genres, 5))])
    cold = runtime.get_recommendations(campaignArn=campaign, userId=user, numResults=20)["itemList"]
    # The user signs in: one event with both ids brings the anonymous session's history along.
    events.put_events(trackingId=group.tracking_id, sessionId=session, userId=user,
                      eventList=[_watch(_genre_items(group, genres, 6)[-1], now + 10)])
    merged = runtime.get_recommendations(campaignArn=campaign, userId=user, numResults=20)["itemList"]
    assert _share(merged, genres) >= _share(cold, genres) + 0.25


def test_impressions_demote_items_shown_and_never_chosen(events: Any, runtime: Any, group: ServingGroup, campaign: str) -> None:
    first = str(group.data.interactions["ITEM_ID"][0])
    now = time.time()
    sessions = {name: unique(name) for name in ("control", "explicit", "implicit")}
    shown = {}
    for name, session in sessions.items():
        # Same history for all three; they differ only in the impressions sent afterwards.
        events.put_events(trackingId=group.tracking_id, sessionId=session,
                          eventList=[{"eventType": "Click", "itemId": first, "sentAt": now - 10}])
        answer = runtime.get_recommendations(campaignArn=campaign, userId=session, numResults=10)
        shown[name] = [i["itemId"] for i in answer["itemList"]]
        extra: dict[str, Any] = {}
        if name == "explicit":
            extra = {"impression": shown[name]}
        elif name == "implicit":
            extra = {"recommendationId": answer["recommendationId"]}
        for repeat in range(2):
            events.put_events(trackingId=group.tracking_id, sessionId=session,
                              eventList=[{"eventType": "Click", "itemId": first, "sentAt": now + repeat, **extra}])
    overlap = {}
    for name, session in sessions.items():
        again = [i["itemId"] for i in runtime.get_recommendations(campaignArn=campaign, userId=session, numResults=10)["itemList"]]
        overlap[name] = len(set(again) & set(shown[name]))
    assert shown["control"] == shown["explicit"] == shown["implicit"]
    assert overlap["explicit"] < overlap["control"] and overlap["implicit"] < overlap["control"], overlap


def test_put_items_become_explorable(personalize: Any, events: Any, runtime: Any, group: ServingGroup, version: str) -> None:
    explorer = deploy(personalize, version, campaignConfig={"itemExplorationConfig": {"explorationWeight": "1.0"}})
    # Age is measured from the newest interaction, and the tests above streamed events stamped now.
    latest = int(time.time())
    new_item = unique("fresh")
    events.put_items(datasetArn=group.items_dataset, items=[{
        "itemId": new_item,
        "properties": f'{{"genres": "Fantasy", "title": "Fresh", "creationTimestamp": {latest}, "description": "new"}}',
    }])
    seen: set[str] = set()
    deadline = time.monotonic() + 10
    while new_item not in seen and time.monotonic() < deadline:
        answer = runtime.get_recommendations(campaignArn=explorer, userId=unique("u"), numResults=25)["itemList"]
        seen |= {i["itemId"] for i in answer}
    assert new_item in seen
    personalize.delete_campaign(campaignArn=explorer)


def test_a_visitor_is_served_exactly_as_the_offline_evaluation_scores_a_held_out_user(
    events: Any, runtime: Any, server: Any, group: ServingGroup, version: str, campaign: str
) -> None:
    """Held-out users in the evaluation are recommended from their input history alone (spec §9.1); a visitor
    the model never saw, whose events arrive by PutEvents, must get that very ranking — so the offline metrics
    describe what such users are served."""
    from openpersonalize.data.artifacts import model_dir
    from openpersonalize.recipes.base import Histories, Recipe

    model = Recipe.load(model_dir(server.data_dir, version))
    rows = group.data.interactions.filter(group.data.interactions["USER_ID"] == "u7").sort("TIMESTAMP").tail(12)
    items, types = rows["ITEM_ID"].to_list(), rows["EVENT_TYPE"].to_list()
    session = unique("held-out-visitor")
    start = time.time()
    for offset in range(0, len(items), 10):
        chunk = range(offset, min(offset + 10, len(items)))
        events.put_events(trackingId=group.tracking_id, sessionId=session,
                          eventList=[{"eventType": types[k], "itemId": items[k], "sentAt": start + k} for k in chunk])
    served = [i["itemId"] for i in runtime.get_recommendations(campaignArn=campaign, userId=session, numResults=25)["itemList"]]
    index = {item: k for k, item in enumerate(model.item_ids_.tolist())}
    codes = {name: k for k, name in enumerate(model.event_types_.tolist())}
    stamps = [float(int(start + k)) for k in range(len(items))]  # sentAt as the event log stores it
    history = Histories.from_lists([[index[i] for i in items]], [[codes.get(t, 0) for t in types]], [stamps])
    offline = [str(model.item_ids_[k]) for k in model.recommend_batch(history, num_results=25)[0] if k >= 0]
    assert served == offline
