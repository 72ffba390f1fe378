"""Semantic-Similarity: offline packaged encoder, text-only training, ranking influence, quality, the API."""

from __future__ import annotations

import copy
import subprocess
import sys
from typing import Any

import numpy as np
import polars as pl
import pytest

from openpersonalize.demo.generator import generate_vod
from openpersonalize.evaluation.protocol import evaluate
from openpersonalize.evaluation.split import split_users
from openpersonalize.recipes.base import Recipe, TrainingData
from openpersonalize.recipes.popularity import PopularityCount
from openpersonalize.recipes.semantic import SemanticSimilarity

from ._api import new_dataset, group_with, metrics_of, train
from ._synthetic import planted, with_item_metadata

NDCG = "normalized_discounted_cumulative_gain_at_10"
EMPTY = pl.DataFrame(schema={"USER_ID": pl.String, "ITEM_ID": pl.String, "TIMESTAMP": pl.Int64})


def catalogue_only(titles: dict[str, str], created: dict[str, int] | None = None) -> TrainingData:
    items = pl.DataFrame({"ITEM_ID": list(titles), "TITLE": list(titles.values()),
                          "DESCRIPTION": [None] * len(titles)}, schema_overrides={"DESCRIPTION": pl.String})
    if created is not None:
        items = items.with_columns(CREATION_TIMESTAMP=pl.Series([created[i] for i in titles]))
    return TrainingData.from_frames(EMPTY, items, item_roles={"TITLE": "item_name", "DESCRIPTION": "textual"})


def test_encoder_loads_offline_from_the_package() -> None:
    # A fresh interpreter with the hub unreachable proves nothing is downloaded at run time.
    code = ("from openpersonalize.recipes.semantic import embed_texts; import numpy as np; "
            "v = embed_texts(np.array(['a red car', ''], dtype=object)); "
            "assert v.shape == (2, 384) and abs(float(v[0] @ v[0]) - 1) < 1e-4 and not v[1].any()")
    env = {"HF_HUB_OFFLINE": "1", "HF_ENDPOINT": "http://127.0.0.1:9", "PATH": "/usr/bin:/bin",
           "HOME": "/nonexistent-home"}
    subprocess.run([sys.executable, "-c", code], check=True, env=env, timeout=300, capture_output=True)


def test_trains_without_interactions_and_finds_meaning_not_words() -> None:
    model = SemanticSimilarity().fit(catalogue_only({
        "car": "A fast red sports car", "auto": "Speedy automobile for racing",
        "soup": "Hot tomato soup recipe", "stew": "Warm vegetable broth for dinner", "untitled": ""}))
    related, _ = model.similar_items("car", num_results=3)
    assert related[0] == "auto" and "untitled" not in related  # no text: nothing to compare
    assert model.similar_items("soup", num_results=1)[0][0] == "stew"
    assert len(model.similar_items("unknown", num_results=3)[0]) == 3  # no popularity either: any item


def test_ranking_influence_reorders_by_freshness() -> None:
    titles = {"old": "Chocolate cake baking", "new": "Baking a chocolate sponge", "query": "Chocolate dessert"}
    model = SemanticSimilarity().fit(catalogue_only(titles, {"old": 1, "new": 1_000_000, "query": 10}))
    plain = model.similar_items("query", num_results=2)[0]
    fresh = copy.copy(model).set_params(freshness_influence=1.0)  # per campaign, on a shallow copy
    assert fresh.similar_items("query", num_results=2)[0][0] == "new"
    np.testing.assert_array_equal(model.similar_items("query", num_results=2)[0], plain)  # shared model unchanged
    with pytest.raises(ValueError, match="The 'popularity_influence' parameter of SemanticSimilarity must be"):
        SemanticSimilarity(popularity_influence=1.5).fit(catalogue_only(titles))


def test_no_text_at_all_is_refused() -> None:
    with pytest.raises(ValueError, match="needs Items with an itemName or textual field"):
        SemanticSimilarity().fit(planted(n_users=30))


def test_save_load_needs_no_encoder(tmp_path: Any) -> None:
    model = SemanticSimilarity().fit(with_item_metadata(planted(n_users=60)))
    model.save(tmp_path / "m")
    loaded = Recipe.load(tmp_path / "m")
    np.testing.assert_array_equal(loaded.similar_items("i3")[0], model.similar_items("i3")[0])


def test_beats_popularity_on_planted_vod_data() -> None:
    generated = generate_vod(users=300, items=200, interactions=6000, seed=3)
    roles = {"TITLE": "item_name", "DESCRIPTION": "textual", "GENRES": "categorical"}
    split = split_users(TrainingData.from_frames(generated.interactions, generated.items, item_roles=roles), seed=0)
    semantic = evaluate(SemanticSimilarity(), split, task="related").metrics[NDCG]
    popular = evaluate(PopularityCount(), split, task="related").metrics[NDCG]
    assert semantic > popular + 0.1, (semantic, popular)


# ---- through the API --------------------------------------------------------------------------------------


def test_train_semantic_similarity_from_items_alone(personalize: Any, tmp_path: Any) -> None:
    data = generate_vod(users=100, items=120, interactions=1500, seed=4)
    group = group_with(personalize, data, tmp_path / "items", ("ITEMS",))  # no Interactions dataset
    metrics = metrics_of(personalize, train(personalize, group, "aws-semantic-similarity"))
    assert all(0.0 <= v <= 1.0 for v in metrics.values())


def test_semantic_similarity_needs_a_textual_field(personalize: Any, tmp_path: Any) -> None:
    data = generate_vod(users=100, items=120, interactions=1500, seed=4)
    group = group_with(personalize, data, tmp_path / "inter", ("INTERACTIONS",))
    schema = ('{"type": "record", "name": "Items", "fields": [{"name": "ITEM_ID", "type": "string"}, '
              '{"name": "TITLE", "type": "string", "itemName": true}, '
              '{"name": "GENRES", "type": "string", "categorical": true}]}')
    new_dataset(personalize, group, "ITEMS", schema)
    version = train(personalize, group, "aws-semantic-similarity")
    assert version["status"] == "CREATE FAILED"
    assert version["failureReason"] == ("Create failed. Semantic-Similarity needs a textual field in the Items "
                                        "schema; it has none.")
