"""Filters (the expression checked as you type), event trackers with their live event stream (server-sent
events), batch inference and segment jobs, and the usage page."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from ..control.context import RequestContext
from ..data.eventlog import EventLog
from ..data.store import DataStore
from ..control.filters import group_schemas
from ..errors import PersonalizeError
from ..filters.parse import check_filter, parse_filter
from ..ids import new_uuid
from .app import Console, back, console_of, field_of, link, posted
from .groups import group_page
from .training import version_page

STREAM_SECONDS = 1.0  # one update a second: events per second and the latest events
LATEST = 15


async def create_filter(request: Request) -> Response:
    form = await posted(request)
    group = field_of(form, "group")
    params = {"name": field_of(form, "name"), "datasetGroupArn": group, "filterExpression": field_of(form, "filterExpression")}
    try:
        await console_of(request).run("CreateFilter", params)
    except PersonalizeError as error:
        return await group_page(request, group, error, {"filterName": params["name"], "filterExpression": params["filterExpression"]})
    return back(link("group", group))


def _context(console: Console) -> RequestContext:
    settings = console.services.settings
    return RequestContext(console.services, settings.default_region, settings.account_id, new_uuid())


def _check_expression(console: Console, group: str, expression: str) -> str:
    """CreateFilter's own parsing and field checks against the group's schemas, without creating anything."""
    check_filter(parse_filter(expression), group_schemas(_context(console), group))
    return "Valid filter expression."


async def validate_filter(request: Request) -> Response:
    form = await posted(request)
    console = console_of(request)
    try:
        message = await run_in_threadpool(_check_expression, console, field_of(form, "group"), field_of(form, "filterExpression"))
    except PersonalizeError as error:
        return console.render(request, "_check.html", ok=False, message=f"{error.code}: {error.message}")
    return console.render(request, "_check.html", ok=True, message=message)


async def _delete_in_group(request: Request, operation: str, member: str, describe: str, key: str) -> Response:
    form = await posted(request)
    arn = field_of(form, "arn")
    console = console_of(request)
    group = ""
    try:
        group = (await console.run(describe, {member: arn}))[key]["datasetGroupArn"]
        await console.run(operation, {member: arn})
    except PersonalizeError as error:
        return await group_page(request, group, error)
    return back(link("group", group))


async def delete_filter(request: Request) -> Response:
    return await _delete_in_group(request, "DeleteFilter", "filterArn", "DescribeFilter", "filter")


async def delete_tracker(request: Request) -> Response:
    return await _delete_in_group(request, "DeleteEventTracker", "eventTrackerArn", "DescribeEventTracker", "eventTracker")


async def create_tracker(request: Request) -> Response:
    form = await posted(request)
    group = field_of(form, "group")
    try:
        arn = (await console_of(request).run("CreateEventTracker", {"name": field_of(form, "name"), "datasetGroupArn": group}))["eventTrackerArn"]
    except PersonalizeError as error:
        return await group_page(request, group, error)
    return back(link("tracker", arn))


async def tracker(request: Request) -> Response:
    console = console_of(request)
    arn = request.query_params.get("arn", "")
    try:
        described = (await console.run("DescribeEventTracker", {"eventTrackerArn": arn}))["eventTracker"]
    except PersonalizeError as missing:
        return await group_page(request, "", missing)
    group = described["datasetGroupArn"]
    return console.render(request, "tracker.html", title=described["name"], tracker=described, arn=arn,
                          crumbs=[("Dataset groups", link("")), (group.rsplit("/", 1)[-1], link("group", group))])


async def _interactions_dataset(console: Console, group: str) -> str | None:
    datasets = await console.run_each("ListDatasets", {"datasetGroupArn": group}, "datasets")
    found = [d["datasetArn"] for d in datasets if d["datasetType"].upper() == "INTERACTIONS"]
    return found[0] if found else None


def _new_rows(events: EventLog, dataset: str | None, after: int) -> tuple[list[dict[str, Any]], int]:
    """Rows the event log took for the dataset since sequence number ``after``; the newest number seen."""
    if dataset is None:
        return [], after
    entries = events.since(dataset, after)
    return [row for _, row in entries], (entries[-1][0] if entries else after)


async def stream(request: Request) -> Response:
    """Server-sent events: every second, the events per second and the latest events of the tracker's group."""
    console = console_of(request)
    described = (await console.run("DescribeEventTracker", {"eventTrackerArn": request.query_params.get("arn", "")}))["eventTracker"]
    dataset = await _interactions_dataset(console, described["datasetGroupArn"])
    events = console.services.data.events
    after = await run_in_threadpool(events.newest, dataset) if dataset is not None else 0

    async def updates() -> AsyncIterator[bytes]:
        nonlocal after
        latest: list[dict[str, Any]] = []
        while not await request.is_disconnected():
            started = time.monotonic()
            rows, after = await run_in_threadpool(_new_rows, events, dataset, after)
            latest = (rows[::-1] + latest)[:LATEST]
            shown = [{k: v for k, v in row.items() if not k.startswith("$")} for row in latest]
            yield b"data: " + orjson.dumps({"perSecond": len(rows) / STREAM_SECONDS, "latest": shown}) + b"\n\n"
            await asyncio.sleep(max(0.0, STREAM_SECONDS - (time.monotonic() - started)))

    return StreamingResponse(updates(), media_type="text/event-stream", headers={"cache-control": "no-store"})


# ---- batch jobs -----------------------------------------------------------------------------------------------


async def create_batch(request: Request) -> Response:
    form = await posted(request)
    version = field_of(form, "version")
    inference = field_of(form, "kind") != "segment"
    params: dict[str, Any] = {"jobName": field_of(form, "jobName"), "solutionVersionArn": version,
                              "roleArn": field_of(form, "roleArn"),
                              "jobInput": {"s3DataSource": {"path": field_of(form, "input")}},
                              "jobOutput": {"s3DataDestination": {"path": field_of(form, "output")}}}
    try:
        await console_of(request).run("CreateBatchInferenceJob" if inference else "CreateBatchSegmentJob", params)
    except PersonalizeError as error:
        return await version_page(request, version, error)
    return back(link("version", version))


# ---- usage ----------------------------------------------------------------------------------------------------


def _stored_bytes(data: DataStore, dataset_arn: str) -> int:
    return sum(info.size for info in data.objects.list(data.dataset_key(dataset_arn)))


async def usage(request: Request) -> Response:
    """Usage instead of a bill: requests per operation (this process), training time and stored bytes per group."""
    console = console_of(request)
    groups = await console.run_each("ListDatasetGroups", {}, "datasetGroups")
    rows = []
    for group in groups:
        datasets = await console.run_each("ListDatasets", {"datasetGroupArn": group["datasetGroupArn"]}, "datasets")
        stored = sum([await run_in_threadpool(_stored_bytes, console.services.data, d["datasetArn"]) for d in datasets])
        hours = 0.0
        for solution in await console.run_each("ListSolutions", {"datasetGroupArn": group["datasetGroupArn"]}, "solutions"):
            for version in await console.run_each("ListSolutionVersions", {"solutionArn": solution["solutionArn"]}, "solutionVersions"):
                described = (await console.run("DescribeSolutionVersion", {"solutionVersionArn": version["solutionVersionArn"]}))
                hours += float(described["solutionVersion"].get("trainingHours") or 0.0)
        rows.append({"name": group["name"], "arn": group["datasetGroupArn"], "bytes": stored, "seconds": hours * 3600})
    requests = sorted(console.requests_per_operation().items(), key=lambda kv: -kv[1])
    return console.render(request, "usage.html", title="Usage", groups=rows, requests=requests,
                          request_rows=[(name, float(count), None) for name, count in requests[:25]])


ROUTES = [
    Route("/console/filters", create_filter, methods=["POST"]),
    Route("/console/filters/validate", validate_filter, methods=["POST"]),
    Route("/console/filter/delete", delete_filter, methods=["POST"]),
    Route("/console/trackers", create_tracker, methods=["POST"]),
    Route("/console/tracker", tracker, methods=["GET"]),
    Route("/console/tracker/stream", stream, methods=["GET"]),
    Route("/console/tracker/delete", delete_tracker, methods=["POST"]),
    Route("/console/batch", create_batch, methods=["POST"]),
    Route("/console/usage", usage, methods=["GET"]),
]
