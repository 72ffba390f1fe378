"""serving/state.py: one object holds every serving cache; records are reused for RECORD_TTL, recommendation
ids are remembered in memory and on disk, and every cache reports its counters."""

from __future__ import annotations

from pathlib import Path

import pytest

from openpersonalize.data.metadata import Record, Store
from openpersonalize.data.store import DataStore
from openpersonalize.serving import state as state_module
from openpersonalize.serving.state import ServingState

CAMPAIGN = "arn:aws:personalize:us-east-1:123456789012:campaign/c"


@pytest.fixture()
def serving(tmp_path: Path) -> ServingState:
    store = Store(f"sqlite:///{tmp_path / 'meta.sqlite3'}")
    store.create(Record(arn=CAMPAIGN, kind="campaign", name="c", parent=None, status="ACTIVE", created=0.0, body={}, tags={}))
    return ServingState(store, DataStore(tmp_path / "data"), idle_seconds=900)


def test_records_are_reused_until_forgotten_or_expired(serving: ServingState, monkeypatch: pytest.MonkeyPatch) -> None:
    assert serving.record(CAMPAIGN, "campaign").status == "ACTIVE"  # type: ignore[union-attr]
    serving.store.update(CAMPAIGN, {"status": "DELETE PENDING"})
    assert serving.record(CAMPAIGN, "campaign").status == "ACTIVE"  # type: ignore[union-attr]  # within RECORD_TTL
    serving.forget_record(CAMPAIGN)
    assert serving.record(CAMPAIGN, "campaign").status == "DELETE PENDING"  # type: ignore[union-attr]
    serving.store.update(CAMPAIGN, {"status": "ACTIVE"})
    monkeypatch.setattr(state_module, "RECORD_TTL", 0.0)
    assert serving.record(CAMPAIGN, "campaign").status == "ACTIVE"  # type: ignore[union-attr]
    assert serving.record(CAMPAIGN, "filter") is None  # another kind under that ARN is not served from the cache
    stats = serving.records.stats()
    assert (stats.entries, stats.hits, stats.misses) == (1, 1, 4)  # expired or of another kind: a miss


def test_recommendation_ids_are_remembered_and_logged(serving: ServingState, tmp_path: Path) -> None:
    rid = serving.remember(CAMPAIGN, ["i1", "i2"], durable=True)
    transient = serving.remember(CAMPAIGN, ["i3"], durable=False)  # a group without a metric attribution
    assert rid.startswith("RID-") and len(rid) <= 40  # the events API's recommendationId limit (spec §3.1)
    assert serving.recalled(rid) == (CAMPAIGN, ("i1", "i2")) and serving.recalled("RID-other") is None
    assert serving.recalled(transient) == (CAMPAIGN, ("i3",))  # implicit impressions still see it
    serving.close()
    assert DataStore(tmp_path / "data").recommendations.sources([rid, transient]) == {rid: CAMPAIGN}


def test_facts_are_read_once_per_ttl(serving: ServingState) -> None:
    calls: list[int] = []
    for _ in range(3):
        assert serving.fact(("attributed", "g"), lambda: calls.append(1) or True)
    assert calls == [1]


def test_every_cache_reports_its_counters(serving: ServingState) -> None:
    serving.filters.get_or_compute(("arn:filter", "EXCLUDE ItemID WHERE Items.GENRE IN (\"x\")"), lambda: object())
    names = [s.name for s in serving.stats()]
    assert names == ["models", "histories", "records", "facts", "filters", "answers", "recommendations", "trackers", "action_trackers",
                     "event_targets", "action_data", "model_scores", "model_rankings", "shortlists", "realtime_users"]
    filters = next(s for s in serving.stats() if s.name == "filters")
    assert (filters.entries, filters.misses) == (1, 1)
