"""Similar-Items: metadata features, cold items served from metadata, quality over SIMS, and the API."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import polars as pl
import pytest

from openpersonalize.demo.generator import generate_vod
from openpersonalize.recipes.metrics import metric_keys
from openpersonalize.evaluation.protocol import evaluate
from openpersonalize.evaluation.split import split_users
from openpersonalize.recipes._item_features import item_roles, metadata_matrix
from openpersonalize.recipes.base import TrainingData
from openpersonalize.recipes.popularity import PopularityCount
from openpersonalize.recipes.sims import SIMS
from openpersonalize.recipes.similar_items import SimilarItems

from ._api import group_with, metrics_of, train
from ._synthetic import planted, with_item_metadata

NDCG = "normalized_discounted_cumulative_gain_at_10"
VOD_ROLES = {"TITLE": "item_name", "GENRES": "categorical", "DESCRIPTION": "textual", "CREATION_TIMESTAMP": "numeric"}


def with_cold_items(data: TrainingData, n_cold: int = 12) -> TrainingData:
    """``data`` plus ``n_cold`` catalogue items (2 per theme) that nobody interacted with."""
    extra = pl.DataFrame({
        "ITEM_ID": [f"cold{k}" for k in range(n_cold)],
        "GENRE": [g for g in ("Space", "Cooking", "Football", "Romance", "Detective", "Fantasy") for _ in range(2)],
    }).with_columns(TITLE=pl.col("GENRE") + " story, new", DESCRIPTION=pl.lit("Just added."))
    assert data.items is not None
    frame = pl.DataFrame({"USER_ID": data.user_ids[data.user_idx], "ITEM_ID": data.item_ids[data.item_idx],
                          "TIMESTAMP": data.timestamp})
    return TrainingData.from_frames(frame, pl.concat([data.items, extra]), item_roles=data.item_roles)


def test_metadata_matrix_uses_schema_roles_only() -> None:
    data = with_item_metadata(planted(n_users=60))
    matrix = metadata_matrix(data)
    assert matrix.shape[0] == data.n_items and matrix.nnz > 0
    np.testing.assert_allclose(np.sqrt(matrix.multiply(matrix).sum(axis=1)), 1.0, rtol=1e-5)
    # Without a schema, a string column is not a feature (spec §4.1: not used for training).
    assert item_roles(replace(data, item_roles=None)) == {}
    assert metadata_matrix(replace(data, item_roles=None)).shape == (data.n_items, 0)


def test_multi_valued_categorical_and_numeric_bins_make_items_similar() -> None:
    items = pl.DataFrame({"ITEM_ID": ["a", "b", "c"], "GENRES": ["Drama|Crime", "crime", "Comedy"],
                          "PRICE": [10.0, 11.0, 500.0]})
    frame = pl.DataFrame({"USER_ID": ["u"], "ITEM_ID": ["a"], "TIMESTAMP": [1]})
    data = TrainingData.from_frames(frame, items, item_roles={"GENRES": "categorical", "PRICE": "numeric"})
    matrix = metadata_matrix(data).toarray()
    similarity = matrix @ matrix.T
    assert similarity[0, 1] > similarity[0, 2] and similarity[1, 2] < similarity[0, 1]


def test_cold_items_get_related_items_from_metadata_and_are_recommended() -> None:
    data = with_cold_items(with_item_metadata(planted()))
    model = SimilarItems(item_id_hidden_dim=30, item_metadata_hidden_dim=30, min_cointeraction_count=1).fit(data)
    related, scores = model.similar_items("cold4", num_results=10)  # a Football item nobody touched
    football = {f"i{i}" for i in range(24, 36)} | {"cold5"}
    assert len(set(related) & football) >= 8 and (scores > 0).all()
    # Warm Football items can now lead to the cold ones too: they are in the catalogue and servable.
    assert "cold4" in model.similar_items("i25", num_results=25)[0]
    # SIMS knows nothing about a cold item: it falls back to popularity.
    sims = SIMS(min_cointeraction_count=1).fit(data)
    assert len(set(sims.similar_items("cold4", num_results=10)[0]) & football) <= 4
    unknown, _ = model.similar_items("not-in-catalogue", num_results=5)
    assert len(unknown) == 5


def test_beats_sims_and_popularity_on_planted_vod_data() -> None:
    generated = generate_vod(users=300, items=200, interactions=6000, seed=3)
    data = TrainingData.from_frames(generated.interactions, generated.items, item_roles=VOD_ROLES)
    split = split_users(data, seed=0)
    scores = {name: evaluate(recipe, split, task="related").metrics[NDCG]
              for name, recipe in (("similar", SimilarItems()), ("sims", SIMS()), ("popularity", PopularityCount()))}
    # Scored as served, without the query item itself: metadata adds little where every item is warm (the cold
    # items are the test above), so the margin over SIMS is small; both are far above popularity.
    assert scores["similar"] > scores["sims"] > 3 * scores["popularity"], scores


@pytest.mark.parametrize("param", ["item_metadata_hidden_dim", "metadata_weight", "cold_interactions"])
def test_own_hyperparameters_are_checked(param: str) -> None:
    with pytest.raises(ValueError, match=f"The '{param}' parameter of SimilarItems must be"):
        SimilarItems(**{param: -1}).fit(with_item_metadata(planted(n_users=30)))


# ---- through the API --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def vod_group(personalize: Any, tmp_path_factory: pytest.TempPathFactory) -> str:
    data = generate_vod(users=300, items=200, interactions=6000, seed=3)
    return group_with(personalize, data, tmp_path_factory.mktemp("similar"), ("INTERACTIONS", "ITEMS"))


def test_train_similar_items_through_the_api(personalize: Any, vod_group: str) -> None:
    similar = metrics_of(personalize, train(personalize, vod_group, "aws-similar-items"))
    sims = metrics_of(personalize, train(personalize, vod_group, "aws-sims"))
    assert set(similar) == set(metric_keys())
    assert similar[NDCG] > sims[NDCG], (similar, sims)
