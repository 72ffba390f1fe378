"""Personalize's offline split (spec §9.1): 10 % of users held out, each cut in time 90 / 10.

Held-out users are absent from the training data entirely, so a model must recommend from their input
history alone — the same path that serves a visitor whose events arrive by PutEvents.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..recipes.base import Histories, TrainingData

TEST_USER_FRACTION = 0.1
HISTORY_FRACTION = 0.9


@dataclass(frozen=True)
class Split:
    """Training data (90 % of users) and, per held-out user, the input history and the relevant items.

    ``targets`` rows hold the distinct items of the newest 10 % of the user's interactions (the set T_u
    of spec §9.2); ``inputs`` keep event types so typed models see what a live user would send.
    """

    train: TrainingData
    test_users: np.ndarray
    inputs: Histories
    targets: Histories


def split_users(data: TrainingData, *, seed: int, test_fraction: float = TEST_USER_FRACTION) -> Split:
    """Hold out ``round(test_fraction × users)`` random users with ≥ 2 interactions (seeded)."""
    offsets = data.user_offsets()
    counts = np.diff(offsets)
    eligible = np.flatnonzero(counts >= 2)  # both halves must be non-empty (spec §9.1 notes)
    n_test = min(len(eligible), int(np.floor(test_fraction * data.n_users + 0.5)))
    rng = np.random.default_rng(seed)
    test_users = np.sort(rng.choice(eligible, size=n_test, replace=False))
    in_test = np.zeros(data.n_users, dtype=bool)
    in_test[test_users] = True
    inputs, types, times, targets = [], [], [], []
    for user in test_users:
        start, stop = offsets[user], offsets[user + 1]
        cut = start + history_length(stop - start)
        inputs.append(data.item_idx[start:cut])
        types.append(data.event_type[start:cut])
        times.append(data.timestamp[start:cut])
        targets.append(np.unique(data.item_idx[cut:stop]))
    return Split(
        train=data.select(~in_test[data.user_idx]),
        test_users=test_users,
        inputs=Histories.from_lists(inputs, types, times),
        targets=Histories.from_lists(targets),
    )


def history_length(n: int) -> int:
    """Input size for a user with n ≥ 2 interactions: the oldest 90 %, at least one left as target."""
    return int(min(n - 1, max(1, np.floor(HISTORY_FRACTION * n + 0.5))))
