"""Identifiers made per request, and tokens that name one in-memory object for its lifetime."""

from __future__ import annotations

import itertools
import random

_TOKENS = itertools.count(1)


def new_uuid() -> str:
    """A random version-4 UUID in its usual text form. Request and recommendation ids must be unique, not
    secret: Python's generator (seeded from the OS once) instead of a system call per id, as uuid4() makes."""
    value = random.getrandbits(128) & ~(0xF000 << 64) | (0x4000 << 64)  # version 4
    value = value & ~(0xC000 << 48) | (0x8000 << 48)  # RFC 4122 variant
    text = f"{value:032x}"
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


def new_token() -> int:
    """A process-wide number never handed out twice: unlike ``id()``, a later object cannot reuse it, so it
    can stand for an object (a catalogue, a history snapshot) in cache keys."""
    return next(_TOKENS)
