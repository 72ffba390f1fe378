"""The repeat model's features (see ``_repeat.py``), for many histories at once.

A batch of users is one pass of segment operations over their concatenated events: per user, the same
dozen numpy calls on a few dozen items had cost three quarters of a batch row's time. One history is a
batch of one, so served, batch and evaluated answers come from the same arithmetic.

Events sharing a timestamp form a basket (an order, a batch of events); without timestamps every event is
its own basket and the time gap is unknown.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MAX_RANK = 64  # the table's recency ranks; items further back share the last one
RECENT_BASKETS = 5  # "taken in k of the last 5 baskets"
# Buckets of the time since the item's latest event, measured from the history's newest event: the same
# second (one batch of events), a minute, an hour, a day, a month, older. The last bucket is "unknown".
GAP_EDGES = np.array([1.0, 60.0, 3600.0, 86400.0, 30 * 86400.0])
UNKNOWN_GAP = len(GAP_EDGES) + 1
# Decay rates per basket of the basket-frequency features (weight r^age, age 0 = the newest basket): each
# alone ranks history items better than counts do on grocery orders (0.85 best), together better still.
DECAYS = (0.5, 0.7, 0.85, 0.95)
STREAK_BASKETS = 20  # the longest run of newest baskets counted as a streak
PROPENSITY_COLUMN = 7  # the column of ``Features.numeric`` holding the item propensity's logarithm
CART_COLUMN = 19  # the column holding the mean cart position
COLUMNS = 32


@dataclass(frozen=True)
class Features:
    """One row per distinct (history, item): the history's row, the item, its counts and its table cell."""

    rows: np.ndarray
    items: np.ndarray
    numeric: np.ndarray  # (n, COLUMNS) float64
    cells: tuple[np.ndarray, np.ndarray, np.ndarray]  # the table's (type, recency rank, gap bucket)


@dataclass(frozen=True)
class _Events:
    """The concatenated events with their basket and distinct-item indices."""

    offsets: np.ndarray
    lengths: np.ndarray  # per history: its events
    stamps: np.ndarray | None
    basket: np.ndarray  # per event: its basket within its history (0 = the oldest)
    numbered: np.ndarray  # per event: its basket over all histories
    starts: np.ndarray  # per basket (over all histories): its first event
    sizes: np.ndarray  # per basket: its events
    baskets: np.ndarray  # per history: how many baskets
    inverse: np.ndarray  # per event: its distinct (history, item)


def features(
    items: np.ndarray, types: np.ndarray | None, times: np.ndarray | None, offsets: np.ndarray,
    propensity: np.ndarray, n_types: int,
) -> Features:
    """The features of each history ``items[offsets[i]:offsets[i+1]]`` (chronological); ``types`` and
    ``times`` are aligned with ``items`` or None; ``propensity`` is indexed by item."""
    items = np.asarray(items, dtype=np.int64)
    offsets = np.asarray(offsets, dtype=np.int64)
    n = len(items)
    if n == 0:
        empty = np.zeros(0, np.int64)
        return Features(empty, empty, np.zeros((0, COLUMNS)), (empty, empty, empty))
    lengths = np.diff(offsets)
    row = np.repeat(np.arange(len(offsets) - 1), lengths)
    width = int(items.max()) + 1
    keys, first, inverse, counts = np.unique(
        row * width + items, return_index=True, return_inverse=True, return_counts=True)
    events = _events(row, inverse.ravel(), offsets, lengths, times)
    drow, ditem = keys // width, keys % width
    last = np.empty(len(keys), dtype=np.int64)
    last[events.inverse] = np.arange(n)  # the newest occurrence wins the assignment
    rank = _rank(drow, last, n)
    numeric = _numeric(events, drow, ditem, rank, first, last, counts, propensity)
    if events.stamps is None:
        gap = np.full(len(keys), UNKNOWN_GAP, dtype=np.int64)
    else:
        newest = events.stamps[offsets[1:] - 1]
        gap = np.searchsorted(GAP_EDGES, newest[drow] - events.stamps[last], side="right").astype(np.int64)
    codes = np.zeros(n, np.int64) if types is None else np.asarray(types, dtype=np.int64)
    kind = np.clip(codes[last], 0, n_types - 1)
    return Features(drow, ditem, numeric, (kind, np.minimum(rank, MAX_RANK - 1), gap))


def _events(
    row: np.ndarray, inverse: np.ndarray, offsets: np.ndarray, lengths: np.ndarray, times: np.ndarray | None,
) -> _Events:
    n = len(row)
    stamps = None if times is None else np.asarray(times, dtype=np.float64)
    opens = basket_opens(stamps, offsets, n)
    numbered = np.cumsum(opens) - 1  # over all histories
    starts = np.flatnonzero(opens)
    firsts = np.minimum(offsets[:-1], n - 1)  # an empty history's entry is never read
    basket = numbered - numbered[firsts][row]
    baskets = np.where(lengths > 0, numbered[np.maximum(offsets[1:] - 1, 0)] - numbered[firsts] + 1, 0)
    sizes = np.diff(starts, append=n)
    return _Events(offsets, lengths, stamps, basket, numbered, starts, sizes, baskets, inverse)


def basket_opens(stamps: np.ndarray | None, offsets: np.ndarray, n: int) -> np.ndarray:
    """Per event of the concatenated histories: whether it opens a basket (each history's first event, and
    wherever the timestamp changes; every event without timestamps)."""
    opens = np.ones(n, dtype=bool)
    if stamps is not None and n:
        opens[1:] = stamps[1:] != stamps[:-1]
        opens[offsets[:-1][offsets[:-1] < n]] = True
    return opens


def _rank(drow: np.ndarray, last: np.ndarray, n: int) -> np.ndarray:
    """Each distinct item's recency rank among its history's distinct items (0 = the newest)."""
    order = np.argsort(drow * (n + 1) + (n - last))
    starts = np.searchsorted(drow, drow)  # drow is sorted: where each history's items begin
    rank = np.empty(len(drow), dtype=np.int64)
    rank[order] = np.arange(len(drow)) - starts
    return rank


def _numeric(
    events: _Events, drow: np.ndarray, ditem: np.ndarray, rank: np.ndarray, first: np.ndarray, last: np.ndarray,
    counts: np.ndarray, propensity: np.ndarray,
) -> np.ndarray:
    """See ``_repeat.py``'s docstring; every count is per history (``drow``)."""
    d, basket = len(drow), events.basket
    lengths = events.lengths
    baskets = events.baskets[drow].astype(np.int64)
    span_of_keys = int(events.baskets.max()) + 1
    pairs = np.unique(events.inverse * span_of_keys + basket)
    pair_item, pair_basket = pairs // span_of_keys, pairs % span_of_keys
    pair_baskets = baskets[pair_item]
    in_baskets = np.bincount(pair_item, minlength=d).astype(np.float64)
    newest_five = pair_basket >= pair_baskets - RECENT_BASKETS
    recent = np.bincount(pair_item[newest_five], minlength=d) / np.minimum(baskets, RECENT_BASKETS)
    since = baskets - 1 - basket[last]
    span = baskets - basket[first]  # baskets since the first time it was taken, that one included
    repeat_share = (1.0 - np.bincount(drow, minlength=len(lengths)) / np.maximum(lengths, 1))[drow]
    share = in_baskets / np.maximum(baskets, 1)
    rate = (in_baskets + 0.5) / (span + 1.0)  # how often it is taken once known to the user (smoothed)
    interval = (basket[last] - basket[first]) / np.maximum(in_baskets - 1, 1)
    due = np.where(in_baskets > 1, np.log((since + 1.0) / (interval + 1.0)), 0.0)
    # the protocol's future is a ninth of the input's length: about baskets/9 baskets
    expected = 1.0 - (1.0 - np.minimum(rate, 0.99)) ** np.maximum(baskets / 9.0, 1.0)
    columns = [
        np.log1p(rank),
        np.log1p(since),
        np.log(counts),
        share,
        recent,
        repeat_share,
        np.log(np.maximum(lengths, 1).astype(np.float64))[drow],
        np.log(np.maximum(propensity[ditem], 1e-3)),
        share * repeat_share,
        rate,
        expected,
        due,
        in_baskets == 1,
        np.log(np.maximum(baskets, 1).astype(np.float64)),
    ]
    # sums, not averages over the baskets: a short history's items would all look like staples (1 = in every
    # basket) where a long history's newest basket only is
    age = pair_baskets - 1.0 - pair_basket
    decayed = [np.bincount(pair_item, weights=r**age, minlength=d) for r in DECAYS]
    streaks = _streaks(pair_item, pair_basket, pair_baskets, d)
    cart = _cart(events, counts, d)
    numeric = np.column_stack([
        *columns, *decayed, decayed[2] * repeat_share, cart, *_clock(events, drow, first, last, in_baskets),
        *streaks,
    ])
    return np.column_stack([numeric, *_open_basket(events, drow, streaks[0], share, cart)])


def _cart(events: _Events, counts: np.ndarray, d: int) -> np.ndarray:
    """Per distinct item: its mean position in its baskets (0 = first in the cart: staples go in first)."""
    n, numbered = len(events.basket), events.numbered
    position = (np.arange(n) - events.starts[numbered]) / events.sizes[numbered]
    return np.bincount(events.inverse, weights=position, minlength=d) / np.maximum(counts, 1)


def _clock(
    events: _Events, drow: np.ndarray, first: np.ndarray, last: np.ndarray, in_baskets: np.ndarray,
) -> list[np.ndarray]:
    """Per distinct item: the time since its newest event and its usual interval, both in the user's mean time
    between baskets, their log ratio (due by the clock), and that mean time in days. Without timestamps or with
    one basket the columns are 0."""
    d = len(drow)
    if events.stamps is None:
        return [np.zeros(d)] * 4
    stamps, offsets, baskets = events.stamps, events.offsets, events.baskets
    timed = baskets >= 2
    ends = stamps[np.maximum(offsets[1:] - 1, 0)]
    gaps = np.maximum((ends - stamps[np.minimum(offsets[:-1], len(stamps) - 1)]) / np.maximum(baskets - 1, 1), 1.0)
    mean_gap = gaps[drow]
    # at least 0: a live history may end with an event sent with an older timestamp than the ones before it
    since = np.maximum(ends[drow] - stamps[last], 0.0) / mean_gap
    interval = np.maximum(stamps[last] - stamps[first], 0.0) / np.maximum(in_baskets - 1, 1) / mean_gap
    due = np.where(in_baskets > 1, np.log((since + 0.1) / (interval + 0.1)), 0.0)
    on = timed[drow]
    days = np.log(gaps / 86400.0 + 1e-3)[drow]
    return [np.where(on, column, 0.0) for column in (np.log1p(since), np.log1p(interval), due, days)]


def _streaks(pair_item: np.ndarray, pair_basket: np.ndarray, pair_baskets: np.ndarray, d: int) -> list[np.ndarray]:
    """Per distinct item, from its (item, basket) pairs: in the newest basket?, log(1 + how many of the newest
    baskets in a row hold it), and the share of the newest 3 and 10 baskets holding it (a short history's
    missing baskets count as not holding it)."""
    age = pair_baskets - 1 - pair_basket
    newest = age < STREAK_BASKETS
    held = np.zeros((d, STREAK_BASKETS), dtype=bool)
    held[pair_item[newest], age[newest]] = True
    # the first basket without it; past a short history's oldest basket every column is False
    run = np.where(held.all(axis=1), STREAK_BASKETS, np.argmin(held, axis=1)).astype(np.float64)
    recent = [held[:, :3].sum(axis=1) / 3.0, held[:, :10].sum(axis=1) / 10.0]
    return [held[:, 0].astype(np.float64), np.log1p(run), *recent]


def _open_basket(
    events: _Events, drow: np.ndarray, in_newest: np.ndarray, share: np.ndarray, cart: np.ndarray,
) -> list[np.ndarray]:
    """How unfinished the newest basket looks, alone and with each item. The newest basket may still be filling
    (a cart being put together, the rest of a session): then what completes it is what the user usually takes
    and has not taken yet, and an item already in it does not come again in it."""
    offsets, baskets, sizes, lengths = events.offsets, events.baskets, events.sizes, events.lengths
    newest = sizes[events.numbered[np.maximum(offsets[1:] - 1, 0)]].astype(np.float64)  # each history's newest basket
    typical = np.where(baskets > 1, (lengths - newest) / np.maximum(baskets - 1, 1), newest)
    open_ = np.maximum(0.0, 1.0 - newest / np.maximum(typical, 1.0))[drow]
    return [open_, in_newest * open_, (1.0 - in_newest) * share * open_, cart * open_]
