"""From model scores to an answer (spec §5.4, §10.5): the one ranking every path uses.

GetRecommendations and GetPersonalizedRanking (serving/recommend.py), batch inference (jobs/batch_inference.py),
user segments (recipes/affinity.py) and the offline evaluation (``Recipe.recommend_batch``) all pick their
items here, so an evaluated list is a served list and a batch job answers what a campaign answers.

Scores are float arrays over a catalogue, one row (1-D) or many rows (2-D); ``-inf`` marks an item that may
not be returned (not scored, filtered out, excluded). Picks are catalogue positions, best first, ``-1`` where
a row has fewer candidates than asked for. Ties go to the lower position, whichever path ranks. Numpy only.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple, TypeVar

import numpy as np

EXPLORATION_SHARE = 0.5  # at explorationWeight 1.0 half the list explores; the default 0.3 → 15 % (impl. choice)
EXPLORATION_FROM = 0.5  # explored items take positions in the answer's second half (``explore``; impl. choice)
# Display scores carry 7 decimals, as AWS's batch output shows them ("scores":[0.0152238, …], spec §8.1).
DISPLAY_DECIMALS = 7
DISPLAY_SCALE = 10.0**DISPLAY_DECIMALS
# The softmax normaliser exponentiates this many scores at a time: a whole 256 × 5,000 batch block in one call,
# a few rows of a 1M-item catalogue (a block's copy would double a batch thread's memory there).
NORMALISER_CELLS = 2_000_000
# Past this many items a cached ranking keeps only its best PARTIAL_RANKING items (sorting a 1M-item vector
# took ~100 ms per user); a request that finds too few allowed items there falls back to ``top_k``.
FULL_RANKING_LIMIT, PARTIAL_RANKING = 100_000, 2048
HEAD_EXTRA = 64  # a top-k under a mask reads the best 4k + 64 items first (``top_k_ranked``, ``top_k_allowed``)
_SAMPLE_STRIDE = 16  # ``top_k`` on a long row reads a threshold off every 16th score first
_NARROW_WIDTH = 64  # rows this many times longer than k are narrowed by such a threshold
SECONDS_PER_DAY = 86400.0

T = TypeVar("T")


# ---- top-k -------------------------------------------------------------------------------------------------------


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Positions of the ``k`` best finite scores per row, best first, ties to the lower position; ``-1`` pads a
    row with fewer finite scores. 1-D in, 1-D out; 2-D in, 2-D out."""
    if scores.ndim == 1:  # one row: ``largest``, ordered
        chosen = largest(scores, max(k, 0))
        chosen = chosen[np.argsort(-scores[chosen], kind="stable")]
        return np.where(np.isfinite(scores[chosen]), chosen, -1)
    k = min(k, scores.shape[1])
    if k <= 0:
        return np.zeros((scores.shape[0], 0), dtype=np.int64)
    if scores.shape[1] < _NARROW_WIDTH * k:
        return _top_k_all(scores, k)
    positions, values, short = _narrowed(scores, k)
    top = _top_k_all(values, k)
    top = np.where(top >= 0, np.take_along_axis(positions, np.maximum(top, 0), axis=1), -1)
    if short.any():
        top[short] = _top_k_all(scores[short], k)
    return top


def largest(values: np.ndarray, count: int, *, mostly_zero: bool = False) -> np.ndarray:
    """Indices (ascending) of the ``count`` largest of one row's values; of values tied at the count-th, the
    first ones (``top_k``'s rule; -inf counts as a value here, ``top_k`` turns it into -1).

    The selection runs on the values at or above a floor read off every ``_SAMPLE_STRIDE``-th one (a few hundred
    of ~10⁵): a full partition cost more than the neighbour vote that asks, and one argpartition's choice among
    tied values depended on the whole array. Ranks are selected on negated values: numpy selects a rank near the
    end of a row that is mostly one value (a large catalogue's fill) 20× slower than near its start.

    ``mostly_zero``: the values are ≥ 0 and most are 0 (the neighbour vote's similarities of every position). The
    floor is then read off the sample's positive values when it has enough of them, the same floor: numpy's
    selection among thousands of equal zeros took four times as long as among the positive values."""
    if count <= 0:
        return np.zeros(0, np.int64)
    if len(values) <= count:
        return np.arange(len(values))
    sample = values[::_SAMPLE_STRIDE]
    rank = min(len(sample), 2 * count // _SAMPLE_STRIDE + 8)  # about twice count values lie above the floor
    if mostly_zero:
        positive = sample[sample > 0]
        sample = positive if len(positive) >= rank else sample  # the rank-th largest is one of them, or ≤ 0
    floor = -np.partition(-sample, rank - 1)[rank - 1]
    above = np.flatnonzero(values >= floor)
    if len(above) < count:  # the sample misjudged the spread: choose among everything
        above = np.arange(len(values))
    chosen = values[above]
    kth = -np.partition(-chosen, count - 1)[count - 1]  # every value below the count-th is out
    better, tied = above[chosen > kth], above[chosen == kth]
    return np.sort(np.concatenate([better, tied[: count - len(better)]]))


def _top_k_all(scores: np.ndarray, k: int) -> np.ndarray:
    part = np.sort(np.argpartition(-scores, k - 1, axis=1)[:, :k], axis=1)
    part = _settle_ties(scores, part)
    order = np.argsort(-np.take_along_axis(scores, part, axis=1), axis=1, kind="stable")
    top = np.take_along_axis(part, order, axis=1)
    return np.where(np.isfinite(np.take_along_axis(scores, top, axis=1)), top, -1)


def _narrowed(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each row's scores at or above a threshold read off every ``_SAMPLE_STRIDE``-th score, packed to the left
    in position order (padded with -inf), their positions, and the rows left with fewer than ``k`` (to be
    ranked whole; their packed rows are empty).

    Partitioning whole rows was a quarter of batch inference's time (and 17 ms for one row of 1M items, mostly
    one fill value); the threshold keeps about 4k candidates per row, and is exact: every item left out scores
    below the threshold, which is at most the k-th best score of a row keeping at least k."""
    sample = scores[:, ::_SAMPLE_STRIDE]
    rank = max(1, min(sample.shape[1], 4 * k // _SAMPLE_STRIDE))
    # the rank-th smallest of the negated sample: numpy's selection of a rank near the end of a row that is
    # mostly one value (a large catalogue's fill) took 20× as long
    threshold = -np.partition(-sample, rank - 1, axis=1)[:, rank - 1]
    kept = scores >= threshold[:, None]
    counts = np.count_nonzero(kept, axis=1)  # counted once: each count is 0.4 ms of a 256-row block
    short = counts < k
    kept[short] = False
    counts[short] = 0
    flat = np.flatnonzero(kept)  # row by row, positions ascending
    rows = flat // scores.shape[1]
    columns = flat - rows * scores.shape[1]
    slots = np.arange(len(flat)) - np.repeat(np.cumsum(counts) - counts, counts)
    positions = np.zeros((len(scores), max(int(counts.max()), k)), dtype=np.int64)
    values = np.full(positions.shape, -np.inf, dtype=scores.dtype)
    positions[rows, slots] = columns
    values[rows, slots] = scores.reshape(-1)[flat]
    return positions, values, short


def _settle_ties(scores: np.ndarray, part: np.ndarray) -> np.ndarray:
    """``argpartition`` keeps an arbitrary few of the items tied with the k-th best; keep the lowest positions
    instead, so every path agrees (a popularity fallback ties often). Rows are sorted by position."""
    picked = np.take_along_axis(scores, part, axis=1)
    kth = picked.min(axis=1)
    kept = (picked == kth[:, None]).sum(axis=1)
    tied = (scores == kth[:, None]).sum(axis=1)
    rows = np.flatnonzero((kept < tied) & np.isfinite(kth))  # -inf ties become -1 padding anyway
    if len(rows):  # all at once: a loop over rows was half of a batch's top-k (a blend ties many items at 0)
        unsettled, level = scores[rows], kth[rows, None]
        above = unsettled > level
        tie = unsettled == level
        wanted = part.shape[1] - above.sum(axis=1, keepdims=True)  # ties kept per row (fewer than it has)
        keep = above | (tie & (np.cumsum(tie, axis=1) <= wanted))
        part[rows] = np.nonzero(keep)[1].reshape(len(rows), part.shape[1])  # k per row, by position
    return part


class Ranking(NamedTuple):
    """A score vector's finite items best first (all of them, or its best PARTIAL_RANKING past
    FULL_RANKING_LIMIT items) and its softmax normaliser: computed once per cached vector, so a repeated
    request picks its top k by one gather and scores them without an exp over the catalogue."""

    scores: np.ndarray
    order: np.ndarray
    peak: float
    total: float


def ranking_of(scores: np.ndarray, peak: float, total: float) -> Ranking:
    """The ``Ranking`` of one score vector (same ties as ``top_k``) with its normaliser."""
    if len(scores) > FULL_RANKING_LIMIT:
        order = top_k(scores, PARTIAL_RANKING)
        order = order[order >= 0]
    else:
        order = np.argsort(-scores, kind="stable")
        order = order[np.isfinite(scores[order])]
    return Ranking(scores, order.astype(np.int32), peak, total)


def top_k_ranked(ranking: Ranking, allowed: np.ndarray, k: int) -> np.ndarray:
    """``top_k`` of the scores where ``allowed``, read off a cached ranking (most requests find their k allowed
    items near its top)."""
    order = ranking.order
    head = HEAD_EXTRA + 4 * k
    found = order[:head][allowed[order[:head]]]
    if len(found) < k:
        found = order[allowed[order]]
    if len(found) >= k or len(ranking.scores) <= FULL_RANKING_LIMIT:  # a full ranking holds every allowed item
        return found[:k].astype(np.int64)
    picked = top_k(np.where(allowed, ranking.scores, -np.inf), k)
    return picked[picked >= 0]


def top_k_allowed(scores: np.ndarray, allowed: np.ndarray, k: int) -> np.ndarray:
    """``top_k`` of one row's scores where ``allowed``, without -1 padding, read off the row's best items first:
    the allowed ones among them come in the same order, and most requests find their k there. Masking the whole
    row first cost 3 ms at 1M items, where the items a model cannot score leave a scattered third of the mask
    false (``np.where`` mispredicts its branch on every other item)."""
    head = top_k(scores, HEAD_EXTRA + 4 * k)
    found = head[head >= 0]
    if len(found) < len(head) or np.count_nonzero(allowed[found]) >= k:  # short of finite scores: every one is here
        return found[allowed[found]][:k]
    picked = top_k(np.where(allowed, scores, -np.inf), k)
    return picked[picked >= 0]


# ---- display scores ----------------------------------------------------------------------------------------------


def softmax_normaliser(scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row (2-D): the largest finite score and Σ exp(score − largest) over the finite scores (-inf adds 0).

    Exponentials are in the scores' precision (float32 for model scores), summed into float64 along each row;
    a row sums to the same bits alone as in a batch (serving/shortlists.py relies on it; the tests compare, and
    numpy reduces each contiguous row on its own). A caller whose row is padded with -inf (a catalogue grown
    since training) passes the model's part, since padding would change the sum's pairwise order. Float64
    exponentials of the finite scores, gathered first, had cost 9 ms per request at 1M items, and a separate
    exponential call per row 7 % of a batch job's scoring time (py-spy); rows go in blocks of NORMALISER_CELLS."""
    peak = np.max(scores, axis=1, initial=-np.inf)
    peak = np.where(np.isfinite(peak), peak, 0.0).astype(scores.dtype)  # a row without a finite score totals 0
    total = np.empty(len(peak), dtype=np.float64)
    step = max(1, NORMALISER_CELLS // max(scores.shape[1], 1))  # the exponentials' buffer stays bounded
    for start in range(0, len(peak), step):
        shifted = np.subtract(scores[start : start + step], peak[start : start + step, None])
        total[start : start + step] = np.exp(shifted, out=shifted).sum(axis=1, dtype=np.float64)
    return peak, total


def softmax_at(scores: np.ndarray, picked: np.ndarray, normaliser: tuple[np.ndarray, np.ndarray] | None = None
               ) -> np.ndarray:
    """Personalize's scores (spec §5.4): the softmax over each row's finite ``scores``, read at ``picked``
    (2-D positions); NaN where a pick is ``-1`` or not finite. The caller chooses what the softmax runs over by
    what it leaves finite: the whole scored catalogue for recommendations, the input list for ranking."""
    peak, total = normaliser if normaliser is not None else softmax_normaliser(scores)
    # one flat gather (take_along_axis costs more than the arithmetic for a single served row)
    flat = np.maximum(picked, 0) + (np.arange(len(picked)) * scores.shape[1])[:, None]
    at = scores.reshape(-1)[flat].astype(np.float64)
    values = np.exp(at - peak[:, None]) / np.where(total > 0, total, 1.0)[:, None]  # exp(-inf) = 0
    return np.where((picked >= 0) & np.isfinite(at), values, np.nan)


def display_scores(scores: np.ndarray, picked: np.ndarray, normaliser: tuple[np.ndarray, np.ndarray] | None = None
                   ) -> list[list[float | None]]:
    """``softmax_at`` as the wire shows it: ``DISPLAY_DECIMALS`` decimals, None where there is no score."""
    units = display_units(softmax_at(scores, picked, normaliser))
    if not np.isnan(units).any():  # the usual batch: one conversion for every row
        return (units / DISPLAY_SCALE).tolist()
    return [from_units(row) for row in units]


def display_units(values: np.ndarray) -> np.ndarray:
    """Softmax values in units of the wire's last decimal, rint(value × 10^DISPLAY_DECIMALS) (NaN stays NaN):
    what numpy's ``round`` computes before its division, so a list can keep its scores as integers
    (serving/shortlists.py) and show them with the same bits (``from_units``)."""
    return np.rint(np.asarray(values, dtype=np.float64) * DISPLAY_SCALE)


def rounded(values: np.ndarray) -> np.ndarray:
    """Softmax values as the wire shows them, ``DISPLAY_DECIMALS`` decimals (NaN stays NaN)."""
    return display_units(values) / DISPLAY_SCALE


def from_units(units: np.ndarray) -> list[float | None]:
    """One row of ``display_units`` as the wire's scores: ``DISPLAY_DECIMALS`` decimals, None for NaN."""
    values = (np.asarray(units, dtype=np.float64) / DISPLAY_SCALE).tolist()
    return [None if v != v else v for v in values]  # v != v: NaN


# ---- personalized ranking ----------------------------------------------------------------------------------------


def rank_list(scores: np.ndarray, positions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """GetPersonalizedRanking's order of an input list (catalogue ``positions``, -1 = unknown item): scored items
    best first (ties keep their input order), then the rest in input order. Returns (order into the list, the
    display scores over the list's scored items, NaN for the rest)."""
    known = positions >= 0
    values = np.where(known, scores[np.maximum(positions, 0)], -np.inf).astype(np.float64)
    order = np.argsort(-values, kind="stable")  # -inf (unknown, unscored) last, in input order
    shown = softmax_at(values[None, :], order[None, :])[0]
    return order, rounded(shown)


# ---- exploration (spec §5.4) -------------------------------------------------------------------------------------


def exploration_slots(num_results: int, weight: float) -> int:
    """How many of ``num_results`` go to exploration at this explorationWeight."""
    return int(round(num_results * weight * EXPLORATION_SHARE))


def item_ages(creation: np.ndarray | None, first_seen: np.ndarray) -> np.ndarray:
    """When each item appeared, in epoch seconds: its CREATION_TIMESTAMP when the Items dataset gives one, else
    its first interaction, else NaN (spec §5.4)."""
    if creation is None:
        return np.asarray(first_seen, dtype=np.float64)
    return np.where(np.isnan(creation), first_seen, creation).astype(np.float64)


def exploration_pool(created: np.ndarray, counts: np.ndarray, n_model: int, latest: float, cutoff_days: float
                     ) -> np.ndarray:
    """Exploration candidates (spec §5.4): items created within ``cutoff_days`` of the newest interaction
    ``latest`` (items the model does not know and nothing dates count as young) with fewer interactions than
    the median trained item. ``created`` comes from ``item_ages``; items past ``n_model`` are new to the model."""
    undated = np.arange(len(created)) >= n_model
    young = np.where(np.isnan(created), undated, created >= latest - cutoff_days * SECONDS_PER_DAY)
    trained = counts[:n_model]
    median = float(np.median(trained[trained > 0])) if (trained > 0).any() else 1.0
    return np.flatnonzero(young & (counts < median))


def draw(pool: np.ndarray, k: int, rng: np.random.Generator, excluded: Sequence[int] = (),
         shown: np.ndarray | None = None) -> np.ndarray:
    """``k`` distinct ``pool`` items not in ``excluded`` (the answer's picks): uniformly, or weighted
    1 / (1 + 2·shown) by how often the user saw each without a click (weighted sampling without replacement by
    exponential keys: the k largest u^(1+2·shown)). One answer at a time: a draw of k from a small pool is
    O(k), where keys over a whole block of rows cost O(rows × pool) per request."""
    wanted = min(k + len(excluded), len(pool))
    if shown is None:
        candidates = rng.choice(pool, size=wanted, replace=False) if wanted else pool[:0]
    else:
        candidates = pool[top_k(rng.random(len(pool)) ** (1.0 + 2.0 * shown), wanted)]
    skip = set(excluded)
    return np.asarray([c for c in candidates.tolist() if c not in skip][:k], dtype=np.int64)


def explore(picked: list[T], drawn: list[T], num_results: int, rng: np.random.Generator) -> list[T]:
    """The ``drawn`` items replace the weakest picks, at random positions in the answer's lower part (from
    EXPLORATION_FROM of its length on). The top holds the picks the model is surest of: an explored item
    placed there displaced the likeliest choice, while further down it is as visible to the user and costs a
    pick the model had little confidence in (at the default weight, random positions anywhere cost 10–15 %
    NDCG@10 on bench/quality.py --through-api)."""
    kept = picked[: max(0, num_results - len(drawn))]
    total = min(num_results, len(kept) + len(drawn))
    start = max(0, min(int(total * EXPLORATION_FROM), total - len(drawn)))  # room for every drawn item
    return kept[:start] + interleave(kept[start:], drawn, total - start, rng)


def interleave(base: list[T], inserted: list[T], limit: int, rng: np.random.Generator) -> list[T]:
    """``inserted`` at random positions among ``base``; both keep their relative order."""
    total = min(limit, len(base) + len(inserted))
    slots = set(np.argsort(rng.random(total))[: len(inserted)].tolist())  # a random subset of the positions
    rest, extra = iter(base), iter(inserted)
    return [next(extra) if position in slots else next(rest) for position in range(total)]


# ---- promotions (spec §10.5) -------------------------------------------------------------------------------------


def promotion_slots(num_results: int, percent: int) -> int:
    """``ceil(numResults·percent/100)`` slots go to the promotion (impl. choice of rounding)."""
    return math.ceil(num_results * percent / 100)


def promote(picked: list[int], scores: np.ndarray, eligible: np.ndarray, slots: int, num_results: int,
            rng: np.random.Generator) -> tuple[list[int], list[int]]:
    """The best ``slots`` items the promotion's filter allows, at random positions among the other picks; an
    unscored item may be promoted, after the scored ones. Returns (the answer, the promoted items)."""
    ranked = np.where(np.isfinite(scores), scores, -1e30)
    promoted = top_k(np.where(eligible, ranked, -np.inf), slots).tolist()
    promoted = [p for p in promoted if p >= 0]
    chosen = set(promoted)
    others = [i for i in picked if i not in chosen][: max(0, num_results - len(promoted))]
    return interleave(others, promoted, num_results, rng), promoted
