"""User-Personalization measured as users receive it: through PutEvents and GetRecommendations.

The training users' interactions are imported into a live server, which trains User-Personalization and
serves it from two campaigns (exploration 0 and the default 0.3). Each held-out user's input history is then
streamed the way a client does (PutEvents batches of up to 10 events, in time order, with the events' own
old timestamps) and GetRecommendations answers are scored against the held-out future. The served model is
also loaded from the server's model directory and evaluated in-process on the same histories, so the two
paths are compared on the same model: their lists should be identical.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from _server import client, poll

from openpersonalize.data.artifacts import model_dir
from openpersonalize.evaluation.split import Split
from openpersonalize.recipes.base import HISTORY_LIMIT, Histories, Recipe
from openpersonalize.recipes.metrics import MRR_CUTOFF, compute_metrics

UP = "arn:aws:personalize:::recipe/aws-user-personalization"
BATCH = 10  # PutEvents' limit per call
SECONDS_PER_DAY = 86400.0
SCHEMA = {
    "type": "record", "name": "Interactions", "namespace": "com.amazonaws.personalize.schema",
    "fields": [{"name": "USER_ID", "type": "string"}, {"name": "ITEM_ID", "type": "string"},
               {"name": "EVENT_TYPE", "type": "string"}, {"name": "TIMESTAMP", "type": "long"}],
}


@dataclass(frozen=True)
class ApiOutcome:
    served_model: dict[str, float]  # the server's model, evaluated in-process
    served: dict[str, float]  # GetRecommendations, exploration 0
    exploring: dict[str, float]  # GetRecommendations, the default exploration
    identical: float  # share of users whose served list equals the in-process one
    young_share: tuple[float, float]  # share of answers showing an item younger than the cut-off: (weight 0, 0.3)
    train_seconds: float


def run(split: Split, port: int, folder: Path, data_dir: Path, name: str, *, exploring: bool = True) -> ApiOutcome:
    """Import, train, deploy, stream, ask and score (``name`` keeps the resources of each run apart); without
    ``exploring`` no campaign at the default exploration (its outcome repeats exploration 0's)."""
    train = split.train
    frame = pl.DataFrame({
        "USER_ID": train.user_ids[train.user_idx], "ITEM_ID": train.item_ids[train.item_idx],
        "EVENT_TYPE": train.event_types[train.event_type], "TIMESTAMP": train.timestamp,
    })
    csv = folder / f"{name}.csv"
    frame.write_csv(csv)
    api = client("personalize", port)
    group = api.create_dataset_group(name=name)["datasetGroupArn"]
    poll(lambda: api.describe_dataset_group(datasetGroupArn=group)["datasetGroup"])
    schema = api.create_schema(name=name, schema=json.dumps(SCHEMA))["schemaArn"]
    dataset = api.create_dataset(name=name, schemaArn=schema, datasetGroupArn=group, datasetType="Interactions")["datasetArn"]
    poll(lambda: api.describe_dataset(datasetArn=dataset)["dataset"])
    job = api.create_dataset_import_job(jobName=name, datasetArn=dataset, dataSource={"dataLocation": str(csv)})
    imported = poll(lambda: api.describe_dataset_import_job(datasetImportJobArn=job["datasetImportJobArn"])["datasetImportJob"])
    assert imported["status"] == "ACTIVE", imported.get("failureReason")
    tracker = api.create_event_tracker(name=name, datasetGroupArn=group)["eventTrackerArn"]
    tracking = poll(lambda: api.describe_event_tracker(eventTrackerArn=tracker)["eventTracker"])["trackingId"]
    solution = api.create_solution(name=name, datasetGroupArn=group, recipeArn=UP, performAutoTraining=False)["solutionArn"]
    poll(lambda: api.describe_solution(solutionArn=solution)["solution"])
    started = time.monotonic()
    version = api.create_solution_version(solutionArn=solution)["solutionVersionArn"]
    trained = poll(lambda: api.describe_solution_version(solutionVersionArn=version)["solutionVersion"], timeout=1800)
    assert trained["status"] == "ACTIVE", trained.get("failureReason")
    train_seconds = time.monotonic() - started
    campaigns = []
    configs = [("plain", {"itemExplorationConfig": {"explorationWeight": "0"}}), ("exploring", {})][: 2 if exploring else 1]
    for suffix, config in configs:
        arn = api.create_campaign(name=f"{name}-{suffix}", solutionVersionArn=version, campaignConfig=config)["campaignArn"]
        poll(lambda arn=arn: api.describe_campaign(campaignArn=arn)["campaign"])
        campaigns.append(arn)

    model = Recipe.load(model_dir(data_dir, version))
    expected = _in_process(model, split)
    runtime = client("personalize-runtime", port)
    _stream(client("personalize-events", port), tracking, split)
    served, exploring = [], []
    for row in range(len(split.inputs)):
        answers = [runtime.get_recommendations(campaignArn=arn, userId=_user_id(split, row), numResults=MRR_CUTOFF)["itemList"]
                   for arn in campaigns]
        served.append([a["itemId"] for a in answers[0]])
        exploring.append([a["itemId"] for a in answers[-1]])
    cutoff = max(float(train.timestamp.max()), float(split.inputs.timestamps.max())) - 30 * SECONDS_PER_DAY
    young = _young_items(train, cutoff)
    same = np.mean([s == e for s, e in zip(served, expected, strict=True)])
    if same < 1.0:
        first = next(i for i, (s, e) in enumerate(zip(served, expected, strict=True)) if s != e)
        print(f"  served ≠ evaluated for {1 - same:.0%} of users; first: {_user_id(split, first)} "
              f"served {served[first][:8]} evaluated {expected[first][:8]}", file=sys.stderr)
    return ApiOutcome(
        served_model=_score(expected, split), served=_score(served, split), exploring=_score(exploring, split),
        identical=float(same),
        young_share=(_young_share(served, young), _young_share(exploring, young)), train_seconds=train_seconds,
    )


def _user_id(split: Split, row: int) -> str:
    """Held-out users are unknown to the server (absent from the import): they get ids of their own."""
    return f"heldout-{int(split.test_users[row])}"


def _in_process(model: Recipe, split: Split) -> list[list[str]]:
    """The offline evaluation's lists for the held-out inputs, from ``model`` (its own catalogue indices). The
    server's model knows only the imported users' items: as served, a history is its newest HISTORY_LIMIT events
    with the items the model does not know then left out."""
    train = split.train
    inputs = split.inputs.newest(HISTORY_LIMIT)
    position = model._indices(train.item_ids, keep_unknown=True)
    rows = [position[inputs.row(r)] for r in range(len(inputs))]
    types = model.event_types_
    codes = [np.searchsorted(types, train.event_types[inputs.types_row(r)]) for r in range(len(inputs))]
    times = [inputs.times_row(r) for r in range(len(inputs))]
    keep = [r >= 0 for r in rows]
    histories = Histories.from_lists([r[k] for r, k in zip(rows, keep, strict=True)],
                                     [c[k] for c, k in zip(codes, keep, strict=True)],
                                     [t[k] for t, k in zip(times, keep, strict=True)])
    top = model.recommend_batch(histories, num_results=MRR_CUTOFF)
    return [[str(model.item_ids_[i]) for i in row if i >= 0] for row in top]


def _stream(events: Any, tracking: str, split: Split) -> None:
    train = split.train
    for row in range(len(split.inputs)):
        user = _user_id(split, row)
        items = train.item_ids[split.inputs.row(row)]
        kinds = train.event_types[split.inputs.types_row(row)]
        times = split.inputs.times_row(row)
        batch = [{"eventType": str(kind), "itemId": str(item), "sentAt": float(when)}
                 for item, kind, when in zip(items, kinds, times, strict=True)]
        for start in range(0, len(batch), BATCH):
            events.put_events(trackingId=tracking, userId=user, sessionId=user, eventList=batch[start : start + BATCH])


def _score(lists: list[list[str]], split: Split) -> dict[str, float]:
    ids = split.train.item_ids
    recommended = np.full((len(lists), MRR_CUTOFF), -1, dtype=np.int64)
    for row, items in enumerate(lists):
        found = np.searchsorted(ids, np.asarray(items, dtype=str)) if items else np.zeros(0, np.int64)
        recommended[row, : len(found)] = found
    return compute_metrics(recommended, split.targets, split.train.n_items)


def _young_items(train: Any, cutoff: float) -> set[str]:
    """Items first seen after ``cutoff`` (no Items dataset: an item's age is its first interaction)."""
    first = np.full(train.n_items, np.inf)
    np.minimum.at(first, train.item_idx, train.timestamp.astype(np.float64))
    return set(train.item_ids[first >= cutoff].tolist())


def _young_share(lists: list[list[str]], young: set[str]) -> float:
    return float(np.mean([any(item in young for item in items) for items in lists]))
