"""Repeat-aware scoring: how likely an item already in the history is to come back soon.

Many logs re-visit items (a `click` then a `watch` of the same film, the weekly groceries). A next-item
model spreads that mass thinly; RepeatNet (Ren et al., AAAI 2019) splits "repeat" from "explore" instead.
The repeat side is fitted on training users cut like the offline protocol (oldest 90 % as input, the rest
as future, at a few cut points), in two stages. A table counts how often a history item reappears by its
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

from .base import Histories

MAX_RANK = 64  # the table's recency ranks; items further back share the last one
CUTS = (0.9, 0.8, 0.7)  # protocol-style cut points per training user (more cuts, steadier estimates)
MAX_FIT_USERS = 4000  # training users the model reads (a seeded sample past this): bounds fitting time
RECENT_BASKETS = 5  # "taken in k of the last 5 baskets"
# Buckets of the time since the item's latest event, measured from the history's newest event: the same
# second (one batch of events), a minute, an hour, a day, a month, older. The last bucket is "unknown".
GAP_EDGES = np.array([1.0, 60.0, 3600.0, 86400.0, 30 * 86400.0])
UNKNOWN_GAP = len(GAP_EDGES) + 1
# Decay rates per basket of the basket-frequency features (weight r^age, age 0 = the newest basket): each
# alone ranks history items better than counts do on grocery orders (0.85 best), together better still.
DECAYS = (0.5, 0.7, 0.85, 0.95)
STREAK_BASKETS = 20  # the longest run of newest baskets counted as a streak
CLIP = 4.0  # standard deviations
PRIOR = 5.0  # pseudo-users of the item propensity's smoothing
PROPENSITY_COLUMN = 7  # ``_features``' column holding the item propensity's logarithm
CART_COLUMN = 19  # ``_features``' column holding the mean cart position
FEATURES = 34  # columns of ``_design``: the intercept, the table's log-odds, the counts of ``_features``


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

    def probabilities(self, items: np.ndarray, types: np.ndarray, times: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """(the distinct history items, P(each reappears in the near future)) for one history."""
        distinct, features, cells = _features(items, types, times, self.items, self.table.shape[0])
        logit = _standard(_design(features, self.table[cells]), self.regression) @ self.regression[2]
        return distinct, 1.0 / (1.0 + np.exp(-np.clip(logit, -30.0, 30.0)))

    def blend(self, future: np.ndarray, histories: Histories, weight: float) -> np.ndarray:
        """P(item in near future) = q + (1 − q)·f: the repeat probability q joins the model's estimate f."""
        future = np.array(future, dtype=np.float32)
        for row in range(len(histories)):  # per user: a handful of vectorised operations
            items = histories.row(row)
            if not len(items):
                continue
            types = histories.types_row(row)
            types = np.zeros(len(items), np.int64) if types is None else types
            distinct, q = self.probabilities(items, types, histories.times_row(row))
            q = np.minimum(0.99, weight * q).astype(np.float32)
            future[row, distinct] = q + (1.0 - q) * future[row, distinct]
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
    """The regression's columns: the intercept, the table's log-odds, then ``_features``'s counts."""
    odds = np.log(table) - np.log1p(-np.minimum(table, 0.999))
    return np.column_stack([np.ones(len(features)), odds, features])


def _examples(
    items: np.ndarray, types: np.ndarray, times: np.ndarray, offsets: np.ndarray,
    counts: tuple[np.ndarray, np.ndarray, float], n_types: int, seed: int,
) -> tuple[np.ndarray, tuple[np.ndarray, ...], np.ndarray, np.ndarray, float]:
    """Training users cut like the protocol at each of CUTS: (features, table cells, reappeared?, weights, new
    items per input event). Each cut weighs 1 in all, as each user does in the metrics: heavy users' hundreds
    of items would otherwise decide the fit.

    An example's item propensity leaves its own user out, as a user being served is not among the training
    users: counted with them, an item few users buy looked repeated exactly when this user's future repeated
    it, and the regression learned to trust the propensity far more than it deserves.
    """
    repeated, seen, overall = counts
    propensity = _propensity(repeated, seen, overall)
    users = np.arange(len(offsets) - 1)
    if len(users) > MAX_FIT_USERS:
        users = np.sort(np.random.default_rng(seed).choice(users, size=MAX_FIT_USERS, replace=False))
    rows, cells, labels, weights = [np.zeros((0, FEATURES - 2))], [np.zeros((3, 0), np.int64)], [np.zeros(0, bool)], [np.zeros(0)]
    new_items, inputs = 0.0, 0.0
    for user in users:
        lo, hi = int(offsets[user]), int(offsets[user + 1])
        whole, whole_counts = np.unique(items[lo:hi], return_counts=True)
        for share in CUTS:
            cut = lo + int(np.floor(share * (hi - lo) + 0.5))
            if cut <= lo or cut >= hi:
                continue
            future = np.unique(items[cut:hi])
            distinct, features, cell = _features(items[lo:cut], types[lo:cut], times[lo:cut], propensity, n_types)
            own = (whole_counts[np.searchsorted(whole, distinct)] >= 2).astype(np.float64)
            alone = _propensity(repeated[distinct] - own, seen[distinct] - 1.0, overall)
            features[:, PROPENSITY_COLUMN] = np.log(np.maximum(alone, 1e-3))
            rows.append(features)
            cells.append(np.vstack(cell))
            labels.append(np.isin(distinct, future))
            weights.append(np.full(len(distinct), 1.0 / len(distinct)))
            new_items += len(np.setdiff1d(future, distinct, assume_unique=True))
            inputs += cut - lo
    weight = np.concatenate(weights)
    weight *= len(weight) / max(weight.sum(), 1e-12)
    stacked = np.concatenate(cells, axis=1)
    return np.concatenate(rows), tuple(stacked), np.concatenate(labels), weight, new_items / max(inputs, 1.0)


def _features(
    items: np.ndarray, types: np.ndarray, times: np.ndarray | None, propensity: np.ndarray, n_types: int
) -> tuple[np.ndarray, np.ndarray, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """(distinct items, one row of counts each, their table cells (type, rank, gap)) for one chronological
    history; see the module's docstring.

    Events sharing a timestamp form a basket (an order, a batch of events); without timestamps every event is
    its own basket and the time gap is unknown.
    """
    n = len(items)
    if times is None or len(times) != n:
        basket = np.arange(n)
        stamps = None
    else:
        stamps = np.asarray(times, dtype=np.float64)
        basket = np.r_[0, np.cumsum(np.diff(stamps) != 0)].astype(np.int64)
    baskets = int(basket[-1]) + 1 if n else 0
    distinct, inverse, counts = np.unique(items, return_inverse=True, return_counts=True)
    last = np.zeros(len(distinct), dtype=np.int64)
    last[inverse] = np.arange(n)  # the newest occurrence wins the assignment
    rank = np.empty(len(distinct), dtype=np.int64)
    rank[np.argsort(-last, kind="stable")] = np.arange(len(distinct))
    pairs = np.unique(inverse.astype(np.int64) * (baskets + 1) + basket)
    in_baskets = np.bincount(pairs // (baskets + 1), minlength=len(distinct)).astype(np.float64)
    recent_pairs = pairs[pairs % (baskets + 1) >= baskets - RECENT_BASKETS]
    recent = np.bincount(recent_pairs // (baskets + 1), minlength=len(distinct)) / min(baskets, RECENT_BASKETS)
    first = np.full(len(distinct), n, dtype=np.int64)
    np.minimum.at(first, inverse, np.arange(n))
    since = baskets - 1 - basket[last]
    span = baskets - basket[first]  # baskets since the first time it was taken, that one included
    repeat_share = 1.0 - len(distinct) / max(n, 1)
    share = in_baskets / max(baskets, 1)
    rate = (in_baskets + 0.5) / (span + 1.0)  # how often it is taken once known to the user (smoothed)
    interval = (basket[last] - basket[first]) / np.maximum(in_baskets - 1, 1)
    due = np.where(in_baskets > 1, np.log((since + 1.0) / (interval + 1.0)), 0.0)
    # the protocol's future is a ninth of the input's length: about baskets/9 baskets
    expected = 1.0 - (1.0 - np.minimum(rate, 0.99)) ** max(baskets / 9.0, 1.0)
    columns = [
        np.log1p(rank),
        np.log1p(since),
        np.log(counts),
        share,
        recent,
        np.full(len(distinct), repeat_share),
        np.full(len(distinct), np.log(max(n, 1))),
        np.log(np.maximum(propensity[distinct], 1e-3)),
        share * repeat_share,
        rate,
        expected,
        due,
        in_baskets == 1,
        np.full(len(distinct), np.log(max(baskets, 1))),
    ]
    pair_item, pair_basket = pairs // (baskets + 1), pairs % (baskets + 1)
    # sums, not averages over the baskets: a short history's items would all look like staples (1 = in every
    # basket) where a long history's newest basket only is
    decayed = [
        np.bincount(pair_item, weights=r ** (baskets - 1.0 - pair_basket), minlength=len(distinct)) for r in DECAYS
    ]
    numeric = np.column_stack([
        *columns, *decayed, decayed[2] * repeat_share,
        *_cart_and_clock(inverse, basket, stamps, counts, last, first, in_baskets),
        *_streaks(pair_item, pair_basket, baskets, len(distinct)),
    ])
    numeric = np.column_stack([numeric, *_open_basket(basket, numeric[:, -4], share, numeric[:, CART_COLUMN])])
    if stamps is None:
        gap = np.full(len(distinct), UNKNOWN_GAP, dtype=np.int64)
    else:
        gap = np.searchsorted(GAP_EDGES, stamps[-1] - stamps[last], side="right").astype(np.int64)
    kind = np.clip(np.asarray(types, dtype=np.int64)[last], 0, n_types - 1)
    return distinct, numeric, (kind, np.minimum(rank, MAX_RANK - 1), gap)


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


def _cart_and_clock(
    inverse: np.ndarray, basket: np.ndarray, stamps: np.ndarray | None, counts: np.ndarray, last: np.ndarray,
    first: np.ndarray, in_baskets: np.ndarray,
) -> list[np.ndarray]:
    """Per distinct item: its mean position in its baskets (0 = first in the cart: staples go in first), the
    time since its newest event and its usual interval, both in the user's mean time between baskets, their
    log ratio (due by the clock), and that mean time in days. Without timestamps the clock columns are 0."""
    n, width = len(inverse), len(counts)
    starts = np.r_[0, np.flatnonzero(np.diff(basket)) + 1] if n else np.zeros(0, np.int64)
    sizes = np.diff(np.r_[starts, n])
    position = (np.arange(n) - starts[basket]) / sizes[basket] if n else np.zeros(0)
    cart = np.bincount(inverse, weights=position, minlength=width) / np.maximum(counts, 1)
    if stamps is None or len(starts) < 2:
        return [cart, *([np.zeros(width)] * 4)]
    mean_gap = max((stamps[starts[-1]] - stamps[0]) / (len(starts) - 1), 1.0)
    # at least 0: a live history may end with an event sent with an older timestamp than the ones before it
    since = np.maximum(stamps[-1] - stamps[last], 0.0) / mean_gap
    interval = np.maximum(stamps[last] - stamps[first], 0.0) / np.maximum(in_baskets - 1, 1) / mean_gap
    due = np.where(in_baskets > 1, np.log((since + 0.1) / (interval + 0.1)), 0.0)
    return [cart, np.log1p(since), np.log1p(interval), due, np.full(width, np.log(mean_gap / 86400.0 + 1e-3))]


def _streaks(pair_item: np.ndarray, pair_basket: np.ndarray, baskets: int, width: int) -> list[np.ndarray]:
    """Per distinct item, from its (item, basket) pairs: in the newest basket?, log(1 + how many of the newest
    baskets in a row hold it), and the share of the newest 3 and 10 baskets holding it (a short history's
    missing baskets count as not holding it)."""
    span = min(baskets, STREAK_BASKETS)
    held = np.zeros((width, max(span, 1)), dtype=bool)
    newest = pair_basket >= baskets - span
    held[pair_item[newest], baskets - 1 - pair_basket[newest]] = True
    run = np.where(held.all(axis=1), span, np.argmin(held, axis=1)).astype(np.float64)
    recent = [held[:, :3].sum(axis=1) / 3.0, held[:, :10].sum(axis=1) / 10.0]
    return [held[:, 0].astype(np.float64), np.log1p(run), *recent]


def _open_basket(basket: np.ndarray, in_newest: np.ndarray, share: np.ndarray, cart: np.ndarray) -> list[np.ndarray]:
    """How unfinished the newest basket looks, alone and with each item. The newest basket may still be filling
    (a cart being put together, the rest of a session): then what completes it is what the user usually takes
    and has not taken yet, and an item already in it does not come again in it."""
    sizes = np.bincount(basket).astype(np.float64)
    typical = sizes[:-1].mean() if len(sizes) > 1 else sizes[-1]
    open_ = max(0.0, 1.0 - sizes[-1] / max(typical, 1.0))
    width = len(in_newest)
    return [np.full(width, open_), in_newest * open_, (1.0 - in_newest) * share * open_, cart * open_]
