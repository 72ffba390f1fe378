"""Runtime answers: wire-shaped output without the generic serialiser, the repeated-answer cache and what
invalidates it, and v2's "Popular item" fill (spec §2.14)."""

from __future__ import annotations

import json
import re
import time
import urllib.request
from typing import Any

import botocore.session
import pytest
from conftest import unique, wait_for
from test_campaigns import NO_EXPLORATION, RANKING, UP, UP2, ServingGroup, deploy, make_serving_group, solution, train

from openpersonalize.api.serialize import serialize


@pytest.fixture(scope="module")
def group(personalize: Any, tmp_path_factory: pytest.TempPathFactory) -> ServingGroup:
    return make_serving_group(personalize, tmp_path_factory.mktemp("answers"))


@pytest.fixture(scope="module")
def up_campaign(personalize: Any, group: ServingGroup) -> str:
    return deploy(personalize, train(personalize, solution(personalize, group.arn, UP)), campaignConfig=NO_EXPLORATION)


def _user(group: ServingGroup, index: int = 0) -> str:
    return str(group.data.interactions["USER_ID"].unique(maintain_order=True)[index])


def _raw(server: Any, path: str, body: dict[str, Any]) -> dict[str, Any]:
    request = urllib.request.Request(f"{server.url}{path}", data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.headers["x-amzn-RequestId"]
        return json.loads(response.read())  # type: ignore[no-any-return]


def _output_shape(operation: str) -> Any:
    model = botocore.session.get_session().get_service_model("personalize-runtime")
    return model.operation_model(operation).output_shape


def test_runtime_answers_are_already_in_wire_shape(server: Any, personalize: Any, group: ServingGroup, up_campaign: str) -> None:
    answer = _raw(server, "/recommendations", {"campaignArn": up_campaign, "userId": _user(group), "numResults": 7})
    assert len(answer["itemList"]) == 7
    assert serialize(answer, _output_shape("GetRecommendations")) == answer
    ranking = deploy(personalize, train(personalize, solution(personalize, group.arn, RANKING)))
    items = [str(i) for i in group.data.items["ITEM_ID"][:5]] + [unique("unknown")]
    ranked = _raw(server, "/personalize-ranking", {"campaignArn": ranking, "userId": _user(group), "inputList": items})
    assert sorted(i["itemId"] for i in ranked["personalizedRanking"]) == sorted(items)
    assert serialize(ranked, _output_shape("GetPersonalizedRanking")) == ranked


def test_a_repeated_request_gets_the_same_list_and_a_new_recommendation_id(runtime: Any, group: ServingGroup, up_campaign: str) -> None:
    first = runtime.get_recommendations(campaignArn=up_campaign, userId=_user(group, 1))
    second = runtime.get_recommendations(campaignArn=up_campaign, userId=_user(group, 1))
    assert first["itemList"] == second["itemList"]
    assert first["recommendationId"] != second["recommendationId"]


def test_an_event_changes_the_next_answer(events: Any, runtime: Any, group: ServingGroup, up_campaign: str) -> None:
    user = _user(group, 2)
    before = [i["itemId"] for i in runtime.get_recommendations(campaignArn=up_campaign, userId=user)["itemList"]]
    shown = runtime.get_recommendations(campaignArn=up_campaign, userId=user)
    # clicking the top item (implicit impressions through the recommendationId) is a change of history
    events.put_events(trackingId=group.tracking_id, userId=user, sessionId=unique("s"), eventList=[
        {"eventType": "Click", "itemId": before[0], "sentAt": time.time(), "recommendationId": shown["recommendationId"]},
    ])
    after = [i["itemId"] for i in runtime.get_recommendations(campaignArn=up_campaign, userId=user)["itemList"]]
    assert after != before


def test_put_items_changes_filtered_answers(personalize: Any, events: Any, runtime: Any, group: ServingGroup, up_campaign: str) -> None:
    flt = personalize.create_filter(name=unique("flt"), datasetGroupArn=group.arn,
                                    filterExpression='EXCLUDE ItemID WHERE Items.GENRES IN ("Retired")')["filterArn"]
    wait_for(lambda: personalize.describe_filter(filterArn=flt)["filter"])
    user = _user(group, 3)
    top = runtime.get_recommendations(campaignArn=up_campaign, userId=user, filterArn=flt)["itemList"][0]["itemId"]
    events.put_items(datasetArn=group.items_dataset, items=[{
        "itemId": top, "properties": '{"genres": "Retired", "title": "Gone", "creationTimestamp": 1, "description": "x"}',
    }])
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        answer = runtime.get_recommendations(campaignArn=up_campaign, userId=user, filterArn=flt)["itemList"]
        if top not in {i["itemId"] for i in answer}:
            break
        time.sleep(0.2)
    else:
        pytest.fail(f"{top} was re-labelled Retired by PutItems but the filtered answer still returns it")


def test_v2_fills_with_popular_items_when_the_filter_leaves_too_few(personalize: Any, runtime: Any, group: ServingGroup) -> None:
    campaign = deploy(personalize, train(personalize, solution(personalize, group.arn, UP2)), campaignConfig=NO_EXPLORATION)
    everything = runtime.get_recommendations(campaignArn=campaign, userId=_user(group), numResults=500)["itemList"]
    modelled = {i["itemId"] for i in everything}  # no filter, no fill: only what the model scores
    assert all("score" in i for i in everything)
    items = group.data.items  # GENRES is multi-valued: "A|B"
    genres = {g for value in items["GENRES"] for g in value.split("|")}
    # a genre with items the model scores and items it cannot (nobody among the training users touched them)
    genre = next(g for g in sorted(genres) if 0 < len(_in(items, g) & modelled) < len(_in(items, g)))
    flt = personalize.create_filter(name=unique("flt"), datasetGroupArn=group.arn,
                                    filterExpression=f'INCLUDE ItemID WHERE Items.GENRES IN ("{genre}")')["filterArn"]
    wait_for(lambda: personalize.describe_filter(filterArn=flt)["filter"])
    answer = runtime.get_recommendations(campaignArn=campaign, userId=_user(group), filterArn=flt, numResults=500)["itemList"]
    in_genre = _in(items, genre)
    assert {i["itemId"] for i in answer} <= in_genre
    filled = [i for i in answer if i.get("reason") == ["Popular item"]]
    scored = [i for i in answer if "score" in i]
    assert filled and scored, "the model scores part of the genre; the rest fills as popular items"
    assert all("score" not in i for i in filled)
    assert answer[: len(scored)] == scored  # scored items first, the fill after them
    assert len(answer) == len(in_genre)


def _in(items: Any, genre: str) -> set[str]:
    return {i for i, g in zip(items["ITEM_ID"], items["GENRES"], strict=True) if genre in g.split("|")}


def test_exploration_slots_are_drawn_per_request_around_the_same_ranked_items(
    personalize: Any, events: Any, runtime: Any, group: ServingGroup, up_campaign: str
) -> None:
    version = personalize.describe_campaign(campaignArn=up_campaign)["campaign"]["solutionVersionArn"]
    explorer = deploy(personalize, version, campaignConfig={"itemExplorationConfig": {"explorationWeight": "1.0"}})
    fresh = [unique("young") for _ in range(10)]  # PutItems takes at most 10
    events.put_items(datasetArn=group.items_dataset, items=[{
        "itemId": item, "properties": f'{{"genres": "Drama", "title": "New", "creationTimestamp": {int(time.time())}, "description": "d"}}',
    } for item in fresh])
    user = _user(group, 4)
    # the same version without exploration: its best 5 are the ranked half of every explored answer
    best = [i["itemId"] for i in runtime.get_recommendations(campaignArn=up_campaign, userId=user, numResults=5)["itemList"]]
    drawn: set[str] = set()
    answers = 0
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and (len(drawn) < 3 or answers < 5):
        answer = runtime.get_recommendations(campaignArn=explorer, userId=user, numResults=10)["itemList"]
        assert len(answer) == 10
        assert all(isinstance(i.get("score"), float) for i in answer), "User-Personalization scores every item (AWS)"
        ids = [i["itemId"] for i in answer]
        if not set(ids) & set(fresh):  # the catalogue is rebuilt in the background after PutItems
            time.sleep(0.1)
            continue
        assert [i for i in ids if i in best] == best, "the ranked items keep their order"
        assert len(set(ids) - set(best)) == 5  # 10 results · weight 1.0 · ½ (ranking.EXPLORATION_SHARE) drawn
        drawn |= set(ids) & set(fresh)
        answers += 1
    assert len(drawn) >= 3, "different young items are drawn on different requests"


def _cache_counters(server: Any) -> dict[tuple[str, str], float]:
    """(metric, cache) → value of the openpersonalize_cache_* lines on /metrics."""
    with urllib.request.urlopen(f"{server.url}/metrics", timeout=30) as response:
        text = response.read().decode()
    found = re.findall(r'^(openpersonalize_cache_\w+)\{cache="(\w+)"\} (\S+)$', text, flags=re.MULTILINE)
    return {(metric, cache): float(value) for metric, cache, value in found}


def test_metrics_show_the_serving_caches(server: Any, runtime: Any, group: ServingGroup, up_campaign: str) -> None:
    user = _user(group, 5)
    runtime.get_recommendations(campaignArn=up_campaign, userId=user, numResults=7)
    before = _cache_counters(server)
    runtime.get_recommendations(campaignArn=up_campaign, userId=user, numResults=7)  # the same question again
    after = _cache_counters(server)
    assert after[("openpersonalize_cache_hits_total", "answers")] == before[("openpersonalize_cache_hits_total", "answers")] + 1
    assert after[("openpersonalize_cache_hits_total", "models")] > before[("openpersonalize_cache_hits_total", "models")]
    assert after[("openpersonalize_cache_entries", "models")] >= 1 and after[("openpersonalize_cache_weight", "answers")] > 0
    caches = {cache for _, cache in after}
    assert caches == {"models", "histories", "records", "facts", "filters", "answers", "recommendations", "trackers", "action_trackers",
                      "event_targets", "action_data", "model_scores", "model_rankings", "shortlists", "realtime_users"}
    # each loaded model's score memos and shortlists, summed: the first answer was scored or read off a shortlist
    assert after[("openpersonalize_cache_entries", "model_scores")] + after[("openpersonalize_cache_hits_total", "shortlists")] >= 1
    assert all((metric, cache) in after for metric in ("openpersonalize_cache_misses_total", "openpersonalize_cache_evictions_total") for cache in caches)
