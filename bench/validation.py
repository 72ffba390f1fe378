"""User-Personalization variants on validation splits that never touch a reported test user.

    .venv/bin/python bench/validation.py --dataset ml-1m '{}' '{"history_decay": 8, "l2": 600}'

``bench/quality.py`` reports seeds 0-2, each holding out its own 10 % of users. Tuning on those users would
fit the test; tuning on one seed's training users would still see the other seeds' test users. Here the pool
is the users outside all three test sets, split by Personalize's protocol (spec §9.1) with seeds 1000, 1001,
1002; each variant (keyword arguments of ``UserPersonalization``, as JSON) is fitted and scored on every
split, seen items excluded as quality.py does for the dataset. Prints NDCG@10 and coverage, mean and per
split, and the mean fit time.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # implicit's advice; must precede numpy's import

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _data import DATASETS  # noqa: E402
from quality import COVERAGE, EXCLUDE_SEEN, NDCG  # noqa: E402

from openpersonalize.evaluation.protocol import evaluate  # noqa: E402
from openpersonalize.evaluation.split import Split, split_users  # noqa: E402
from openpersonalize.recipes.base import TrainingData  # noqa: E402
from openpersonalize.recipes.user_personalization import UserPersonalization  # noqa: E402

REPORTED_SEEDS = (0, 1, 2)  # quality.py's default seeds
VALIDATION_SEEDS = (1000, 1001, 1002)


def validation_splits(data: TrainingData) -> list[Split]:
    """Splits of the users that no reported seed holds out."""
    tested = np.unique(np.concatenate([split_users(data, seed=seed).test_users for seed in REPORTED_SEEDS]))
    pool = data.select(~np.isin(data.user_idx, tested))
    return [split_users(pool, seed=seed) for seed in VALIDATION_SEEDS]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", choices=list(DATASETS), default="ml-1m")
    parser.add_argument("variants", nargs="+", help="JSON objects of UserPersonalization keyword arguments")
    args = parser.parse_args()
    splits = validation_splits(DATASETS[args.dataset]())
    for text in args.variants:
        params = json.loads(text)
        runs = [evaluate(UserPersonalization(**params), split, exclude_history=EXCLUDE_SEEN[args.dataset]) for split in splits]
        ndcg = np.array([run.metrics[NDCG] for run in runs])
        coverage = np.mean([run.metrics[COVERAGE] for run in runs])
        seconds = np.mean([run.train_seconds for run in runs])
        per_split = " ".join(f"{value:.4f}" for value in ndcg)
        print(f"{text:60} NDCG@10 {ndcg.mean():.4f} ({per_split}) coverage {coverage:.3f} fit {seconds:.1f} s", flush=True)


if __name__ == "__main__":
    main()
