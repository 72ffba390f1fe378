"""Finished GetRecommendations answers, kept while nothing they depend on changes.

A user who reloads a page asks the same question again. When the answer is deterministic (no exploration
slots or promotion positions drawn at random) it depends only on the model, the catalogue, the user's
history and the request; control/runtime.py builds that key, so a repeated request costs a dictionary
lookup instead of a filter evaluation, a top-k and a render (bench/serving.py). Answers are held as encoded
JSON, bounded by bytes, oldest first out.
"""

from __future__ import annotations

import itertools
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import orjson

CACHE_BYTES = 64 * 2**20
_TOKENS = itertools.count(1)


@dataclass(frozen=True, slots=True)
class Answer:
    encoded: orjson.Fragment  # the itemList, as JSON
    item_ids: list[str]  # for the recommendationId's implicit impressions
    size: int

    @classmethod
    def of(cls, items: list[dict[str, Any]]) -> Answer:
        encoded = orjson.dumps(items)
        return cls(orjson.Fragment(encoded), [item["itemId"] for item in items], len(encoded) + 64 * len(items))


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
    """A number that identifies one catalogue (or other object carrying ``extras``) for its lifetime; unlike
    ``id()`` it is never reused by a later object."""
    found = extras.get("answers_token")
    if found is None:
        found = extras.setdefault("answers_token", next(_TOKENS))
    return int(found)


def new_token() -> int:
    return next(_TOKENS)


def frozen(value: Any) -> bytes | None:
    """A hashable form of a request member (maps, lists)."""
    return None if value is None else orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
