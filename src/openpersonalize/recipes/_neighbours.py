"""Sequence-aware nearest neighbours over training positions: the nonparametric twin of the transition model.

Every training position t is a key (the ``bptt`` items up to t, weighted by recency, as the transition model's
input rows) and a value (the next ``target_window`` items, weighted by proximity, as its targets). A query — a
user's recent items, weighted the same way — is compared with every key by cosine-normalised dot product, the
``count`` most similar positions vote for what came next, each with its similarity squared. Where the linear
model averages all positions into one matrix, the neighbours keep the rare, specific continuations: blended at
weight 0.4 with 300 neighbours, NDCG@10 on ml-1m rose from 0.1710 to 0.1766 (mean of 3 seeds, bench/quality.py).

References: D. Garg et al., "Sequence and Time Aware Neighborhood for Session-based Recommendations" (STAN),
SIGIR 2019; D. Jannach, M. Ludewig, "When Recurrent Neural Networks meet the Neighborhood", RecSys 2017.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from .. import ranking

SIMILARITY_POWER = 2.0  # sharpens the vote towards the closest positions (2 beat 1 and 3 on ml-1m)
# Above this many training events the vote is off. A user's query touches every position that shares one of
# their recent items, so its cost grows with the log: about 1 ms per user at 150k events, and a batch job over a
# million users of an 8M-event log ran 30 times slower than without it (bench/batch.py).
MAX_EVENTS = 1_000_000
# A query is the user's newest 10 items (keys keep all ``bptt``): each item touches every position holding it,
# so the work halves, and the older items weigh e^-2 and less. ml-1m per user 7.8 → 5.3 ms, NDCG@10 0.1768 both
# (ml-latest-small 0.2403 → 0.2405); the newest 5 lost 0.001.
QUERY_LAGS = 10
# A query whose inverted lists hold at least 1/DENSE_SHARE as many entries as there are positions ranks every
# position's similarity (``PositionIndex._nearest``); a smaller one ranks the positions it touched. Measured on
# the serving bench's index (453k positions), ms per query, merging vs every position: 0.33 / 0.42 at 3-6 % of
# the positions, 0.51 / 0.48 at 6-10 %, 0.73 / 0.54 at 10-15 %, 2.3 / 0.91 past 25 %; under 1 %, 0.10 / 2.5.
DENSE_SHARE = 10


@dataclass(frozen=True)
class PositionIndex:
    """Keys transposed (items × positions, an inverted index), their norms, and values (positions × items)."""

    keys_by_item: sp.csr_matrix
    inverse_norms: np.ndarray
    values: sp.csr_matrix

    @classmethod
    def build(cls, inputs: sp.csr_matrix, targets: sp.csr_matrix) -> PositionIndex:
        """From the transition model's weighted input and target rows."""
        norms = np.sqrt(np.asarray(inputs.multiply(inputs).sum(axis=1)).ravel())
        inverse = np.where(norms > 0, 1.0 / np.maximum(norms, 1e-12), 0.0).astype(np.float32)
        return cls(inputs.T.tocsr().astype(np.float32), inverse, targets.tocsr().astype(np.float32))

    def scores(self, queries: sp.csr_matrix, count: int) -> np.ndarray:
        """Dense (queries × items) votes of each query's ``count`` nearest positions (zero rows: no overlap).

        Per query, without a sparse product: the inverted lists of its ≤ ``QUERY_LAGS`` items are gathered
        into one array and summed per position into a dense accumulator (``bincount``). A popular item's list
        holds tens of thousands of positions; sparse products sorted them on every request (~70 % of a
        first-visit recommendation)."""
        out = np.zeros((queries.shape[0], self.values.shape[1]), np.float32)
        for row in range(queries.shape[0]):  # ≤ 256 rows per call, each a few passes over its entries
            start, stop = queries.indptr[row], queries.indptr[row + 1]
            if start == stop:
                continue
            positions, similarity = self._nearest(queries.indices[start:stop], queries.data[start:stop], count)
            out[row] = self._vote(positions, similarity**SIMILARITY_POWER)
        return out

    def _nearest(self, items: np.ndarray, weights: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray]:
        """The ``count`` positions most similar to the query (items, weights), ascending, and their cosines.

        Bit for bit what a sparse product gives: float32 sums in the query's item order, positions ascending.
        Of positions tied at the count-th similarity (keys of a single item tie by the hundred) the lower ones
        vote (``ranking.largest``)."""
        lists = self.keys_by_item[items]  # the query items' inverted lists, in the query's order
        # Σ weight × list: the transposed (CSC) product adds each position's terms in the query's item order, in
        # float32, the bits of one np.add.at per list (which was a third of ``sums[found] += ...``) in 4/5 of its time
        sums = np.asarray(lists.T @ weights.astype(np.float32), dtype=np.float32)
        if DENSE_SHARE * lists.nnz >= len(sums):
            # A query of popular items touches a large share of all positions (a quarter on average, on the
            # serving bench): the similarity of every position then costs less than merging the runs and
            # gathering the touched ones (DENSE_SHARE). Untouched positions score 0, below every touched one; they
            # are chosen only when fewer than ``count`` were touched, and vote with weight 0, which adds nothing.
            sums *= self.inverse_norms
            keep = ranking.largest(sums, count, mostly_zero=True)
            return keep, sums[keep]
        positions = np.sort(lists.indices, kind="stable")  # a merge of ≤ QUERY_LAGS sorted runs
        first = np.empty(len(positions), dtype=bool)
        first[:1] = True
        np.not_equal(positions[1:], positions[:-1], out=first[1:])
        positions = positions[first]
        similarity = np.take(sums, positions) * np.take(self.inverse_norms, positions)
        keep = ranking.largest(similarity, count)
        return positions[keep], similarity[keep]

    def _vote(self, positions: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """Σ over positions (ascending) of weight × the position's value row, as the one-row sparse product
        computes it (each item's terms added in position order, float32), from the rows' entries directly: the
        product's matrix set-up cost more than its arithmetic."""
        values = self.values
        starts = values.indptr[positions]
        lengths = values.indptr[positions + 1] - starts
        total = int(lengths.sum())
        entries = np.repeat(starts - (np.cumsum(lengths) - lengths), lengths) + np.arange(total)
        out = np.zeros(values.shape[1], np.float32)
        np.add.at(out, values.indices[entries], np.repeat(weights.astype(np.float32), lengths) * values.data[entries])
        return out


def neighbour_events(timestamps: np.ndarray, limit: int = MAX_EVENTS) -> np.ndarray:
    """Mask of the events the index keeps: all of them, or none when there are more than ``limit``."""
    return np.full(len(timestamps), len(timestamps) <= limit, dtype=bool)
