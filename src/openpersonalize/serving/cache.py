"""A bounded, thread-safe LRU cache with hit, miss and eviction counters (reported on ``/metrics``).

Every cache the serving layer keeps (loaded models, score vectors, rankings, answers, resource records,
compiled filters) is one of these, owned by the process's serving state, so nothing grows without bound and
each cache's effectiveness can be read from outside.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from dataclasses import dataclass
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


@dataclass(frozen=True)
class CacheStats:
    name: str
    entries: int
    weight: int
    hits: int
    misses: int
    evictions: int


class BoundedCache(Generic[K, V]):
    """Least recently used entries leave first once ``max_weight`` is exceeded.

    ``weigh`` gives an entry's weight (bytes, say); by default every entry weighs 1, so ``max_weight`` is an
    entry count. The newest entry always stays, even when it alone is over the bound.
    """

    def __init__(self, name: str, max_weight: int, weigh: Callable[[V], int] | None = None) -> None:
        self.name = name
        self.max_weight = max_weight
        self._weigh = weigh
        self._entries: OrderedDict[K, tuple[V, int]] = OrderedDict()
        self._weight = 0
        self._lock = threading.Lock()
        self.hits = self.misses = self.evictions = 0

    def get(self, key: K, valid: Callable[[V], bool] | None = None) -> V | None:
        """The entry, or None; an entry that ``valid`` rejects (expired, say) counts as a miss.

        Reads take no lock: the runtime API reads several caches per request, and OrderedDict's ``get`` and
        ``move_to_end`` are each atomic under the GIL. A writer may evict the key between the two (then the
        entry found is still returned), and the counters may miss a concurrent increment: they are for /metrics.
        """
        found = self._entries.get(key)
        if found is None or (valid is not None and not valid(found[0])):
            self.misses += 1
            return None
        try:
            self._entries.move_to_end(key)
        except KeyError:
            pass  # evicted meanwhile
        self.hits += 1
        return found[0]

    def peek(self, key: K) -> V | None:
        """The entry, without counting a hit or a miss or making it recent (for sweeps and double checks)."""
        found = self._entries.get(key)
        return None if found is None else found[0]

    def put(self, key: K, value: V) -> V:
        weight = 1 if self._weigh is None else self._weigh(value)
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self._weight -= old[1]
            self._entries[key] = (value, weight)
            self._weight += weight
            while self._weight > self.max_weight and len(self._entries) > 1:
                _, (_, dropped) = self._entries.popitem(last=False)
                self._weight -= dropped
                self.evictions += 1
        return value

    def get_or_compute(self, key: K, compute: Callable[[], V]) -> V:
        """The cached value, or ``compute()`` stored under ``key`` (two racing threads may both compute)."""
        found = self.get(key)
        return found if found is not None else self.put(key, compute())

    def pop(self, key: K) -> V | None:
        with self._lock:
            found = self._entries.pop(key, None)
            if found is None:
                return None
            self._weight -= found[1]
            return found[0]

    def discard_where(self, predicate: Callable[[K], bool]) -> None:
        with self._lock:
            for key in [k for k in self._entries if predicate(k)]:
                self._weight -= self._entries.pop(key)[1]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._weight = 0

    def keys(self) -> Iterator[K]:
        with self._lock:
            return iter(list(self._entries))

    def __len__(self) -> int:
        return len(self._entries)

    def stats(self) -> CacheStats:
        with self._lock:
            return CacheStats(self.name, len(self._entries), self._weight, self.hits, self.misses, self.evictions)
