"""The runtime API through boto3: GetRecommendations per recipe type, GetPersonalizedRanking, metadata,
filters, promotions and the request rules of spec §2.14."""

from __future__ import annotations

import math
from types import SimpleNamespace
from typing import Any

import pytest
from conftest import unique, wait_for
from test_campaigns import (
    NO_EXPLORATION,
    POPULARITY,
    RANKING,
    SIMS,
    UP,
    ServingGroup,
    deploy,
    make_serving_group,
    solution,
    train,
)
from test_datasets import error_of

from openpersonalize.control.runtime import _metadata_columns
from openpersonalize.errors import InvalidInputException


@pytest.fixture(scope="module")
def group(personalize: Any, tmp_path_factory: pytest.TempPathFactory) -> ServingGroup:
    return make_serving_group(personalize, tmp_path_factory.mktemp("runtime"))


@pytest.fixture(scope="module")
def campaigns(personalize: Any, group: ServingGroup) -> dict[str, str]:
    """One campaign per recipe type (5: the group quota). The UP campaign returns metadata."""
    up = train(personalize, solution(personalize, group.arn, UP))
    return {
        "up": deploy(personalize, up, campaignConfig={**NO_EXPLORATION, "enableMetadataWithRecommendations": True}),
        "up_plain": deploy(personalize, up, campaignConfig=NO_EXPLORATION),
        "sims": deploy(personalize, train(personalize, solution(personalize, group.arn, SIMS))),
        "popular": deploy(personalize, train(personalize, solution(personalize, group.arn, POPULARITY))),
        "ranking": deploy(personalize, train(personalize, solution(personalize, group.arn, RANKING))),
    }


def _user(group: ServingGroup, index: int = 0) -> str:
    return str(group.data.interactions["USER_ID"].unique(maintain_order=True)[index])


def _history(group: ServingGroup, user: str) -> list[str]:
    frame = group.data.interactions
    return frame.filter(frame["USER_ID"] == user)["ITEM_ID"].to_list()


def test_user_personalization_defaults_scores_and_ids(runtime: Any, group: ServingGroup, campaigns: dict[str, str]) -> None:
    answer = runtime.get_recommendations(campaignArn=campaigns["up"], userId=_user(group))
    items = answer["itemList"]
    assert len(items) == 25 and len({i["itemId"] for i in items}) == 25
    scores = [i["score"] for i in items]
    assert scores == sorted(scores, reverse=True) and all(0 < s <= 1 for s in scores)
    assert sum(scores) <= 1.0 + 1e-6  # softmax over the whole catalogue (spec §5.4)
    assert answer["recommendationId"].startswith("RID-") and len(answer["recommendationId"]) <= 40
    assert "reason" not in items[0]  # reasons are a v2 feature
    everything = runtime.get_recommendations(campaignArn=campaigns["up"], userId=_user(group), numResults=500)["itemList"]
    # every item the model learned about, once (items nobody in the training users touched are never returned)
    assert 150 < len(everything) <= 200 and len({i["itemId"] for i in everything}) == len(everything)


def test_users_are_personalised_and_unknown_users_get_popular_items(runtime: Any, group: ServingGroup, campaigns: dict[str, str]) -> None:
    first = [i["itemId"] for i in runtime.get_recommendations(campaignArn=campaigns["up"], userId=_user(group, 0))["itemList"]]
    second = [i["itemId"] for i in runtime.get_recommendations(campaignArn=campaigns["up"], userId=_user(group, 1))["itemList"]]
    assert first != second
    stranger = runtime.get_recommendations(campaignArn=campaigns["up"], userId=unique("stranger"), numResults=10)["itemList"]
    popular = runtime.get_recommendations(campaignArn=campaigns["popular"], numResults=10)["itemList"]
    assert [i["itemId"] for i in stranger] == [i["itemId"] for i in popular]
    assert all("score" not in i for i in popular)  # Popularity-Count returns no scores (spec §2.14)


def test_request_rules(runtime: Any, group: ServingGroup, campaigns: dict[str, str]) -> None:
    code, message = error_of(runtime.get_recommendations, campaignArn=campaigns["up"])
    assert code == "InvalidInputException" and "userId" in message
    code, message = error_of(runtime.get_recommendations, campaignArn=campaigns["sims"], userId="u1")
    assert code == "InvalidInputException" and "itemId" in message
    code, message = error_of(runtime.get_recommendations, userId="u1")
    assert code == "InvalidInputException" and "exactly one of campaignArn or recommenderArn" in message
    code, message = error_of(runtime.get_recommendations, campaignArn=campaigns["up"], userId="u1", numResults=501)
    assert code == "InvalidInputException" and "at most 500" in message
    code, message = error_of(runtime.get_recommendations, campaignArn=campaigns["ranking"], userId="u1")
    assert code == "InvalidInputException" and "GetPersonalizedRanking" in message
    code, message = error_of(runtime.get_personalized_ranking, campaignArn=campaigns["up"], userId="u1", inputList=["i1"])
    assert code == "InvalidInputException" and "PERSONALIZED_RANKING" in message
    code, message = error_of(runtime.get_action_recommendations, campaignArn=campaigns["up"], userId="u1")
    assert code == "InvalidInputException" and "PERSONALIZED_ACTIONS" in message
    code, message = error_of(runtime.get_recommendations, campaignArn=campaigns["up"], userId="u1", context={"DEVICE": "tv"})
    assert code == "InvalidInputException" and "'DEVICE'" in message
    missing = campaigns["up"] + "-gone"
    code, message = error_of(runtime.get_recommendations, campaignArn=missing, userId="u1")
    assert code == "ResourceNotFoundException" and missing in message


def test_related_items(runtime: Any, group: ServingGroup, campaigns: dict[str, str]) -> None:
    item = str(group.data.interactions["ITEM_ID"].mode()[0])
    related = runtime.get_recommendations(campaignArn=campaigns["sims"], itemId=item, numResults=10)["itemList"]
    ids = [i["itemId"] for i in related]
    assert len(ids) == 10 and item not in ids and all("score" not in i for i in related)
    unknown = runtime.get_recommendations(campaignArn=campaigns["sims"], itemId="no-such-item", numResults=10)["itemList"]
    popular = runtime.get_recommendations(campaignArn=campaigns["popular"], numResults=10)["itemList"]
    assert [i["itemId"] for i in unknown] == [i["itemId"] for i in popular]


def test_personalized_ranking_is_a_permutation_with_unknown_items_last(runtime: Any, group: ServingGroup, campaigns: dict[str, str]) -> None:
    inputs = ["i5", "i17", "nope-1", "i42", "i3", "nope-2", "i100"]
    ranked = runtime.get_personalized_ranking(campaignArn=campaigns["ranking"], userId=_user(group), inputList=inputs)
    items = ranked["personalizedRanking"]
    assert sorted(i["itemId"] for i in items) == sorted(inputs)
    assert [i["itemId"] for i in items[-2:]] == ["nope-1", "nope-2"] and all("score" not in i for i in items[-2:])
    scores = [i["score"] for i in items[:-2]]
    assert scores == sorted(scores, reverse=True)
    assert math.isclose(sum(scores), 1.0, abs_tol=1e-4)  # softmax over the list (spec §5.4)
    assert ranked["recommendationId"].startswith("RID-")


def test_metadata_columns(runtime: Any, group: ServingGroup, campaigns: dict[str, str]) -> None:
    items = runtime.get_recommendations(campaignArn=campaigns["up"], userId=_user(group), numResults=5,
                                        metadataColumns={"ITEMS": ["GENRES", "TITLE"]})["itemList"]
    truth = {row["ITEM_ID"]: row for row in group.data.items.iter_rows(named=True)}
    for item in items:
        # keyed in camel case, as the service answers (AWS's samples read item['metadata']['title'])
        assert item["metadata"] == {"genres": truth[item["itemId"]]["GENRES"], "title": truth[item["itemId"]]["TITLE"]}
    code, message = error_of(runtime.get_recommendations, campaignArn=campaigns["up_plain"], userId="u1",
                             metadataColumns={"ITEMS": ["GENRES"]})
    assert code == "InvalidInputException" and "enableMetadataWithRecommendations" in message
    code, message = error_of(runtime.get_recommendations, campaignArn=campaigns["up"], userId="u1", numResults=51,
                             metadataColumns={"ITEMS": ["GENRES"]})
    assert code == "InvalidInputException" and "at most 50" in message
    code, message = error_of(runtime.get_recommendations, campaignArn=campaigns["up"], userId="u1",
                             metadataColumns={"ITEMS": ["PRICE"]})
    assert code == "InvalidInputException" and "PRICE" in message


def test_metadata_columns_without_an_items_dataset_say_so() -> None:
    model = SimpleNamespace(catalog=SimpleNamespace(schemas={}), recipe_arn=UP)
    with pytest.raises(InvalidInputException, match="the dataset group has no Items dataset"):
        _metadata_columns({"metadataColumns": {"ITEMS": ["GENRES"]}}, {"enableMetadataWithRecommendations": True},
                          model)  # type: ignore[arg-type]


def test_metadata_columns_name_the_setting_of_a_recommender_or_a_campaign() -> None:
    model = SimpleNamespace(catalog=SimpleNamespace(schemas={}), recipe_arn=UP)
    asked = {"metadataColumns": {"ITEMS": ["GENRES"]}}
    with pytest.raises(InvalidInputException, match="recommenderConfig.enableMetadataWithRecommendations=true on the"):
        _metadata_columns({**asked, "recommenderArn": "arn:aws:personalize:us-east-1:1:recommender/r"}, {},
                          model)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputException, match="campaignConfig.enableMetadataWithRecommendations=true on the"):
        _metadata_columns({**asked, "campaignArn": "arn:aws:personalize:us-east-1:1:campaign/c"}, {},
                          model)  # type: ignore[arg-type]


def _filter(personalize: Any, group: ServingGroup, expression: str) -> str:
    arn = personalize.create_filter(name=unique("f"), datasetGroupArn=group.arn, filterExpression=expression)["filterArn"]
    assert wait_for(lambda: personalize.describe_filter(filterArn=arn)["filter"])["status"] == "ACTIVE"
    return str(arn)


def test_exclude_filter_removes_watched_items(personalize: Any, runtime: Any, group: ServingGroup, campaigns: dict[str, str]) -> None:
    pytest.importorskip("openpersonalize.filters.compile")
    user = _user(group)
    exclude = _filter(personalize, group, 'EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("Watch", "Click")')
    seen = set(_history(group, user))
    items = runtime.get_recommendations(campaignArn=campaigns["up"], userId=user, numResults=50, filterArn=exclude)["itemList"]
    assert items and not seen & {i["itemId"] for i in items}


def test_promotion_slots(personalize: Any, runtime: Any, group: ServingGroup, campaigns: dict[str, str]) -> None:
    pytest.importorskip("openpersonalize.filters.compile")
    genre = _filter(personalize, group, "INCLUDE ItemID WHERE Items.GENRES IN ($GENRE)")
    genres = {row["ITEM_ID"]: row["GENRES"].split("|") for row in group.data.items.iter_rows(named=True)}
    answer = runtime.get_recommendations(
        campaignArn=campaigns["up"], userId=_user(group), numResults=10,
        promotions=[{"name": "docs", "percentPromotedItems": 25, "filterArn": genre, "filterValues": {"GENRE": '"Crime"'}}],
    )["itemList"]
    promoted = [i for i in answer if i.get("promotionName") == "docs"]
    assert len(promoted) == 3  # ceil(10 × 25 %)
    assert all("Crime" in genres[i["itemId"]] for i in promoted)
    assert len({i["itemId"] for i in answer}) == 10
