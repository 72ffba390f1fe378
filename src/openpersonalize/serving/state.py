"""Everything one process keeps in memory to serve runtime requests, in one typed object (DESIGN §2).

The application's services own one ``ServingState`` (services.py builds it on first use, so a worker-only
process never loads a model). Each cache is a ``BoundedCache`` with a stated bound and hit, miss and eviction
counters, reported on ``/metrics``; each served model carries its own score and ranking memos
(``ServedModel.scores`` / ``.ranks``, bounded by bytes), which leave memory with it. Serving is handed what it needs — the metadata store, the data store, the idle time — and never
reads control's state.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable, Sequence
from typing import Any

from ..data.metadata import Record, Store
from ..data.store import DataStore
from ..ids import new_uuid
from .actions import ActionServing
from .answers import CACHE_BYTES, Answer, weight
from .cache import BoundedCache, CacheStats
from .models import ModelCache
from .realtime import MAX_USERS

RECORD_TTL = 1.0  # seconds a campaign, recommender or filter record is reused before it is read again
MAX_RECORDS = 10_000  # campaign, recommender and filter records (a few kB each)
MAX_FILTERS = 1_000  # compiled filter expressions, by (filter ARN, expression)
MAX_TRACKERS = 10_000  # trackingId → event tracker or Action_Interactions dataset ARN (PutEvents, PutActionInteractions)
MAX_EVENT_TARGETS = 10_000  # dataset ARN → its parsed schema for the events and records APIs (control/events.py)
# recommendationId → items, for PutEvents' implicit impressions (spec §10.1); ~0.3 kB each. Metric
# attribution reads the durable copy (data/recommendations.py), so a restart loses only implicit impressions.
MAX_RECENT_RECOMMENDATIONS = 100_000

AnswerKey = tuple[Any, ...]


class ServingState:
    """The models, records, compiled filters, answers and recent recommendation ids this process serves from,
    and the tracker and schema lookups of the events API."""

    def __init__(self, store: Store, data: DataStore, idle_seconds: float, *, shortlist_bytes: int = 0,
                 realtime_users: int = MAX_USERS) -> None:
        self.store = store
        # Score vectors cached from a model's old revision must not outlive it (automatic updates).
        self.models = ModelCache(store, data, idle_seconds, shortlist_bytes=shortlist_bytes, max_users=realtime_users)
        self.actions = ActionServing(store, data)  # GetActionRecommendations' per-model action data
        self.records: BoundedCache[str, tuple[float, Record | None]] = BoundedCache("records", MAX_RECORDS)
        self.facts: BoundedCache[Hashable, tuple[float, bool]] = BoundedCache("facts", MAX_RECORDS)
        self.filters: BoundedCache[tuple[str, str], Any] = BoundedCache("filters", MAX_FILTERS)
        self.answers: BoundedCache[AnswerKey, Answer] = BoundedCache("answers", CACHE_BYTES, weigh=weight)
        self.recent: BoundedCache[str, tuple[str, tuple[str, ...]]] = BoundedCache("recommendations", MAX_RECENT_RECOMMENDATIONS)
        self.log = data.recommendations
        self.trackers: BoundedCache[str, str] = BoundedCache("trackers", MAX_TRACKERS)
        self.action_trackers: BoundedCache[str, str] = BoundedCache("action_trackers", MAX_TRACKERS)
        self.event_targets: BoundedCache[str, Any] = BoundedCache("event_targets", MAX_EVENT_TARGETS)  # events.Target

    # ---- resource records ----------------------------------------------------------------------------------------

    def record(self, arn: str, kind: str) -> Record | None:
        """The record, read at most once per ``RECORD_TTL`` (a runtime request must not cost a metadata query)."""
        now = time.monotonic()
        found = self.records.get(arn, lambda f: now - f[0] < RECORD_TTL and (f[1] is None or f[1].kind == kind))
        if found is not None:
            return found[1]
        record = self.store.get(arn, kind)
        self.records.put(arn, (now, record))
        return record

    def forget_record(self, arn: str) -> None:
        """A record changed in this process: its next request reads it again instead of waiting out the TTL."""
        self.records.pop(arn)

    # ---- recommendation ids ----------------------------------------------------------------------------------

    def remember(self, source_arn: str, item_ids: Sequence[str], *, durable: bool) -> str:
        """A new ``recommendationId`` ("RID-" + UUID, spec §3.1), kept with its source and items (a tuple of
        strings: the garbage collector does not track it, see serving/answers.py); ``durable`` also writes it to
        the recommendation log (for metric attribution, which outlives this process)."""
        rid = f"RID-{new_uuid()}"
        item_ids = tuple(item_ids)
        self.recent.put(rid, (source_arn, item_ids))
        if durable:
            self.log.append(rid, source_arn, item_ids)
        return rid

    def fact(self, key: Hashable, compute: Callable[[], bool]) -> bool:
        """A yes/no answer read from the metadata store at most once per ``RECORD_TTL`` (like ``record``)."""
        now = time.monotonic()
        found = self.facts.get(key, lambda f: now - f[0] < RECORD_TTL)
        if found is not None:
            return found[1]
        value = compute()
        self.facts.put(key, (now, value))
        return value

    def recalled(self, recommendation_id: str) -> tuple[str, tuple[str, ...]] | None:
        """(source ARN, item ids) of a recommendation this process made recently."""
        return self.recent.get(recommendation_id)

    # ---- reporting and shutdown --------------------------------------------------------------------------------

    def caches(self) -> list[BoundedCache[Any, Any]]:
        return [
            self.models.models, self.models.histories, self.records, self.facts, self.filters, self.answers, self.recent,
            self.trackers, self.action_trackers, self.event_targets, self.actions.cache,
        ]

    def stats(self) -> list[CacheStats]:
        return [cache.stats() for cache in self.caches()] + self._model_memos() + [
            _summed("realtime_users", self.models.realtime_stats())]

    def _model_memos(self) -> list[CacheStats]:
        """The loaded models' score and ranking memos (one pair per model), summed per kind."""
        served = [slot.model for arn in self.models.models.keys()
                  if (slot := self.models.models.peek(arn)) is not None and slot.model is not None]
        return [_summed(label, [getattr(model, memo).stats() for model in served])
                for memo, label in (("scores", "model_scores"), ("ranks", "model_rankings"), ("shortlists", "shortlists"))]

    def close(self) -> None:
        self.log.close()


def _summed(name: str, parts: list[CacheStats]) -> CacheStats:
    return CacheStats(name, *(sum(getattr(s, f) for s in parts) for f in ("entries", "weight", "hits", "misses", "evictions")))
