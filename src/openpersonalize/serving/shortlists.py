"""Each known user's best items, computed in the background once a model loads (issue 13: first visits).

Most runtime traffic is users whose answer is not cached yet: their first request since the model loaded.
Scoring the catalogue for one user costs about a millisecond (the neighbour vote dominates); a request that
finds the user's ``SHORTLIST_LENGTH`` best items and the scores they show (the softmax over the whole row, in
units of the wire's last decimal) here only masks that list with its filter. The lists are computed from the
same histories, by the same batch scoring, as a request would score them (``final_scores`` gives each row what
a one-row call gives), so the answer is the same; a user whose history changed since the snapshot (a streamed
event, an impression) is scored afresh, as is a request the list cannot answer (a filter that leaves too few
of its items).

Memory is bounded by ``OPENPERSONALIZE_SHORTLIST_BYTES`` per served model: the users with the most events
come first, the rest are scored on request as before. The build keeps one core busy for users × a batch row's
cost: about 0.1 ms at 10k items, 5 ms at 1M (where a scored request costs about as much, so the build pays for
itself with every user's first visit).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

import numpy as np

from .. import ranking
from ..recipes.base import Histories, Recipe
from .cache import CacheStats
from .realtime import GroupHistory

log = logging.getLogger("openpersonalize.serving")
SHORTLIST_LENGTH = 256  # ten lists of 25 even when a filter removes most of a user's best items
CHUNK_CELLS = 4 * 2**20  # scores computed at once (users × catalogue floats): 16 MB
BYTES_PER_USER = SHORTLIST_LENGTH * 8 + 160  # positions and shown scores, plus the dictionary entry


@dataclass(frozen=True, slots=True)
class Shortlist:
    """One user's best items: catalogue positions best first (ties to the lower position, as ``ranking.top_k``),
    and the scores they show, ``ranking.display_units`` of the softmax over every item the user's row scores
    (kept rounded: a request then only divides, and a float32 holds 10^7 units exactly)."""

    items: np.ndarray
    units: np.ndarray
    complete: bool  # the list holds every item the row scores: a filter can leave no better item outside


def model_types(recipe: Recipe, types: list[str]) -> list[str] | None:
    """Event types the model knows (unknown ones read as its first type); None for untyped models."""
    known = recipe.event_types_
    if len(known) <= 1 and (len(known) == 0 or known[0] == ""):
        return None
    names = set(known.tolist())
    return [t if t in names else str(known[0]) for t in types]


class Shortlists:
    """The shortlists of one served model, filled by ``build`` in the background; ``get`` is lock-free."""

    def __init__(self, budget_bytes: int) -> None:
        self.budget_bytes = budget_bytes
        self._rows: dict[str, int] = {}
        self._items = np.zeros((0, SHORTLIST_LENGTH), np.int32)
        self._units = np.zeros((0, SHORTLIST_LENGTH), np.float32)
        self._stopped = threading.Event()
        self.done = threading.Event()  # set when the build has finished (or stopped)
        self.hits = self.misses = 0  # answers read off a list / listed users scored anyway (recommend.py counts)

    def __len__(self) -> int:
        return len(self._rows)

    def get(self, user_id: str) -> Shortlist | None:
        row = self._rows.get(user_id)
        if row is None:
            return None
        items = self._items[row]
        found = items[items >= 0]
        return Shortlist(found, self._units[row, : len(found)], len(found) < SHORTLIST_LENGTH)

    def stats(self) -> CacheStats:
        weight = self._items.nbytes + self._units.nbytes
        return CacheStats("shortlists", len(self._rows), weight, self.hits, self.misses, 0)

    def stop(self) -> None:
        """The model is no longer served: a build still running ends at its next chunk."""
        self._stopped.set()

    def build(self, recipe: Recipe, history: GroupHistory) -> None:
        """Score the snapshot's users (most events first, as many as the budget holds) and publish their lists
        chunk by chunk. Users with streamed events are skipped: a request scores their current history."""
        try:
            users = [u for u in history.known_users() if history.user_version(u) == 0]
            users = users[: max(0, self.budget_bytes // BYTES_PER_USER)]
            n_items = len(recipe.item_ids_)
            chunk = max(1, min(512, CHUNK_CELLS // max(n_items, 1)))
            self._allocate(len(users))
            for start in range(0, len(users), chunk):
                if self._stopped.is_set():
                    return
                self._fill(start, users[start : start + chunk], recipe, history)
            log.info("shortlists for %d users ready", len(self._rows))
        except Exception:  # a request scores the user itself; nothing is wrong with the answers
            log.exception("building shortlists failed")
        finally:
            self.done.set()

    def _allocate(self, count: int) -> None:
        self._items = np.full((count, SHORTLIST_LENGTH), -1, np.int32)
        self._units = np.zeros((count, SHORTLIST_LENGTH), np.float32)

    def _fill(self, start: int, users: list[str], recipe: Recipe, history: GroupHistory) -> None:
        scores = recipe.final_scores(_histories(recipe, history, users))
        top = ranking.top_k(scores, SHORTLIST_LENGTH)
        stop = start + len(users)
        self._items[start:stop, : top.shape[1]] = top
        # the softmax over each whole row, as a scored request shows it (recommend._display)
        self._units[start:stop, : top.shape[1]] = ranking.display_units(ranking.softmax_at(scores, top))
        for offset, user in enumerate(users):  # published last: a reader never sees a half-written row
            self._rows[user] = start + offset


def _histories(recipe: Recipe, history: GroupHistory, users: list[str]) -> Histories:
    """The users' served histories, as ``Recipe.score_history`` reads one (same ids, types and times)."""
    rows = []
    for user in users:
        events = history.get(user)
        rows.append(recipe.history_row(events.item_ids, model_types(recipe, events.event_types), events.timestamps))
    types = None if any(r.event_types is None for r in rows) else [r.event_types for r in rows]
    times = None if any(r.timestamps is None for r in rows) else [r.timestamps for r in rows]
    return Histories.from_lists([r.items for r in rows], types, times)
