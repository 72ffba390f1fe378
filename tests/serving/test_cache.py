"""serving/cache.py: the one bounded cache every serving-side memo uses."""

from __future__ import annotations

from openpersonalize.serving.cache import BoundedCache


def test_least_recently_used_entries_leave_first() -> None:
    cache: BoundedCache[str, int] = BoundedCache("t", max_weight=2)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1  # "b" is now the least recently used
    cache.put("c", 3)
    assert cache.get("b") is None and cache.get("a") == 1 and cache.get("c") == 3
    stats = cache.stats()
    assert (stats.entries, stats.hits, stats.misses, stats.evictions) == (2, 3, 1, 1)


def test_weights_bound_the_total_and_the_newest_entry_stays() -> None:
    cache: BoundedCache[int, bytes] = BoundedCache("t", max_weight=10, weigh=len)
    cache.put(1, b"12345")
    cache.put(2, b"123456")
    assert cache.get(1) is None and cache.stats().weight == 6
    cache.put(3, b"x" * 50)  # over the bound alone: kept, everything older leaves
    assert list(cache.keys()) == [3]


def test_get_or_compute_computes_once() -> None:
    cache: BoundedCache[str, list[int]] = BoundedCache("t", max_weight=4)
    calls: list[int] = []
    for _ in range(3):
        cache.get_or_compute("k", lambda: calls.append(1) or [1])
    assert calls == [1]


def test_discard_where_and_pop_keep_the_weight_right() -> None:
    cache: BoundedCache[tuple[str, int], str] = BoundedCache("t", max_weight=100, weigh=len)
    for i in range(4):
        cache.put(("v1" if i % 2 else "v2", i), "abc")
    cache.discard_where(lambda key: key[0] == "v1")
    assert sorted(cache.keys()) == [("v2", 0), ("v2", 2)] and cache.stats().weight == 6
    assert cache.pop(("v2", 0)) == "abc" and cache.pop(("v2", 0)) is None and cache.stats().weight == 3
