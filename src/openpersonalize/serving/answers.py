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
class Drawn:
    """An answer whose every request draws exploration slots from its prepared part."""

    prepared: Prepared
    size: int


# An answer with nothing to draw: (the itemList as JSON, its item ids for the recommendationId's implicit
# impressions, its weight). A plain tuple of bytes and strings, which the garbage collector stops tracking: 20k
# cached answers held as objects with lists were 100k tracked objects, and every full collection walked them
# for 35–90 ms while requests waited (bench/serving.py's p99).
Encoded = tuple[orjson.Fragment, tuple[str, ...], int]
Answer = Drawn | Encoded


def of(prepared: Prepared) -> Answer:
    """The answer to keep for a prepared one."""
    if prepared.n_explore:
        own = (0 if prepared.pool_shared else prepared.pool.nbytes) + (0 if prepared.shown is None else prepared.shown.nbytes)
        own += 0 if prepared.pool_scores is None else prepared.pool_scores.nbytes
        return Drawn(prepared, 512 * len(prepared.entries) + own)
    encoded = orjson.dumps(prepared.entries)
    ids = tuple(item["itemId"] for item in prepared.entries)
    # the entries' dicts are not kept: they weighed several times the encoded list (bench/soak.py)
    return orjson.Fragment(encoded), ids, len(encoded) + 64 * len(ids)


def weight(answer: Answer) -> int:
    return answer.size if isinstance(answer, Drawn) else answer[2]


def frozen(value: Any) -> bytes | None:
    """A hashable form of a request member (maps, lists)."""
    return None if value is None else orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
