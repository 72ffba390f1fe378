"""ARN formats of spec §3.1."""

from __future__ import annotations

import secrets

from .context import RequestContext

# resource kind → ARN path prefix
PREFIX = {
    "dataset-group": "dataset-group",
    "schema": "schema",
    "dataset": "dataset",
    "dataset-import-job": "dataset-import-job",
    "dataset-export-job": "dataset-export-job",
    "data-deletion-job": "data-deletion-job",
    "solution": "solution",
    "campaign": "campaign",
    "recommender": "recommender",
    "event-tracker": "event-tracker",
    "filter": "filter",
    "metric-attribution": "metric-attribution",
    "batch-inference-job": "batch-inference-job",
    "batch-segment-job": "batch-segment-job",
}


def arn(ctx: RequestContext, kind: str, name: str) -> str:
    return f"arn:aws:personalize:{ctx.region}:{ctx.account_id}:{PREFIX[kind]}/{name}"


def dataset_arn(ctx: RequestContext, group_name: str, dataset_type: str) -> str:
    # The dataset's own name is not in its ARN: one dataset per type per group.
    return f"arn:aws:personalize:{ctx.region}:{ctx.account_id}:dataset/{group_name}/{dataset_type.upper()}"


def solution_version_arn(solution_arn: str) -> str:
    return f"{solution_arn}/{secrets.token_hex(4)}"


def name_of(arn_text: str) -> str:
    return arn_text.rsplit("/", 1)[-1]
