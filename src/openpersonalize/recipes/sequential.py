"""A closed-form sequential item-to-item model (SLIST-style), blended with EASE for long-term taste.

The transition part regresses what a user does *next* on what they did *recently*: each training
position gives a row x_t (the last ``bptt`` items, weighted by recency) and a target y_t (the next
``target_window`` items, weighted by proximity); B = (XᵀX + λI)⁻¹ XᵀY in one Cholesky solve. On
MovieLens-1M under Personalize's protocol this alone doubles EASE's NDCG@10 in seconds
(bench/quality.py), where a transformer needs minutes of CPU for the same gain. The EASE part scores
the whole history (long-term taste), older items weighing less; the two are blended after scaling each
row to unit mean magnitude.
"""

from __future__ import annotations

from typing import Self

import numpy as np
import scipy.linalg
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

from .. import ranking
from ._gram import BAND_ENTRIES, BLOCK_ROWS, gram_of_sets, inverse, ridge
from ._data import TrainingData
from ._neighbours import MAX_EVENTS, QUERY_LAGS, PositionIndex, neighbour_events
from ._retrieval import InvertedIndex
from .als import ImplicitALS
from ._params import BPTT, RECENCY_MASK, Interval, declared
from .base import HISTORY_LIMIT, Histories, Recipe, check_is_fitted

# The tail beyond ``max_vocabulary`` (issue 4): items outside the matrices get a vector from a small iALS, and a
# user's matrix scores are projected onto those vectors (least squares over the modelled items), so tail scores
# sit on the same scale. Per request an inverted-file index returns the best tail items, rescored exactly.
TAIL_FACTORS = 32
TAIL_ITERATIONS = 8
TAIL_PROBES = 48  # index lists opened per query (of ~√tail lists): bench/large_catalog.py measures recall@25
TAIL_CANDIDATES = 256  # tail items scored per user; the rest of the tail sits below every scored item
TAIL_RIDGE = 0.01  # projection ridge, relative to the mean squared norm of the modelled items' vectors

# fit_memory, calibrated on bench/scaling.py (1M and 10M events: the estimate is 15-30 % above the measured peak):
# V × V float32 matrices alive at once (Gram and right-hand side; then the transition weights and EASE's Gram),
# bytes per stored entry of a block's sparse rows and of a band's product (value, index, row), and bytes per event
# of the neighbours' position index (keys transposed and values, while it is built).
MATRICES_HELD = 2
SPARSE_ENTRY_BYTES = 16
NEIGHBOUR_BYTES_PER_EVENT = 200


class SequentialLinear(Recipe):
    """Closed-form session-aware linear item model (transition + EASE blend).

    Parameters
    ----------
    bptt : int in [2, 32], how many of the newest events the transition part reads (Personalize's
        name for the history window of its recurrent model; its default and range, ``_params.BPTT``).
    recency_mask : bool, weight recent events more (exp(−lag/history_decay)); False weights them equally.
    history_decay, target_decay : float > 0, decay lengths (in events) of the input and target weights.
    target_window : int ≥ 1, how many future events each training row predicts.
    l2 : float > 0, ridge penalty of the transition regression.
    ease_weight : float ≥ 0, weight of the EASE (whole-history) scores; 0 skips fitting EASE.
    ease_l2 : float > 0, EASE's ridge penalty.
    ease_history_decay : float ≥ 0, the EASE part reads each distinct history item with weight
        exp(−age/this), age = distinct items since its newest occurrence: tastes drift over a long history
        (100 with ease_l2 250: +1.7 % NDCG@10, +0.01 coverage on ml-1m). 0 reads it as an unweighted set.
    popularity_discount : float in [0, 1], positive scores are divided by popularity^this (coverage).
    min_item_count : int ≥ 1, items with fewer training users are left out of the matrices (cold tail).
    max_vocabulary : int ≥ 1, the most items the matrices hold: they grow with its square (15k items ≈ 4 GB
        while fitting), so a larger catalogue keeps its most popular items there and scores the rest (every
        trained item outside) through the tail: iALS vectors, the user's matrix scores projected onto them,
        and approximate top-k retrieval (``_retrieval.py``).
    neighbour_weight : float ≥ 0, weight of the nearest training positions' votes (``_neighbours.py``), blended
        like the EASE part; 0 keeps no index.
    neighbour_count : int ≥ 1, how many nearest training positions vote.
    position_weight : float ≥ 0, training rows late in a user's history weigh (1 + this × relative
        position): recommendations are asked for a user's *latest* state, and early events (e.g. a
        sign-up questionnaire of popular titles) behave differently. 0 weighs all rows equally.

    Attributes
    ----------
    vocabulary_ : int64, catalogue indices of the modelled items.
    transition_ : float32 (V × V), the transition weights B.
    ease_ : float32 (V × V) or (0, 0), the EASE weights.
    discount_ : float32 (V,), the popularity divisor.
    tail_items_ : int64 (T,), catalogue indices of the tail (empty unless the vocabulary was capped);
        tail_discount_ their popularity divisor; tail_projection_ float32 (factors × V), matrix scores →
        query vector; tail_centroids_, tail_offsets_, tail_vectors_, tail_positions_ the ``InvertedIndex``.
    exact_tail : class attribute, not learned: True scores every tail item (the reference recall is
        measured against) instead of the index's candidates.

    References
    ----------
    M. Choi et al., "Session-aware Linear Item-Item Models for Session-based Recommendation", WWW 2021;
    H. Steck, "Embarrassingly Shallow Autoencoders for Sparse Data", WWW 2019.
    """

    exact_tail = False

    _parameter_constraints = {
        **declared(BPTT, RECENCY_MASK),
        "history_decay": Interval(float, 1e-3, None),
        "target_decay": Interval(float, 1e-3, None),
        "target_window": Interval(int, 1, 100),
        "l2": Interval(float, 1e-6, None),
        "ease_weight": Interval(float, 0.0, None),
        "ease_l2": Interval(float, 1e-6, None),
        "ease_history_decay": Interval(float, 0.0, None),
        "popularity_discount": Interval(float, 0.0, 1.0),
        "min_item_count": Interval(int, 1, None),
        "max_vocabulary": Interval(int, 1, None),
        "position_weight": Interval(float, 0.0, None),
        "neighbour_weight": Interval(float, 0.0, None),
        "neighbour_count": Interval(int, 1, None),
    }

    def __init__(
        self,
        *,
        bptt: int = BPTT.default,
        recency_mask: bool = RECENCY_MASK.default,
        history_decay: float = 5.0,
        target_decay: float = 5.0,
        target_window: int = 10,
        l2: float = 300.0,
        ease_weight: float = 1.0,
        ease_l2: float = 250.0,
        ease_history_decay: float = 100.0,
        popularity_discount: float = 0.2,
        min_item_count: int = 3,
        position_weight: float = 3.0,
        max_vocabulary: int = 15_000,
        neighbour_weight: float = 0.4,
        neighbour_count: int = 300,
    ) -> None:
        self.bptt = bptt
        self.recency_mask = recency_mask
        self.history_decay = history_decay
        self.target_decay = target_decay
        self.target_window = target_window
        self.l2 = l2
        self.ease_weight = ease_weight
        self.ease_l2 = ease_l2
        self.ease_history_decay = ease_history_decay
        self.popularity_discount = popularity_discount
        self.min_item_count = min_item_count
        self.position_weight = position_weight
        self.max_vocabulary = max_vocabulary
        self.neighbour_weight = neighbour_weight
        self.neighbour_count = neighbour_count

    def _fit(self, data: TrainingData) -> None:
        data = _newest_occurrences(data)
        counts = data.item_counts()
        vocabulary = np.flatnonzero(counts >= self.min_item_count)
        capped = len(vocabulary) > self.max_vocabulary
        if capped:
            keep = np.argsort(-counts[vocabulary], kind="stable")[: self.max_vocabulary]
            vocabulary = np.sort(vocabulary[keep])
        column = np.full(data.n_items, -1, dtype=np.int64)
        column[vocabulary] = np.arange(len(vocabulary))
        items, users = column[data.item_idx], data.user_idx
        weights = self._row_weights(data.user_offsets(), data.user_idx)

        def block(start: int, stop: int) -> tuple[sp.csr_matrix, sp.csr_matrix, np.ndarray]:
            return (*self._sequence_rows(items, users, len(vocabulary), start, stop), weights[start:stop])

        self.transition_ = ridge(len(vocabulary), block, len(items), self.l2)
        self.ease_ = self._fit_ease(items, users, len(vocabulary))
        # the neighbours' positions, as matrix columns: the index is rebuilt from them when first needed
        kept = neighbour_events(data.timestamp) if self.neighbour_weight > 0 else np.zeros(len(items), dtype=bool)
        self.neighbour_items_, self.neighbour_users_ = items[kept].astype(np.int32), users[kept].astype(np.int32)
        self._fit_tail(data, vocabulary, np.flatnonzero((counts > 0) & (column < 0)) if capped else vocabulary[:0])
        self.discount_ = (counts[vocabulary].astype(np.float32) + 1.0) ** -self.popularity_discount
        self.vocabulary_ = vocabulary.astype(np.int64)
        self.n_items_ = np.array(data.n_items, dtype=np.int64)

    def fit_memory(self, data: TrainingData) -> int:
        """``Recipe.fit_memory`` plus what grows with the modelled items: two float32 V × V matrices at a time
        (Gram and right-hand side, then the transition weights and EASE's Gram), a block of sequence rows and a
        band of their product (``_gram``), the neighbours' position index (≤ 1M events), and the tail's iALS
        factors."""
        counts = data.item_counts()
        width = min(self.max_vocabulary, int(np.count_nonzero(counts >= self.min_item_count)))
        lags, events = self.bptt + self.target_window, data.n_interactions
        matrices = MATRICES_HELD * 4 * width**2
        working = BLOCK_ROWS * lags * SPARSE_ENTRY_BYTES + BAND_ENTRIES * SPARSE_ENTRY_BYTES
        kept = self.neighbour_weight > 0 and events <= MAX_EVENTS
        neighbours = events * NEIGHBOUR_BYTES_PER_EVENT if kept else 0
        tail = (data.n_users + data.n_items) * TAIL_FACTORS * 4 * 3 if width < np.count_nonzero(counts) else 0
        return super().fit_memory(data) + matrices + working + neighbours + tail

    def update(self, data: TrainingData) -> Self:
        """New items join the catalogue outside the matrices (as zero rows and columns would: they are never an
        input, and as a target they score below every modelled item), popularity and its discount are recounted;
        ``transition_``, ``ease_`` and the modelled items stay exactly as fitted."""
        old_to_new, _ = self._grow_catalogue(data)
        self.vocabulary_ = old_to_new[self.vocabulary_]
        self.n_items_ = np.array(len(self.item_ids_), dtype=np.int64)
        counts = self.item_counts_[self.vocabulary_]
        self.discount_ = (counts.astype(np.float32) + 1.0) ** -self.popularity_discount
        if hasattr(self, "tail_items_"):  # the trained items beyond max_vocabulary keep their vectors too
            self.tail_items_ = old_to_new[self.tail_items_]
            self.tail_discount_ = (self.item_counts_[self.tail_items_].astype(np.float32) + 1.0) ** -self.popularity_discount
        return self

    def _row_weights(self, offsets: np.ndarray, users: np.ndarray) -> np.ndarray:
        position = np.arange(len(users)) - offsets[users]
        relative = position / np.maximum(np.diff(offsets)[users] - 1, 1)
        return (1.0 + self.position_weight * relative).astype(np.float32)

    def _sequence_rows(self, items: np.ndarray, users: np.ndarray, width: int, start: int = 0,
                       stop: int | None = None) -> tuple[sp.csr_matrix, sp.csr_matrix]:
        """Per position in [start, stop), its input row (the last ``bptt`` items, recency-weighted) and target row
        (the next ``target_window``, proximity-weighted): the transition model's regression, and the neighbours'
        keys/values."""
        span = (start, len(items) if stop is None else stop)
        inputs = _lagged(items, users, -np.arange(self.bptt), self._input_weights(), width, span)
        window = np.arange(1, self.target_window + 1)
        return inputs, _lagged(items, users, window, _decay(self.target_window, self.target_decay), width, span)

    def _input_weights(self) -> np.ndarray:
        return _decay(self.bptt, self.history_decay) if self.recency_mask else np.ones(self.bptt)

    def _fit_ease(self, items: np.ndarray, users: np.ndarray, width: int) -> np.ndarray:
        if self.ease_weight == 0:
            return np.zeros((0, 0), dtype=np.float32)
        known = items >= 0
        binary = sp.csr_matrix(
            (np.ones(known.sum(), np.float32), (users[known], items[known])), shape=(int(users.max()) + 1, width)
        )
        binary.data[:] = 1.0
        gram = gram_of_sets(width, binary)
        del binary
        gram[np.diag_indices(width)] += self.ease_l2
        weights = inverse(gram)  # the precision matrix P, turned into -P / diag(P) in its own buffer
        weights /= -np.diag(weights).copy()
        weights[np.diag_indices(width)] = 0.0
        return weights

    def _fit_tail(self, data: TrainingData, vocabulary: np.ndarray, tail: np.ndarray) -> None:
        """Vectors for every item, a projection from the vocabulary's scores, an index over the tail's vectors."""
        counts = data.item_counts()
        self.tail_items_ = tail.astype(np.int64)
        self.tail_discount_ = (counts[tail].astype(np.float32) + 1.0) ** -self.popularity_discount
        factors = min(TAIL_FACTORS, max(1, len(vocabulary) - 1))
        if not len(tail):
            index = InvertedIndex(np.zeros((0, factors), np.float32), np.zeros(1, np.int64), np.zeros((0, factors), np.float32), tail[:0])
            self.tail_projection_ = np.zeros((factors, len(vocabulary)), np.float32)
        else:
            with threadpool_limits(1, "blas"):  # implicit runs its own threads over single-threaded BLAS
                vectors = ImplicitALS(factors=factors, iterations=TAIL_ITERATIONS).fit(data).item_factors_
            head = vectors[vocabulary].astype(np.float64)
            gram = head.T @ head
            gram[np.diag_indices(factors)] += TAIL_RIDGE * np.trace(gram) / factors
            self.tail_projection_ = np.ascontiguousarray(scipy.linalg.solve(gram, head.T, assume_a="pos"), np.float32)
            index = InvertedIndex.build(vectors[tail], lists=int(np.sqrt(len(tail))) + 1)
        self.tail_centroids_, self.tail_offsets_ = index.centroids, index.offsets
        self.tail_vectors_, self.tail_positions_ = index.vectors, index.positions

    def _tail_scores(self, head: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per row of matrix scores: (positions in ``tail_items_``, scores) of its best tail items."""
        index = InvertedIndex(self.tail_centroids_, self.tail_offsets_, self.tail_vectors_, self.tail_positions_)
        # one product per row: a matrix product sums in another order than a vector one, and a user must score
        # the same alone as in a batch (serving/shortlists.py)
        queries = [row @ self.tail_projection_.T for row in head]
        if self.exact_tail:
            everything = np.arange(len(self.tail_items_))
            return [(everything, index.exact_scores(query)) for query in queries]
        return [index.search(query, TAIL_CANDIDATES, TAIL_PROBES) for query in queries]

    def _neighbour_index(self) -> PositionIndex | None:
        """The position index, built once per fitted model (None when off, or for a model saved without one):
        it is the transition model's rows again, cheap to rebuild and ~30× the size of what is saved."""
        items = getattr(self, "neighbour_items_", None)
        if self.neighbour_weight == 0 or items is None or not len(items):
            return None
        cached = getattr(self, "_neighbour_cache", None)
        if cached is None or cached[0] is not items:
            rows = self._sequence_rows(items.astype(np.int64), self.neighbour_users_.astype(np.int64), len(self.vocabulary_))
            cached = (items, PositionIndex.build(*rows))
            self._neighbour_cache = cached
        return cached[1]

    def _columns(self) -> np.ndarray:
        """Catalogue index → matrix column (-1 outside), built once per vocabulary: at 1M items building it
        per request cost more than the scoring."""
        cached = getattr(self, "_column_cache", None)
        if cached is None or cached[0] is not self.vocabulary_ or len(cached[1]) != int(self.n_items_):
            column = np.full(int(self.n_items_), -1, dtype=np.int64)
            column[self.vocabulary_] = np.arange(len(self.vocabulary_))
            cached = (self.vocabulary_, column)
            self._column_cache = cached
        return cached[1]

    def _score(self, histories: Histories) -> np.ndarray:
        columns, scores, fill = self._compact(histories)
        if len(columns) == int(self.n_items_):  # sorted and distinct: every item, in order (a batch's usual case)
            return np.asarray(scores, dtype=np.float32)
        full = np.empty((len(histories), int(self.n_items_)), np.float32)
        full[:] = fill
        full[:, columns] = scores
        return full

    def _compact(self, histories: Histories) -> tuple[np.ndarray, np.ndarray, np.ndarray | float]:
        """(columns, scores, fill): scores (rows × columns) for the catalogue items in ``columns`` — the
        vocabulary, each row's tail candidates and the history items — every other item scores ``fill`` (per
        row, rows × 1, or one value), below all of them. Work that follows (blending, top-k) is then proportional to the candidates, not the
        catalogue (issue 4: 1M items)."""
        return self._linear(histories)

    def _linear(self, histories: Histories) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        width = len(self.vocabulary_)
        column = self._columns()
        count, lengths = len(histories), histories.lengths()
        rows = np.repeat(np.arange(count), lengths)
        cols = column[histories.items]
        # Sparse inputs (≤ bptt entries per row): the product costs rows × bptt × width, not rows × width²
        # (batch inference scores millions of users this way; dense inputs made it 100× slower).
        from_end = np.repeat(histories.offsets[1:], lengths) - 1 - np.arange(len(histories.items))
        newest, age = _distinct_ages(rows, histories.items, from_end, count)
        rows, cols = rows[newest], cols[newest]
        known = cols >= 0
        tail = (age < self.bptt) & known
        weights = self._input_weights().astype(np.float32)
        recent = _rows_matrix(rows[tail], cols[tail], weights[age[tail]], count, width)
        whole = self._whole_history(rows[known], cols[known], age[known], count, width)
        scores = _unit_rows(np.asarray(recent @ self._c_order("transition_")))
        if self.ease_weight > 0:
            scores += self.ease_weight * _unit_rows(np.asarray(whole @ self._c_order("ease_")))
        index = self._neighbour_index()
        if index is not None:
            near = tail & (age < QUERY_LAGS)
            query = _rows_matrix(rows[near], cols[near], weights[age[near]], count, width)
            scores += self.neighbour_weight * _unit_rows(index.scores(query, self.neighbour_count))
        tail = self._tail_scores(scores) if len(getattr(self, "tail_items_", ())) else []
        # Positive scores shrink by the popularity divisor (≤ 1), the others stay: the smaller of s and s·d, the
        # same bits as a multiply masked by ``where``, which numpy runs unvectorised (a fifth of a batch row).
        np.minimum(scores, scores * self.discount_, out=scores)
        # per row, so a row scores the same alone as in a batch (a shortlist is a batch row, serving.shortlists)
        floor = np.minimum(scores.min(axis=1, initial=0.0), [values.min(initial=0.0) for _, values in tail] or 0.0) - 1.0
        floor = floor.astype(np.float32)[:, None]
        if not tail and known.all():  # every candidate is a modelled item: the matrix columns are the answer's
            return self.vocabulary_, scores, floor
        found = [self.tail_items_[positions] for positions, _ in tail]
        columns, at = _merged(self.vocabulary_, np.concatenate([histories.items, *found]))
        out = np.repeat(floor, len(columns), axis=1)
        out[:, at] = scores
        for row, ((positions, values), items) in enumerate(zip(tail, found, strict=True)):
            out[row, np.searchsorted(columns, items)] = np.where(values > 0, values * self.tail_discount_[positions], values)
        return columns, out, floor

    def recommend_batch(
        self, histories: Histories, *, num_results: int = 25, exclude_history: bool = False,
        candidates: Histories | None = None,
    ) -> np.ndarray:
        """``Recipe.recommend_batch`` on the compact scores (the same lists up to ties at the bottom): at 1M
        items the dense path partitioned 256 × 1M scores per chunk. Falls back to it for candidate lists,
        empty histories (popularity) and rows with fewer than ``num_results`` scored items."""
        check_is_fitted(self)
        if candidates is not None:
            return super().recommend_batch(histories, num_results=num_results, exclude_history=exclude_history, candidates=candidates)
        out = np.full((len(histories), num_results), -1, dtype=np.int64)
        for start in range(0, len(histories), 256):
            chunk = histories.slice(start, min(start + 256, len(histories)))
            out[start : start + len(chunk)] = self._top_compact(chunk, num_results, exclude_history)
        return out

    def _top_compact(self, chunk: Histories, num_results: int, exclude_history: bool) -> np.ndarray:
        columns, scores, fill = self._compact(chunk.newest(HISTORY_LIMIT))  # what final_scores reads too
        scores[:, self.item_counts_[columns] == 0] = -np.inf
        if exclude_history:
            rows, at = _positions_in(columns, chunk)
            scores[rows, at] = -np.inf
        if (chunk.lengths() == 0).any() or np.isfinite(scores).sum(axis=1).min() < num_results:
            return super().recommend_batch(chunk, num_results=num_results, exclude_history=exclude_history)
        top = ranking.top_k(scores, num_results)  # every row has num_results finite scores (above)
        if (np.take_along_axis(scores, top, axis=1) <= fill).any():
            # a pick ties with the items outside ``columns`` (they all score ``fill``): the whole catalogue decides
            # the order, lower positions first, as final_scores ranks it for GetRecommendations
            return super().recommend_batch(chunk, num_results=num_results, exclude_history=exclude_history)
        return columns[top]

    def _whole_history(self, rows: np.ndarray, cols: np.ndarray, age: np.ndarray, count: int, width: int) -> sp.csr_matrix:
        """EASE's input: each distinct (row, item) once, weighted by its age (distinct items since, newest = 0)."""
        decay = self.ease_history_decay
        weights = np.exp(-age.astype(np.float32) / decay) if decay > 0 else np.ones(len(age), np.float32)
        return _rows_matrix(rows, cols, weights.astype(np.float32), count, width)

    def _c_order(self, name: str) -> np.ndarray:
        """A learned matrix in C order, converted once: scipy's sparse @ dense copies a Fortran-ordered operand
        (what cho_solve returns and .npz keeps) on every call, 100 MB per batch at 5000 items."""
        value: np.ndarray = getattr(self, name)
        if not value.flags.c_contiguous:
            value = np.ascontiguousarray(value)
            setattr(self, name, value)
        return value


def _positions_in(columns: np.ndarray, histories: Histories) -> tuple[np.ndarray, np.ndarray]:
    """(row, position in ``columns``) of each history event whose item is in ``columns`` (an event older than
    HISTORY_LIMIT may name an item outside them)."""
    rows = np.repeat(np.arange(len(histories)), histories.lengths())
    at = np.minimum(np.searchsorted(columns, histories.items), len(columns) - 1)
    found = columns[at] == histories.items
    return rows[found], at[found]


def _newest_occurrences(data: TrainingData) -> TrainingData:
    """Each user's distinct items, at their newest occurrence. The linear parts model what comes *next and new*;
    coming back to an item is the repeat model's job (``_repeat.py``). Repeats in the sequences (a `click` then
    a `watch` of the same film) took half of the history window and taught "an item follows itself"; dropping
    them raised NDCG@10 on ml-latest-small from 0.230 to 0.240 (bench/quality.py, 3 seeds). A no-op where
    every (user, item) occurs once, as on ml-1m."""
    keys = data.pair_keys()
    _, from_last = np.unique(keys[::-1], return_index=True)
    if len(from_last) == len(keys):
        return data
    return data.select(np.sort(len(keys) - 1 - from_last))


def _distinct_ages(rows: np.ndarray, items: np.ndarray, from_end: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray]:
    """(positions of each row's newest occurrence of each distinct item, its age): age 0 is the row's latest
    item, 1 the one before it ignoring repeats — the histories the model was fitted on (``_newest_occurrences``)."""
    keys = rows.astype(np.int64) * (int(items.max(initial=0)) + 1) + items
    order = np.lexsort((from_end, keys))  # per key, the newest occurrence first
    newest = order[np.r_[True, keys[order][1:] != keys[order][:-1]]] if len(order) else order
    newest = newest[np.lexsort((from_end[newest], rows[newest]))]  # per row, newest first
    starts = np.searchsorted(rows[newest], np.arange(count))
    return newest, np.arange(len(newest)) - starts[rows[newest]]


def _rows_matrix(rows: np.ndarray, cols: np.ndarray, values: np.ndarray, count: int, width: int) -> sp.csr_matrix:
    """A canonical CSR matrix from distinct (row, col) entries with rows ascending, built from its arrays: the
    per-request input rows are small, and going through COO (sorting, summing duplicates) cost more than the
    product. Columns ascend within a row, so products sum in the same order as from COO."""
    order = np.lexsort((cols, rows))
    indptr = np.zeros(count + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=count), out=indptr[1:])
    matrix = sp.csr_matrix((values[order], cols[order].astype(np.int32), indptr), shape=(count, width))
    matrix.has_canonical_format = True
    return matrix


def _decay(length: int, scale: float) -> np.ndarray:
    return np.exp(-np.arange(length) / scale)


def _lagged(items: np.ndarray, users: np.ndarray, lags: np.ndarray, weights: np.ndarray, width: int,
            span: tuple[int, int] | None = None) -> sp.csr_matrix:
    """Rows = positions t in ``span`` (default all); entry (t, item[t+lag]) += weight for each lag, within the same
    user only. Int32 indices: the fit builds these a block of positions at a time (``_gram``), 32 lags per position."""
    n = len(items)
    start, stop = span if span is not None else (0, n)
    rows, cols, vals = [], [], []
    for lag, weight in zip(lags, weights, strict=True):  # a few lags, each fully vectorised
        lag = int(lag)
        source = np.arange(max(start, -lag), min(stop, n - max(0, lag)))
        other = source + lag
        ok = (users[source] == users[other]) & (items[other] >= 0) & (items[source] >= 0)
        rows.append((source[ok] - start).astype(np.int32))
        cols.append(items[other[ok]].astype(np.int32))
        vals.append(np.full(int(ok.sum()), weight, dtype=np.float32))
    coo = sp.coo_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(stop - start, width))
    return coo.tocsr()


def _merged(vocabulary: np.ndarray, others: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(the sorted union of the sorted ``vocabulary`` and ``others``, the vocabulary's positions in it): the few
    hundred others are inserted, where a sort of the whole union had cost 2 ms per request at 15k columns."""
    extra = np.unique(others)
    if not len(vocabulary):
        return extra, np.zeros(0, np.int64)
    at = np.searchsorted(vocabulary, extra)
    new = extra[(at == len(vocabulary)) | (vocabulary[np.minimum(at, len(vocabulary) - 1)] != extra)]
    merged = np.insert(vocabulary, np.searchsorted(vocabulary, new), new)
    return merged, np.arange(len(vocabulary)) + np.searchsorted(new, vocabulary)


def _unit_rows(scores: np.ndarray) -> np.ndarray:
    """Scale every row to mean absolute value 1, so two models' scores can be added; in place (callers pass a
    product just made: a batch's rows are its largest arrays)."""
    scores /= np.maximum(np.abs(scores).mean(axis=1, keepdims=True), 1e-12)
    return scores
