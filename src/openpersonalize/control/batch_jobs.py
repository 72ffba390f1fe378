"""Batch inference and batch segment jobs: Create / Describe / List of each (spec §2.10, §8, §11).

Creating a job only checks the request and records it with its queued job ("batch-inference" or
"batch-segment"); jobs/batch_inference.py and jobs/batch_segment.py read the JSON Lines input and write one
``<input>.out`` per input file. Locations are ``s3://`` (any S3-compatible endpoint through the standard AWS
settings), ``http(s)://`` for input, or — an OpenPersonalize extension — ``file:///abs/path`` URLs and
absolute paths (control/export_jobs.check_location).

While a job runs its record carries ``_progress`` (percent of the input read): not a wire member, so the
serializer leaves it out of Describe, but the console and bench/batch.py show it.
"""

from __future__ import annotations

from typing import Any

from ..errors import InvalidInputException, ResourceInUseException
from ..filters.parse import parse_filter
from ..jobs.batch_io import INFERENCE_JOB, INFERENCE_KIND, SEGMENT_JOB, SEGMENT_KIND
from ..recipes import catalogue
from . import arns
from .common import (
    ACTIVE,
    CREATE_PENDING,
    IN_FLIGHT,
    check_serving_config,
    check_quota,
    new_record,
    paginate,
    pick,
    tags_from,
)
from .context import RequestContext
from .export_jobs import check_location, region_prefix
from ..data.metadata import Record

INFERENCE_SUMMARY = ("batchInferenceJobArn", "jobName", "status", "creationDateTime", "lastUpdatedDateTime",
                     "failureReason", "solutionVersionArn", "batchInferenceJobMode")
SEGMENT_SUMMARY = ("batchSegmentJobArn", "jobName", "status", "creationDateTime", "lastUpdatedDateTime",
                   "failureReason", "solutionVersionArn")
DEFAULT_RESULTS = 25  # spec §2.10: numResults defaults to 25 for both job types
MAX_INFERENCE_RESULTS = 500  # the runtime's numResults limit (spec §11)
MAX_SEGMENT_RESULTS = 5_000_000  # users per segment (spec §11)


# ---- shared checks ---------------------------------------------------------------------------------------------


def _active_version(ctx: RequestContext, arn: str) -> Record:
    version = ctx.store.require(arn, "solution-version", "solution version")
    if version.status != ACTIVE:
        raise ResourceInUseException(f"Solution version {arn} is {version.status}; a batch job needs an ACTIVE version.")
    return version


def _num_results(params: dict[str, Any], limit: int) -> int:
    num = params.get("numResults") or DEFAULT_RESULTS  # 0 reads as the default (spec §12.1)
    if num < 0 or num > limit:
        raise InvalidInputException(
            f"1 validation error detected: Value {num} at 'numResults' failed to satisfy constraint: "
            f"Member must be between 1 and {limit}."
        )
    return int(num)


def _check_filter(ctx: RequestContext, filter_arn: str, version: Record, target: str) -> None:
    """The filter exists, is ACTIVE, belongs to the version's dataset group and selects ``target``."""
    record = ctx.store.require(filter_arn, "filter", "filter")
    if record.status != ACTIVE:
        raise ResourceInUseException(f"Filter {filter_arn} is {record.status}; it must be ACTIVE.")
    group = version.body["datasetGroupArn"]
    if record.body["datasetGroupArn"] != group:
        raise InvalidInputException(
            f"Filter {filter_arn} belongs to dataset group {record.body['datasetGroupArn']}, not to the solution "
            f"version's dataset group {group}."
        )
    targets = {e.target for e in parse_filter(record.body["filterExpression"]).expressions}
    if targets != {target}:
        noun = "users (UserID)" if target == "UserID" else "items (ItemID)"
        raise InvalidInputException(
            f"Filter {filter_arn} selects {', '.join(sorted(targets))}; this job needs a filter that selects {noun}."
        )


def _check_locations(params: dict[str, Any]) -> None:
    source = params["jobInput"]["s3DataSource"]["path"]
    target = params["jobOutput"]["s3DataDestination"]["path"]
    check_location("jobInput.s3DataSource.path", source, writable=False)
    check_location("jobOutput.s3DataDestination.path", target, writable=True)
    if source.rstrip("/") == target.rstrip("/"):
        # A folder input would list the .out files of an earlier run as input (spec §8.1: use another folder).
        raise InvalidInputException(
            f"jobOutput.s3DataDestination.path {target!r} is the input location; use a folder different from the input."
        )


def _check_pending(ctx: RequestContext, kind: str, quota_name: str) -> None:
    prefix = region_prefix(ctx)
    pending = sum(r.arn.startswith(prefix) for r in ctx.store.list(kind, statuses=IN_FLIGHT))
    check_quota(ctx, quota_name, pending, "More than {limit} resources with PENDING or IN_PROGRESS status.")


def _record_and_queue(ctx: RequestContext, kind: str, job_kind: str, arn: str, params: dict[str, Any],
                      body: dict[str, Any], quota_name: str) -> None:
    record = new_record(kind, arn, params["jobName"], params["solutionVersionArn"], body, tags_from(params))
    ctx.store.create_queued(record, job_kind, lambda: _check_pending(ctx, kind, quota_name))
    ctx.services.nudge()


def _common_body(params: dict[str, Any], num_results: int) -> dict[str, Any]:
    body = {
        "jobName": params["jobName"],
        "solutionVersionArn": params["solutionVersionArn"],
        "numResults": num_results,
        "jobInput": params["jobInput"],
        "jobOutput": params["jobOutput"],
        "roleArn": params["roleArn"],
        "status": CREATE_PENDING,
        "_progress": 0.0,
    }
    if "filterArn" in params:
        body["filterArn"] = params["filterArn"]
    return body


# ---- batch inference -------------------------------------------------------------------------------------------


def _check_inference_recipe(version: Record) -> str:
    recipe_arn = str(version.body["recipeArn"])
    record = catalogue.recipe(recipe_arn)
    if record.capabilities.segments:
        raise InvalidInputException(
            f"Solution version {version.arn} uses {recipe_arn}, a USER_SEGMENTATION recipe: use CreateBatchSegmentJob."
        )
    if not record.capabilities.batch_inference:
        raise InvalidInputException(
            f"Solution version {version.arn} uses {recipe_arn}, which does not support batch inference "
            "(Trending-Now and Next-Best-Action are real-time only)."
        )
    return recipe_arn


def _check_mode(params: dict[str, Any]) -> str:
    mode = params.get("batchInferenceJobMode", "BATCH_INFERENCE")
    if mode == "THEME_GENERATION":
        # Themes are written by a generative language model, which an offline deployment does not have.
        raise InvalidInputException(
            "batchInferenceJobMode THEME_GENERATION is not supported by OpenPersonalize: theme generation needs a "
            "generative language model, which this offline deployment does not have. Use BATCH_INFERENCE."
        )
    if "themeGenerationConfig" in params:
        raise InvalidInputException(
            "themeGenerationConfig applies only with batchInferenceJobMode THEME_GENERATION; got BATCH_INFERENCE."
        )
    return str(mode)


def _check_job_config(config: dict[str, Any], recipe_arn: str) -> None:
    """batchInferenceJobConfig (spec §8.1), checked as a campaign's options are."""
    check_serving_config("batchInferenceJobConfig", config, recipe_arn)



def create_batch_inference_job(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    """CreateBatchInferenceJob."""
    mode = _check_mode(params)
    version = _active_version(ctx, params["solutionVersionArn"])
    recipe_arn = _check_inference_recipe(version)
    num_results = _num_results(params, MAX_INFERENCE_RESULTS)
    if "filterArn" in params:
        _check_filter(ctx, params["filterArn"], version, "ItemID")
    config = params.get("batchInferenceJobConfig") or {}
    _check_job_config(config, recipe_arn)
    _check_locations(params)
    arn = arns.arn(ctx, INFERENCE_KIND, params["jobName"])
    body = {**_common_body(params, num_results), "batchInferenceJobArn": arn, "batchInferenceJobMode": mode}
    if config:
        body["batchInferenceJobConfig"] = config
    _record_and_queue(ctx, INFERENCE_KIND, INFERENCE_JOB, arn, params, body, "pending_batch_inference_jobs")
    return {"batchInferenceJobArn": arn}


def describe_batch_inference_job(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    """DescribeBatchInferenceJob."""
    record = ctx.store.require(params["batchInferenceJobArn"], INFERENCE_KIND, "batch inference job")
    return {"batchInferenceJob": record.body}


def list_batch_inference_jobs(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    """ListBatchInferenceJobs, newest first, optionally for one solution version."""
    records = ctx.store.list(INFERENCE_KIND, parent=params.get("solutionVersionArn"))
    return paginate(ctx, params, INFERENCE_KIND, records, "batchInferenceJobs", lambda r: pick(r.body, INFERENCE_SUMMARY))


# ---- batch segments --------------------------------------------------------------------------------------------


def create_batch_segment_job(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    """CreateBatchSegmentJob: USER_SEGMENTATION solution versions only."""
    version = _active_version(ctx, params["solutionVersionArn"])
    recipe_arn = str(version.body["recipeArn"])
    if not catalogue.recipe(recipe_arn).capabilities.segments:
        raise InvalidInputException(
            f"Solution version {version.arn} uses {recipe_arn}; batch segment jobs need a USER_SEGMENTATION recipe "
            f"({catalogue.names_of(lambda r: r.capabilities.segments is not None)}). Use CreateBatchInferenceJob for "
            "other recipes."
        )
    num_results = _num_results(params, MAX_SEGMENT_RESULTS)
    if "filterArn" in params:
        _check_filter(ctx, params["filterArn"], version, "UserID")
    _check_locations(params)
    arn = arns.arn(ctx, SEGMENT_KIND, params["jobName"])
    body = {**_common_body(params, num_results), "batchSegmentJobArn": arn}
    _record_and_queue(ctx, SEGMENT_KIND, SEGMENT_JOB, arn, params, body, "pending_batch_segment_jobs")
    return {"batchSegmentJobArn": arn}


def describe_batch_segment_job(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    """DescribeBatchSegmentJob."""
    record = ctx.store.require(params["batchSegmentJobArn"], SEGMENT_KIND, "batch segment job")
    return {"batchSegmentJob": record.body}


def list_batch_segment_jobs(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    """ListBatchSegmentJobs, newest first, optionally for one solution version."""
    records = ctx.store.list(SEGMENT_KIND, parent=params.get("solutionVersionArn"))
    return paginate(ctx, params, SEGMENT_KIND, records, "batchSegmentJobs", lambda r: pick(r.body, SEGMENT_SUMMARY))
