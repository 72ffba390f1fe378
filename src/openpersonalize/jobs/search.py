"""HPO and AutoML inside a training job: choose hyperparameters or a recipe on a validation split.

Both search on a second split of the *training* users (spec §9.1's protocol applied again inside the 90 %),
so the metrics reported for the version stay an honest held-out measurement.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..evaluation.protocol import evaluate
from ..evaluation.split import split_users
from ..recipes import catalogue
from ..recipes.base import TrainingData
from ..recipes.registry import make_recipe, recipe_class
from .fanout import Fanout

if TYPE_CHECKING:  # optuna loads in the worker only when a solution asks for HPO
    import optuna

# Personalize's hpoObjective is not configurable; we maximise ranking quality at the cut-off users see most.
HPO_METRIC = "normalized_discounted_cumulative_gain_at_10"
AUTOML_DEFAULT_METRIC = "precision_at_25"
DEFAULT_TRIALS = 8
# Users held out of the training users to compare trials (or AutoML's recipes) on. Personalize's 10 % left
# ml-latest-small's HPO choosing on 55 users, where noise outweighed the differences between trials.
VALIDATION_FRACTION = 0.25
# Called after each trial (and once before the first): trials done, trials planned, best metric so far.
Report = Callable[[int, int, float | None], None]


def _no_report(done: int, total: int, best: float | None) -> None:
    """Searching without anyone watching (benchmarks, tests)."""


def automl_metric(config: dict[str, Any]) -> str:
    """The metric AutoML compares recipes by: autoMLConfig.metricName, or precision_at_25."""
    return str(config.get("autoMLConfig", {}).get("metricName") or AUTOML_DEFAULT_METRIC)


def task_of(recipe_arn: str) -> str:
    """The offline task a recipe is scored on (spec §9.1 item 4): rankers re-rank each user's relevant items among
    candidates, related-items recipes answer for the newest input item, the rest recommend for the user."""
    protocol = catalogue.recipe(recipe_arn).capabilities.evaluation
    return protocol if protocol in ("related", "ranking") else "user"


def _suggest(trial: "optuna.Trial", ranges: dict[str, list[dict[str, Any]]], accepted: set[str]) -> dict[str, str]:
    """One sample from the ranges, as wire strings; names the model ignores are not searched."""
    chosen: dict[str, str] = {}
    for entry in ranges.get("integerHyperParameterRanges", []):
        if entry["name"] in accepted:
            chosen[entry["name"]] = str(trial.suggest_int(entry["name"], int(entry["minValue"]), int(entry["maxValue"])))
    for entry in ranges.get("continuousHyperParameterRanges", []):
        if entry["name"] in accepted:
            value = trial.suggest_float(entry["name"], float(entry["minValue"]), float(entry["maxValue"]))
            chosen[entry["name"]] = repr(value)
    for entry in ranges.get("categoricalHyperParameterRanges", []):
        if entry["name"] in accepted:
            chosen[entry["name"]] = str(trial.suggest_categorical(entry["name"], list(entry["values"])))
    return chosen


def _defaults_within(ranges: dict[str, list[dict[str, Any]]], defaults: dict[str, Any], accepted: set[str]) -> dict[str, Any]:
    """The model's default of each searched name, as the sampler would suggest it, when the range holds it."""
    chosen: dict[str, Any] = {}
    for kind in ("integerHyperParameterRanges", "continuousHyperParameterRanges"):
        for entry in ranges.get(kind, []):
            value = defaults.get(entry["name"])
            if entry["name"] in accepted and isinstance(value, int | float) and not isinstance(value, bool) \
                    and float(entry["minValue"]) <= value <= float(entry["maxValue"]):
                chosen[entry["name"]] = value
    for entry in ranges.get("categoricalHyperParameterRanges", []):
        value = defaults.get(entry["name"])
        wire = str(value).lower() if isinstance(value, bool) else str(value)
        if entry["name"] in accepted and wire in entry["values"]:
            chosen[entry["name"]] = wire
    return chosen


@dataclass(frozen=True)
class Trials:
    """What every trial of one search shares (put once in Ray's object store when trials run there)."""

    recipe_arn: str
    featurization: dict[str, str]
    inner: Any  # evaluation.split.Split of the training users
    task: str
    seed: int


def trial_score(trials: Trials, chosen: dict[str, str]) -> float:
    """One HPO trial: the recipe with ``chosen`` hyperparameters, fitted and scored on the inner split."""
    typed = catalogue.validate_hyperparameters(trials.recipe_arn, chosen, trials.featurization, allow_hpo_only=True)
    given = {k: v for k, v in typed.items() if k in chosen or k in trials.featurization}
    recipe = make_recipe(trials.recipe_arn, given, seed=trials.seed)
    return float(evaluate(recipe, trials.inner, task=trials.task).metrics[HPO_METRIC])


def tune(
    recipe_arn: str,
    config: dict[str, Any],
    train: TrainingData,
    *,
    seed: int,
    check_stop: Callable[[], None],
    report: Report = _no_report,
    fanout: Fanout = Fanout(),
) -> dict[str, str]:
    """Best algorithmHyperParameters (wire strings) over ``maxNumberOfTrainingJobs`` trials (TPE).

    Trials run in waves of ``fanout.width`` (1 in this process: ask, fit, tell, one after another; a Ray cluster's
    CPUs otherwise), each wave suggested from the trials finished before it. TPE's first 10 trials are seeded random
    draws whatever the waves, so up to 10 trials choose the same as in this process."""
    hpo = config.get("hpoConfig", {})
    ranges = hpo.get("algorithmHyperParameterRanges") or catalogue.hpo_ranges(recipe_arn)
    trials = int(hpo.get("hpoResourceConfig", {}).get("maxNumberOfTrainingJobs", DEFAULT_TRIALS))
    fixed = config.get("algorithmHyperParameters", {})
    shared = Trials(recipe_arn, config.get("featureTransformationParameters", {}),
                    split_users(train, seed=seed + 1, test_fraction=VALIDATION_FRACTION), task_of(recipe_arn), seed)
    accepted = set(recipe_class(recipe_arn).param_names())

    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=seed))
    # The first trial is the model's own defaults (where the ranges allow them), tuned here on the benchmarks: the
    # search then never picks something its validation users rate below the untuned model.
    study.enqueue_trial(_defaults_within(ranges, recipe_class(recipe_arn)().get_params(), accepted), skip_if_exists=True)
    report(0, trials, None)
    width, done = fanout.width, 0
    while done < trials:  # (study.trials also lists the enqueued trial before it is asked for)
        check_stop()
        wave = [study.ask() for _ in range(min(width, trials - done))]
        chosen = [{**fixed, **_suggest(trial, ranges, accepted)} for trial in wave]
        for trial, score in zip(wave, fanout.map(trial_score, shared, chosen), strict=True):
            study.tell(trial, score)
        done += len(wave)
        report(done, trials, study.best_value)
    best = {**fixed, **{k: _wire(v) for k, v in study.best_params.items()}}
    return best


def _wire(value: Any) -> str:
    return repr(value) if isinstance(value, float) else str(value)


def candidate_score(shared: tuple[Any, str, int], arn: str) -> float:
    """One AutoML candidate: the recipe with its defaults, fitted and scored on the inner split."""
    inner, metric, seed = shared
    recipe = make_recipe(arn, {}, seed=seed)
    return float(evaluate(recipe, inner, task=task_of(arn)).metrics.get(metric, 0.0))


def pick_recipe(config: dict[str, Any], train: TrainingData, *, seed: int, check_stop: Callable[[], None],
                report: Report = _no_report, fanout: Fanout = Fanout()) -> str:
    """AutoML: the recipe of ``autoMLConfig.recipeList`` with the best validation metric (the candidates at once
    on a Ray cluster)."""
    recipes = config.get("autoMLConfig", {}).get("recipeList", [])
    shared = (split_users(train, seed=seed + 1, test_fraction=VALIDATION_FRACTION), automl_metric(config), seed)
    scores: dict[str, float] = {}
    report(0, len(recipes), None)
    for start in range(0, len(recipes), fanout.width):
        check_stop()
        wave = recipes[start : start + fanout.width]
        scores.update(zip(wave, fanout.map(candidate_score, shared, wave), strict=True))
        report(len(scores), len(recipes), max(scores.values()))
    return max(scores, key=lambda arn: scores[arn])
