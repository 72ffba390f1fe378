"""The "train" job: data → minimum checks → fit → Personalize's offline metrics → saved model.

The deployed model is the one the metrics describe: it is fitted on the 90 % of users the protocol trains
on (spec §9.1), and the held-out users are served from their histories like any visitor whose events
arrive by PutEvents. Fitting once keeps training in seconds and makes the reported metrics exact.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any

import numpy as np
import polars as pl

from ..statuses import CREATE_STOPPED, CREATE_STOPPING
from ..services import Services
from ..data.metadata import Record
from ..data.schema import TRAINING_COLUMNS, Schema, parse_schema
from ..evaluation.actions import evaluate_actions
from ..evaluation.protocol import Evaluation, evaluate
from ..evaluation.segments import attribute_items, evaluate_segments
from ..evaluation import trends
from ..evaluation.split import split_users
from ..recipes import catalogue
from ..recipes._actions import ActionTrainingData
from ..recipes.base import Recipe, TrainingData, fit_progress
from ..recipes.registry import make_recipe
from . import search
from .base import JobFailed, Progress, no_progress
from .fanout import Fanout

log = logging.getLogger("openpersonalize.training")
BASELINE_RECIPE = "arn:aws:personalize:::recipe/aws-popularity-count"
SEED = 0  # evaluation split and model initialisation: reproducible versions (issue 3)
FITTING = "fitting and evaluating"
# Where each phase starts in the fraction done, and the share its steps (trials, epochs) advance through: rough
# shares of a training's wall time, in the order the phases run, so the fraction only moves forward.
PHASE_START = {"loading data": 0.0, "preparing": 0.05, "AutoML": 0.05, "HPO": 0.15, FITTING: 0.3, "saving the model": 0.95}
PHASE_SHARE = {"AutoML": 0.1, "HPO": 0.15, FITTING: 0.65}
MIN_INTERACTIONS = 1000  # spec §4.8
MIN_USERS_WITH_TWO = 25
MIN_SHARE_WITH_TWO = 0.01
_FIELD_LABELS = {"item_name": "an itemName field", "textual": "a textual field"}
_ROLES = (("item_name", "item_name"), ("textual", "textual"), ("categorical", "categorical"))


class Stopped(Exception):
    """StopSolutionVersionCreation was called while training."""


@dataclass
class Frames:
    interactions: pl.DataFrame
    items: pl.DataFrame | None
    users: pl.DataFrame | None
    actions: pl.DataFrame | None = None
    action_interactions: pl.DataFrame | None = None
    schemas: dict[str, Schema] = field(default_factory=dict)  # dataset type → schema, of the frames read


def _check_stop(services: Services, arn: str) -> None:
    record = services.store.get(arn, "solution-version")
    if record is None or record.status in (CREATE_STOPPING, CREATE_STOPPED):
        raise Stopped


class Phases:
    """Training progress (issue 3), logged and reported as the job's stage: phase, detail, step of steps where
    known, the last epoch of epochs and validation score (kept once fitting ends), and the wall-clock start.
    GET /progress/<arn> (control/progress.py) and ``openpersonalize progress`` show it."""

    def __init__(self, progress: Progress, arn: str) -> None:
        self.progress, self.arn = progress, arn
        self.started, self.wall_started = time.monotonic(), time.time()
        self.phase = ""
        self.fit: dict[str, float | int | None] = {}  # the last epoch report: epoch, epochs, validationScore
        self.curve: list[list[float]] = []  # [epoch, validation score] of every epoch that had one (the console's chart)

    def __call__(self, phase: str, detail: str = "", step: int | None = None, steps: int | None = None) -> None:
        text = f"{phase}: {detail}" if detail else phase
        # Phase changes and a phase's last step on info; the steps between (epochs, trials) on debug.
        level = logging.INFO if phase != self.phase or step == steps else logging.DEBUG
        log.log(level, "training %s: %s (%.1f s)", self.arn, text, time.monotonic() - self.started)
        self.phase = phase
        stage = {"phase": phase, "detail": detail, "step": step, "steps": steps, "started": self.wall_started, **self.fit,
                 "curve": self.curve}
        self.progress(_fraction(phase, step, steps), stage)

    def searching(self, phase: str, noun: str, metric: str) -> Callable[[int, int, float | None], None]:
        """A reporter for jobs/search.py: ``done`` of ``total`` trials (or recipes) and the best metric so far."""

        def report(done: int, total: int, best: float | None) -> None:
            so_far = f", best {metric} so far {best:.4f}" if best is not None else ""
            self(phase, f"{done} of {total} {noun} done{so_far}", done, total)

        return report

    def epoch(self, epoch: int, epochs: int, validation: float | None) -> None:
        """Fit progress of iterative recipes (recipes/base.report_epoch): epochs may stop early."""
        score = f", validation score {validation:.4f}" if validation is not None else ""
        self.fit = {"epoch": epoch, "epochs": epochs, "validationScore": validation}
        if validation is not None:
            self.curve = [*self.curve, [epoch, round(float(validation), 5)]]
        self(FITTING, f"epoch {epoch} of at most {epochs}{score}", epoch, epochs)


def _fraction(phase: str, step: int | None, steps: int | None) -> float:
    """The phase's start, plus its share times the part of its steps done."""
    done = step / steps if step is not None and steps else 0.0
    return PHASE_START.get(phase, 0.0) + PHASE_SHARE.get(phase, 0.0) * min(done, 1.0)


def train(services: Services, version: Record, progress: Progress = no_progress) -> dict[str, Any]:
    """Fit and evaluate; returns the version's new fields. Raises JobFailed with a user-facing reason."""
    phase = Phases(progress, version.arn)
    phase("loading data")
    body = version.body
    config = body.get("solutionConfig", {})
    interactions_needed = "INTERACTIONS" in catalogue.recipe(body["recipeArn"]).needs.datasets  # spec §4.8
    frames = _load(services, body["datasetGroupArn"], config.get("trainingDataConfig", {}),
                   need_interactions=interactions_needed)
    interactions = _select_events(frames.interactions, body.get("eventType"), config)
    check_recipe_data(body["recipeArn"], frames, interactions, relaxed=services.settings.relaxed_minimums)
    if not services.settings.relaxed_minimums and interactions_needed:
        check_minimums(interactions)
    data = TrainingData.from_frames(interactions, frames.items, frames.users, item_roles=item_roles(frames.schemas.get("ITEMS")))
    split = split_users(data, seed=SEED)
    phase("preparing", f"{data.n_interactions} interactions of {data.n_users} users and {data.n_items} items; split for evaluation")
    stop = partial(_check_stop, services, version.arn)
    changes: dict[str, Any] = {}
    recipe_arn = body["recipeArn"]
    fanout = Fanout.of(services.settings)
    if body.get("performAutoML"):
        report = phase.searching("AutoML", "recipes of autoMLConfig.recipeList", search.automl_metric(config))
        recipe_arn = search.pick_recipe(config, split.train, seed=SEED, check_stop=stop, report=report, fanout=fanout)
        changes["recipeArn"] = recipe_arn
        services.store.update(body["solutionArn"], {"autoMLResult": {"bestRecipeArn": recipe_arn}})
    algorithm = config.get("algorithmHyperParameters", {})
    featurization = config.get("featureTransformationParameters", {})
    check_memory(services.settings.training_memory, _recipe(recipe_arn, algorithm, featurization), data, frames)
    if body.get("performHPO"):
        report = phase.searching("HPO", "trials on a validation split", search.HPO_METRIC)
        algorithm = search.tune(recipe_arn, config, split.train, seed=SEED, check_stop=stop, report=report, fanout=fanout)
        changes["tunedHPOParams"] = {"algorithmHyperParameters": algorithm}
    recipe = _recipe(recipe_arn, algorithm, featurization)
    if body.get("performHPO"):  # the tuned hyperparameters may need more than the defaults checked above
        check_memory(services.settings.training_memory, recipe, data, frames)
    stop()
    phase(FITTING)
    with fit_progress(phase.epoch):
        evaluation = _evaluate(recipe_arn, recipe, data, frames, split)
    stop()
    phase("saving the model")
    with services.data.artifacts.publishing(version.arn) as folder:
        recipe.save(folder)
    changes["_metrics"] = {k: round(float(v), 4) for k, v in evaluation.metrics.items()}
    if _has_baseline(recipe_arn):
        baseline = evaluate(make_recipe(BASELINE_RECIPE, {}, seed=SEED), split, task="user")
        changes["_baseline"] = {k: round(float(v), 4) for k, v in baseline.metrics.items()}
    return changes


def _has_baseline(recipe_arn: str) -> bool:
    """Whether the version's metrics get Popularity-Count's on the same split beside them (the console draws both,
    issue 12): recipes evaluated on held-out users' next items, other than Popularity-Count itself. It costs one
    count over the training interactions and one batch of top-25 lists."""
    record = catalogue.recipe(recipe_arn)
    return recipe_arn != BASELINE_RECIPE and record.capabilities.evaluation == "user" and search.task_of(recipe_arn) == "user"


def check_memory(budget: int | None, recipe: Recipe, data: TrainingData, frames: Frames) -> None:
    """Fail before fitting when the fit's estimated peak (``Recipe.fit_memory``, plus the frames the job holds) is
    above OPENPERSONALIZE_TRAINING_MEMORY: a clear reason now instead of the kernel's OOM killer later (issue 15)."""
    if budget is None:
        return
    held = sum(frame.estimated_size() for frame in (frames.interactions, frames.items, frames.users) if frame is not None)
    needed = recipe.fit_memory(data) + held
    if needed > budget:
        raise JobFailed(
            f"Create failed. Training {type(recipe).__name__} on {data.n_interactions:,} interactions of "
            f"{data.n_users:,} users and {data.n_items:,} items needs an estimated {_size(needed)} of memory at its "
            f"peak, above the training memory budget of {_size(budget)} (OPENPERSONALIZE_TRAINING_MEMORY). Raise the "
            "budget, or train on fewer interactions (eventType, eventValueThreshold, trainingDataConfig).")


def _size(count: int) -> str:
    return f"{count / 2**30:.1f} GiB" if count >= 2**30 else f"{count / 2**20:.0f} MiB"


def _evaluate(recipe_arn: str, recipe: Recipe, data: TrainingData, frames: Frames, split: Any) -> Evaluation:
    """Personalize's protocol for the recipe type (spec §9.1): per-user 80/20 for USER_SEGMENTATION, held-out
    action users for PERSONALIZED_ACTIONS, held-out users otherwise."""
    protocol = catalogue.recipe(recipe_arn).capabilities.evaluation
    try:
        if protocol == "attribute-segments":
            schema = frames.schemas.get("ITEMS")
            return evaluate_segments(recipe, replace(data, items=attribute_items(data.items, schema)), task="attributes",
                                     seed=SEED, query_columns=segment_query_columns(schema))
        if protocol == "item-segments":
            return evaluate_segments(recipe, data, task="items", seed=SEED)
        if protocol == "actions":  # the Actions dataset is there (check_recipe_data, from the record's needs)
            actions = ActionTrainingData.attach(data, frames.actions, frames.action_interactions)
            return evaluate_actions(recipe, actions, seed=SEED)  # type: ignore[arg-type]
    except ValueError as err:  # data the recipe cannot train on (spec §4.8 minimums)
        raise JobFailed(f"Create failed. {err}") from None
    evaluation = evaluate(recipe, split, task=search.task_of(recipe_arn))
    if protocol == "trending":  # spec §9.2: Trending-Now's own metric, on the latest windows
        accuracy = trends.trend_prediction_accuracy(recipe, data, window_seconds=recipe.window_seconds)  # type: ignore[attr-defined]
        return replace(evaluation, metrics={**evaluation.metrics, trends.METRIC_KEY: accuracy})
    return evaluation


def _recipe(recipe_arn: str, algorithm: dict[str, str], featurization: dict[str, str]) -> Recipe:
    typed = catalogue.validate_hyperparameters(recipe_arn, algorithm, featurization, allow_hpo_only=True)
    # Only what the caller (or HPO) chose overrides the model's own defaults (tuned here, not AWS's).
    given = {**algorithm, **featurization}
    return make_recipe(recipe_arn, {k: v for k, v in typed.items() if k in given}, seed=SEED)


def _load(services: Services, group_arn: str, columns: dict[str, Any], *, need_interactions: bool = True) -> Frames:
    datasets = {d.body["datasetType"]: d for d in services.store.list("dataset", parent=group_arn)}
    if "INTERACTIONS" not in datasets and need_interactions:
        raise JobFailed("Create failed. The dataset group has no Interactions dataset.")

    frames_schemas: dict[str, Schema] = {}

    def read(dataset_type: str) -> pl.DataFrame | None:
        record = datasets.get(dataset_type)
        if record is None:
            return None
        schema_record = services.store.get(record.body["schemaArn"], "schema")
        if schema_record is None:
            raise JobFailed(f"Create failed. The schema of the {dataset_type} dataset no longer exists.")
        schema = frames_schemas[dataset_type] = parse_schema(schema_record.body["schema"])
        frame = services.data.read_dataset(record.arn, schema, "ALL")
        return _columns(frame, dataset_type, columns)

    interactions = read("INTERACTIONS")
    if interactions is None:  # only when not needed (checked above)
        interactions = pl.DataFrame(schema={"USER_ID": pl.String, "ITEM_ID": pl.String, "TIMESTAMP": pl.Int64})
    return Frames(interactions, read("ITEMS"), read("USERS"), read("ACTIONS"), read("ACTION_INTERACTIONS"), frames_schemas)


def _columns(frame: pl.DataFrame, dataset_type: str, config: dict[str, Any]) -> pl.DataFrame:
    """trainingDataConfig: drop excluded columns, or keep only included ones (ids and reserved stay)."""
    excluded = {c for k, cols in config.get("excludedDatasetColumns", {}).items() if k.upper() == dataset_type for c in cols}
    included = {c for k, cols in config.get("includedDatasetColumns", {}).items() if k.upper() == dataset_type for c in cols}
    names = [c for c in frame.columns if c in TRAINING_COLUMNS or (c not in excluded and (not included or c in included))]
    return frame.select(names)


def _select_events(frame: pl.DataFrame, event_type: str | None, config: dict[str, Any]) -> pl.DataFrame:
    """eventType, eventValueThreshold and eventsConfig (spec §5.3) choose the training interactions."""
    has_type = "EVENT_TYPE" in frame.columns
    if event_type is not None:
        if not has_type:
            raise JobFailed(f"Create failed. eventType {event_type!r} was given but the Interactions dataset has no EVENT_TYPE column.")
        frame = frame.filter(pl.col("EVENT_TYPE") == event_type)
        if frame.height == 0:
            raise JobFailed(f"Create failed. The Interactions dataset has no events of type {event_type!r}.")
    if "eventValueThreshold" in config:
        frame = _above(frame, float(config["eventValueThreshold"]))
    events = config.get("eventsConfig", {}).get("eventParametersList", [])
    if events and has_type:
        parts = []
        for item in events:
            part = frame.filter(pl.col("EVENT_TYPE") == item["eventType"])
            if "eventValueThreshold" in item:
                part = _above(part, float(item["eventValueThreshold"]))
            parts.append(part)
        frame = pl.concat(parts)
    return frame


def _above(frame: pl.DataFrame, threshold: float) -> pl.DataFrame:
    if "EVENT_VALUE" not in frame.columns:
        raise JobFailed("Create failed. eventValueThreshold was given but the Interactions dataset has no EVENT_VALUE column.")
    return frame.filter(pl.col("EVENT_VALUE") >= threshold)


def check_minimums(interactions: pl.DataFrame) -> None:
    """Personalize's minimum data (spec §4.8); OPENPERSONALIZE_RELAXED_MINIMUMS=1 skips it for fixtures."""
    n = interactions.height
    if n < MIN_INTERACTIONS:
        raise JobFailed(f"Create failed. Training needs at least {MIN_INTERACTIONS} interactions, found {n}.")
    counts = interactions.group_by("USER_ID").len()["len"].to_numpy()
    with_two = int(np.count_nonzero(counts >= 2))
    if with_two < MIN_USERS_WITH_TWO:
        raise JobFailed(
            f"Create failed. Dataset has fewer than {MIN_USERS_WITH_TWO} users with at least 2 interactions each (found {with_two})."
        )
    if with_two < MIN_SHARE_WITH_TWO * len(counts):
        raise JobFailed(
            f"Create failed. Fewer than 1% of users have at least 2 interactions ({with_two} of {len(counts)})."
        )


def item_roles(schema: Schema | None) -> dict[str, str] | None:
    """Items column → role for the recipes (spec §4.1): itemName, textual, categorical, or numeric types."""
    if schema is None:
        return None
    roles = {}
    for f in schema.fields:
        role = next((r for attr, r in _ROLES if getattr(f, attr)), None)
        if role is None and f.type in ("int", "long", "float", "double"):
            role = "numeric"
        if role is not None and f.name != "ITEM_ID":
            roles[f.name] = role
    return roles


def segment_query_columns(schema: Schema | None) -> list[str] | None:
    """The Items columns attribute segments are judged on: those Personalize trains on, categorical and numeric
    (spec §4.4: a plain string such as a title is kept for filters and display only; an attribute per title
    would turn genre segments into item segments). None without a schema: every column."""
    roles = item_roles(schema)
    return None if roles is None else [c for c, role in roles.items() if role in ("categorical", "numeric")]


def check_recipe_data(recipe_arn: str, frames: Frames, interactions: pl.DataFrame, *, relaxed: bool) -> None:
    """Per-recipe data requirements of spec §4.8 (Semantic-Similarity's Items fields are never relaxed)."""
    record = catalogue.recipe(recipe_arn)
    needs, title = record.needs, record.title
    present = {"INTERACTIONS": frames.interactions, "ITEMS": frames.items, "USERS": frames.users,
               "ACTIONS": frames.actions}
    for kind in needs.datasets:
        if present.get(kind) is None:
            raise JobFailed(f"Create failed. {title} needs an {kind.title()} dataset in the dataset group; it has none.")
    items = frames.schemas.get("ITEMS")
    for attr in needs.item_fields:
        if items is not None and not any(getattr(f, attr) for f in items.fields):
            raise JobFailed(f"Create failed. {title} needs {_FIELD_LABELS[attr]} in the Items schema; it has none.")
    for kind in needs.datasets:  # e.g. its import failed: a model without that data would answer nonsense
        if present[kind].height == 0:  # type: ignore[union-attr]  # None was refused above
            raise JobFailed(f"Create failed. {title} needs {kind.title()} data; the {kind.title()} dataset has no rows. "
                            "Import it first.")
    minimum = needs.min_unique_interactions
    if minimum and not relaxed:
        unique = interactions.select("USER_ID", "ITEM_ID", "TIMESTAMP").unique().height
        if unique < minimum:
            raise JobFailed(f"Create failed. Recipe {record.name} needs at least {minimum} unique interactions, found {unique}.")
