"""Campaigns and recommenders, and "Try it": a request's list with scores, reasons and item metadata, and an event
sent from the page with the list before and after it, side by side. The runtime calls are the API's own
operations (GetRecommendations, GetPersonalizedRanking, PutEvents) through the console's caller."""

from __future__ import annotations

import time
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..errors import InvalidInputException, PersonalizeError
from ..ids import new_uuid
from .app import Console, back, console_of, field_of, link, posted
from .groups import group_page
from .training import version_page

KINDS = {"campaign": ("DescribeCampaign", "campaignArn", "campaign", "DeleteCampaign"),
         "recommender": ("DescribeRecommender", "recommenderArn", "recommender", "DeleteRecommender")}


async def create_campaign(request: Request) -> Response:
    form = await posted(request)
    version = field_of(form, "version")
    params: dict[str, Any] = {"name": field_of(form, "name"), "solutionVersionArn": version}
    console = console_of(request)
    try:
        if field_of(form, "minProvisionedTPS"):
            params["minProvisionedTPS"] = int(field_of(form, "minProvisionedTPS"))
        arn = (await console.run("CreateCampaign", params))["campaignArn"]
    except ValueError:
        return await version_page(request, version, InvalidInputException("minProvisionedTPS must be a whole number."))
    except PersonalizeError as error:
        return await version_page(request, version, error)
    return back(link("campaign", arn))


async def create_recommender(request: Request) -> Response:
    form = await posted(request)
    group = field_of(form, "group")
    params = {"name": field_of(form, "name"), "datasetGroupArn": group, "recipeArn": field_of(form, "recipeArn")}
    try:
        arn = (await console_of(request).run("CreateRecommender", params))["recommenderArn"]
    except PersonalizeError as error:
        return await group_page(request, group, error)
    return back(link("recommender", arn))


async def _describe(console: Console, kind: str, arn: str) -> dict[str, Any]:
    operation, member, key, _ = KINDS[kind]
    return dict((await console.run(operation, {member: arn}))[key])


async def campaign(request: Request) -> Response:
    return await serving_page(request, "campaign", request.query_params.get("arn", ""))


async def recommender(request: Request) -> Response:
    return await serving_page(request, "recommender", request.query_params.get("arn", ""))


async def serving_page(request: Request, kind: str, arn: str, error: PersonalizeError | None = None) -> Response:
    console = console_of(request)
    try:
        described = await _describe(console, kind, arn)
        group, recipe_type = await _group_and_type(console, kind, described)
    except PersonalizeError as missing:
        return await group_page(request, "", missing)
    filters = await console.run_each("ListFilters", {"datasetGroupArn": group}, "Filters")
    trackers = await console.run_each("ListEventTrackers", {"datasetGroupArn": group}, "eventTrackers")
    return console.render(request, "serving.html", status=400 if error else 200, title=described["name"], error=error,
                          kind=kind, arn=arn, resource=described, recipe_type=recipe_type, group=group,
                          filters=[f for f in filters if f["status"] == "ACTIVE"],
                          trackers=[t for t in trackers if t["status"] == "ACTIVE"],
                          crumbs=[("Dataset groups", link("")), (group.rsplit("/", 1)[-1], link("group", group))])


async def _group_and_type(console: Console, kind: str, described: dict[str, Any]) -> tuple[str, str]:
    if kind == "recommender":
        recipe = (await console.run("DescribeRecipe", {"recipeArn": described["recipeArn"]}))["recipe"]
        return described["datasetGroupArn"], recipe["recipeType"]
    version = (await console.run("DescribeSolutionVersion", {"solutionVersionArn": described["solutionVersionArn"]}))
    solution = (await console.run("DescribeSolution", {"solutionArn": version["solutionVersion"]["solutionArn"]}))
    recipe = (await console.run("DescribeRecipe", {"recipeArn": solution["solution"]["recipeArn"]}))["recipe"]
    return solution["solution"]["datasetGroupArn"], recipe["recipeType"]


async def delete_serving(request: Request) -> Response:
    form = await posted(request)
    kind, arn = field_of(form, "kind"), field_of(form, "arn")
    if kind not in KINDS:
        return back(link(""))
    console = console_of(request)
    operation, member, _, delete = KINDS[kind]
    try:
        described = await _describe(console, kind, arn)
        group, _ = await _group_and_type(console, kind, described)
        await console.run(delete, {member: arn})
    except PersonalizeError as error:
        return await serving_page(request, kind, arn, error)
    return back(link("group", group))


# ---- try it ---------------------------------------------------------------------------------------------------


def _pairs(text: str, what: str) -> dict[str, str]:
    """``name=value`` lines → a map (filter values, context)."""
    found = {}
    for line in filter(None, (line.strip() for line in text.splitlines())):
        name, sep, value = line.partition("=")
        if not sep:
            raise InvalidInputException(f"{what} line {line!r} is not name=value.")
        found[name.strip()] = value.strip()
    return found


def request_of(form: Any, kind: str, arn: str, recipe_type: str) -> tuple[str, dict[str, Any]]:
    """The runtime operation and its request, from the try-it form's fields."""
    params: dict[str, Any] = {f"{kind}Arn": arn}
    for member in ("userId", "itemId", "filterArn"):
        if field_of(form, member):
            params[member] = field_of(form, member)
    if field_of(form, "filterValues"):
        params["filterValues"] = _pairs(field_of(form, "filterValues"), "Filter value")
    if field_of(form, "context"):
        params["context"] = _pairs(field_of(form, "context"), "Context")
    if field_of(form, "metadataColumns"):
        params["metadataColumns"] = {"ITEMS": [c.strip() for c in field_of(form, "metadataColumns").split(",") if c.strip()]}
    if recipe_type == "PERSONALIZED_RANKING":
        params["inputList"] = [i.strip() for i in field_of(form, "inputList").split(",") if i.strip()]
        return "GetPersonalizedRanking", params
    if field_of(form, "numResults"):
        params["numResults"] = int(field_of(form, "numResults"))
    if field_of(form, "promotionFilterArn"):
        params["promotions"] = [{"name": "promotion", "filterArn": field_of(form, "promotionFilterArn"),
                                 "percentPromotedItems": int(field_of(form, "promotionPercent") or "20")}]
    return "GetRecommendations", params


async def recommend(console: Console, operation: str, params: dict[str, Any]) -> dict[str, Any]:
    answer = await console.run(operation, params)
    key = "personalizedRanking" if operation == "GetPersonalizedRanking" else "itemList"
    # The runtime may hand back its cached list already encoded (serving/answers.py): decode it either way.
    items = orjson.loads(orjson.dumps(answer.get(key, [])))
    return {"items": items, "recommendationId": answer.get("recommendationId")}


async def try_it(request: Request) -> Response:
    """The try-it panel's answer (an htmx fragment); with an event to send, the lists before and after it."""
    form = await posted(request)
    console = console_of(request)
    kind, arn = field_of(form, "kind"), field_of(form, "arn")
    try:
        operation, params = request_of(form, kind, arn, field_of(form, "recipeType"))
        before = await recommend(console, operation, params)
        after = None
        if form.get("send") == "1":
            await _send_event(console, form)
            after = await recommend(console, operation, params)
    except ValueError:
        return console.render(request, "_answer.html", error=InvalidInputException("numResults and the promotion percentage must be whole numbers."))
    except PersonalizeError as error:
        return console.render(request, "_answer.html", error=error)
    before_ids = [i.get("itemId") for i in before["items"]]
    return console.render(request, "_answer.html", before=before, after=after, before_ids=before_ids)


async def _send_event(console: Console, form: Any) -> None:
    """PutEvents through the chosen tracker: one event of the user on the item."""
    tracker = field_of(form, "tracker")
    if not tracker:
        raise InvalidInputException("Choose an event tracker to send the event through (create one on the dataset group page).")
    tracking_id = (await console.run("DescribeEventTracker", {"eventTrackerArn": tracker}))["eventTracker"]["trackingId"]
    user = field_of(form, "userId")
    event = {"eventType": field_of(form, "eventType") or "click", "itemId": field_of(form, "eventItemId"), "sentAt": time.time()}
    await console.run("PutEvents", {"trackingId": tracking_id, "userId": user, "sessionId": f"console-{user or new_uuid()}",
                                    "eventList": [event]})


ROUTES = [
    Route("/console/campaigns", create_campaign, methods=["POST"]),
    Route("/console/recommenders", create_recommender, methods=["POST"]),
    Route("/console/campaign", campaign, methods=["GET"]),
    Route("/console/recommender", recommender, methods=["GET"]),
    Route("/console/serving/delete", delete_serving, methods=["POST"]),
    Route("/console/try", try_it, methods=["POST"]),
]
