"""Finished GetRecommendations answers, kept while nothing they depend on changes.

A user who reloads a page asks the same question again. Apart from exploration slots (drawn per request)
the answer depends only on the model, the catalogue, the user's history and the request; control/runtime.py
builds that key, so a repeated request costs a dictionary lookup (and the draw) instead of a filter
evaluation, a top-k and a render (bench/serving.py). Answers without exploration are held as encoded JSON.
The cache itself is the serving state's ``answers`` (serving/state.py): bounded by ``CACHE_BYTES``, least
recently used out first.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson

if TYPE_CHECKING:
    from .recommend import Prepared

CACHE_BYTES = 64 * 2**20  # about 25k answers of 25 items (~2.6 kB each)


@dataclass(frozen=True, slots=True)
class Answer:
    """One cached answer: the prepared part, and its encoded item list when nothing is drawn per request."""

    prepared: Prepared | None  # kept only when each request draws exploration slots from it
    encoded: orjson.Fragment | None  # the itemList as JSON, when nothing is drawn per request
    item_ids: list[str]  # for the recommendationId's implicit impressions
    size: int

    @classmethod
    def of(cls, prepared: Prepared) -> Answer:
        if prepared.n_explore:
            own = (0 if prepared.pool_shared else prepared.pool.nbytes) + (0 if prepared.shown is None else prepared.shown.nbytes)
            own += 0 if prepared.pool_scores is None else prepared.pool_scores.nbytes
            return cls(prepared, None, [], 512 * len(prepared.entries) + own)
        encoded = orjson.dumps(prepared.entries)
        ids = [item["itemId"] for item in prepared.entries]
        # the entries' dicts are not kept: they weighed several times the encoded list (bench/soak.py)
        return cls(None, orjson.Fragment(encoded), ids, len(encoded) + 64 * len(ids))


def frozen(value: Any) -> bytes | None:
    """A hashable form of a request member (maps, lists)."""
    return None if value is None else orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
