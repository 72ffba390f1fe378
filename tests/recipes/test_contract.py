"""The contract every recipe keeps (STYLE.md habits 8–17), run over all of them on planted data."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest

from openpersonalize.evaluation.protocol import evaluate
from openpersonalize.evaluation.split import Split, split_users
from baselines.ease import EASE
from baselines.item_knn import ItemKNN
from baselines.sasrec import SASRec
from openpersonalize.recipes.als import ImplicitALS
from openpersonalize.recipes.base import InvalidParameterError, NotFittedError, Recipe, TrainingData, clone
from openpersonalize.recipes.popularity import PopularityCount
from openpersonalize.recipes.registry import RECORDS
from openpersonalize.recipes.semantic import SemanticSimilarity
from openpersonalize.recipes.sequential import SequentialLinear
from openpersonalize.recipes.similar_items import SimilarItems
from openpersonalize.recipes.sims import SIMS
from openpersonalize.recipes.trending import TrendingNow
from openpersonalize.recipes.user_personalization import UserPersonalization

from ._synthetic import planted, with_item_metadata

# Small, fast settings; each entry: (recipe, task it is judged on, quality floor: must beat popularity).
CASES: dict[str, tuple[Recipe, str, bool]] = {
    "popularity": (PopularityCount(), "user", False),
    "sims": (SIMS(min_cointeraction_count=1), "related", True),
    "item-knn": (ItemKNN(), "user", True),
    "ease": (EASE(l2=10.0), "user", True),
    "ials": (ImplicitALS(factors=16, iterations=5, random_seed=1), "user", True),
    "sequential": (SequentialLinear(l2=10.0), "user", True),
    "user-personalization": (UserPersonalization(l2=10.0, random_seed=1), "user", True),
    "sasrec": (
        SASRec(hidden_dimension=32, num_blocks=1, max_history_length=16, epochs=8, learning_rate=1e-2, random_seed=1),
        "user",
        True,
    ),
    # Trending-Now is judged on trend_prediction_accuracy (tests/recipes/test_trending.py), not on users.
    "trending-now": (TrendingNow(trend_discovery_frequency="1 hour", lookback_windows=4), "user", False),
    "similar-items": (SimilarItems(item_id_hidden_dim=30, item_metadata_hidden_dim=30, min_cointeraction_count=1), "related", True),
    "semantic-similarity": (SemanticSimilarity(), "related", True),
}
NAMES = list(CASES)


@pytest.fixture(scope="module")
def data() -> TrainingData:
    return with_item_metadata(planted())  # metadata-based recipes need it; the others ignore it


@pytest.fixture(scope="module")
def split(data: TrainingData) -> Split:
    return split_users(data, seed=0)


@pytest.fixture(scope="module")
def fitted(split: Split) -> dict[str, tuple[Recipe, dict[str, float]]]:
    """Every recipe fitted once on the split's training users, with its protocol metrics."""
    out = {}
    for name, (recipe, task, _) in CASES.items():
        model = clone(recipe)
        out[name] = (model, evaluate(model, split, task=task).metrics)
    out["popularity (related)"] = (PopularityCount(), evaluate(PopularityCount(), split, task="related").metrics)
    return out


# Protocols whose models recommend items from a history: the ones this suite knows how to drive.
ITEM_PROTOCOLS = {"user", "ranking", "related", "trending"}


def test_every_item_recipe_is_covered() -> None:
    """Every model class a recipe record trains items with has a case here."""
    trained = {r.model for r in RECORDS.values() if r.model is not None and r.capabilities.evaluation in ITEM_PROTOCOLS}
    assert trained <= {type(recipe) for recipe, _, _ in CASES.values()}


@pytest.mark.parametrize("name", NAMES)
def test_params_stored_unchanged_and_cloned(name: str) -> None:
    recipe = CASES[name][0]
    params = recipe.get_params()
    assert clone(recipe).get_params() == params
    assert type(recipe)(**params).get_params() == params
    assert all(not k.endswith("_") for k in vars(type(recipe)(**params)))  # no learned state in __init__


@pytest.mark.parametrize("name", NAMES)
def test_query_before_fit_raises(name: str) -> None:
    with pytest.raises(NotFittedError, match="not fitted yet"):
        clone(CASES[name][0]).recommend(["i1"])


@pytest.mark.parametrize("name", [n for n in NAMES if CASES[n][0]._parameter_constraints])
def test_invalid_hyperparameter_named_in_error(name: str, data: TrainingData) -> None:
    recipe = clone(CASES[name][0])
    param = next(iter(recipe._parameter_constraints))
    recipe.set_params(**{param: "not-a-number"})
    with pytest.raises(InvalidParameterError, match=f"The '{param}' parameter of {type(recipe).__name__} must be"):
        recipe.fit(data)


@pytest.mark.parametrize("name", [n for n in NAMES if CASES[n][2]])
def test_quality_floor_above_popularity(name: str, fitted: dict[str, tuple[Recipe, dict[str, float]]]) -> None:
    key = "normalized_discounted_cumulative_gain_at_10"
    task = CASES[name][1]
    baseline = fitted["popularity" if task == "user" else "popularity (related)"][1][key]
    assert fitted[name][1][key] > baseline + 0.05, (fitted[name][1][key], baseline)


@pytest.mark.parametrize("name", NAMES)
def test_save_load_round_trip(name: str, fitted: dict, tmp_path: Path, data: TrainingData) -> None:
    model = fitted[name][0]
    model.save(tmp_path / "model")
    loaded = Recipe.load(tmp_path / "model")
    assert type(loaded) is type(model) and loaded.get_params() == model.get_params()
    history = list(data.item_ids[[3, 4, 5]])
    for a, b in zip(model.recommend(history, num_results=10), loaded.recommend(history, num_results=10), strict=True):
        np.testing.assert_array_equal(a, b)
    with np.load(tmp_path / "model" / "arrays.npz", allow_pickle=False) as arrays:
        assert arrays.files  # plain arrays, loadable without pickle


@pytest.mark.parametrize("name", NAMES)
def test_deterministic_with_seed(name: str, fitted: dict, split: Split, data: TrainingData) -> None:
    again = clone(fitted[name][0]).fit(split.train)
    history = list(data.item_ids[[10, 11, 12]])
    np.testing.assert_array_equal(again.recommend(history)[0], fitted[name][0].recommend(history)[0])


@pytest.mark.parametrize("name", NAMES)
def test_exclusions_candidates_and_rank(name: str, fitted: dict, data: TrainingData) -> None:
    model = fitted[name][0]
    history = list(data.item_ids[[0, 1, 2]])
    top, scores = model.recommend(history, num_results=10)
    assert len(top) == 10 and len(set(top)) == 10 and (np.diff(scores) <= 1e-9).all()
    excluded, _ = model.recommend(history, num_results=10, exclude_item_ids=list(top[:5]))
    assert not set(top[:5]) & set(excluded)
    allowed = list(data.item_ids[20:30])
    restricted, _ = model.recommend(history, num_results=25, candidate_item_ids=allowed)
    assert set(restricted) <= set(allowed)
    ranked, rank_scores = model.rank(history, [*allowed, "unknown-item"])
    assert sorted(ranked) == sorted([*allowed, "unknown-item"]) and ranked[-1] == "unknown-item"
    assert rank_scores[-1] == 0.0


@pytest.mark.parametrize("name", NAMES)
def test_unknown_user_history_and_batch_agree(name: str, fitted: dict, split: Split) -> None:
    model = fitted[name][0]
    cold, _ = model.recommend(["never-seen-item"], num_results=5)
    assert len(cold) == 5  # an unknown history is served (popular items), not an error
    batch = model.recommend_batch(split.inputs.slice(0, 3), num_results=5)
    for row in range(3):
        ids = model.item_ids_[split.inputs.row(row)]
        types = model.event_types_[split.inputs.types_row(row)]
        times = split.inputs.times_row(row)  # the same history: the repeat model reads the clock too
        single, _ = model.recommend(list(ids), history_event_types=list(types), history_timestamps=list(times), num_results=5)
        np.testing.assert_array_equal(model.item_ids_[batch[row]], single)


@pytest.mark.parametrize("name", NAMES)
def test_pickles_for_process_pools(name: str, fitted: dict, data: TrainingData) -> None:
    model = fitted[name][0]
    history = list(data.item_ids[[7, 8]])
    restored = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(restored.recommend(history)[0], model.recommend(history)[0])


def test_ranking_task_restricts_to_the_list(fitted: dict, split: Split) -> None:
    model = fitted["user-personalization"][0]
    ranked = evaluate(clone(model), split, task="ranking").metrics
    popular = evaluate(PopularityCount(), split, task="ranking").metrics
    key = "normalized_discounted_cumulative_gain_at_10"
    assert ranked[key] > popular[key] + 0.05
