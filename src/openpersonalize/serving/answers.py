"""Finished GetRecommendations answers, kept while nothing they depend on changes.

A user who reloads a page asks the same question again. Apart from exploration slots (drawn per request)
the answer depends only on the model, the catalogue, the user's history and the request; control/runtime.py
builds that key, so a repeated request costs a dictionary lookup (and the draw) instead of a filter
evaluation, a top-k and a render (bench/serving.py). Answers without exploration are held as encoded JSON;
bounded by bytes, oldest first out.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson

from ..ids import new_token

if TYPE_CHECKING:
    from .recommend import Prepared

CACHE_BYTES = 64 * 2**20


@dataclass(frozen=True, slots=True)
class Answer:
    """One cached answer: the prepared part, and its encoded item list when nothing is drawn per request."""

    prepared: Prepared
    encoded: orjson.Fragment | None  # the itemList as JSON, when nothing is drawn per request
    item_ids: list[str]  # for the recommendationId's implicit impressions
    size: int

    @classmethod
    def of(cls, prepared: Prepared) -> Answer:
        if prepared.n_explore:
            own = (0 if prepared.pool_shared else prepared.pool.nbytes) + (0 if prepared.shown is None else prepared.shown.nbytes)
            return cls(prepared, None, [], 512 * len(prepared.entries) + own)
        encoded = orjson.dumps(prepared.entries)
        ids = [item["itemId"] for item in prepared.entries]
        return cls(prepared, orjson.Fragment(encoded), ids, len(encoded) + 64 * len(ids))


_ANSWERS: OrderedDict[tuple[Any, ...], Answer] = OrderedDict()
_LOCK = threading.Lock()
_held = 0


def get(key: tuple[Any, ...]) -> Answer | None:
    return _ANSWERS.get(key)


def put(key: tuple[Any, ...], answer: Answer) -> None:
    global _held
    with _LOCK:
        previous = _ANSWERS.pop(key, None)
        _held -= previous.size if previous is not None else 0
        _ANSWERS[key] = answer
        _held += answer.size
        while _held > CACHE_BYTES and len(_ANSWERS) > 1:
            _held -= _ANSWERS.popitem(last=False)[1].size


def token(extras: dict[str, Any]) -> int:
    """The token (ids.new_token) of the catalogue or other object carrying ``extras``."""
    found = extras.get("answers_token")
    if found is None:
        found = extras.setdefault("answers_token", new_token())
    return int(found)


def frozen(value: Any) -> bytes | None:
    """A hashable form of a request member (maps, lists)."""
    return None if value is None else orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
