"""Dataset groups: the list, creation (custom or a domain), and one group's three-step overview."""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..errors import PersonalizeError
from .app import Console, back, console_of, field_of, link, posted

DOMAINS = (("", "Custom (choose your own recipes)"), ("VIDEO_ON_DEMAND", "Video on demand (domain recommenders)"),
           ("ECOMMERCE", "E-commerce (domain recommenders)"))


async def home(request: Request, error: PersonalizeError | None = None, form: dict[str, str] | None = None) -> Response:
    console = console_of(request)
    groups = await console.run_each("ListDatasetGroups", {}, "datasetGroups")
    return console.render(request, "home.html", status=400 if error else 200, title="Dataset groups", groups=groups,
                          domains=DOMAINS, error=error, form=form or {})


async def create_group(request: Request) -> Response:
    form = await posted(request)
    params: dict[str, Any] = {"name": field_of(form, "name")}
    if field_of(form, "domain"):
        params["domain"] = field_of(form, "domain")
    try:
        arn = (await console_of(request).run("CreateDatasetGroup", params))["datasetGroupArn"]
    except PersonalizeError as error:
        return await home(request, error, dict(params))
    return back(link("group", arn))


async def group_contents(request: Request, arn: str) -> dict[str, Any]:
    """Everything the overview shows, read in parallel (each list is one control call)."""
    console = console_of(request)
    by_group = {"datasetGroupArn": arn}
    group, datasets, solutions, recommenders, filters, trackers = await asyncio.gather(
        console.run("DescribeDatasetGroup", by_group),
        console.run_each("ListDatasets", by_group, "datasets"),
        console.run_each("ListSolutions", by_group, "solutions"),
        console.run_each("ListRecommenders", by_group, "recommenders"),
        console.run_each("ListFilters", by_group, "Filters"),
        console.run_each("ListEventTrackers", by_group, "eventTrackers"),
    )
    filters = list(await asyncio.gather(*(_described_filter(console, summary) for summary in filters)))
    campaigns = []
    for solution in solutions:
        campaigns += await console.run_each("ListCampaigns", {"solutionArn": solution["solutionArn"]}, "campaigns")
    domain = group["datasetGroup"].get("domain")
    schemas = await console.run_each("ListSchemas", {}, "schemas")
    use_cases = await console.run_each("ListRecipes", {"domain": domain}, "recipes") if domain else []
    return {"group": group["datasetGroup"], "datasets": datasets, "solutions": solutions, "recommenders": recommenders,
            "filters": filters, "trackers": trackers, "campaigns": campaigns, "use_cases": use_cases,
            "schemas": [s for s in schemas if s.get("domain") == domain]}


async def _described_filter(console: Console, summary: dict[str, Any]) -> dict[str, Any]:
    """A filter with its expression (ListFilters' summaries have none); the summary if it went meanwhile."""
    try:
        return dict((await console.run("DescribeFilter", {"filterArn": summary["filterArn"]}))["filter"])
    except PersonalizeError:
        return summary


async def group(request: Request) -> Response:
    return await group_page(request, request.query_params.get("arn", ""))


async def group_page(request: Request, arn: str, error: PersonalizeError | None = None,
                     form: dict[str, str] | None = None) -> Response:
    console = console_of(request)
    try:
        contents = await group_contents(request, arn)
    except PersonalizeError as missing:
        return await home(request, missing)
    steps = {
        "data": any(d["status"] == "ACTIVE" for d in contents["datasets"]),
        "training": any(s["status"] == "ACTIVE" for s in contents["solutions"]) or bool(contents["recommenders"]),
        "serving": any(c["status"] == "ACTIVE" for c in contents["campaigns"])
        or any(r["status"] == "ACTIVE" for r in contents["recommenders"]),
    }
    name = contents["group"]["name"]
    return console.render(request, "group.html", status=400 if error else 200, title=name, error=error,
                          form=form or {}, steps=steps, crumbs=[("Dataset groups", link(""))], **contents)


async def delete_group(request: Request) -> Response:
    form = await posted(request)
    arn = field_of(form, "arn")
    try:
        await console_of(request).run("DeleteDatasetGroup", {"datasetGroupArn": arn})
    except PersonalizeError as error:
        return await group_page(request, arn, error)
    return back(link(""))


ROUTES = [
    Route("/console/", home, methods=["GET"]),
    Route("/console/groups", create_group, methods=["POST"]),
    Route("/console/group", group, methods=["GET"]),
    Route("/console/group/delete", delete_group, methods=["POST"]),
]
