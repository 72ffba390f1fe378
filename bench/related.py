"""Every non-personalized recipe against its popularity baseline: related items, trending, segments.

    .venv/bin/python bench/related.py                       # both datasets, 1 seed
    .venv/bin/python bench/related.py --dataset ml-latest-small --seeds 0 1 2 --no-semantic

Related items: Personalize's split (spec §9.1), top 25 related to each held-out user's newest input item,
NDCG@10 / precision@25 / coverage. Movie titles (itemName) and genres (categorical) come from the dataset's
movie file, so Similar-Items and Semantic-Similarity see the metadata a Personalize Items dataset would hold.

Trending: trend_prediction_accuracy (spec §9.2) of the next window's risers, from rolling origins spread over
the busiest 70 % of the timeline (MovieLens's last days are nearly empty, so only-the-latest periods are noise),
and on the latest periods as training reports it.

Segments (USER_SEGMENTATION, spec §9.1 item 2): each user's newest 20 % is the test set; the top 1 % of users
for each queried item (Item-Affinity) or genre (Item-Attribute-Affinity), against the most active users;
hits@1% / recall@1% / coverage of users. Data from ../shared/data (bench/_data.py); missing = skipped.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _data import DATASETS, DatasetMissing, movies  # noqa: E402

from openpersonalize.evaluation.protocol import evaluate  # noqa: E402
from openpersonalize.evaluation.segments import MostActiveUsers, SegmentModel, evaluate_segments  # noqa: E402
from openpersonalize.evaluation.split import split_users  # noqa: E402
from openpersonalize.evaluation.trends import period_accuracy, top_items, trend_prediction_accuracy  # noqa: E402
from openpersonalize.recipes._data import _aligned  # noqa: E402
from openpersonalize.recipes.affinity import ItemAffinity, ItemAttributeAffinity  # noqa: E402
from openpersonalize.recipes.base import Recipe, TrainingData  # noqa: E402
from openpersonalize.recipes.popularity import PopularityCount  # noqa: E402
from openpersonalize.recipes.semantic import SemanticSimilarity  # noqa: E402
from openpersonalize.recipes.similar_items import SimilarItems  # noqa: E402
from openpersonalize.recipes.sims import SIMS  # noqa: E402
from openpersonalize.recipes.trending import TrendingNow, window_counts  # noqa: E402

NDCG, PRECISION = "normalized_discounted_cumulative_gain_at_10", "precision_at_25"
ROLES = {"TITLE": "item_name", "GENRES": "categorical"}
WINDOWS = {"1 day": 86400, "2 hours": 7200}
ORIGINS = 40


def related_methods(semantic: bool) -> dict[str, Recipe]:
    methods: dict[str, Recipe] = {"popularity": PopularityCount(), "sims": SIMS(), "similar-items": SimilarItems()}
    if semantic:
        methods["semantic-similarity"] = SemanticSimilarity()
        # A campaign's rankingInfluence {"POPULARITY": 0.8}: MovieLens titles say little about what is watched next
        methods["semantic-similarity, popularity 0.8"] = SemanticSimilarity(popularity_influence=0.8)
    return methods


def related_rows(dataset: str, data: TrainingData, seeds: list[int], semantic: bool) -> list[str]:
    rows = []
    for name, recipe in related_methods(semantic).items():
        scores, seconds = [], []
        for seed in seeds:
            started = time.perf_counter()
            metrics = evaluate(recipe, split_users(data, seed=seed), task="related").metrics
            seconds.append(time.perf_counter() - started)
            scores.append((metrics[NDCG], metrics[PRECISION], metrics["coverage"]))
        mean, std = np.mean(scores, axis=0), np.std(scores, axis=0)
        rows.append(f"| {dataset} | related | {name} | {mean[0]:.4f} ± {std[0]:.4f} | {mean[1]:.4f} | "
                    f"{mean[2]:.3f} | {np.mean(seconds):.1f} |")
    return rows


def rolling_accuracy(recipe: Recipe, data: TrainingData, window: int) -> float:
    """Mean accuracy over ORIGINS period starts at quantiles 30 %..98 % of the interaction times."""
    stamps = np.sort(data.timestamp)
    scores = []
    for q in np.linspace(0.3, 0.98, ORIGINS):
        start = float(stamps[int(q * (len(stamps) - 1))])
        counts = window_counts(data.item_idx, data.timestamp, now=start + window, window=window, n_windows=2,
                               n_items=data.n_items)
        accuracy = period_accuracy(top_items(recipe, data.select(data.timestamp <= start), start), counts[0] - counts[1])
        if accuracy is not None:
            scores.append(accuracy)
    return float(np.mean(scores)) if scores else 0.0


def trend_rows(dataset: str, data: TrainingData) -> list[str]:
    rows = []
    for frequency, seconds in WINDOWS.items():
        for name, recipe in (("popularity-count", PopularityCount()),
                             ("trending-now", TrendingNow(trend_discovery_frequency=frequency))):
            started = time.perf_counter()
            rolling = rolling_accuracy(recipe, data, seconds)
            latest = trend_prediction_accuracy(recipe, data, window_seconds=seconds, periods=10)
            rows.append(f"| {dataset} | trend {frequency} | {name} | {rolling:.4f} | latest 10: {latest:.4f} | | "
                        f"{time.perf_counter() - started:.1f} |")
    return rows


def segment_rows(dataset: str, data: TrainingData, seeds: list[int]) -> list[str]:
    """Item queries and genre queries (the Items table's one categorical column), each against the baseline."""
    genres = replace(data, items=data.items.select("ITEM_ID", "GENRES"))  # type: ignore[union-attr]
    methods: dict[str, dict[str, Callable[[int], SegmentModel]]] = {
        "items": {"most active users": lambda seed: MostActiveUsers(),
                  "item-affinity": lambda seed: ItemAffinity(random_seed=seed)},
        "attributes": {"most active users": lambda seed: MostActiveUsers(),
                       "item-attribute-affinity": lambda seed: ItemAttributeAffinity(random_seed=seed)},
    }
    rows = []
    for task, makers in methods.items():
        for name, make in makers.items():
            runs = []
            for seed in seeds:  # the split is per user in time: seeds vary the model and the sampled queries
                started = time.perf_counter()
                metrics = evaluate_segments(make(seed), genres if task == "attributes" else data, task=task, seed=seed).metrics
                runs.append((metrics["hits_at_1_percent"], metrics["recall_at_1_percent"], metrics["coverage"],
                             time.perf_counter() - started))
            mean, std = np.mean(runs, axis=0), np.std(runs, axis=0)
            rows.append(f"| {dataset} | segments ({task}) | {name} | hits@1% {mean[0]:.3f} ± {std[0]:.3f} | "
                        f"recall@1% {mean[1]:.4f} | {mean[2]:.3f} | {mean[3]:.1f} |")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", choices=list(DATASETS), action="append")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--no-semantic", action="store_true", help="skip the sentence encoder (slowest row)")
    parser.add_argument("--task", choices=["related", "trend", "segments"], action="append", help="default: all")
    args = parser.parse_args()
    tasks = set(args.task or ["related", "trend", "segments"])
    print("| dataset | task | method | NDCG@10 (related) / trend accuracy (rolling) / hits | P@25 / latest / recall "
          "| coverage | s |")
    print("|---|---|---|---|---|---|---|")
    for dataset in args.dataset or list(DATASETS):
        try:
            data = DATASETS[dataset]()
            items = movies(dataset)
        except DatasetMissing as missing:
            print(f"skip: {missing}", file=sys.stderr)
            continue
        data = replace(data, items=_aligned(items, "ITEM_ID", data.item_ids), item_roles=ROLES)
        rows = related_rows(dataset, data, args.seeds, not args.no_semantic) if "related" in tasks else []
        rows += trend_rows(dataset, data) if "trend" in tasks else []
        rows += segment_rows(dataset, data, args.seeds) if "segments" in tasks else []
        for row in rows:
            print(row, flush=True)


if __name__ == "__main__":
    main()
