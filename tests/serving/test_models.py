"""serving/models.py: the model cache is bounded, sweeps idle models, picks up republished artifacts, and
rebuilds a group's catalogue at most once per REFRESH_SECONDS."""

from __future__ import annotations

import time
from pathlib import Path
from typing import cast

import numpy as np
import polars as pl

from openpersonalize.data.artifacts import model_dir
from openpersonalize.data.metadata import Store
from openpersonalize.data.store import DataStore
from openpersonalize.recipes.base import ARRAYS_FILE, Recipe
from openpersonalize.serving.models import Catalog, CatalogRefresh, ModelCache, ServedModel, artifact_revision
from openpersonalize.serving.realtime import GroupHistory

VERSION = "arn:aws:personalize:us-east-1:123456789012:solution/s/v{}"


class CountingLoads(ModelCache):
    """A model cache whose loads make a tiny model without reading a store (counts them)."""

    def __init__(self, tmp_path: Path, **bounds: int) -> None:
        store = Store(f"sqlite:///{tmp_path / 'meta.sqlite3'}")
        super().__init__(store, DataStore(tmp_path / "data"), idle_seconds=900, **bounds)
        self.loads: list[str] = []

    def _load(self, version_arn: str, same_files: ServedModel | None = None) -> ServedModel:
        self.loads.append(version_arn)
        ids = np.array(["i1", "i2"])
        catalog = Catalog(ids, 2, np.ones(2, np.int64), np.full(2, np.nan), None, {})
        history = GroupHistory(pl.DataFrame(schema={"USER_ID": pl.String, "ITEM_ID": pl.String, "TIMESTAMP": pl.Int64}))
        revision = artifact_revision(self.data, version_arn)
        return ServedModel(version_arn, "arn:recipe", "USER_PERSONALIZATION", "arn:group", cast(Recipe, None), catalog, history, revision=revision)


def test_models_are_bounded_and_counted(tmp_path: Path) -> None:
    cache = CountingLoads(tmp_path, max_models=2)
    first = cache.get(VERSION.format(1))
    assert cache.get(VERSION.format(1)) is first  # served from memory
    cache.get(VERSION.format(2))
    cache.get(VERSION.format(3))  # over the bound: version 1, the least recently used, leaves
    cache.get(VERSION.format(1))
    assert cache.loads == [VERSION.format(n) for n in (1, 2, 3, 1)]
    stats = cache.models.stats()
    assert (stats.entries, stats.hits, stats.misses, stats.evictions) == (2, 1, 4, 2)


def test_idle_models_are_swept(tmp_path: Path) -> None:
    cache = CountingLoads(tmp_path)
    cache.get(VERSION.format(1))
    cache.idle_seconds = 0.0
    cache._last_sweep = 0.0  # the next request sweeps
    cache.get(VERSION.format(2))
    assert list(cache.models.keys()) == [VERSION.format(2)]


def test_a_republished_artifact_replaces_the_served_model(tmp_path: Path) -> None:
    cache = CountingLoads(tmp_path)
    arn = VERSION.format(1)
    old = cache.get(arn)
    folder = model_dir(cache.data.root, arn)
    folder.mkdir(parents=True)
    (folder / ARRAYS_FILE).write_bytes(b"new revision")  # a job published a new artifact
    slot = cache.models.peek(arn)
    assert slot is not None
    slot.revision_checked = 0.0  # the check interval has passed
    cache.get(arn)  # still the old model: the new one loads in the background
    deadline = time.monotonic() + 5
    while cache.get(arn) is old and time.monotonic() < deadline:
        time.sleep(0.01)
    assert cache.get(arn) is not old and cache.get(arn).revision == artifact_revision(cache.data, arn)
    assert cache.loads == [arn, arn]
    assert len(cache.get(arn).scores) == 0  # the new revision brings empty score memos: nothing old is served


def test_catalogue_rebuilds_are_throttled_per_group() -> None:
    refresh = CatalogRefresh(seconds=1.0)
    assert not refresh.start("g", 100.0)  # nothing changed
    refresh.mark("g")
    assert refresh.start("g", 100.0) and not refresh.is_stale("g")
    refresh.mark("g")  # PutItems again while the rebuild runs
    assert not refresh.start("g", 100.2)
    refresh.finish("g")
    assert not refresh.start("g", 100.5) and refresh.is_stale("g")  # within the second: waits, stays stale
    refresh.mark("h")
    assert refresh.start("h", 100.5)  # another group is not held back
    assert refresh.start("g", 101.0)


def test_items_put_through_another_process_make_the_catalogue_stale(tmp_path: Path) -> None:
    cache = CountingLoads(tmp_path)
    group = "arn:aws:personalize:us-east-1:123456789012:dataset-group/g"
    items = "arn:aws:personalize:us-east-1:123456789012:dataset/g/ITEMS"
    cache._items_built(group)
    cache._check_items(group, 0, time.monotonic())
    assert not cache.refresh.is_stale(group)
    DataStore(tmp_path / "data").events.append(items, [{"ITEM_ID": "new"}])  # PutItems answered by another process
    cache._check_items(group, cache._items_seen[group][0], time.monotonic())
    assert cache.refresh.is_stale(group)
