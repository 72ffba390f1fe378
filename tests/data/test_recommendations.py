"""data/recommendations.py: recommendation ids kept on disk for metric attribution."""

from __future__ import annotations

import time
from pathlib import Path

from openpersonalize.data.recommendations import HOUR, RecommendationLog


def test_sources_are_found_after_a_flush_and_by_a_second_reader(tmp_path: Path) -> None:
    log = RecommendationLog(tmp_path, flush_seconds=60)  # the background thread never runs within the test
    log.append("RID-1", "arn:campaign/a", ["i1", "i2"])
    log.append("RID-2", "arn:recommender/b", [])
    assert RecommendationLog(tmp_path).sources(["RID-1"]) == {}  # still in the writer's buffer
    assert log.sources(["RID-1", "RID-3"]) == {"RID-1": "arn:campaign/a"}  # the writer flushes before reading
    assert RecommendationLog(tmp_path).sources(["RID-1", "RID-2"]) == {"RID-1": "arn:campaign/a", "RID-2": "arn:recommender/b"}
    log.close()


def test_the_background_thread_writes_within_the_flush_interval(tmp_path: Path) -> None:
    log = RecommendationLog(tmp_path, flush_seconds=0.01)
    log.append("RID-1", "arn:campaign/a", ["i1"])
    reader = RecommendationLog(tmp_path)
    deadline = time.monotonic() + 5
    while not reader.sources(["RID-1"]) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert reader.sources(["RID-1"]) == {"RID-1": "arn:campaign/a"}
    log.close()


def test_files_past_the_retention_are_removed_and_a_torn_line_is_skipped(tmp_path: Path) -> None:
    hour = int(time.time() // HOUR)
    old, recent = tmp_path / f"{hour - 3}.jsonl", tmp_path / f"{hour - 1}.jsonl"
    old.write_bytes(b'{"id": "RID-old", "source": "arn:a", "items": [], "at": 0}\n')
    recent.write_bytes(b'{"id": "RID-recent", "source": "arn:b", "items": [], "at": 0}\n{"id": "RID-torn", "sou')
    log = RecommendationLog(tmp_path, retention_seconds=2 * HOUR, flush_seconds=60)
    log.append("RID-new", "arn:c", [])
    log.flush()  # the first write of an hour prunes
    assert not old.exists() and recent.exists()
    assert log.sources(["RID-old", "RID-recent", "RID-torn", "RID-new"]) == {"RID-recent": "arn:b", "RID-new": "arn:c"}
    log.close()


def test_close_writes_what_is_pending(tmp_path: Path) -> None:
    log = RecommendationLog(tmp_path, flush_seconds=60)
    log.append("RID-1", "arn:campaign/a", ["i1"])
    log.close()
    assert RecommendationLog(tmp_path).sources(["RID-1"]) == {"RID-1": "arn:campaign/a"}
