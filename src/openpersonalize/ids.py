"""Identifiers made per request, and tokens that name one in-memory object for its lifetime."""

from __future__ import annotations

import itertools
import os
import random

_TOKENS = itertools.count(1)


def _random_prefix() -> str:
    """The first 80 bits of a version-4 UUID (version and variant set), fresh per process."""
    text = f"{random.getrandbits(80):020x}"
    return f"{text[:8]}-{text[8:12]}-4{text[13:16]}-{'89ab'[int(text[16], 16) & 3]}{text[17:20]}-"


_prefix = _random_prefix()
_counter = itertools.count()


def _after_fork() -> None:
    global _prefix, _counter
    _prefix, _counter = _random_prefix(), itertools.count()


os.register_at_fork(after_in_child=_after_fork)


def new_uuid() -> str:
    """A version-4 UUID in its usual text form: 74 random bits per process, then a 48-bit counter. Request and
    recommendation ids must be unique, not secret, and one is made per request: no system call, no big
    integer formatting."""
    return f"{_prefix}{next(_counter) & 0xFFFFFFFFFFFF:012x}"


def new_token() -> int:
    """A process-wide number never handed out twice: unlike ``id()``, a later object cannot reuse it, so it
    can stand for an object (a catalogue, a history snapshot) in cache keys."""
    return next(_TOKENS)
