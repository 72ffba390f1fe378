"""The recipe contract (DESIGN.md §4, STYLE.md habits 8–17).

Every recipe is a ``Recipe``: keyword-only hyperparameters stored unchanged by ``__init__``, ``fit`` on a
``TrainingData``, learned state in attributes ending in ``_``, and scores: ``final_scores`` (a block of item
histories, so a user unknown at training time is served from the events PutEvents recorded) and
``score_history`` (one). Recipes only score; ranking.py turns scores into answers for serving, batch jobs
and the evaluation alike. ``recommend``, ``similar_items``, ``rank`` and ``recommend_batch`` (the vectorised
path the evaluation uses) are thin calls into it.
Models are saved as a JSON config plus a ``.npz`` of arrays (``allow_pickle=False``), never a pickle.
"""

from __future__ import annotations

import abc
import inspect
import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Self

import numpy as np

from .. import ranking
from ._data import TrainingData, lookup_sorted
from ._params import Constraint, Interval, InvalidParameterError

__all__ = ["Histories", "Interval", "InvalidParameterError", "NotFittedError", "QueryError", "Recipe", "TrainingData",
           "check_is_fitted", "clone", "fit_progress", "report_epoch"]

FORMAT_VERSION = 1
CONFIG_FILE, ARRAYS_FILE = "config.json", "arrays.npz"
# ``fit_memory``'s default: a fit holds its data (22 bytes an event as ``TrainingData``) and a few working copies
# and sparse matrices of it; measured on User-Personalization beyond its item × item matrices (bench/scaling.py).
FIT_FIXED_BYTES = 400 << 20  # libraries, the interpreter, small tables
FIT_BYTES_PER_EVENT = 100
_BATCH = 256  # users scored at once by recommend_batch: bounds memory at 256 × n_items floats
# The newest events of a history a model reads. Serving keeps at least this many per user
# (serving/realtime.py), so the offline evaluation scores exactly the histories GetRecommendations sees.
HISTORY_LIMIT = 500


# Fit progress (issue 3): a training job installs a reporter around ``fit``; iterative recipes call
# ``report_epoch`` after each epoch. Recipes know nothing of jobs, and without a reporter the call does nothing.
FitReporter = Callable[[int, int, float | None], None]  # (epoch done, epochs planned, validation metric)
_FIT_REPORTER: ContextVar[FitReporter | None] = ContextVar("fit_reporter", default=None)


@contextmanager
def fit_progress(reporter: FitReporter) -> Iterator[None]:
    """Send the ``report_epoch`` calls made inside the block (same thread) to ``reporter``."""
    token = _FIT_REPORTER.set(reporter)
    try:
        yield
    finally:
        _FIT_REPORTER.reset(token)


def report_epoch(epoch: int, epochs: int, validation: float | None = None) -> None:
    """An iterative recipe finished ``epoch`` (1-based) of at most ``epochs``."""
    reporter = _FIT_REPORTER.get()
    if reporter is not None:
        reporter(epoch, epochs, validation)


class NotFittedError(ValueError, AttributeError):
    """A query was made before ``fit`` (scikit-learn's name and bases)."""


class QueryError(ValueError):
    """A query the model cannot answer as asked — an unknown item, a bad attribute expression — with a
    message meant for the caller (batch jobs report it per input line, the runtime API as InvalidInput)."""


@dataclass(frozen=True)
class Histories:
    """Ragged item histories (chronological), one row per user: ``items[offsets[i]:offsets[i+1]]``."""

    items: np.ndarray
    offsets: np.ndarray
    event_types: np.ndarray | None = None  # codes into the model's ``event_types_``, aligned with items
    timestamps: np.ndarray | None = None  # epoch seconds, aligned with items

    @classmethod
    def from_lists(
        cls,
        rows: Sequence[np.ndarray],
        types: Sequence[np.ndarray] | None = None,
        times: Sequence[np.ndarray] | None = None,
    ) -> Histories:
        lengths = np.array([len(r) for r in rows], dtype=np.int64)
        offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        items = _concat(rows, np.int64)
        codes = None if types is None else _concat(types, np.int64)
        stamps = None if times is None else _concat(times, np.float64)
        return cls(items=items, offsets=offsets, event_types=codes, timestamps=stamps)

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def row(self, i: int) -> np.ndarray:
        return self.items[self.offsets[i] : self.offsets[i + 1]]

    def types_row(self, i: int) -> np.ndarray | None:
        return None if self.event_types is None else self.event_types[self.offsets[i] : self.offsets[i + 1]]

    def times_row(self, i: int) -> np.ndarray | None:
        return None if self.timestamps is None else self.timestamps[self.offsets[i] : self.offsets[i + 1]]

    def slice(self, start: int, stop: int) -> Histories:
        lo, hi = self.offsets[start], self.offsets[stop]
        types = None if self.event_types is None else self.event_types[lo:hi]
        times = None if self.timestamps is None else self.timestamps[lo:hi]
        return Histories(self.items[lo:hi], self.offsets[start : stop + 1] - lo, types, times)

    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    def newest(self, limit: int) -> Histories:
        """Each row's newest ``limit`` events (self when no row is longer)."""
        lengths = self.lengths()
        if not len(lengths) or lengths.max() <= limit:
            return self
        from_end = np.repeat(self.offsets[1:], lengths) - np.arange(len(self.items))  # 1 = the newest
        keep = from_end <= limit
        offsets = np.concatenate([[0], np.cumsum(np.minimum(lengths, limit))]).astype(np.int64)
        types = None if self.event_types is None else self.event_types[keep]
        times = None if self.timestamps is None else self.timestamps[keep]
        return Histories(self.items[keep], offsets, types, times)


def _concat(rows: Sequence[np.ndarray], dtype: type) -> np.ndarray:
    return np.concatenate([np.asarray(r, dtype) for r in rows]) if len(rows) else np.zeros(0, dtype)


def check_is_fitted(recipe: Recipe) -> None:
    if not hasattr(recipe, "item_ids_"):
        raise NotFittedError(f"This {type(recipe).__name__} instance is not fitted yet. Call 'fit' first.")


class Recipe(abc.ABC):
    """Base of every recipe: hyperparameters, fit, the queries, save/load.

    Subclasses implement ``_fit(data)`` and ``_score(histories) -> (n_users, n_items)`` (higher is
    better); id mapping, exclusions, candidate restriction and persistence live here once (habit 17), top-k
    and display scores in ranking.py.

    Attributes
    ----------
    item_ids_ : str array, the catalogue the model scores (training data's ``item_ids``).
    item_counts_ : int64 array, distinct training users per item; items with 0 are never recommended
        (the model learned nothing about them) and order the popularity fallback.
    event_types_ : str array, the event type names seen in training (codes used in ``Histories``).
    """

    # Each constructor argument's type and range: an AWS hyperparameter's declaration (``_params.declared``) or an
    # ``Interval`` for a setting of our own.
    _parameter_constraints: ClassVar[dict[str, Constraint]] = {}
    # Every model class by name, so ``load`` rebuilds the class a config names; the package's ``__init__``
    # imports every shipped recipe module, so the table is complete whatever was imported first.
    _registry: ClassVar[dict[str, type[Recipe]]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        Recipe._registry[cls.__name__] = cls

    # ---- hyperparameters (habit 8) -------------------------------------------------------------
    @classmethod
    def param_names(cls) -> list[str]:
        """The hyperparameters: the constructor's keyword-only arguments (what HPO may set, what ``save`` writes)."""
        sig = inspect.signature(cls.__init__)
        return sorted(p.name for p in sig.parameters.values() if p.kind is p.KEYWORD_ONLY)

    def get_params(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.param_names()}

    def set_params(self, **params: Any) -> Self:
        unknown = set(params) - set(self.param_names())
        if unknown:
            raise InvalidParameterError(
                f"Invalid parameter(s) {sorted(unknown)} for {type(self).__name__}; "
                f"valid parameters are {self.param_names()}."
            )
        for name, value in params.items():
            setattr(self, name, value)
        return self

    def _validate_params(self) -> None:
        for name, constraint in self._parameter_constraints.items():
            constraint.check(type(self).__name__, name, getattr(self, name))

    # ---- training --------------------------------------------------------------------------------
    def fit(self, data: TrainingData) -> Self:
        """Learn from ``data``; validates hyperparameters first (habit 9)."""
        self._validate_params()
        if data.n_interactions == 0:
            raise ValueError(f"{type(self).__name__}.fit needs at least one interaction; got 0.")
        self._fit(data)
        self.item_ids_ = np.asarray(data.item_ids, dtype=str)
        self.item_counts_ = data.item_counts()
        self.event_types_ = np.asarray(data.event_types, dtype=str)
        return self

    def fit_memory(self, data: TrainingData) -> int:
        """Bytes ``fit(data)`` is expected to hold at its peak, the data included (issue 15: a training job checks
        it against OPENPERSONALIZE_TRAINING_MEMORY before fitting). The default grows with the events only;
        recipes whose fit holds more (item × item matrices, factors per user) add it."""
        return FIT_FIXED_BYTES + FIT_BYTES_PER_EVENT * data.n_interactions

    def update(self, data: TrainingData) -> Self:
        """Refresh a fitted model with the data as it is now, without refitting (trainingMode UPDATE, automatic
        updates: spec §2.5, §3.4).

        New items join the catalogue (so they can be explored and, once interacted with, recommended) and cheap
        statistics such as popularity are recomputed; the expensive learnt state is kept as it is. Recipes that
        cannot be refreshed this way raise ``NotImplementedError`` (the caller trains them again instead).

        Parameters
        ----------
        data : all the training data now (the old catalogue need not be a subset: no item is dropped).
        """
        raise NotImplementedError(f"{type(self).__name__} cannot be updated incrementally; train it again (trainingMode FULL).")

    def _grow_catalogue(self, data: TrainingData) -> tuple[np.ndarray, np.ndarray]:
        """Make ``item_ids_`` the union of the model's items and ``data``'s, recount popularity from ``data``.

        Returns (new position of each old item, new position of each ``data`` item): learnt arrays indexed by
        catalogue position are remapped with the first, per-item statistics of ``data`` with the second.
        """
        check_is_fitted(self)
        old_ids = np.asarray(self.item_ids_, dtype=str)
        ids = np.union1d(old_ids, np.asarray(data.item_ids, dtype=str))
        old_to_new, data_to_new = np.searchsorted(ids, old_ids), np.searchsorted(ids, data.item_ids)
        counts = np.zeros(len(ids), dtype=np.int64)
        counts[data_to_new] = data.item_counts()
        self.item_ids_, self.item_counts_ = ids, counts
        return old_to_new.astype(np.int64), data_to_new.astype(np.int64)

    @abc.abstractmethod
    def _fit(self, data: TrainingData) -> None:
        """Compute the learned state from ``data``."""

    @abc.abstractmethod
    def _score(self, histories: Histories) -> np.ndarray:
        """Scores (n_users, n_items), float32, higher is better, for users described by their histories."""

    # ---- queries ---------------------------------------------------------------------------------
    def recommend(
        self,
        history_item_ids: Sequence[str],
        *,
        history_event_types: Sequence[str] | None = None,
        history_timestamps: Sequence[float] | None = None,
        num_results: int = 25,
        exclude_item_ids: Sequence[str] = (),
        candidate_item_ids: Sequence[str] | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top ``num_results`` (item ids, scores) for one user given their chronological history.

        Parameters
        ----------
        history_item_ids : the user's items, oldest first (training data + real-time events);
            unknown items are ignored.
        history_event_types : event type names aligned with the history (None = untyped).
        history_timestamps : epoch seconds aligned with the history (None = unknown).
        num_results : how many items to return (fewer if fewer candidates remain).
        exclude_item_ids : items never to return (filters, already-seen items).
        candidate_item_ids : if given, only these items may be returned.
        """
        check_is_fitted(self)
        histories = self.history_row(history_item_ids, history_event_types, history_timestamps)
        scores = self.final_scores(histories)
        allowed = self._candidate_mask(candidate_item_ids)
        allowed[self._indices(exclude_item_ids)] = False
        scores = np.where(allowed[None, :], scores, -np.inf)  # the softmax runs over the candidates left
        top = ranking.top_k(scores, num_results)
        top = top[:, top[0] >= 0]
        return self.item_ids_[top[0]], ranking.softmax_at(scores, top)[0]

    def score_history(
        self,
        history_item_ids: Sequence[str],
        *,
        history_event_types: Sequence[str] | None = None,
        history_timestamps: Sequence[float] | None = None,
    ) -> np.ndarray:
        """Raw scores (float32, aligned with ``item_ids_``, -inf = never recommendable) for one history.

        The query serving needs: it applies impressions, then ranking.py's filters, exploration and
        promotions (the same scores ``recommend`` ranks by).
        """
        check_is_fitted(self)
        histories = self.history_row(history_item_ids, history_event_types, history_timestamps)
        return self.final_scores(histories)[0]

    def recommend_batch(
        self,
        histories: Histories,
        *,
        num_results: int = 25,
        exclude_history: bool = False,
        candidates: Histories | None = None,
    ) -> np.ndarray:
        """Top ``num_results`` item indices per history row (-1 pads rows with too few candidates).

        ``candidates`` (one row per history) restricts each row to those items, as ranking does.
        """
        check_is_fitted(self)
        out = np.full((len(histories), num_results), -1, dtype=np.int64)
        for start in range(0, len(histories), _BATCH):
            chunk = histories.slice(start, min(start + _BATCH, len(histories)))
            scores = self.final_scores(chunk)
            if candidates is not None:
                allowed = candidates.slice(start, start + len(chunk))
                keep = np.zeros(scores.shape, dtype=bool)
                keep[np.repeat(np.arange(len(chunk)), allowed.lengths()), allowed.items] = True
                scores[~keep] = -np.inf
            if exclude_history:
                rows = np.repeat(np.arange(len(chunk)), chunk.lengths())
                scores[rows, chunk.items] = -np.inf
            top = ranking.top_k(scores, num_results)
            out[start : start + len(chunk), : top.shape[1]] = top
        return out

    def similar_items(
        self, item_id: str, *, num_results: int = 25, exclude_item_ids: Sequence[str] = ()
    ) -> tuple[np.ndarray, np.ndarray]:
        """Items related to ``item_id`` (the item itself excluded); unknown item → popular items (spec §5.4)."""
        return self.recommend(
            [item_id], num_results=num_results, exclude_item_ids=[item_id, *exclude_item_ids]
        )

    def rank(
        self,
        history_item_ids: Sequence[str],
        item_ids: Sequence[str],
        *,
        history_event_types: Sequence[str] | None = None,
        history_timestamps: Sequence[float] | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """``item_ids`` reordered best first for this history; unknown items keep their order at the end."""
        check_is_fitted(self)
        wanted = np.asarray(list(item_ids), dtype=str)
        histories = self.history_row(history_item_ids, history_event_types, history_timestamps)
        order, shown = ranking.rank_list(self.final_scores(histories)[0], self._indices(wanted, keep_unknown=True))
        return wanted[order], np.nan_to_num(shown, nan=0.0)

    # ---- helpers shared by the queries -----------------------------------------------------------
    def final_scores(self, histories: Histories) -> np.ndarray:
        """Scores (n_users, n_items), float32, -inf = never recommendable: the model's, with never-trained items
        masked and empty histories served by popularity. What serving and batch inference rank. Only the newest
        ``HISTORY_LIMIT`` events of each history count."""
        histories = histories.newest(HISTORY_LIMIT)
        scores = np.asarray(self._score(histories), dtype=np.float32)
        empty = histories.lengths() == 0
        if empty.any():
            scores[empty] = self.item_counts_.astype(np.float32)
        penalty = self._untrained_penalty()
        if penalty is not None:
            scores += penalty
        return scores

    def _untrained_penalty(self) -> np.ndarray | None:
        """0, or -inf for items never trained on (None when every item was trained: adding 0 changes nothing a
        ranking reads, and it was a pass over each batch block); kept per ``item_counts_`` array: one vectorised
        add per request instead of a boolean column mask (6 ms per user at 1M items, issue 4)."""
        cached = getattr(self, "_penalty_cache", None)
        if cached is None or cached[0] is not self.item_counts_:
            untrained = self.item_counts_ == 0
            penalty = np.where(untrained, -np.inf, 0.0).astype(np.float32) if untrained.any() else None
            cached = (self.item_counts_, penalty)
            self._penalty_cache = cached
        return cached[1]

    def history_row(
        self, items: Sequence[str], types: Sequence[str] | None, times: Sequence[float] | None
    ) -> Histories:
        """One history row from ids, as the queries read it: the newest ``HISTORY_LIMIT`` events, then unknown items dropped (with their
        type and time): a history held by serving is the newest events whatever they name."""
        items = list(items)[-HISTORY_LIMIT:]
        types = None if types is None else list(types)[-HISTORY_LIMIT:]
        times = None if times is None else list(times)[-HISTORY_LIMIT:]
        idx = self._indices(items, keep_unknown=True)
        keep = idx >= 0
        codes = None if types is None else [lookup_sorted(self.event_types_, np.asarray(list(types), dtype=str))[keep]]
        stamps = None if times is None else [np.asarray(list(times), dtype=np.float64)[keep]]
        return Histories.from_lists([idx[keep]], codes, stamps)

    def _indices(self, ids: Sequence[str] | np.ndarray, keep_unknown: bool = False) -> np.ndarray:
        idx = lookup_sorted(self.item_ids_, np.asarray(list(ids), dtype=str))
        return idx if keep_unknown else idx[idx >= 0]

    def _candidate_mask(self, candidate_item_ids: Sequence[str] | None) -> np.ndarray:
        if candidate_item_ids is None:
            return np.ones(len(self.item_ids_), dtype=bool)
        mask = np.zeros(len(self.item_ids_), dtype=bool)
        mask[self._indices(candidate_item_ids)] = True
        return mask

    # ---- persistence (habit 16) ------------------------------------------------------------------
    def save(self, path: str | Path) -> None:
        """Write ``config.json`` (class, hyperparameters) and ``arrays.npz`` (learned state) into ``path``."""
        check_is_fitted(self)
        folder = Path(path)
        folder.mkdir(parents=True, exist_ok=True)
        config = {"format": FORMAT_VERSION, "class": type(self).__name__, "params": self.get_params()}
        (folder / CONFIG_FILE).write_text(json.dumps(config, indent=1, sort_keys=True))
        with open(folder / ARRAYS_FILE, "wb") as fh:
            np.savez(fh, **self._get_state())

    @classmethod
    def load(cls, path: str | Path) -> Recipe:
        """Rebuild a saved model; the class comes from the config, so ``Recipe.load`` loads any recipe."""
        folder = Path(path)
        config = json.loads((folder / CONFIG_FILE).read_text())
        if config.get("format") != FORMAT_VERSION:
            raise ValueError(f"Unsupported model format {config.get('format')!r}; expected {FORMAT_VERSION}.")
        recipe_cls = Recipe._registry[config["class"]]
        recipe = recipe_cls(**config["params"])
        with np.load(folder / ARRAYS_FILE, allow_pickle=False) as arrays:
            recipe._set_state({name: arrays[name] for name in arrays.files})
        return recipe

    def _get_state(self) -> dict[str, np.ndarray]:
        """Learned arrays to save: every public attribute ending in ``_`` that is an array."""
        return {k: v for k, v in vars(self).items() if k.endswith("_") and not k.startswith("_") and isinstance(v, np.ndarray)}

    def _set_state(self, arrays: dict[str, np.ndarray]) -> None:
        for name, value in arrays.items():
            setattr(self, name, value)

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({params})"


def clone(recipe: Recipe) -> Recipe:
    """A new unfitted recipe with the same hyperparameters (scikit-learn's ``clone``)."""
    return type(recipe)(**recipe.get_params())

