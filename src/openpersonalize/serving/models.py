"""The models this process serves: loaded once per solution version, off the event loop, dropped when idle.

Lifecycle (DESIGN §3, issue 4): the campaign's "campaign-deploy" job calls ``warm`` before it marks the
campaign ACTIVE. In the embedded server the worker shares this process, so the model is in memory before
anyone can ask for it; a separate ``openpersonalize worker`` only proves the model loads, and the API process
loads it on the first request (a .npz read: well under a second for the catalogues we test). Loads run on a
small thread pool and callers wait on a future from a request thread — never on the event loop — so one
campaign loading never delays requests to another. A model unused for ``OPENPERSONALIZE_MODEL_IDLE_SECONDS``
(default 900) is dropped: an idle campaign costs no memory and reloads on its next request.

Each served model carries a ``Catalog``: the model's items plus items added since training (PutItems or a
later import — exploration candidates), their metadata, age and popularity. PutItems marks the group's
catalogue stale and the next request rebuilds it in the background while the old one keeps serving.

Automatic updates (jobs/updates.py) rewrite a version's ``arrays.npz`` in place with an atomic rename. At most
every ``REVISION_CHECK_SECONDS`` a request looks at the file's modification time; when it changed, the new
revision loads in the background and replaces the old model in one assignment, so no request fails or waits.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from .. import ranking
from ..blocking import ON_EVENT_LOOP, WouldBlock
from ..data.artifacts import model_dir
from ..data.schema import Schema, parse_schema
from ..recipes import catalogue
from ..recipes._data import lookup_sorted
from ..recipes.base import ARRAYS_FILE, Recipe
from .cache import BoundedCache
from .realtime import GroupHistory, replayed_session_merges

if TYPE_CHECKING:
    from ..services import Services

log = logging.getLogger("openpersonalize.serving")
LOAD_TIMEOUT = 120.0
REFRESH_SECONDS = 1.0  # at most one catalogue rebuild per group per second after PutItems
REVISION_CHECK_SECONDS = 2.0  # how stale a served model may be after an automatic update rewrote it
SCORE_CACHE_BYTES = 256 * 2**20  # per served model: its users' score vectors, and as much for their rankings


@dataclass
class Catalog:
    """Every item a request may return, model items first (aligned with ``recipe.item_ids_``)."""

    item_ids: np.ndarray  # model items (sorted), then items unknown to the model (sorted)
    n_model: int
    counts: np.ndarray  # distinct training users per item (0 for new items)
    created: np.ndarray  # epoch seconds: CREATION_TIMESTAMP, else first interaction, else NaN
    items: pl.DataFrame | None  # Items rows aligned with item_ids (None without an Items dataset)
    schemas: dict[str, Schema]
    users: pl.DataFrame | None = None
    extras: dict[str, Any] = field(default_factory=dict)  # lazily built per catalogue (filter catalogue…)

    def index(self, ids: list[str] | np.ndarray) -> np.ndarray:
        """Position of each id in ``item_ids``, -1 when unknown."""
        wanted = np.asarray(ids, dtype=str)
        found = lookup_sorted(self.item_ids[: self.n_model], wanted)
        extra = self.item_ids[self.n_model :]
        if len(extra):
            more = lookup_sorted(extra, wanted)
            found = np.where((found < 0) & (more >= 0), more + self.n_model, found)
        return found

    def metadata(self, position: int, columns: list[str]) -> dict[str, str]:
        if self.items is None:
            return {}
        row = self.items.row(position, named=True)
        return {c: _text(row.get(c)) for c in columns if row.get(c) is not None}


@dataclass
class ServedModel:
    version_arn: str
    recipe_arn: str
    recipe_type: str
    group_arn: str
    recipe: Recipe
    catalog: Catalog
    history: GroupHistory
    loaded_at: float = field(default_factory=time.monotonic)
    revision: int = 0  # modification time (ns) of the arrays file this model was loaded from
    # serving/recommend.py's memos: they die with the model, so a reloaded revision never serves old scores
    scores: BoundedCache[tuple[Any, ...], np.ndarray] = field(
        default_factory=lambda: BoundedCache("scores", SCORE_CACHE_BYTES, weigh=lambda v: v.nbytes))
    ranks: BoundedCache[int, ranking.Ranking] = field(
        default_factory=lambda: BoundedCache("rankings", SCORE_CACHE_BYTES, weigh=lambda v: v.scores.nbytes))
    rng: np.random.Generator = field(default_factory=np.random.default_rng)  # exploration and promotion draws


class ModelCache:
    """Per-process cache of ``ServedModel`` by solution version ARN, and ``GroupHistory`` by group ARN."""

    def __init__(self, idle_seconds: float) -> None:
        self.idle_seconds = idle_seconds
        self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="model-load")
        self._models: dict[str, Future[ServedModel]] = {}
        self._ready: dict[str, tuple[Future[ServedModel], ServedModel]] = {}  # finished loads, by version
        self._groups: dict[str, Future[GroupHistory]] = {}
        self._pending: dict[str, list[list[dict[str, Any]]]] = {}  # group → rows streamed while loading
        self._last_used: dict[str, float] = {}
        self._stale_items: dict[str, float] = {}  # group → when PutItems last changed it
        self._refreshing: set[str] = set()
        self._revision_checked: dict[str, float] = {}  # version → when its artifact was last looked at
        self._reloading: set[str] = set()
        self._lock = threading.Lock()
        self._last_sweep = time.monotonic()

    # ---- models ------------------------------------------------------------------------------------------------

    def get(self, services: Services, version_arn: str) -> ServedModel:
        """The loaded model (loading it now if needed; the caller's thread waits, others do not)."""
        now = time.monotonic()
        future = self._models.get(version_arn)
        ready = self._ready.get(version_arn)
        if ready is not None and ready[0] is future:
            model = ready[1]  # the common case, without the future's locks
        else:
            model = self._wait(services, version_arn)
        self._last_used[version_arn] = now
        if now - self._last_sweep > 30:
            self._sweep(now)
        if model.group_arn in self._stale_items:
            self._refresh_catalog(services, model)
        if now - self._revision_checked.get(version_arn, 0.0) > REVISION_CHECK_SECONDS:
            self._revision_checked[version_arn] = now
            if artifact_revision(services, version_arn) != model.revision:
                self._reload_in_background(services, version_arn)
        return model

    def _wait(self, services: Services, version_arn: str) -> ServedModel:
        future = self._models.get(version_arn)
        if future is None or (future.done() and future.exception() is not None):
            with self._lock:
                future = self._models.get(version_arn)
                if future is None or (future.done() and future.exception() is not None):
                    future = self._pool.submit(self._load, services, version_arn)
                    self._models[version_arn] = future
        if not future.done() and ON_EVENT_LOOP.get():
            raise WouldBlock(version_arn)
        model = future.result(LOAD_TIMEOUT)
        self._ready[version_arn] = (future, model)
        return model

    def warm(self, services: Services, version_arn: str) -> ServedModel:
        """Load (if needed) and return the model; raises if its artifact is missing or unreadable."""
        return self.get(services, version_arn)

    def reload(self, services: Services, version_arn: str) -> None:
        """Load the version's artifact again and swap it in if the version is being served (after an update)."""
        if version_arn not in self._models:
            return  # not served by this process: it loads the new artifact when first asked
        served = self._load(services, version_arn)
        done: Future[ServedModel] = Future()
        done.set_result(served)
        with self._lock:
            if version_arn in self._models:
                self._models[version_arn] = done

    def _reload_in_background(self, services: Services, version_arn: str) -> None:
        with self._lock:
            if version_arn in self._reloading:
                return
            self._reloading.add(version_arn)

        def run() -> None:
            try:
                self.reload(services, version_arn)
                log.info("reloaded updated model %s", version_arn)
            except Exception:  # the old model keeps serving; the next check tries again
                log.exception("reloading updated model %s failed", version_arn)
            finally:
                with self._lock:
                    self._reloading.discard(version_arn)

        self._pool.submit(run)

    def drop(self, version_arn: str) -> None:
        with self._lock:
            self._models.pop(version_arn, None)
            self._ready.pop(version_arn, None)
            self._last_used.pop(version_arn, None)

    def loaded(self) -> list[str]:
        return [arn for arn, f in self._models.items() if f.done() and f.exception() is None]

    def _sweep(self, now: float) -> None:
        """Drop models idle for ``idle_seconds``, and group histories no loaded model uses."""
        self._last_sweep = now
        with self._lock:
            for arn, used in list(self._last_used.items()):
                if now - used > self.idle_seconds:
                    self._models.pop(arn, None)
                    self._ready.pop(arn, None)
                    self._last_used.pop(arn, None)
                    log.info("unloaded idle model %s", arn)
            groups_in_use = {f.result().group_arn for f in self._models.values() if f.done() and f.exception() is None}
            for group in list(self._groups):
                if group not in groups_in_use and self._groups[group].done():
                    self._groups.pop(group, None)

    def _load(self, services: Services, version_arn: str) -> ServedModel:
        started = time.perf_counter()
        recipe_arn, recipe_type, group_arn = _model_source(services, version_arn)
        path = model_dir(services.data.root, version_arn)
        if not (Path(path) / "config.json").exists():
            raise FileNotFoundError(f"The model of solution version {version_arn} is missing from {path}.")
        revision = artifact_revision(services, version_arn)
        recipe = Recipe.load(path)
        history = self.history(services, group_arn)
        served = ServedModel(
            version_arn, recipe_arn, recipe_type, group_arn, recipe,
            build_catalog(services, group_arn, recipe, history), history, revision=revision,
        )
        log.info("loaded model %s in %.0f ms", version_arn, (time.perf_counter() - started) * 1000)
        return served

    # ---- catalogue refresh (PutItems) --------------------------------------------------------------------------

    def items_changed(self, group_arn: str) -> None:
        self._stale_items[group_arn] = time.monotonic()

    def _refresh_catalog(self, services: Services, model: ServedModel) -> None:
        """Rebuild the catalogues of the group's models in the background; the old ones serve meanwhile."""
        group = model.group_arn
        with self._lock:
            if group in self._refreshing or time.monotonic() - self._stale_items.get(group, 0) < 0:
                return
            self._refreshing.add(group)
            self._stale_items.pop(group, None)
        models = [f.result() for f in self._models.values() if f.done() and f.exception() is None]

        def rebuild() -> None:
            try:
                for served in models:
                    if served.group_arn == group:
                        served.catalog = build_catalog(services, group, served.recipe, served.history)
            finally:
                with self._lock:
                    self._refreshing.discard(group)

        self._pool.submit(rebuild)

    # ---- histories ---------------------------------------------------------------------------------------------

    def history(self, services: Services, group_arn: str) -> GroupHistory:
        with self._lock:
            future = self._groups.get(group_arn)
            if future is None or (future.done() and future.exception() is not None):
                future = Future()
                self._groups[group_arn] = future
                self._pending[group_arn] = []
                loader = True
            else:
                loader = False
        if loader:
            self._load_history(services, group_arn, future)
        return future.result(LOAD_TIMEOUT)

    def _load_history(self, services: Services, group_arn: str, future: Future[GroupHistory]) -> None:
        try:
            frame = _interactions_with_session_merges(services, group_arn)
            history = GroupHistory(frame if frame is not None else _empty_interactions())
            with self._lock:
                # Events acknowledged while the dataset was read: those not in the snapshot are applied now.
                for rows in self._pending.pop(group_arn, []):
                    history.observe([r for r in rows if not _in_snapshot(history, r)])
            future.set_result(history)
        except BaseException as exc:  # the waiting requests see the failure; the next call retries
            with self._lock:
                self._pending.pop(group_arn, None)
            future.set_exception(exc)

    def observe(self, group_arn: str, rows: list[dict[str, Any]]) -> None:
        """Stream PutEvents rows into the group's history (buffered while it loads; ignored if not loaded)."""
        with self._lock:
            future = self._groups.get(group_arn)
            if future is None:
                return  # nobody serves this group here: its next load reads the durable log
            if not future.done():
                self._pending.setdefault(group_arn, []).append(rows)
                return
        if future.exception() is None:
            future.result().observe(rows)


def artifact_revision(services: Services, version_arn: str) -> int:
    """The modification time (ns) of a model's arrays file: automatic updates replace it (0 = no file)."""
    try:
        return (model_dir(services.data.root, version_arn) / ARRAYS_FILE).stat().st_mtime_ns
    except FileNotFoundError:
        return 0


def _model_source(services: Services, model_arn: str) -> tuple[str, str, str]:
    """(recipe ARN of the fitted model, recipe type served, dataset group) of a solution version's model, or
    of a recommender's (``<recommenderArn>/<id>``: its use case's base recipe, the use case's type)."""
    version = services.store.get(model_arn, "solution-version")
    if version is not None:
        recipe_arn = version.body["recipeArn"]
        return recipe_arn, catalogue.recipe(recipe_arn).recipe_type, version.body["datasetGroupArn"]
    owner = services.store.get(model_arn.rsplit("/", 1)[0], "recommender")
    use_case = catalogue.recipe(owner.body["recipeArn"]) if owner is not None else None
    if owner is None or use_case is None or use_case.use_case is None:
        raise LookupError(f"Solution version {model_arn} no longer exists.")
    return use_case.use_case.base.arn, use_case.recipe_type, owner.body["datasetGroupArn"]


def _in_snapshot(history: GroupHistory, row: dict[str, Any]) -> bool:
    """Whether a row streamed during the load is already the newest events of its user in the snapshot."""
    events = history.get(str(row.get("USER_ID")))
    stamp = float(row.get("TIMESTAMP") or 0.0)
    return any(i == row.get("ITEM_ID") and t == stamp for i, t in zip(events.item_ids[-20:], events.timestamps[-20:], strict=True))


def _interactions_with_session_merges(services: Services, group_arn: str) -> pl.DataFrame | None:
    """The group's Interactions plus the anonymous session events earlier merges gave their users (lost with
    the process that made them otherwise)."""
    found = group_schemas(services, group_arn).get("INTERACTIONS")
    if found is None:
        return None
    frame = services.data.read_dataset(found[0], found[1], "ALL")
    wanted = {"USER_ID", "ITEM_ID", "TIMESTAMP", "EVENT_TYPE"} & set(frame.columns)
    log = services.data.events.columns(found[0], {c: frame.schema[c] for c in wanted} | {"$sid": pl.String, "$anon": pl.Boolean})
    if log is None:
        return frame
    merged = replayed_session_merges(log)
    return pl.concat([frame, merged], how="diagonal_relaxed") if merged.height else frame


def _empty_interactions() -> pl.DataFrame:
    return pl.DataFrame(schema={"USER_ID": pl.String, "ITEM_ID": pl.String, "TIMESTAMP": pl.Int64})


def group_schemas(services: Services, group_arn: str) -> dict[str, tuple[str, Schema]]:
    """datasetType → (dataset ARN, parsed schema) for the group's datasets."""
    out: dict[str, tuple[str, Schema]] = {}
    for dataset in services.store.list("dataset", parent=group_arn):
        schema = services.store.get(dataset.body["schemaArn"], "schema")
        if schema is not None:
            out[dataset.body["datasetType"]] = (dataset.arn, parse_schema(schema.body["schema"]))
    return out


def build_catalog(services: Services, group_arn: str, recipe: Recipe, history: GroupHistory) -> Catalog:
    """The model's items plus those the Items dataset added since, with metadata, ages and popularity."""
    schemas = group_schemas(services, group_arn)
    items = services.data.read_dataset(*schemas["ITEMS"], "ALL") if "ITEMS" in schemas else None
    users = services.data.read_dataset(*schemas["USERS"], "ALL") if "USERS" in schemas else None
    model_ids = np.asarray(recipe.item_ids_, dtype=str)
    extra = np.zeros(0, dtype=str)
    if items is not None and items.height:
        listed = np.unique(items["ITEM_ID"].cast(pl.String).to_numpy().astype(str))
        extra = listed[lookup_sorted(model_ids, listed) < 0]
    all_ids = np.concatenate([model_ids, extra]) if len(extra) else model_ids
    counts = np.concatenate([np.asarray(recipe.item_counts_, np.int64), np.zeros(len(extra), np.int64)])
    aligned = None
    if items is not None:
        keyed = items.with_columns(pl.col("ITEM_ID").cast(pl.String)).unique("ITEM_ID", keep="last")
        aligned = pl.DataFrame({"ITEM_ID": all_ids}).join(keyed, on="ITEM_ID", how="left", maintain_order="left")
    created = _creation_times(all_ids, aligned, history)
    return Catalog(all_ids, len(model_ids), counts, created, aligned, {k: v[1] for k, v in schemas.items()}, users)


def _creation_times(ids: np.ndarray, items: pl.DataFrame | None, history: GroupHistory) -> np.ndarray:
    """The items' ages by ranking.item_ages (CREATION_TIMESTAMP, else first interaction, else NaN)."""
    created = None
    if items is not None and "CREATION_TIMESTAMP" in items.columns:
        created = items["CREATION_TIMESTAMP"].cast(pl.Float64).fill_null(np.nan).to_numpy()
    first = np.full(len(ids), np.nan)
    if len(history.first_seen_ids):
        pos = lookup_sorted(history.first_seen_ids, ids)
        first = np.where(pos >= 0, history.first_seen_times[np.maximum(pos, 0)], np.nan)
    return ranking.item_ages(created, first)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


_CACHES: dict[str, ModelCache] = {}
_CACHES_LOCK = threading.Lock()


def cache_for(services: Services) -> ModelCache:
    """The process's cache for this deployment (one per data directory)."""
    key = str(services.data.root)
    cache = _CACHES.get(key)
    if cache is None:
        with _CACHES_LOCK:
            cache = _CACHES.setdefault(key, ModelCache(services.settings.model_idle_seconds))
    return cache
