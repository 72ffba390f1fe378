"""``TrainingData``: the integer-indexed interactions every recipe trains on (DESIGN.md §4).

Rows are sorted by (user, timestamp) with the input order breaking ties, so a user's events are one
contiguous, chronological slice: sequence models read them directly and the evaluation split
(spec §9.1) cuts them by position.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import polars as pl
import scipy.sparse as sp

# Personalize's reserved interaction columns (spec §4.2).
USER_ID, ITEM_ID, TIMESTAMP, EVENT_TYPE, EVENT_VALUE = (
    "USER_ID",
    "ITEM_ID",
    "TIMESTAMP",
    "EVENT_TYPE",
    "EVENT_VALUE",
)
NO_EVENT_TYPE = ""  # the code name used when the dataset has no EVENT_TYPE column


@dataclass(frozen=True)
class TrainingData:
    """Interactions as parallel integer arrays plus the id maps that give them meaning.

    Attributes
    ----------
    user_idx, item_idx : int32 arrays, indices into ``user_ids`` / ``item_ids``.
    timestamp : int64 epoch seconds.
    event_type : int16 codes into ``event_types``.
    event_value : float32, NaN where absent.
    user_ids, item_ids, event_types : str arrays (the id maps). ``item_ids`` holds the whole catalogue
        (Interactions ∪ Items), so items without interactions still count for coverage.
    items, users : optional feature tables keyed by ITEM_ID / USER_ID, rows aligned with the id maps.
    item_roles : Items column → its schema role (spec §4.1): ``"categorical"``, ``"textual"``, ``"item_name"``
        or ``"numeric"``; columns without a role are not used for training. None when the frames came
        without a schema (tests, benchmarks): recipes then use numeric columns only.
    """

    user_idx: np.ndarray
    item_idx: np.ndarray
    timestamp: np.ndarray
    event_type: np.ndarray
    event_value: np.ndarray
    user_ids: np.ndarray
    item_ids: np.ndarray
    event_types: np.ndarray
    items: pl.DataFrame | None = None
    users: pl.DataFrame | None = None
    item_roles: dict[str, str] | None = None

    @classmethod
    def from_frames(
        cls,
        interactions: pl.DataFrame,
        items: pl.DataFrame | None = None,
        users: pl.DataFrame | None = None,
        item_roles: dict[str, str] | None = None,
    ) -> TrainingData:
        """Build from frames with Personalize column names (USER_ID, ITEM_ID, TIMESTAMP[, EVENT_TYPE, EVENT_VALUE])."""
        missing = [c for c in (USER_ID, ITEM_ID, TIMESTAMP) if c not in interactions.columns]
        if missing:
            raise ValueError(f"The interactions frame must have columns {missing}; got {interactions.columns}.")
        frame = interactions.with_columns(
            pl.col(USER_ID).cast(pl.String),
            pl.col(ITEM_ID).cast(pl.String),
            pl.col(TIMESTAMP).cast(pl.Int64),
            _optional(interactions, EVENT_TYPE, pl.String, NO_EVENT_TYPE),
            _optional(interactions, EVENT_VALUE, pl.Float32, None),
        ).with_row_index("_order")
        item_ids = _catalogue(frame[ITEM_ID], items)
        user_ids = _catalogue(frame[USER_ID], users, column=USER_ID)
        event_types = np.unique(frame[EVENT_TYPE].to_numpy().astype(str))
        frame = frame.sort([USER_ID, TIMESTAMP, "_order"])
        return cls(
            user_idx=_codes(frame[USER_ID], user_ids),
            item_idx=_codes(frame[ITEM_ID], item_ids),
            timestamp=frame[TIMESTAMP].to_numpy().astype(np.int64),
            event_type=_codes(frame[EVENT_TYPE], event_types).astype(np.int16),
            event_value=frame[EVENT_VALUE].fill_null(np.nan).to_numpy().astype(np.float32),
            user_ids=user_ids,
            item_ids=item_ids,
            event_types=event_types,
            items=_aligned(items, ITEM_ID, item_ids),
            users=_aligned(users, USER_ID, user_ids),
            item_roles=item_roles,
        )

    @property
    def n_users(self) -> int:
        return len(self.user_ids)

    @property
    def n_items(self) -> int:
        return len(self.item_ids)

    @property
    def n_interactions(self) -> int:
        return len(self.item_idx)

    def user_offsets(self) -> np.ndarray:
        """CSR-style offsets: user u's events are rows ``offsets[u]:offsets[u+1]`` (chronological)."""
        counts = np.bincount(self.user_idx, minlength=self.n_users)
        return np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)

    def user_item_matrix(self, weights: np.ndarray | None = None) -> sp.csr_matrix:
        """Users × items CSR matrix; repeated (user, item) pairs keep their largest weight (default 1)."""
        values = np.ones(self.n_interactions, np.float32) if weights is None else weights.astype(np.float32)
        coo = sp.coo_matrix((values, (self.user_idx, self.item_idx)), shape=(self.n_users, self.n_items))
        matrix = coo.tocsr()  # sums duplicates; take the max instead so repeats do not inflate counts
        matrix.data[:] = 0
        np.maximum.at(matrix.data, _csr_positions(matrix, self.user_idx, self.item_idx), values)
        return matrix

    def item_counts(self) -> np.ndarray:
        """Number of distinct users per item (Personalize's popularity: spec §5.4)."""
        return np.bincount(self._distinct_pairs().indices, minlength=self.n_items).astype(np.int64)

    def _distinct_pairs(self) -> sp.csr_matrix:
        """Users × items, one stored entry per distinct (user, item): building CSR merges repeats in linear time,
        where ``np.unique`` of the pair keys took 19 s of CPU at 10M events (issue 15)."""
        ones = np.ones(self.n_interactions, np.int8)
        return sp.csr_matrix((ones, (self.user_idx, self.item_idx)), shape=(self.n_users, self.n_items))

    def pair_keys(self) -> np.ndarray:
        """One int64 per interaction, equal exactly when (user, item) is: user × n_items + item."""
        return self.user_idx.astype(np.int64) * self.n_items + self.item_idx

    def has_repeats(self) -> bool:
        """Does any user interact with the same item more than once?"""
        return self._distinct_pairs().nnz < self.n_interactions

    def select(self, rows: np.ndarray) -> TrainingData:
        """The same id maps, keeping only interaction ``rows`` (a boolean mask or sorted indices)."""
        return replace(
            self,
            user_idx=self.user_idx[rows],
            item_idx=self.item_idx[rows],
            timestamp=self.timestamp[rows],
            event_type=self.event_type[rows],
            event_value=self.event_value[rows],
        )

    def index_items(self, item_ids: np.ndarray | list[str]) -> np.ndarray:
        """Indices of known ``item_ids``, -1 for unknown ones (vectorised lookup)."""
        return lookup_sorted(self.item_ids, np.asarray(item_ids, dtype=str))


def _optional(frame: pl.DataFrame, name: str, dtype: type[pl.DataType], default: object) -> pl.Expr:
    if name in frame.columns:
        return pl.col(name).cast(dtype)
    return pl.lit(default, dtype=dtype).alias(name)


def _catalogue(ids: pl.Series, table: pl.DataFrame | None, column: str = ITEM_ID) -> np.ndarray:
    values = ids.to_numpy().astype(str)
    if table is not None and column in table.columns:
        values = np.concatenate([values, table[column].cast(pl.String).to_numpy().astype(str)])
    return np.unique(values)


def _codes(values: pl.Series, sorted_ids: np.ndarray) -> np.ndarray:
    return np.searchsorted(sorted_ids, values.to_numpy().astype(str)).astype(np.int32)


def lookup_sorted(sorted_ids: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """Index of each ``wanted`` id in ``sorted_ids``, -1 when absent (vectorised binary search)."""
    if len(sorted_ids) == 0 or len(wanted) == 0:
        return np.full(len(wanted), -1, np.int64)
    pos = np.searchsorted(sorted_ids, wanted).clip(0, len(sorted_ids) - 1)
    return np.where(sorted_ids[pos] == wanted, pos, -1).astype(np.int64)


def _aligned(table: pl.DataFrame | None, column: str, ids: np.ndarray) -> pl.DataFrame | None:
    """Feature rows reordered to the id map (missing ids get null features)."""
    if table is None or column not in table.columns:
        return None
    keyed = table.with_columns(pl.col(column).cast(pl.String)).unique(column, keep="last")
    return pl.DataFrame({column: ids}).join(keyed, on=column, how="left", maintain_order="left")


def _csr_positions(matrix: sp.csr_matrix, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Position in ``matrix.data`` of each (row, col) entry (needs sorted indices within rows)."""
    matrix.sort_indices()
    width = matrix.shape[1]
    flat = np.repeat(np.arange(matrix.shape[0], dtype=np.int64), np.diff(matrix.indptr)) * width + matrix.indices
    return np.searchsorted(flat, rows.astype(np.int64) * width + cols)
