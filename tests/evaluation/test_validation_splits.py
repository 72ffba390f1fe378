"""bench/validation.py chooses defaults on users that no seed of bench/quality.py tests."""

from __future__ import annotations

import numpy as np
from validation import REPORTED_SEEDS, validation_splits

from openpersonalize.evaluation.split import split_users
from recipes._synthetic import planted


def test_validation_splits_hold_no_reported_test_user() -> None:
    data = planted(n_users=400)
    tested = np.concatenate([split_users(data, seed=seed).test_users for seed in REPORTED_SEEDS])
    for split in validation_splits(data):
        seen = np.unique(split.train.user_idx)
        assert not np.isin(split.test_users, tested).any()
        assert not np.isin(seen, tested).any()
        assert len(split.test_users) > 0 and len(seen) > 0
