"""Answering one runtime request from a loaded model (spec §2.14, §5.4, §10.3, §10.5).

Pipeline: raw scores for the user's history (model + real-time events; cached per user until their history
changes) → impressions demote items shown but never chosen → filter mask → top-k → exploration slots →
promotion slots → Personalize's display scores (softmax over the scored candidates) → metadata, reasons.
The ranking steps are ranking.py's, shared with batch inference; this module adds what only a live request
has (real-time history, impressions, context, the per-model score and ranking caches on ``ServedModel``).
Everything is vectorised numpy over the catalogue; nothing loops over items in Python.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from .. import ranking
from .models import Catalog, ServedModel
from .realtime import UserHistory
from .shortlists import model_types

IMPRESSION_PENALTY = 0.5  # per unclicked impression, in standard deviations of the user's scores
REASON_PROMOTED, REASON_EXPLORATION, REASON_POPULAR = "Promoted item", "Exploration", "Popular item"

MaskFn = Callable[[Catalog], np.ndarray]  # the caller's filter, evaluated against a catalogue
UNSORTED = np.zeros(0, np.int32)  # the order of a ranking not sorted yet (``_ranking``)
NO_POOL = np.zeros(0, np.int64)  # a finished answer's exploration pool (read-only, shared)
NO_POOL.setflags(write=False)
# An answer explores among at most this many candidates, drawn from a larger pool once per answer: a pool of most
# of a 1M-item catalogue (every item young) had cost its display scores, 6 ms, on every exploring request.
EXPLORATION_CANDIDATES = 4096


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


def _cached(model: ServedModel, key: tuple[Any, ...], compute: Callable[[], np.ndarray]) -> np.ndarray:
    """A score vector from the model's cache; read-only, so a request that changes it must copy it."""
    found = model.scores.get(key)
    if found is not None:
        return found
    scores = compute()
    scores.setflags(write=False)
    return model.scores.put(key, scores)


def _ranking(model: ServedModel, scores: np.ndarray, *, sorted_order: bool = False) -> ranking.Ranking | None:
    """The cached ranking of a cached (read-only) score vector; None for a per-request copy.

    A vector's first request gets its softmax normaliser and an ``UNSORTED`` order: after an event the user's
    next request scores afresh and reads the vector once, and sorting the whole catalogue cost more than that
    request's top-k. A later request for the same vector (another filter, another numResults) sorts it once."""
    if scores.flags.writeable:
        return None
    found = model.ranks.get(id(scores))
    if found is not None and found.scores is scores and not (sorted_order and found.order is UNSORTED):
        return found
    if found is None or found.scores is not scores:
        return model.ranks.put(id(scores), ranking.Ranking(scores, UNSORTED, *_model_normaliser(model, scores)))
    return model.ranks.put(id(scores), ranking.ranking_of(scores, found.peak, found.total))


def user_scores(model: ServedModel, user_id: str | None, history: UserHistory, context: dict[str, str]) -> np.ndarray:
    """Raw scores over the catalogue (-inf = not recommendable) for this user's current history."""
    catalog = model.catalog
    size = len(catalog.item_ids)
    if history.item_ids:
        # The history object and the user's streamed-change counter identify this exact history.
        key: tuple[Any, ...] = (size, id(model.history), "u", user_id, history.version)

        def compute() -> np.ndarray:
            raw = model.recipe.score_history(
                history.item_ids, history_event_types=model_types(model.recipe, history.event_types),
                history_timestamps=history.timestamps,
            )
            return _extend(raw, size)

        return _cached(model, key, compute)
    return _cold_scores(model, context)


def item_scores(model: ServedModel, item_id: str) -> np.ndarray:
    """Related-items scores; an unknown item is served popular items (spec §2.14)."""
    size = len(model.catalog.item_ids)
    return _cached(model, (size, "i", item_id), lambda: _extend(model.recipe.score_history([item_id]), size))


def _cold_scores(model: ServedModel, context: dict[str, str]) -> np.ndarray:
    """A user with no history: popular items, or what is popular in the request's context."""
    size = len(model.catalog.item_ids)
    base = _cached(model, (size, "cold"), lambda: _extend(model.recipe.score_history([]), size))
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

    return _cached(model, (size, "ctx", tuple(contexts)), compute)


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
    pool_scores: np.ndarray | None  # per pool item, the score it shows when drawn (NaN: unscored); None: no scores
    num_results: int
    explore_query: Query  # reasons and metadata columns for the drawn items

    @classmethod
    def final(cls, entries: list[dict[str, Any]], query: Query) -> Prepared:
        """A finished answer, nothing left to draw."""
        return cls(entries, [], 0, NO_POOL, True, None, None, query.num_results, query)


def recommend(model: ServedModel, query: Query, history: UserHistory) -> list[dict[str, Any]]:
    """GetRecommendations' itemList for this model and request."""
    if query.promotion is None:
        return explore(model, prepare(model, query, history))
    scores, allowed, filter_mask, picked, reasons = _pick(model, query, history)
    n_explore = _slots(model, query)
    if n_explore:
        pool, shown, _ = _pool(model, query, history, filter_mask)
        drawn = _draw(model, pool, n_explore, picked, shown)
        reasons.update(dict.fromkeys(drawn, REASON_EXPLORATION))
        picked = ranking.explore(picked, drawn, query.num_results, model.rng)
    picked = _promote(model.catalog, query, scores, picked, reasons, model.rng)
    return _render(model, query, scores, allowed, picked, reasons)


def prepare(model: ServedModel, query: Query, history: UserHistory) -> Prepared:
    """Everything of the answer but the exploration draw (no promotions: their positions are drawn too)."""
    assert query.promotion is None
    shortlisted = _shortlisted(model, query, history)
    if shortlisted is not None:
        return shortlisted
    scores, allowed, filter_mask, picked, reasons = _pick(model, query, history)
    n_explore = _slots(model, query)
    no_pool: tuple[np.ndarray, np.ndarray | None, bool] = (NO_POOL, None, True)
    pool, shown, shared = _pool(model, query, history, filter_mask) if n_explore else no_pool
    entries = _render(model, query, scores, allowed, picked, reasons)
    pool_scores = None
    if n_explore and query.with_scores:  # computed once per answer, so each request's draw only looks them up
        pool_scores = ranking.rounded(ranking.softmax_at(scores[None, :], pool[None, :], _normaliser(model, scores))[0])
    light = replace(query, mask=None, context={})  # kept with the answer: no filter closure, no user data
    return Prepared(entries, picked, n_explore, pool, shared, shown, pool_scores, query.num_results, light)


def _shortlisted(model: ServedModel, query: Query, history: UserHistory) -> Prepared | None:
    """The answer read off the user's shortlist (serving/shortlists.py), or None when it cannot give the same
    answer as scoring: the history changed since the snapshot, exploration or a related-items query, or the
    filter leaves fewer than ``num_results`` of the list (and items outside it could qualify)."""
    user = query.user_id
    if (user is None or query.item_id is not None or not history.item_ids or history.shown
            or model.recipe_type != "USER_PERSONALIZATION" or _slots(model, query)):
        return None
    found = model.shortlists.get(user)
    if found is None or history.version != 0:
        return None
    kept = np.arange(len(found.items))
    if query.mask is not None:
        kept = kept[query.mask(model.catalog)[found.items]]
    if len(kept) < query.num_results and (not found.complete or (query.mask is not None and query.with_reasons)):
        model.shortlists.misses += 1
        return None  # items beyond the list could qualify, or v2 fills a filtered answer with popular items
    model.shortlists.hits += 1
    kept = kept[: query.num_results]
    shown: list[float | None] = [None] * len(kept)
    if query.with_scores:
        shown = _unscored_as(query, ranking.from_units(found.units[kept]))
    return Prepared.final(_entries(model, query, found.items[kept].tolist(), shown, {}), query)


def explore(model: ServedModel, prepared: Prepared) -> list[dict[str, Any]]:
    """The prepared answer with ``n_explore`` young, little-seen items drawn in (spec §5.4): they replace the
    weakest picks, at random positions."""
    if not prepared.n_explore:
        return prepared.entries
    chosen = _draw(model, prepared.pool, prepared.n_explore, prepared.picked, prepared.shown)
    if not chosen:
        return prepared.entries
    catalog, query = model.catalog, prepared.explore_query
    chosen_at = np.asarray(chosen, dtype=np.int64)
    names = catalog.item_ids[chosen_at].tolist()
    shown: list[float | None] = [None] * len(chosen)
    if prepared.pool_scores is not None:
        values = prepared.pool_scores[np.searchsorted(prepared.pool, chosen_at)].tolist()
        shown = _unscored_as(query, [None if v != v else v for v in values])  # v != v: NaN, an unscored item
    drawn = [_entry(catalog, query, index, name, score, REASON_EXPLORATION)
             for index, name, score in zip(chosen, names, shown, strict=True)]
    return ranking.explore(prepared.entries, drawn, prepared.num_results, model.rng)


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
    filter_mask = query.mask(catalog) if query.mask is not None else None
    if filter_mask is not None:
        allowed &= filter_mask
    if query.item_id is not None and model.recipe_type == "RELATED_ITEMS":
        allowed[_positions(catalog, [query.item_id])] = False  # never the query item itself
    picked = _top(model, scores, allowed, query.num_results)
    reasons: dict[int, str] = {}
    short = len(picked) < query.num_results and model.recipe_type == "USER_PERSONALIZATION"
    if short and filter_mask is not None and query.with_reasons:
        picked += _popular_fill(catalog, scores, filter_mask, picked, query, reasons)
    return scores, allowed, filter_mask, picked, reasons


def _positions(catalog: Catalog, ids: list[str]) -> np.ndarray:
    found = catalog.index(ids)
    return found[found >= 0]


def _top(model: ServedModel, scores: np.ndarray, allowed: np.ndarray, k: int) -> list[int]:
    """ranking.top_k of the allowed scores; a score vector read before reads it off its cached ranking."""
    ranked = _ranking(model, scores, sorted_order=True)
    if ranked is not None and ranked.order is not UNSORTED:
        return ranking.top_k_ranked(ranked, allowed, k).tolist()
    return ranking.top_k_allowed(scores, allowed, k).tolist()


def _slots(model: ServedModel, query: Query) -> int:
    if model.recipe_type != "USER_PERSONALIZATION":
        return 0
    return ranking.exploration_slots(query.num_results, query.exploration_weight)


def _popular_fill(
    catalog: Catalog, scores: np.ndarray, filter_mask: np.ndarray, picked: list[int], query: Query,
    reasons: dict[int, str],
) -> list[int]:
    """v2 (spec §2.14): when the filter left fewer scored items than asked for, the most popular items the model
    cannot score (and the filter allows) fill the list, unscored, with the reason "Popular item"."""
    eligible = ~np.isfinite(scores) & filter_mask
    if query.item_id is not None:
        eligible[_positions(catalog, [query.item_id])] = False
    eligible[picked] = False
    fill = ranking.top_k(np.where(eligible, catalog.counts.astype(np.float64), -np.inf), query.num_results - len(picked))
    fill = fill[fill >= 0].tolist()
    reasons.update(dict.fromkeys(fill, REASON_POPULAR))
    return fill


def _pool(
    model: ServedModel, query: Query, history: UserHistory, filter_mask: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray | None, bool]:
    """Exploration candidates (ranking.exploration_pool) the filter allows, at most EXPLORATION_CANDIDATES of them
    drawn uniformly (sorted), how often this user saw each without a click (they are drawn less often), and
    whether the pool is the catalogue's own array (not this answer's memory)."""
    pool = _exploration_pool(model.catalog, model.history.latest_timestamp, query.exploration_cutoff_days)
    shared = filter_mask is None
    if filter_mask is not None:
        pool = pool[filter_mask[pool]]
    if len(pool) > EXPLORATION_CANDIDATES:
        pool, shared = np.sort(model.rng.choice(pool, EXPLORATION_CANDIDATES, replace=False)), False
    return pool, _shown_counts(model.catalog, history, pool), shared


def _exploration_pool(catalog: Catalog, latest: float, cutoff_days: float) -> np.ndarray:
    """Kept per catalogue until the newest interaction moves the cut-off."""
    cutoff = latest - cutoff_days * ranking.SECONDS_PER_DAY
    found = catalog.exploration_pool
    if found is not None and found[0] == cutoff:
        return found[1]
    pool = ranking.exploration_pool(catalog.created, catalog.counts, catalog.n_model, latest, cutoff_days)
    catalog.exploration_pool = (cutoff, pool)
    return pool


def _shown_counts(catalog: Catalog, history: UserHistory, pool: np.ndarray) -> np.ndarray | None:
    """How often each (sorted) pool item was shown to this user without a click; None when nothing was."""
    unclicked = history.unclicked_impressions()
    if not unclicked or not len(pool):
        return None
    pos = catalog.index(list(unclicked))
    counts = np.fromiter(unclicked.values(), float, len(unclicked))
    at = np.minimum(np.searchsorted(pool, pos), len(pool) - 1)
    found = pool[at] == pos  # an unknown item (-1) is never in the pool
    shown = np.zeros(len(pool))
    shown[at[found]] = counts[found]
    return shown


def _draw(model: ServedModel, pool: np.ndarray, k: int, picked: list[int], shown: np.ndarray | None) -> list[int]:
    """``k`` pool items the answer has not picked already."""
    return ranking.draw(pool, k, model.rng, picked, shown).tolist()


def _promote(
    catalog: Catalog, query: Query, scores: np.ndarray, picked: list[int], reasons: dict[int, str],
    rng: np.random.Generator,
) -> list[int]:
    promotion = query.promotion
    assert promotion is not None  # checked by the caller
    slots = ranking.promotion_slots(query.num_results, promotion.percent)
    answer, promoted = ranking.promote(picked, scores, promotion.mask(catalog), slots, query.num_results, rng)
    reasons.update(dict.fromkeys(promoted, REASON_PROMOTED))
    return answer


def _display(model: ServedModel, query: Query, scores: np.ndarray, picked: list[int]) -> list[float | None]:
    """GetRecommendations' scores: the softmax over every item the model scores (spec §5.4; v1: the whole
    catalogue, so a filter does not inflate what it keeps, and the normaliser is cached per user)."""
    chosen = np.asarray(picked, dtype=np.int64)
    return _unscored_as(query, ranking.display_scores(scores[None, :], chosen[None, :], _normaliser(model, scores))[0])


def _normaliser(model: ServedModel, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The softmax normaliser: from the cached ranking of a cached score vector, else computed."""
    ranked = _ranking(model, scores)
    peak, total = _model_normaliser(model, scores) if ranked is None else (ranked.peak, ranked.total)
    return np.array([peak]), np.array([total])


def _model_normaliser(model: ServedModel, scores: np.ndarray) -> tuple[float, float]:
    """The normaliser over the items the model scores (ranking.softmax_normaliser: not the -inf padding of
    items added since training), so a score vector gives a shortlist's normaliser to the last bit."""
    peak, total = ranking.softmax_normaliser(scores[None, : len(model.recipe.item_ids_)])
    return float(peak[0]), float(total[0])


def _unscored_as(query: Query, shown: list[float | None]) -> list[float | None]:
    """AWS documents that User-Personalization scores every item — explored, promoted and new ones too: an item
    the model cannot score shows 0 there; v2 (the recipes with reasons) leaves such items unscored."""
    unscored = None if query.with_reasons else 0.0
    return [unscored if v is None else v for v in shown]


def _render(
    model: ServedModel, query: Query, scores: np.ndarray, allowed: np.ndarray, picked: list[int], reasons: dict[int, str]
) -> list[dict[str, Any]]:
    shown = _display(model, query, scores, picked) if query.with_scores else [None] * len(picked)
    return _entries(model, query, picked, shown, reasons)


def _entries(model: ServedModel, query: Query, picked: list[int], shown: list[float | None], reasons: dict[int, str]
             ) -> list[dict[str, Any]]:
    catalog = model.catalog
    names = catalog.item_ids[np.asarray(picked, dtype=np.int64)].tolist()
    if not reasons and not query.metadata_columns:  # the usual answer: a third of the time of ``_entry`` per item
        return [{"itemId": name} if score is None else {"itemId": name, "score": score} for name, score in zip(names, shown, strict=True)]
    return [_entry(catalog, query, index, name, score, reasons.get(index)) for index, name, score in zip(picked, names, shown, strict=True)]


def _entry(catalog: Catalog, query: Query, index: int, name: str, score: float | None, reason: str | None) -> dict[str, Any]:
    """One PredictedItem: v2's popular placeholders carry no score (AWS documents them unscored); reasons are a
    v2 feature."""
    entry: dict[str, Any] = {"itemId": name}
    if score is not None and reason != REASON_POPULAR:
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
    """GetPersonalizedRanking: ``input_list`` best first, scored by softmax over the list (ranking.rank_list).

    Items the model cannot score keep their input order at the end, without a score; items the filter
    excludes are left out.
    """
    catalog = model.catalog
    wanted = list(dict.fromkeys(input_list))  # a repeated id is ranked once
    scores = demote_impressions(user_scores(model, query.user_id, history, query.context), catalog, history)
    pos = catalog.index(wanted)
    if query.mask is not None:
        mask = query.mask(catalog)
        kept = (pos < 0) | mask[np.maximum(pos, 0)]
        wanted, pos = [w for w, k in zip(wanted, kept.tolist(), strict=True) if k], pos[kept]
    order, shown = ranking.rank_list(scores, pos)
    out = []
    for i, score in zip(order.tolist(), shown.tolist(), strict=True):
        entry: dict[str, Any] = {"itemId": wanted[i]}
        if not math.isnan(score):
            entry["score"] = score
        if query.metadata_columns and pos[i] >= 0:
            entry["metadata"] = catalog.metadata(int(pos[i]), query.metadata_columns)
        out.append(entry)
    return out
