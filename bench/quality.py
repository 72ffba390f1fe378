"""Recommendation quality under Personalize's offline protocol: every recipe beside the baselines.

    .venv/bin/python bench/quality.py                      # both datasets, all methods, 3 seeds
    .venv/bin/python bench/quality.py --dataset ml-1m --method user-personalization --seeds 0
    .venv/bin/python bench/quality.py --dataset ml-latest-small --method user-personalization --through-api

Cases (issue 3): ml-1m with ratings ≥ 4 as one event type, seen items excluded; ml-latest-small as AWS's
workshop prepares it (click for rating > 1, watch for rating > 3), nothing excluded; the Instacart sample's
order lines as purchases (issue 16), nothing excluded, "buy again" the baseline to beat (×again). Data is
read from ../shared/data next to the repository; a missing dataset is skipped. Prints mean ± std over seeds.
``--through-api`` adds User-Personalization as served (``_through_api.py``): the server's model in-process,
then GetRecommendations after PutEvents at exploration 0 and at the default 0.3.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # implicit's advice; must precede numpy's import

import argparse
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _through_api as through_api  # noqa: E402
from _data import DATASETS, DatasetMissing  # noqa: E402
from _server import free_port, start_server  # noqa: E402
from baselines.buy_again import BuyAgain  # noqa: E402
from baselines.ease import EASE  # noqa: E402
from baselines.item_knn import ItemKNN  # noqa: E402
from baselines.sasrec import SASRec  # noqa: E402

from openpersonalize.evaluation.protocol import evaluate  # noqa: E402
from openpersonalize.evaluation.split import split_users  # noqa: E402
from openpersonalize.recipes.als import ImplicitALS  # noqa: E402
from openpersonalize.recipes.base import Recipe  # noqa: E402
from openpersonalize.recipes.popularity import PopularityCount  # noqa: E402
from openpersonalize.recipes.sequential import SequentialLinear  # noqa: E402
from openpersonalize.recipes.sims import SIMS  # noqa: E402
from openpersonalize.recipes.user_personalization import UserPersonalization  # noqa: E402

EXCLUDE_SEEN = {"ml-1m": True, "ml-latest-small": False, "instacart": False}
NDCG, MRR, COVERAGE, PRECISION = (
    "normalized_discounted_cumulative_gain_at_10",
    "mean_reciprocal_rank_at_25",
    "coverage",
    "precision_at_10",
)


@dataclass(frozen=True)
class Method:
    make: Callable[[int], Recipe]
    task: str = "user"


METHODS: dict[str, Method] = {
    "popularity": Method(lambda seed: PopularityCount()),
    "buy-again": Method(lambda seed: BuyAgain()),
    "item-knn": Method(lambda seed: ItemKNN()),
    "ease": Method(lambda seed: EASE()),
    "ials": Method(lambda seed: ImplicitALS(random_seed=seed)),
    # SASRec carries the same repeat component as User-Personalization (repeat_weight=1 by default).
    "sasrec+repeat": Method(
        lambda seed: SASRec(random_seed=seed, max_history_length=50, negatives=256, epochs=10, max_training_seconds=60.0)
    ),
    "sequential-linear": Method(lambda seed: SequentialLinear()),
    "user-personalization": Method(lambda seed: UserPersonalization(random_seed=seed)),
    "popularity (related)": Method(lambda seed: PopularityCount(), task="related"),
    "sims (related)": Method(lambda seed: SIMS(), task="related"),
    "popularity (ranking)": Method(lambda seed: PopularityCount(), task="ranking"),
    "user-personalization (ranking)": Method(lambda seed: UserPersonalization(random_seed=seed), task="ranking"),
}


API_ROWS = ("UP served model, in-process", "UP through API, exploration 0", "UP through API, exploration 0.3")


def run(dataset: str, methods: list[str], seeds: list[int], api: tuple[int, Path] | None = None) -> list[dict[str, object]]:
    """Every method on every seed's split; with ``api`` (port, data directory of a live server) also
    User-Personalization trained and served by that server (``_through_api``)."""
    try:
        data = DATASETS[dataset]()
    except DatasetMissing as missing:
        print(f"skip: {missing}", file=sys.stderr)
        return []
    results: dict[str, list[tuple[dict[str, float], float]]] = {m: [] for m in methods}
    if api is not None:
        results.update({name: [] for name in API_ROWS})
    for seed in seeds:
        split = split_users(data, seed=seed)
        if api is not None:
            outcome = through_api.run(split, api[0], api[1].parent, api[1], f"{dataset}-{seed}")
            for name, metrics in zip(API_ROWS, (outcome.served_model, outcome.served, outcome.exploring), strict=True):
                results[name].append((metrics, outcome.train_seconds))
            print(f"  {dataset} seed {seed} through the API: NDCG@10 in-process {outcome.served_model[NDCG]:.4f}, "
                  f"served {outcome.served[NDCG]:.4f}, exploring {outcome.exploring[NDCG]:.4f}; identical lists "
                  f"{outcome.identical:.0%}; answers with a young item {outcome.young_share[0]:.0%} → "
                  f"{outcome.young_share[1]:.0%}", file=sys.stderr, flush=True)
        for name in methods:
            method = METHODS[name]
            outcome = evaluate(method.make(seed), split, task=method.task, exclude_history=EXCLUDE_SEEN[dataset])
            results[name].append((outcome.metrics, outcome.train_seconds))
            print(f"  {dataset} seed {seed} {name}: NDCG@10 {outcome.metrics[NDCG]:.4f} "
                  f"({outcome.train_seconds:.1f} s)", file=sys.stderr, flush=True)
    return [_row(dataset, name, runs) for name, runs in results.items()]


def _row(dataset: str, name: str, runs: list[tuple[dict[str, float], float]]) -> dict[str, object]:
    def stat(key: str) -> tuple[float, float]:
        values = np.array([m[key] for m, _ in runs])
        return float(values.mean()), float(values.std())

    return {
        "dataset": dataset, "method": name, "ndcg": stat(NDCG), "mrr": stat(MRR), "coverage": stat(COVERAGE),
        "precision": stat(PRECISION), "seconds": float(np.mean([s for _, s in runs])),
    }


def print_table(rows: list[dict[str, object]]) -> None:
    ease = {r["dataset"]: r["ndcg"][0] for r in rows if r["method"] == "ease"}  # type: ignore[index]
    again = {r["dataset"]: r["ndcg"][0] for r in rows if r["method"] == "buy-again"}  # type: ignore[index]
    user_task = {name for name, method in METHODS.items() if method.task == "user"} | set(API_ROWS)
    header = (f"{'dataset':16} {'method':34} {'NDCG@10':>16} {'MRR@25':>16} {'coverage':>8} {'P@10':>7} {'train s':>8} "
              f"{'×EASE':>6} {'×again':>6}")
    print(header)
    print("-" * len(header))
    for r in rows:
        ndcg, mrr = r["ndcg"], r["mrr"]
        comparable = r["dataset"] in ease and ease[r["dataset"]] and r["method"] in user_task  # same task as EASE
        ratio = f"{ndcg[0] / ease[r['dataset']]:.2f}" if comparable else "–"  # type: ignore[index]
        versus = again.get(r["dataset"]) if r["method"] in user_task else None  # type: ignore[arg-type]
        repeat = f"{ndcg[0] / versus:.2f}" if versus else "–"  # type: ignore[index]
        print(
            f"{r['dataset']:16} {r['method']:34} {ndcg[0]:.4f} ± {ndcg[1]:.4f} {mrr[0]:.4f} ± {mrr[1]:.4f} "  # type: ignore[index]
            f"{r['coverage'][0]:8.3f} {r['precision'][0]:7.4f} {r['seconds']:8.1f} {ratio:>6} {repeat:>6}"  # type: ignore[index]
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", choices=[*DATASETS, "all"], default="all")
    parser.add_argument("--method", action="append", choices=list(METHODS), help="repeatable; default: all")
    parser.add_argument("--seeds", default="0,1,2", help="comma-separated split/model seeds")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--through-api", action="store_true",
                        help="also train and serve User-Personalization on a live server, streaming the held-out "
                             "histories with PutEvents (exploration 0 and 0.3), beside the in-process rows")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    datasets = list(DATASETS) if args.dataset == "all" else [args.dataset]
    seeds = [int(s) for s in args.seeds.split(",")]
    methods = args.method or list(METHODS)
    if not args.through_api:
        print_table([row for dataset in datasets for row in run(dataset, methods, seeds)])
        return
    with tempfile.TemporaryDirectory() as folder:
        port, data_dir = free_port(), Path(folder) / "var"
        server = start_server(data_dir, port)
        try:
            print_table([row for dataset in datasets for row in run(dataset, methods, seeds, (port, data_dir))])
        finally:
            server.terminate()
            server.wait()


if __name__ == "__main__":
    main()
