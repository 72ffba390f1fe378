"""Prometheus metrics for `/metrics`: requests, errors and latency per operation, and the serving caches'
entries, weight, hits, misses and evictions (read from the caches at scrape time). Plain text exposition
format 0.0.4, no dependency.
"""

from __future__ import annotations

import bisect
import threading
from collections import defaultdict
from collections.abc import Sequence
from typing import Protocol

# Latency buckets in seconds: sub-millisecond resolution where the runtime API lives.
BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
Labels = tuple[tuple[str, str], ...]


class Registry:
    """Thread-safe request counters and one latency histogram, keyed by operation."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counters: dict[tuple[str, Labels], float] = defaultdict(float)
        self._histogram: dict[str, list[int]] = defaultdict(lambda: [0] * (len(BUCKETS) + 1))
        self._sums: dict[str, float] = defaultdict(float)

    def observe_request(self, operation: str, status: int, seconds: float) -> None:
        with self._lock:
            self._counters[("openpersonalize_requests_total", (("operation", operation), ("status", str(status))))] += 1
            if status >= 400:
                self._counters[("openpersonalize_request_errors_total", (("operation", operation),))] += 1
            self._histogram[operation][bisect.bisect_left(BUCKETS, seconds)] += 1
            self._sums[operation] += seconds

    def requests_per_operation(self) -> dict[str, int]:
        """Requests answered per operation, any status (the console's usage page)."""
        with self._lock:
            counts: dict[str, int] = defaultdict(int)
            for (name, labels), value in self._counters.items():
                if name == "openpersonalize_requests_total":
                    counts[dict(labels)["operation"]] += int(value)
            return dict(counts)

    def render(self) -> str:
        with self._lock:
            lines = [
                "# HELP openpersonalize_requests_total Requests answered, by operation and HTTP status.",
                "# TYPE openpersonalize_requests_total counter",
                "# HELP openpersonalize_request_errors_total Requests answered with an error, by operation.",
                "# TYPE openpersonalize_request_errors_total counter",
            ]
            for (name, labels), value in sorted(self._counters.items()):
                lines.append(f"{name}{_labels(labels)} {value:g}")
            lines += self._render_histogram()
        return "\n".join(lines) + "\n"

    def _render_histogram(self) -> list[str]:
        name = "openpersonalize_request_duration_seconds"
        lines = [f"# HELP {name} Request latency by operation.", f"# TYPE {name} histogram"]
        for operation, counts in sorted(self._histogram.items()):
            cumulative = 0
            for bound, count in zip((*BUCKETS, float("inf")), counts):
                cumulative += count
                le = "+Inf" if bound == float("inf") else f"{bound:g}"
                lines.append(f'{name}_bucket{{operation="{operation}",le="{le}"}} {cumulative}')
            lines.append(f'{name}_sum{{operation="{operation}"}} {self._sums[operation]:.6f}')
            lines.append(f'{name}_count{{operation="{operation}"}} {cumulative}')
        return lines


class CacheCounters(Protocol):
    """What /metrics reads of a cache's statistics (serving/cache.py CacheStats)."""

    name: str
    entries: int
    weight: int
    hits: int
    misses: int
    evictions: int


CACHE_METRICS = (  # (metric, type, help, CacheStats field)
    ("openpersonalize_cache_entries", "gauge", "Entries held, by serving cache.", "entries"),
    ("openpersonalize_cache_weight", "gauge", "Weight held (bytes for answers, else entries), by serving cache.", "weight"),
    ("openpersonalize_cache_hits_total", "counter", "Lookups answered from the cache, by serving cache.", "hits"),
    ("openpersonalize_cache_misses_total", "counter", "Lookups that found nothing usable (absent or expired), by serving cache.", "misses"),
    ("openpersonalize_cache_evictions_total", "counter", "Entries evicted to stay within the bound, by serving cache.", "evictions"),
)


def render_caches(stats: Sequence[CacheCounters]) -> str:
    """The serving caches' counters, read at scrape time (the caches count; nothing is copied between scrapes)."""
    lines: list[str] = []
    for name, kind, help_text, member in CACHE_METRICS if stats else ():
        lines += [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"]
        lines += [f'{name}{{cache="{s.name}"}} {getattr(s, member)}' for s in stats]
    return "\n".join(lines) + "\n" if lines else ""


def _labels(labels: Labels) -> str:
    if not labels:
        return ""
    return "{" + ",".join(f'{k}="{v}"' for k, v in labels) + "}"


REGISTRY = Registry()
