"""Solutions (a recipe picker that explains each recipe, the training options), solution versions, the live
training view (phase, progress, epochs, the validation curve; Stop) and metrics beside the Popularity-Count
baseline."""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..control.progress import FINAL, progress_of
from ..errors import InvalidInputException, PersonalizeError
from .app import Console, back, console_of, field_of, link, posted
from .groups import group_page

# The picker lists the recipes most people start with first; legacy HRNN recipes last in their type.
TYPE_ORDER = ("USER_PERSONALIZATION", "PERSONALIZED_RANKING", "RELATED_ITEMS", "POPULAR_ITEMS", "USER_SEGMENTATION",
              "PERSONALIZED_ACTIONS")


async def recipes(console: Console) -> list[dict[str, Any]]:
    """Every custom recipe with its description and type (DescribeRecipe), read once: the catalogue is fixed."""
    if "recipes" not in console.cache:
        listed = await console.run_each("ListRecipes", {}, "recipes")
        described = [(await console.run("DescribeRecipe", {"recipeArn": r["recipeArn"]}))["recipe"] for r in listed
                     if not r.get("domain")]
        console.cache["recipes"] = sorted(described, key=lambda r: (
            TYPE_ORDER.index(r["recipeType"]) if r["recipeType"] in TYPE_ORDER else len(TYPE_ORDER),
            "hrnn" in r["name"], r["name"]))
    return console.cache["recipes"]  # type: ignore[no-any-return]


async def new_solution(request: Request, error: PersonalizeError | None = None, form: dict[str, Any] | None = None,
                       group: str | None = None) -> Response:
    console = console_of(request)
    group = group or request.query_params.get("group", "")
    form = form or {"recipeArn": "arn:aws:personalize:::recipe/aws-user-personalization-v2"}
    return console.render(request, "solution_new.html", status=400 if error else 200, title="Create a solution",
                          error=error, form=form, group=group, recipes=await recipes(console),
                          crumbs=[("Dataset groups", link("")), (group.rsplit("/", 1)[-1], link("group", group))])


def _hyperparameters(text: str) -> dict[str, str]:
    """``name=value`` lines (blank lines ignored) → algorithmHyperParameters."""
    pairs = {}
    for line in filter(None, (line.strip() for line in text.splitlines())):
        name, sep, value = line.partition("=")
        if not sep or not name.strip():
            raise InvalidInputException(f"Hyperparameter line {line!r} is not name=value.")
        pairs[name.strip()] = value.strip()
    return pairs


def solution_params(form: Any) -> dict[str, Any]:
    """CreateSolution's request from the form's fields."""
    params: dict[str, Any] = {"name": field_of(form, "name"), "datasetGroupArn": field_of(form, "group"),
                              "recipeArn": field_of(form, "recipeArn")}
    config: dict[str, Any] = {}
    if field_of(form, "eventType"):
        params["eventType"] = field_of(form, "eventType")
    if field_of(form, "eventValueThreshold"):
        config["eventValueThreshold"] = field_of(form, "eventValueThreshold")
    if field_of(form, "hyperparameters"):
        config["algorithmHyperParameters"] = _hyperparameters(field_of(form, "hyperparameters"))
    params["performHPO"] = form.get("performHPO") == "on"
    params["performAutoTraining"] = form.get("performAutoTraining") == "on"
    if params["performAutoTraining"] and field_of(form, "schedule"):
        config["autoTrainingConfig"] = {"schedulingExpression": field_of(form, "schedule")}
    if config:
        params["solutionConfig"] = config
    return params


async def create_solution(request: Request) -> Response:
    form = await posted(request)
    shown = {k: v for k, v in form.items() if isinstance(v, str)}
    try:
        params = solution_params(form)
        arn = (await console_of(request).run("CreateSolution", params))["solutionArn"]
    except PersonalizeError as error:
        return await new_solution(request, error, shown, field_of(form, "group"))
    return back(link("solution", arn))


async def solution(request: Request) -> Response:
    return await solution_page(request, request.query_params.get("arn", ""))


async def solution_page(request: Request, arn: str, error: PersonalizeError | None = None) -> Response:
    console = console_of(request)
    try:
        described = (await console.run("DescribeSolution", {"solutionArn": arn}))["solution"]
    except PersonalizeError as missing:
        return await group_page(request, "", missing)
    versions = await console.run_each("ListSolutionVersions", {"solutionArn": arn}, "solutionVersions")
    campaigns = await console.run_each("ListCampaigns", {"solutionArn": arn}, "campaigns")
    compared = [(v["solutionVersionArn"], await _metrics(console, v["solutionVersionArn"])) for v in versions if v["status"] == "ACTIVE"]
    group = described["datasetGroupArn"]
    return console.render(request, "solution.html", status=400 if error else 200, title=described["name"],
                          error=error, solution=described, versions=versions, campaigns=campaigns,
                          compared=_comparison(compared),
                          crumbs=[("Dataset groups", link("")), (group.rsplit("/", 1)[-1], link("group", group))])


def _comparison(compared: list[tuple[str, dict[str, float]]]) -> list[tuple[str, list[tuple[str, float, float | None]]]]:
    """Per metric, one bar per version (newest first), for the side-by-side comparison."""
    names = sorted({k for _, metrics in compared for k in metrics})
    return [(name, [(arn.rsplit("/", 1)[-1], metrics.get(name, 0.0), None) for arn, metrics in compared]) for name in names]


async def _metrics(console: Console, arn: str) -> dict[str, float]:
    return dict((await console.run("GetSolutionMetrics", {"solutionVersionArn": arn}))["metrics"])


async def delete_solution(request: Request) -> Response:
    form = await posted(request)
    arn = field_of(form, "arn")
    console = console_of(request)
    try:
        group = (await console.run("DescribeSolution", {"solutionArn": arn}))["solution"]["datasetGroupArn"]
        await console.run("DeleteSolution", {"solutionArn": arn})
    except PersonalizeError as error:
        return await solution_page(request, arn, error)
    return back(link("group", group))


async def create_version(request: Request) -> Response:
    form = await posted(request)
    arn = field_of(form, "arn")
    try:
        created = await console_of(request).run(
            "CreateSolutionVersion", {"solutionArn": arn, "trainingMode": field_of(form, "trainingMode") or "FULL"})
    except PersonalizeError as error:
        return await solution_page(request, arn, error)
    return back(link("version", created["solutionVersionArn"]))


# ---- one version: live training and metrics -------------------------------------------------------------------


async def version(request: Request) -> Response:
    return await version_page(request, request.query_params.get("arn", ""))


async def version_page(request: Request, arn: str, error: PersonalizeError | None = None) -> Response:
    console = console_of(request)
    try:
        described = (await console.run("DescribeSolutionVersion", {"solutionVersionArn": arn}))["solutionVersion"]
    except PersonalizeError as missing:
        return await group_page(request, "", missing)
    solution_arn = described["solutionArn"]
    group = (await console.run("DescribeSolution", {"solutionArn": solution_arn}))["solution"]["datasetGroupArn"]
    return console.render(request, "version.html", status=400 if error else 200, title=arn.rsplit("/", 1)[-1],
                          error=error, version=described, arn=arn, live=await _live(console, arn), metrics=_bars(described),
                          has_baseline=bool(described.get("_baseline")),
                          batch_jobs=await _batch_jobs(console, arn) if described["status"] == "ACTIVE" else [],
                          crumbs=[("Dataset groups", link("")), (group.rsplit("/", 1)[-1], link("group", group)),
                                  (solution_arn.rsplit("/", 1)[-1], link("solution", solution_arn))])


async def _batch_jobs(console: Console, arn: str) -> list[dict[str, Any]]:
    """The version's batch inference and segment jobs with their output folders (newest first)."""
    found = []
    for listing, member, describe, key in (("ListBatchInferenceJobs", "batchInferenceJobs", "DescribeBatchInferenceJob", "batchInferenceJob"),
                                           ("ListBatchSegmentJobs", "batchSegmentJobs", "DescribeBatchSegmentJob", "batchSegmentJob")):
        for job in await console.run_each(listing, {"solutionVersionArn": arn}, member):
            arn_member = f"{key}Arn"
            described = (await console.run(describe, {arn_member: job[arn_member]}))[key]
            found.append({**described, "output": described["jobOutput"]["s3DataDestination"]["path"]})
    return sorted(found, key=lambda j: -float(j.get("creationDateTime") or 0))


async def _live(console: Console, arn: str) -> dict[str, Any]:
    report = await run_in_threadpool(progress_of, console.services, arn)
    report["final"] = report["status"] in FINAL
    return report


def _bars(described: dict[str, Any]) -> list[tuple[str, float, float | None]]:
    """The version's metrics, each with the Popularity-Count baseline the training job measured on the same split
    (None where it measured none)."""
    metrics, baseline = described.get("_metrics") or {}, described.get("_baseline") or {}
    return [(name, float(value), baseline.get(name)) for name, value in sorted(metrics.items())]


async def live_fragment(request: Request) -> Response:
    """The live training panel, polled every second until the version is final (then the page reloads once)."""
    console = console_of(request)
    arn = request.query_params.get("arn", "")
    try:
        live = await _live(console, arn)
    except PersonalizeError as error:
        return console.render(request, "_check.html", ok=False, message=f"{error.code}: {error.message}")
    response = console.render(request, "_live.html", live=live, arn=arn)
    if live["final"]:
        response.headers["HX-Refresh"] = "true"  # the finished page: metrics, campaign form
    return response


async def stop_version(request: Request) -> Response:
    form = await posted(request)
    arn = field_of(form, "arn")
    try:
        await console_of(request).run("StopSolutionVersionCreation", {"solutionVersionArn": arn})
    except PersonalizeError as error:
        return await version_page(request, arn, error)
    return back(link("version", arn))


ROUTES = [
    Route("/console/solutions/new", new_solution, methods=["GET"]),
    Route("/console/solutions", create_solution, methods=["POST"]),
    Route("/console/solution", solution, methods=["GET"]),
    Route("/console/solution/delete", delete_solution, methods=["POST"]),
    Route("/console/versions", create_version, methods=["POST"]),
    Route("/console/version", version, methods=["GET"]),
    Route("/console/version/live", live_fragment, methods=["GET"]),
    Route("/console/version/stop", stop_version, methods=["POST"]),
]
