"""Answering one runtime request from a loaded model (spec §2.14, §5.4, §10.3, §10.5).

Pipeline: raw scores for the user's history (model + real-time events; cached per user until their history
changes) → impressions demote items shown but never chosen → filter mask → top-k → exploration slots →
promotion slots → Personalize's display scores (softmax over the scored candidates) → metadata, reasons.
Everything is vectorised numpy over the catalogue; nothing loops over items in Python.
"""

from __future__ import annotations

import math
import random
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

import numpy as np

from .models import Catalog, ServedModel
from .realtime import UserHistory

IMPRESSION_PENALTY = 0.5  # per unclicked impression, in standard deviations of the user's scores
EXPLORATION_SHARE = 0.5  # at explorationWeight 1.0 half the list explores; the default 0.3 → 15 % (impl. choice)
SCORE_CACHE_BYTES = 256 * 2**20
# Past this many items a cached ranking keeps only its best PARTIAL_RANKING items (issue 4: sorting a 1M-item
# vector took ~100 ms per user); a request that finds too few allowed items there partitions the catalogue.
FULL_RANKING_LIMIT, PARTIAL_RANKING = 100_000, 2048
REASON_PROMOTED, REASON_EXPLORATION, REASON_POPULAR = "Promoted item", "Exploration", "Popular item"

MaskFn = Callable[[Catalog], np.ndarray]  # the caller's filter, evaluated against a catalogue
T = TypeVar("T")


@dataclass
class Promotion:
    name: str
    percent: int
    mask: MaskFn


@dataclass
class Query:
    """What a GetRecommendations / GetPersonalizedRanking request asks of the model."""

    user_id: str | None
    item_id: str | None = None
    num_results: int = 25
    context: dict[str, str] = field(default_factory=dict)
    mask: MaskFn | None = None
    promotion: Promotion | None = None
    metadata_columns: list[str] = field(default_factory=list)
    exploration_weight: float = 0.0
    exploration_cutoff_days: float = 30.0
    with_scores: bool = True
    with_reasons: bool = False


# ---- raw scores ------------------------------------------------------------------------------------------------

_SCORES: OrderedDict[tuple[Any, ...], np.ndarray] = OrderedDict()
_SCORES_LOCK = threading.Lock()


def _cached(key: tuple[Any, ...], size: int, compute: Callable[[], np.ndarray]) -> np.ndarray:
    found = _SCORES.get(key)
    if found is not None:
        return found
    scores = compute()
    scores.setflags(write=False)
    with _SCORES_LOCK:
        _SCORES[key] = scores
        while len(_SCORES) * max(size, 1) * 4 > SCORE_CACHE_BYTES and len(_SCORES) > 1:
            _SCORES.popitem(last=False)
    return scores



def forget(version_arn: str) -> None:
    """Drop the scores cached for a model whose artifact was replaced (an automatic update)."""
    with _SCORES_LOCK:
        for key in [k for k in _SCORES if k[0] == version_arn]:
            _SCORES.pop(key, None)

# Per cached score vector: its finite items best first, and the softmax normaliser (top score, Σ exp).
# Computed once per user history, so a repeated request picks its top k by one gather instead of a partition
# over the catalogue and scores it without an exp over every item.
_RANKS: OrderedDict[int, tuple[np.ndarray, np.ndarray, float, float]] = OrderedDict()


def _ranking(scores: np.ndarray) -> tuple[np.ndarray, float, float] | None:
    """(order, top, total) of a cached (read-only) score vector; None for a per-request copy."""
    if scores.flags.writeable:
        return None
    found = _RANKS.get(id(scores))
    if found is not None and found[0] is scores:
        return found[1], found[2], found[3]
    finite = np.isfinite(scores)
    if len(scores) > FULL_RANKING_LIMIT:
        head = _best_indices(scores, PARTIAL_RANKING)
        order = head[np.lexsort((head, -scores[head]))]  # ties by index, as the stable sort below
    else:
        order = np.argsort(-scores, kind="stable")
    order = order[finite[order]].astype(np.int32)
    top = float(scores[order[0]]) if len(order) else 0.0
    total = float(np.exp(scores[finite] - top).sum()) if len(order) else 0.0
    with _SCORES_LOCK:
        _RANKS[id(scores)] = (scores, order, top, total)
        while len(_RANKS) * max(len(scores), 1) * 4 > SCORE_CACHE_BYTES and len(_RANKS) > 1:
            _RANKS.popitem(last=False)
    return order, top, total


def _best_indices(scores: np.ndarray, size: int) -> np.ndarray:
    """Indices of the ``size`` best scores, unordered. A model's large catalogue is mostly one fill value, where
    partitioning all of it took 17 ms at 1M items: a threshold read off a 1-in-16 sample keeps ~2 × size items
    (exact whenever at least ``size`` pass it; otherwise the whole vector is partitioned)."""
    sample = scores[::16]
    rank = min(len(sample), 2 * size // 16)
    threshold = np.partition(sample, len(sample) - rank)[len(sample) - rank]
    candidates = np.flatnonzero(scores >= threshold)
    if len(candidates) < size:
        candidates = np.arange(len(scores))
    return candidates[np.argpartition(-scores[candidates], size - 1)[:size]]


def _model_types(model: ServedModel, types: list[str]) -> list[str] | None:
    """Event types the model knows (unknown ones read as its first type); None for untyped models."""
    known = model.recipe.event_types_
    if len(known) <= 1 and (len(known) == 0 or known[0] == ""):
        return None
    names = set(known.tolist())
    return [t if t in names else str(known[0]) for t in types]


def user_scores(model: ServedModel, user_id: str | None, history: UserHistory, context: dict[str, str]) -> np.ndarray:
    """Raw scores over the catalogue (-inf = not recommendable) for this user's current history."""
    catalog = model.catalog
    size = len(catalog.item_ids)
    if history.item_ids:
        # The history object and the user's streamed-change counter identify this exact history.
        version = model.history.user_version(user_id or "")
        key: tuple[Any, ...] = (model.version_arn, size, id(model.history), "u", user_id, version)

        def compute() -> np.ndarray:
            raw = model.recipe.score_history(
                history.item_ids, history_event_types=_model_types(model, history.event_types),
                history_timestamps=history.timestamps,
            )
            return _extend(raw, size)

        return _cached(key, size, compute)
    return _cold_scores(model, context)


def item_scores(model: ServedModel, item_id: str) -> np.ndarray:
    """Related-items scores; an unknown item is served popular items (spec §2.14)."""
    size = len(model.catalog.item_ids)
    return _cached((model.version_arn, size, "i", item_id), size,
                   lambda: _extend(model.recipe.score_history([item_id]), size))


def _cold_scores(model: ServedModel, context: dict[str, str]) -> np.ndarray:
    """A user with no history: popular items, or what is popular in the request's context."""
    size = len(model.catalog.item_ids)
    base = _cached((model.version_arn, size, "cold"), size, lambda: _extend(model.recipe.score_history([]), size))
    contexts = [(k, v) for k, v in sorted(context.items()) if (k, v) in model.history.context_popularity]
    if not contexts:
        return base

    def compute() -> np.ndarray:
        boost = np.zeros(size, dtype=np.float32)
        for pair in contexts:
            counts = model.history.context_popularity[pair]
            pos = model.catalog.index(list(counts))
            ok = pos >= 0
            np.add.at(boost, pos[ok], np.fromiter(counts.values(), np.float32, len(counts))[ok])
        finite = np.isfinite(base)
        spread = float(base[finite].max()) + 1.0 if finite.any() else 1.0
        # context counts first; the overall popularity (scaled below 1) breaks ties
        return np.where(finite, boost + base / spread, base).astype(np.float32)

    return _cached((model.version_arn, size, "ctx", tuple(contexts)), size, compute)


def _extend(raw: np.ndarray, size: int) -> np.ndarray:
    """Model scores padded with -inf for items the model has not seen (they can only be explored)."""
    raw = np.asarray(raw, dtype=np.float32)
    if len(raw) == size:
        return raw.copy()
    return np.concatenate([raw, np.full(size - len(raw), -np.inf, np.float32)])


def demote_impressions(scores: np.ndarray, catalog: Catalog, history: UserHistory) -> np.ndarray:
    """Items shown to the user and never chosen sink, more the more often they were shown (spec §10.3)."""
    unclicked = history.unclicked_impressions()
    if not unclicked:
        return scores
    pos = catalog.index(list(unclicked))
    ok = pos >= 0
    finite = scores[np.isfinite(scores)]
    spread = float(finite.std()) if len(finite) > 1 and finite.std() > 0 else 1.0
    out = scores.copy()
    counts = np.fromiter(unclicked.values(), np.float32, len(unclicked))[ok]
    out[pos[ok]] -= IMPRESSION_PENALTY * spread * counts
    return out


# ---- the answer --------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Prepared:
    """An answer before this request's exploration slots are drawn: what a repeated request can reuse."""

    entries: list[dict[str, Any]]  # the rendered picks, best first
    picked: list[int]  # their catalogue positions
    n_explore: int  # slots to draw per request (0: ``entries`` is the answer)
    pool: np.ndarray  # exploration candidates the filter allows
    pool_shared: bool  # ``pool`` is the catalogue's own (no filter): not this answer's memory
    shown: np.ndarray | None  # per pool item, how often the user saw it without a click (draw weights)
    num_results: int
    explore_query: Query  # reasons and metadata columns for the drawn items

    @classmethod
    def final(cls, entries: list[dict[str, Any]], query: Query) -> Prepared:
        """A finished answer, nothing left to draw."""
        return cls(entries, [], 0, np.zeros(0, np.int64), True, None, query.num_results, query)


def recommend(model: ServedModel, query: Query, history: UserHistory) -> list[dict[str, Any]]:
    """GetRecommendations' itemList for this model and request."""
    if query.promotion is None:
        return explore(model, prepare(model, query, history))
    scores, allowed, filter_mask, picked, reasons = _pick(model, query, history)
    n_explore = _slots(model, query)
    if n_explore:
        picked = _explore(model, query, history, filter_mask, picked, n_explore, reasons)
    picked = _promote(model.catalog, query, scores, picked, reasons)
    return _render(model, query, scores, allowed, picked, reasons)


def prepare(model: ServedModel, query: Query, history: UserHistory) -> Prepared:
    """Everything of the answer but the exploration draw (no promotions: their positions are drawn too)."""
    assert query.promotion is None
    scores, allowed, filter_mask, picked, reasons = _pick(model, query, history)
    n_explore = _slots(model, query)
    pool = _filtered_pool(model, query, filter_mask) if n_explore else np.zeros(0, np.int64)
    shown = _shown_counts(model.catalog, history, pool) if n_explore else None
    entries = _render(model, query, scores, allowed, picked, reasons)
    light = replace(query, mask=None, context={})  # kept with the answer: no filter closure, no user data
    return Prepared(entries, picked, n_explore, pool, filter_mask is None, shown, query.num_results, light)


def explore(model: ServedModel, prepared: Prepared) -> list[dict[str, Any]]:
    """The prepared answer with ``n_explore`` young, little-seen items drawn in (spec §5.4): they replace the
    weakest picks, at random positions."""
    if not prepared.n_explore:
        return prepared.entries
    chosen = _draw(prepared.pool, prepared.n_explore, set(prepared.picked), prepared.shown).tolist()
    if not chosen:
        return prepared.entries
    keep = prepared.entries[: max(0, prepared.num_results - len(chosen))]
    catalog, query = model.catalog, prepared.explore_query
    names = catalog.item_ids[np.asarray(chosen, dtype=np.int64)].tolist()
    drawn = [_entry(catalog, query, index, name, None, REASON_EXPLORATION) for index, name in zip(chosen, names, strict=True)]
    return _interleave(keep, drawn, prepared.num_results)


def _pick(
    model: ServedModel, query: Query, history: UserHistory
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, list[int], dict[int, str]]:
    """Scores, the allowed mask, the filter's mask, the best allowed items and their reasons."""
    catalog = model.catalog
    if model.recipe_type == "RELATED_ITEMS" and query.item_id is not None:
        scores = item_scores(model, query.item_id)
    else:
        scores = user_scores(model, query.user_id, history, query.context)
    scores = demote_impressions(scores, catalog, history)
    allowed = np.isfinite(scores)
    if query.mask is not None:
        filter_mask = query.mask(catalog)
        allowed &= filter_mask
    else:
        filter_mask = None
    if query.item_id is not None and model.recipe_type == "RELATED_ITEMS":
        allowed[catalog.index([query.item_id])[catalog.index([query.item_id]) >= 0]] = False
    picked = _top(scores, allowed, query.num_results)
    reasons: dict[int, str] = {}
    short = len(picked) < query.num_results and model.recipe_type == "USER_PERSONALIZATION"
    if short and filter_mask is not None and query.with_reasons:
        picked += _popular_fill(catalog, scores, filter_mask, picked, query, reasons)
    return scores, allowed, filter_mask, picked, reasons


def _slots(model: ServedModel, query: Query) -> int:
    if model.recipe_type != "USER_PERSONALIZATION":
        return 0
    return exploration_slots(query.num_results, query.exploration_weight)


def exploration_slots(num_results: int, weight: float) -> int:
    """How many of ``num_results`` go to exploration at this explorationWeight."""
    return int(round(num_results * weight * EXPLORATION_SHARE))


def _top(scores: np.ndarray, allowed: np.ndarray, k: int) -> list[int]:
    ranking = _ranking(scores)
    if ranking is not None:
        order = ranking[0]
        head = 4 * k + 64  # most requests find their k allowed items near the top: look there first
        found = order[:head][allowed[order[:head]]]
        if len(found) < k:
            found = order[allowed[order]]
        if len(found) >= k or len(scores) <= FULL_RANKING_LIMIT:  # a full ranking holds every allowed item
            return found[:k].tolist()
        # a partial ranking (large catalogue) without k allowed items: partition the allowed ones below
    candidates = np.flatnonzero(allowed)
    if len(candidates) > k:
        part = np.argpartition(-scores[candidates], k - 1)[:k]
        candidates = candidates[part]
    order = np.argsort(-scores[candidates], kind="stable")
    return candidates[order].tolist()


def _popular_fill(
    catalog: Catalog, scores: np.ndarray, filter_mask: np.ndarray, picked: list[int], query: Query,
    reasons: dict[int, str],
) -> list[int]:
    """v2 (spec §2.14): when the filter left fewer scored items than asked for, the most popular items the model
    cannot score (and the filter allows) fill the list, unscored, with the reason "Popular item"."""
    eligible = ~np.isfinite(scores) & filter_mask
    if query.item_id is not None:
        eligible[catalog.index([query.item_id])[catalog.index([query.item_id]) >= 0]] = False
    eligible[picked] = False
    pool = np.flatnonzero(eligible)
    fill = pool[np.argsort(-catalog.counts[pool], kind="stable")][: query.num_results - len(picked)].tolist()
    for index in fill:
        reasons[index] = REASON_POPULAR
    return fill


def _explore(
    model: ServedModel, query: Query, history: UserHistory, filter_mask: np.ndarray | None,
    picked: list[int], n_explore: int, reasons: dict[int, str],
) -> list[int]:
    """``explore`` on catalogue positions, for answers that promotions rearrange afterwards."""
    pool = _filtered_pool(model, query, filter_mask)
    chosen = _draw(pool, n_explore, set(picked), _shown_counts(model.catalog, history, pool)).tolist()
    if not chosen:
        return picked
    for index in chosen:
        reasons[index] = REASON_EXPLORATION
    return _interleave(picked[: max(0, query.num_results - len(chosen))], chosen, query.num_results)


def _filtered_pool(model: ServedModel, query: Query, filter_mask: np.ndarray | None) -> np.ndarray:
    """Exploration candidates (spec §5.4): created within ``explorationItemAgeCutOff`` days of the newest
    interaction, fewer interactions than the median item (new items from PutItems have none), allowed by the
    filter. Items shown to this user without a click are drawn less often (``_shown_counts``)."""
    pool = _exploration_pool(model.catalog, model.history.latest_timestamp - query.exploration_cutoff_days * 86400.0)
    return pool[filter_mask[pool]] if filter_mask is not None else pool


def _exploration_pool(catalog: Catalog, cutoff: float) -> np.ndarray:
    """Items young enough (created after ``cutoff``; new items without a date count as young) and less popular
    than the median trained item. Kept per catalogue until the newest interaction moves the cut-off."""
    found = catalog.exploration_pool
    if found is not None and found[0] == cutoff:
        return found[1]
    young = np.where(np.isnan(catalog.created), np.arange(len(catalog.created)) >= catalog.n_model, catalog.created >= cutoff)
    trained = catalog.counts[: catalog.n_model]
    median = float(np.median(trained[trained > 0])) if (trained > 0).any() else 1.0
    pool = np.flatnonzero(young & (catalog.counts < median))
    catalog.exploration_pool = (cutoff, pool)
    return pool


def _shown_counts(catalog: Catalog, history: UserHistory, pool: np.ndarray) -> np.ndarray | None:
    """How often each pool item was shown to this user without a click; None when nothing was."""
    unclicked = history.unclicked_impressions()
    if not unclicked:
        return None
    shown = np.zeros(len(catalog.item_ids))
    pos = catalog.index(list(unclicked))
    ok = pos >= 0
    shown[pos[ok]] = np.fromiter(unclicked.values(), float, len(unclicked))[ok]
    return shown[pool]  # type: ignore[no-any-return]


_RNG = np.random.default_rng()  # one generator: seeding one per request reads the OS entropy pool each time


def _draw(pool: np.ndarray, k: int, excluded: set[int], shown: np.ndarray | None) -> np.ndarray:
    """``k`` distinct pool items not in ``excluded``: uniformly, or weighted 1 / (1 + 2·shown) (weighted
    sampling without replacement by exponential keys: the k largest u^(1/w))."""
    if shown is None:
        draw = _RNG.choice(pool, size=min(k + len(excluded), len(pool)), replace=False) if len(pool) else pool
    else:
        keys = _RNG.random(len(pool)) ** (1.0 + 2.0 * shown)
        wanted = min(k + len(excluded), len(pool))
        best = np.argpartition(-keys, wanted - 1)[:wanted] if 0 < wanted < len(pool) else np.arange(len(pool))
        draw = pool[best[np.argsort(-keys[best], kind="stable")]]
    return np.asarray([i for i in draw.tolist() if i not in excluded][:k], dtype=np.int64)


def _promote(catalog: Catalog, query: Query, scores: np.ndarray, picked: list[int], reasons: dict[int, str]) -> list[int]:
    """``ceil(numResults·percent/100)`` slots for the best items matching the promotion's filter (spec §10.5)."""
    promotion = query.promotion
    assert promotion is not None  # checked by the caller
    slots = math.ceil(query.num_results * promotion.percent / 100)
    eligible = promotion.mask(catalog).copy()
    ranked = np.where(np.isfinite(scores), scores, -1e30)  # unscored items may be promoted, after scored ones
    promoted = _top(ranked, eligible, slots)
    for index in promoted:
        reasons[index] = REASON_PROMOTED
    chosen = set(promoted)
    others = [i for i in picked if i not in chosen][: max(0, query.num_results - len(promoted))]
    return _interleave(others, promoted, query.num_results)


def _interleave(base: list[T], inserted: list[T], limit: int) -> list[T]:
    """``inserted`` at random positions among ``base``; both keep their relative order."""
    total = min(limit, len(base) + len(inserted))
    slots = sorted(random.sample(range(total), min(len(inserted), total)))  # small: Python's sampler is cheaper
    out: list[T] = []
    rest, extra = iter(base), iter(inserted)
    slot_set = set(slots)
    for position in range(total):
        out.append(next(extra) if position in slot_set else next(rest))
    return out


def display_scores(
    scores: np.ndarray, allowed: np.ndarray, picked: list[int], *, over_allowed: bool = False
) -> list[float | None]:
    """Softmax scores (spec §5.4); None for items the model cannot score.

    GetRecommendations normalises over every item the model scores (v1: the whole catalogue, so a filter does
    not inflate what it keeps, and the normaliser is cached per user); GetPersonalizedRanking over its input
    list (``over_allowed``).
    """
    ranking = None if over_allowed else _ranking(scores)
    if ranking is not None:
        top, total = ranking[1], ranking[2]
    else:
        finite = np.isfinite(scores) & allowed if over_allowed else np.isfinite(scores)
        if not finite.any():
            return [None] * len(picked)
        top = float(scores[finite].max())
        total = float(np.exp(scores[finite] - top).sum())
    if total <= 0:
        return [None] * len(picked)
    chosen = np.asarray(picked, dtype=np.int64)
    # float64 before rounding: a rounded float32 prints as 0.003254000097513199 on the wire
    values = np.round(np.exp(scores[chosen].astype(np.float64) - top) / total, 6).tolist()
    ok = (allowed[chosen] & np.isfinite(scores[chosen])).tolist()
    return [v if k else None for v, k in zip(values, ok, strict=True)]


def _render(
    model: ServedModel, query: Query, scores: np.ndarray, allowed: np.ndarray, picked: list[int], reasons: dict[int, str]
) -> list[dict[str, Any]]:
    catalog = model.catalog
    shown = display_scores(scores, allowed, picked) if query.with_scores else [None] * len(picked)
    names = catalog.item_ids[np.asarray(picked, dtype=np.int64)].tolist()
    return [_entry(catalog, query, index, name, score, reasons.get(index)) for index, name, score in zip(picked, names, shown, strict=True)]


def _entry(catalog: Catalog, query: Query, index: int, name: str, score: float | None, reason: str | None) -> dict[str, Any]:
    """One PredictedItem: exploration slots carry no score; reasons are a v2 feature."""
    entry: dict[str, Any] = {"itemId": name}
    if score is not None and reason != REASON_EXPLORATION:
        entry["score"] = score
    if reason is not None:
        if reason == REASON_PROMOTED and query.promotion is not None:
            entry["promotionName"] = query.promotion.name
        if query.with_reasons:
            entry["reason"] = [reason]
    if query.metadata_columns:
        entry["metadata"] = catalog.metadata(index, query.metadata_columns)
    return entry


def rank(model: ServedModel, query: Query, history: UserHistory, input_list: list[str]) -> list[dict[str, Any]]:
    """GetPersonalizedRanking: ``input_list`` best first, scored by softmax over the list (spec §5.4).

    Items the model cannot score keep their input order at the end, without a score; items the filter
    excludes are left out.
    """
    catalog = model.catalog
    wanted = list(dict.fromkeys(input_list))  # a repeated id is ranked once
    scores = demote_impressions(user_scores(model, query.user_id, history, query.context), catalog, history)
    pos = catalog.index(wanted)
    mask = query.mask(catalog) if query.mask is not None else None
    keep = [i for i, p in enumerate(pos) if p < 0 or mask is None or mask[p]]
    known = [i for i in keep if pos[i] >= 0 and np.isfinite(scores[pos[i]])]
    unknown = [i for i in keep if i not in set(known)]
    known.sort(key=lambda i: -float(scores[pos[i]]))
    allowed = np.zeros(len(scores), dtype=bool)
    allowed[[pos[i] for i in known]] = True
    shown = display_scores(scores, allowed, [int(pos[i]) for i in known], over_allowed=True)
    out = []
    for i, score in zip(known, shown, strict=True):
        entry: dict[str, Any] = {"itemId": wanted[i], "score": score or 0.0}
        if query.metadata_columns:
            entry["metadata"] = catalog.metadata(int(pos[i]), query.metadata_columns)
        out.append(entry)
    for i in unknown:
        entry = {"itemId": wanted[i]}
        if query.metadata_columns and pos[i] >= 0:
            entry["metadata"] = catalog.metadata(int(pos[i]), query.metadata_columns)
        out.append(entry)
    return out
