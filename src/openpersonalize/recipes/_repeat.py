"""Repeat-aware scoring: how likely an item already in the history is to come back soon.

Many logs re-visit items (a `click` then a `watch` of the same film, the weekly groceries). A next-item
model spreads that mass thinly; RepeatNet (Ren et al., AAAI 2019) splits "repeat" from "explore" instead.
The repeat side is fitted on training users cut like the offline protocol (at a few cut points, the input
followed by a future as long as the protocol's: a ninth of the input, and at least the rest of the open
basket), in two stages. A table counts how often a history item reappears by its
recency rank among distinct history items, the type of its latest event and the time since (a `click` in
this very second is usually followed by its `watch`).
A logistic regression then puts that table's log-odds beside what a "buy again" list knows — how often the
user took the item and in how many of their baskets (events sharing a timestamp), how many baskets ago,
its basket frequency decayed at several rates (TIFU-kNN's personal part, Hu et al., SIGIR 2020), whether
it is due by baskets and by the clock, where it sits in the cart — and how much this user repeats at all
and this item's users come back to it. The explore side is the caller's estimate for new items; both are
probabilities of "appears in the user's near future", so they share one scale.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.linear_model import LogisticRegression

from ._repeat_features import (
    COLUMNS,
    MAX_RANK,
    PROPENSITY_COLUMN,
    UNKNOWN_GAP,
    Features,
    basket_opens,
    features,
)
from .base import Histories

CUTS = (0.9, 0.8, 0.7)  # protocol-style cut points per training user (more cuts, steadier estimates)
MAX_FIT_USERS = 4000  # training users the model reads (a seeded sample past this): bounds fitting time
CLIP = 4.0  # standard deviations
PRIOR = 5.0  # pseudo-users of the item propensity's smoothing
FUTURE = 1.0 / 9.0  # the protocol's future per input event (the newest 10 % after the oldest 90 %)
FEATURES = COLUMNS + 2  # columns of ``_design``: the intercept, the table's log-odds, the features' counts


@dataclass(frozen=True)
class RepeatModel:
    """The fitted repeat side.

    ``table[type, rank, gap]`` = P(reappears) by the latest event's type, recency rank and time-gap bucket (the
    unknown-gap bucket holds the marginal over gaps); ``regression`` rows: feature means, feature scales,
    coefficients of ``_design``'s columns (column 0 is the intercept), the smallest and largest values met.
    """

    table: np.ndarray
    rate: float  # distinct new items in the near future per input event
    items: np.ndarray  # per item: how much likelier than average its users are to come back to it
    regression: np.ndarray

    @staticmethod
    def empty(n_types: int, n_items: int) -> RepeatModel:
        """The model of a log without repeats: every probability 0."""
        table = np.zeros((max(n_types, 1), MAX_RANK, UNKNOWN_GAP + 1), dtype=np.float32)
        return RepeatModel(table, 0.0, np.ones(n_items, dtype=np.float32), _constant(-30.0))  # sigmoid(-30) ≈ 1e-13

    @staticmethod
    def fit(
        items: np.ndarray, types: np.ndarray, times: np.ndarray, offsets: np.ndarray, n_types: int, n_items: int,
        seed: int = 0,
    ) -> RepeatModel:
        n_types = max(n_types, 1)
        counts = _propensity_counts(items, offsets, n_items)
        propensity = _propensity(*counts)
        x, cells, y, weight, rate = _examples(items, types, times, offsets, counts, n_types, seed)
        shape = (n_types, MAX_RANK, UNKNOWN_GAP + 1)
        hits, totals = np.zeros(shape), np.zeros(shape)
        for gaps in (cells[2], np.full(len(y), UNKNOWN_GAP)):  # also the marginal over gaps
            np.add.at(totals, (cells[0], cells[1], gaps), 1.0)
            np.add.at(hits, (cells[0], cells[1], gaps), y)
        table = ((hits + 0.01) / (totals + 1.0)).astype(np.float32)  # light smoothing toward 0
        if not len(y) or y.all() or not y.any():  # one class: a constant probability
            share = float(y.mean()) if len(y) else 0.0
            return RepeatModel(table, rate, propensity, _constant(np.log((share + 1e-3) / (1.0 - share + 1e-3))))
        design = _design(x, table[cells])
        mean, scale = design.mean(axis=0), design.std(axis=0)
        mean[0], scale = 0.0, np.where(scale > 1e-9, scale, 1.0)
        scale[0] = 1.0
        bounds = np.vstack([design.min(axis=0), design.max(axis=0)])
        standard = _standard(design, np.vstack([mean, scale, np.zeros_like(mean), bounds]))
        fitted = LogisticRegression(C=1.0, max_iter=500).fit(standard, y, sample_weight=weight)
        coefficients = fitted.coef_[0].copy()
        coefficients[0] += fitted.intercept_[0]
        regression = np.vstack([mean, scale, coefficients, bounds]).astype(np.float32)
        return RepeatModel(table, rate, propensity, regression)

    def probabilities(self, found: Features) -> np.ndarray:
        """P(each of ``found``'s distinct history items reappears in its user's near future)."""
        design = _standard(_design(found.numeric, self.table[found.cells]), self.regression)
        # a sum per row, not a matrix product: BLAS may add a row's terms in another order depending on how
        # many rows share the call, and a user's answer must not depend on who else is in the batch
        logit = (design * self.regression[2]).sum(axis=1)
        return 1.0 / (1.0 + np.exp(-np.clip(logit, -30.0, 30.0)))

    def blend(self, future: np.ndarray, histories: Histories, weight: float) -> np.ndarray:
        """P(item in near future) = q + (1 − q)·f: the repeat probability q joins the model's estimate f
        (float32, updated in place and returned)."""
        found = features(histories.items, histories.event_types, histories.timestamps, histories.offsets,
                         self.items, self.table.shape[0])
        q = np.minimum(0.99, weight * self.probabilities(found)).astype(np.float32)
        future[found.rows, found.items] = q + (1.0 - q) * future[found.rows, found.items]
        return future


def _standard(design: np.ndarray, regression: np.ndarray) -> np.ndarray:
    """Columns clipped to the range met in fitting, standardised, clipped to ±CLIP: a history unlike any met
    in fitting (4 events in one basket where every training user had 40 in three) must not push the logit
    further than the most extreme training history did. A column nearly constant in fitting has a tiny scale,
    and a straight line through it pushed a short live history's probabilities to 0."""
    mean, scale, _, low, high = regression
    return np.clip((np.clip(design, low, high) - mean) / scale, -CLIP, CLIP)


def readable(regression: np.ndarray) -> bool:
    """Whether this release can read a saved ``regression`` (an earlier release's had other features)."""
    return regression.shape == (5, FEATURES)


def table_only() -> np.ndarray:
    """A regression that reads the table's log-odds alone: P(reappears) is the history item's table cell (its
    type, recency rank and time gap), what a model saved by an earlier release scores with until retrained."""
    regression = _constant(0.0)
    regression[2, 1] = 1.0
    return regression


def _constant(logit: float) -> np.ndarray:
    regression = np.zeros((5, FEATURES), dtype=np.float32)
    regression[1], regression[2, 0], regression[3], regression[4] = 1.0, logit, -np.inf, np.inf
    return regression


def _design(features: np.ndarray, table: np.ndarray) -> np.ndarray:
    """The regression's columns: the intercept, the table's log-odds, then the features' counts."""
    odds = np.log(table) - np.log1p(-np.minimum(table, 0.999))
    return np.column_stack([np.ones(len(features)), odds, features])


def _examples(
    items: np.ndarray, types: np.ndarray, times: np.ndarray, offsets: np.ndarray,
    counts: tuple[np.ndarray, np.ndarray, float], n_types: int, seed: int,
) -> tuple[np.ndarray, tuple[np.ndarray, ...], np.ndarray, np.ndarray, float]:
    """Training users cut like the protocol at each of CUTS: (features, table cells, reappeared?, weights, new
    items per input event). Each cut weighs 1 in all, as each user does in the metrics: heavy users' hundreds
    of items would otherwise decide the fit.

    A cut's future is as long as the protocol's would be for its input (a ninth of it), or to the end of the
    basket the input stops in, whichever is longer; not the whole rest of the history: the 70 % cut's rest is
    three times a test user's future, and an item bought every few weeks was a positive there far more often
    than it is in a test user's next orders (grocery sample, 20 seeds: 1.070 → 1.077× buy again). The rest
    of the open basket is the near future of a live user too (the `watch` after its `click`, the cart).

    An example's item propensity leaves its own user out, as a user being served is not among the training
    users: counted with them, an item few users buy looked repeated exactly when this user's future repeated
    it, and the regression learned to trust the propensity far more than it deserves.
    """
    repeated, seen, overall = counts
    users = np.arange(len(offsets) - 1)
    if len(users) > MAX_FIT_USERS:
        users = np.sort(np.random.default_rng(seed).choice(users, size=MAX_FIT_USERS, replace=False))
    lo, hi = offsets[users], offsets[users + 1]
    cuts = lo[:, None] + np.floor(np.array(CUTS) * (hi - lo)[:, None] + 0.5).astype(np.int64)
    valid = (cuts > lo[:, None]) & (cuts < hi[:, None])  # per user, then per cut: the examples' order
    owner = np.broadcast_to(np.arange(len(users))[:, None], cuts.shape)[valid]
    starts, cuts, ends = lo[owner], cuts[valid], hi[owner]
    horizon = cuts + np.floor(FUTURE * (cuts - starts) + 0.5).astype(np.int64)
    ends = np.minimum(ends, np.maximum(_basket_ends(times, offsets, cuts), horizon))
    taken = _ranges(starts, cuts)
    found = features(items[taken], types[taken], None if times is None else times[taken],
                     np.concatenate([[0], np.cumsum(cuts - starts)]), _propensity(repeated, seen, overall), n_types)
    width = int(items.max()) + 1 if len(items) else 1
    # the item propensity without the example's own user: was the item repeated in the user's whole history?
    whole = _ranges(lo, hi)
    pairs, pair_counts = np.unique(np.repeat(np.arange(len(users)), hi - lo) * width + items[whole], return_counts=True)
    own = (pair_counts[np.searchsorted(pairs, owner[found.rows] * width + found.items)] >= 2).astype(np.float64)
    alone = _propensity(repeated[found.items] - own, seen[found.items] - 1.0, overall)
    found.numeric[:, PROPENSITY_COLUMN] = np.log(np.maximum(alone, 1e-3))
    keys = found.rows * width + found.items
    later = _ranges(cuts, ends)
    future = np.unique(np.repeat(np.arange(len(cuts)), ends - cuts) * width + items[later])
    weight = 1.0 / np.bincount(found.rows, minlength=len(cuts))[found.rows]
    weight *= len(weight) / max(weight.sum(), 1e-12)
    new_items = float(len(future) - np.isin(future, keys, assume_unique=True).sum())
    inputs = float((cuts - starts).sum())
    return found.numeric, found.cells, np.isin(keys, future, assume_unique=True), weight, new_items / max(inputs, 1.0)


def _basket_ends(times: np.ndarray | None, offsets: np.ndarray, cuts: np.ndarray) -> np.ndarray:
    """Per cut (an index into the events, inside its user's history): the end of the basket its last input
    event belongs to (the events sharing that timestamp); without timestamps every event is its own basket."""
    if not len(cuts):
        return cuts
    opens = basket_opens(times, offsets, int(offsets[-1]))
    following = np.r_[np.flatnonzero(opens), len(opens)]  # per basket: its start, then the end of the last
    return following[np.cumsum(opens)[cuts - 1]]


def _ranges(starts: np.ndarray, stops: np.ndarray) -> np.ndarray:
    """The indices ``starts[0]..stops[0]-1, starts[1]..stops[1]-1, …`` in one array."""
    lengths = stops - starts
    return np.repeat(starts - (np.cumsum(lengths) - lengths), lengths) + np.arange(int(lengths.sum()))


def _item_propensity(items: np.ndarray, offsets: np.ndarray, n_items: int) -> np.ndarray:
    """Per item: (share of its users with ≥ 2 events on it) / (the same share over all items), smoothed.

    Some items are revisited far more than others (a film worth watching after the click, a staple
    re-bought weekly): a feature of the regression, recounted when the model is updated.
    """
    return _propensity(*_propensity_counts(items, offsets, n_items))


def _propensity_counts(items: np.ndarray, offsets: np.ndarray, n_items: int) -> tuple[np.ndarray, np.ndarray, float]:
    """(users with ≥ 2 events per item, users per item, the share of (user, item) pairs repeated overall)."""
    users = np.repeat(np.arange(len(offsets) - 1), np.diff(offsets))
    pairs, counts = np.unique(users.astype(np.int64) * n_items + items, return_counts=True)
    item_of_pair = pairs % n_items
    seen = np.bincount(item_of_pair, minlength=n_items).astype(np.float64)
    repeated = np.bincount(item_of_pair, weights=(counts >= 2).astype(np.float64), minlength=n_items)
    return repeated, seen, float(repeated.sum() / max(seen.sum(), 1.0))


def _propensity(repeated: np.ndarray, seen: np.ndarray, overall: float) -> np.ndarray:
    if overall == 0:
        return np.ones(len(seen), dtype=np.float32)
    return (((repeated + PRIOR * overall) / (seen + PRIOR)) / overall).astype(np.float32)
