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
catalogue stale and a request rebuilds it in the background (at most once per ``REFRESH_SECONDS``) while the
old one keeps serving.

Jobs publish artifacts to the object store (data/artifacts.py); serving picks them up. Automatic updates
(jobs/updates.py) republish a version's files in place. At most every ``REVISION_CHECK_SECONDS`` a request
has the model's revision (its files' modification times or ETags) looked at in the background, off the
request; when it changed, the new revision loads and replaces the old model in one assignment, so no request
fails or waits — also on every other node serving the model from a shared object store. The same check
compares the group's Interactions with the generation its history was read from: after an import, a data deletion
job or a deleted dataset, the history is read again and the group's models reload with it, so filters and
scores stop seeing deleted users' events as batch jobs do (spec §2.4).
"""

from __future__ import annotations

import gc
import logging
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

from .. import ranking
from ..blocking import ON_EVENT_LOOP, WouldBlock
from ..data.metadata import Store
from ..data.schema import Schema, camel_case, parse_schema
from ..data.store import DataStore
from ..ids import new_token
from ..recipes import catalogue
from ..recipes._data import lookup_sorted
from ..recipes.base import Recipe
from .cache import BoundedCache, CacheStats
from .realtime import MAX_USERS, EventFeed, GroupHistory, replayed_session_merges
from .shortlists import Shortlists

log = logging.getLogger("openpersonalize.serving")
LOAD_TIMEOUT = 120.0
REFRESH_SECONDS = 1.0  # at most one catalogue rebuild per group per second after PutItems
REVISION_CHECK_SECONDS = 2.0  # how stale a served model may be after an automatic update rewrote it
SWEEP_SECONDS = 30.0  # how often a request looks for idle models to drop
# Loaded models held at once (least recently used out first): a model of a 1M-item catalogue is a few hundred
# MB, so memory, not this count, is the usual limit; the count stops a process that serves many small campaigns
# from growing without end. Group histories in use never outnumber the models; the sweep drops unused ones, and
# the wider bound keeps LRU order from evicting one a served model still streams events into.
MAX_MODELS = 64
SCORE_CACHE_BYTES = 256 * 2**20  # per served model: its users' score vectors, and as much for their rankings
MAX_GROUPS = 4 * MAX_MODELS


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
    # Built lazily from this catalogue by the request path, dropped with it when it is rebuilt:
    token: int = field(default_factory=new_token)  # identifies this catalogue in answer-cache keys
    filter_catalog: Any = None  # filters/compile.py's FilterCatalog
    user_index: dict[str, int] | None = None  # USER_ID → row of ``users``
    exploration_pool: tuple[float, np.ndarray] | None = None  # (age cut-off, young or cold items)

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
        """The item's values of ``columns``, keyed as the service keys them: in camel case (``GENRES`` → ``genres``,
        ``BRAND_NAME`` → ``brandName``; AWS's own samples read ``item['metadata']['title']``)."""
        if self.items is None:
            return {}
        row = self.items.row(position, named=True)
        return {camel_case(c): _text(row.get(c)) for c in columns if row.get(c) is not None}


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
    revision: str = ""  # data/artifacts.py's revision of the files this model was loaded from
    # serving/recommend.py's memos: they die with the model, so a reloaded revision never serves old scores
    scores: BoundedCache[tuple[Any, ...], np.ndarray] = field(
        default_factory=lambda: BoundedCache("scores", SCORE_CACHE_BYTES, weigh=lambda v: v.nbytes))
    ranks: BoundedCache[int, ranking.Ranking] = field(
        default_factory=lambda: BoundedCache("rankings", SCORE_CACHE_BYTES, weigh=lambda v: v.scores.nbytes))
    rng: np.random.Generator = field(default_factory=np.random.default_rng)  # exploration and promotion draws
    shortlists: Shortlists = field(default_factory=lambda: Shortlists(0))  # filled in the background


class CatalogRefresh:
    """Which groups' catalogues PutItems made stale, rebuilding each at most once per ``REFRESH_SECONDS``.

    A burst of PutItems calls (a client loading items one request at a time) would otherwise rebuild the
    catalogue after every call; each rebuild reads the Items dataset.
    """

    def __init__(self, seconds: float = REFRESH_SECONDS) -> None:
        self.seconds = seconds
        self._stale: set[str] = set()
        self._running: set[str] = set()
        self._started: dict[str, float] = {}  # group → when its last rebuild started
        self._lock = threading.Lock()

    def mark(self, group_arn: str) -> None:
        with self._lock:
            self._stale.add(group_arn)

    def is_stale(self, group_arn: str) -> bool:
        return group_arn in self._stale

    def start(self, group_arn: str, now: float) -> bool:
        """Whether a rebuild of a stale group may start now (none running, none started in the last seconds)."""
        with self._lock:
            last = self._started.get(group_arn)
            if group_arn not in self._stale or group_arn in self._running or (last is not None and now - last < self.seconds):
                return False
            self._stale.discard(group_arn)
            self._running.add(group_arn)
            self._started[group_arn] = now
            return True

    def finish(self, group_arn: str) -> None:
        with self._lock:
            self._running.discard(group_arn)


@dataclass
class _ModelSlot:
    """One solution version's load: the future, the model once loaded, and its bookkeeping."""

    future: Future[ServedModel]
    model: ServedModel | None = None
    used: float = field(default_factory=time.monotonic)
    revision_checked: float = field(default_factory=time.monotonic)  # when its artifact was last looked at
    reloading: bool = False


@dataclass
class _HistorySlot:
    """One dataset group's history load, and the generation of the group's Interactions it reads."""

    future: Future[GroupHistory]
    generation: tuple[str, str, int] = ("", "", 0)


class ModelCache:
    """This process's served models by solution version ARN and group histories by dataset group ARN.

    Handed the metadata store (to find a version's recipe and group) and the data store (artifacts, datasets);
    both caches are ``BoundedCache``s, least recently used out first, and idle models are also swept.
    """

    def __init__(
        self, store: Store, data: DataStore, idle_seconds: float, *,
        max_models: int = MAX_MODELS, max_groups: int = MAX_GROUPS, shortlist_bytes: int = 0,
        max_users: int = MAX_USERS,
    ) -> None:
        self.store, self.data, self.idle_seconds = store, data, idle_seconds
        self.shortlist_bytes = shortlist_bytes
        self.max_users = max_users  # per group: users' real-time tails kept in memory
        self.models: BoundedCache[str, _ModelSlot] = BoundedCache("models", max_models)
        self.histories: BoundedCache[str, _HistorySlot] = BoundedCache("histories", max_groups)
        self.refresh = CatalogRefresh()
        # Items rows other processes logged (PutItems answered elsewhere): group → (newest Items row the
        # catalogues were built after, when the log was last looked at).
        self._items_seen: dict[str, tuple[int, float]] = {}
        self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="model-load")
        # one shortlist build at a time: each keeps a core busy for a while (serving/shortlists.py)
        self._builds = ThreadPoolExecutor(max_workers=1, thread_name_prefix="shortlists")
        self._lock = threading.Lock()  # guards starting loads and the slots' flags
        self._last_sweep = time.monotonic()

    # ---- models ------------------------------------------------------------------------------------------------

    def get(self, version_arn: str) -> ServedModel:
        """The loaded model (loading it now if needed; the caller's thread waits, others do not)."""
        now = time.monotonic()
        slot = self.models.get(version_arn)
        model = slot.model if slot is not None else None
        if slot is None or model is None:
            slot, model = self._wait(version_arn)
        slot.used = now
        if now - self._last_sweep > SWEEP_SECONDS:
            self._sweep(now)
        seen = self._items_seen.get(model.group_arn)
        if seen is not None and now - seen[1] > REFRESH_SECONDS:
            self._check_items(model.group_arn, seen[0], now)
        if self.refresh.is_stale(model.group_arn) and self.refresh.start(model.group_arn, now):
            self._pool.submit(self._rebuild_catalogs, model.group_arn)
        if now - slot.revision_checked > REVISION_CHECK_SECONDS:
            self._check_revision(slot, model, now)
        return model

    def warm(self, version_arn: str) -> ServedModel:
        """Load (if needed) and return the model; raises if its artifact is missing or unreadable."""
        return self.get(version_arn)

    def _wait(self, version_arn: str) -> tuple[_ModelSlot, ServedModel]:
        with self._lock:
            slot = self.models.peek(version_arn)
            if slot is None or (slot.future.done() and slot.future.exception() is not None):
                slot = self.models.put(version_arn, _ModelSlot(self._pool.submit(self._load, version_arn)))
        if not slot.future.done() and ON_EVENT_LOOP.get():
            raise WouldBlock(version_arn)
        model = slot.future.result(LOAD_TIMEOUT)
        if slot.model is None:
            slot.model = model
        return slot, slot.model

    def _check_revision(self, slot: _ModelSlot, model: ServedModel, now: float) -> None:
        """Automatic updates rewrite the artifact; the check (a request to S3, with a remote object store) and a
        new revision's load run in the background, then the new model replaces the old."""
        slot.revision_checked = now
        with self._lock:
            if slot.reloading:
                return
            slot.reloading = True
        self._pool.submit(self._reload, slot, model)

    def _reload(self, slot: _ModelSlot, model: ServedModel) -> None:
        version_arn = model.version_arn
        try:
            generation = interactions_generation(self.store, self.data, model.group_arn)
            current = self._history_current(model.group_arn, model.history, generation)
            same_files = artifact_revision(self.data, version_arn) == model.revision
            if current and same_files:
                return
            served = self._load(version_arn, model if same_files else None)
            # One assignment: requests see the old model or the new one, and the new one brings empty score
            # and ranking memos (ServedModel.scores / .ranks), so nothing of the old revision is served again.
            old, slot.model = slot.model, served
            if old is not None:
                old.shortlists.stop()
            log.info("reloaded updated model %s", version_arn)
        except Exception:  # the old model keeps serving; the next check tries again
            log.exception("reloading updated model %s failed", version_arn)
        finally:
            slot.reloading = False

    def _sweep(self, now: float) -> None:
        """Drop models idle for ``idle_seconds``, and group histories no loaded model uses."""
        self._last_sweep = now
        for arn in list(self.models.keys()):
            slot = self.models.peek(arn)
            if slot is not None and now - slot.used > self.idle_seconds:
                self.models.pop(arn)
                if slot.model is not None:
                    slot.model.shortlists.stop()
                log.info("unloaded idle model %s", arn)
        in_use = {slot.model.group_arn for arn in self.models.keys() if (slot := self.models.peek(arn)) and slot.model}
        self.histories.discard_where(lambda group: group not in in_use and self._history_done(group))

    def _history_current(self, group_arn: str, history: GroupHistory, generation: tuple[str, str, int]) -> bool:
        """Whether ``history`` is the group's loaded history and was read from ``generation`` of its Interactions;
        a loaded history read from an older one is dropped, so the next load reads the data again."""
        with self._lock:
            slot = self.histories.peek(group_arn)
            if slot is None or not slot.future.done():
                return False  # evicted, or a newer read under way: the model reloads onto the group's history
            if slot.generation != generation:
                self.histories.pop(group_arn)
                return False
            return slot.future.exception() is None and slot.future.result() is history

    def _history_done(self, group_arn: str) -> bool:
        slot = self.histories.peek(group_arn)
        return slot is None or slot.future.done()

    def _load(self, version_arn: str, same_files: ServedModel | None = None) -> ServedModel:
        """The model with the group's current history and catalogue; ``same_files``: a served model whose files
        have not changed (only the data did), whose recipe is shared rather than read and held twice."""
        started = time.perf_counter()
        recipe_arn, recipe_type, group_arn = _model_source(self.store, version_arn)
        if same_files is not None:
            revision, recipe = same_files.revision, same_files.recipe
        else:
            revision = artifact_revision(self.data, version_arn)
            recipe = Recipe.load(self.data.artifacts.local(version_arn))
        history = self.history(group_arn)
        self._items_built(group_arn)
        served = ServedModel(
            version_arn, recipe_arn, recipe_type, group_arn, recipe,
            build_catalog(self.store, self.data, group_arn, recipe, history), history, revision=revision,
            shortlists=Shortlists(self.shortlist_bytes),
        )
        if self.shortlist_bytes and recipe_type == "USER_PERSONALIZATION":
            self._builds.submit(served.shortlists.build, recipe, history)
        gc.freeze()  # a loaded model lives for many requests: full collections need not walk it (server.py)
        log.info("loaded model %s in %.0f ms", version_arn, (time.perf_counter() - started) * 1000)
        return served

    # ---- catalogue refresh (PutItems) --------------------------------------------------------------------------

    def items_changed(self, group_arn: str) -> None:
        self.refresh.mark(group_arn)

    def _check_items(self, group_arn: str, seen: int, now: float) -> None:
        """At most once per ``REFRESH_SECONDS``: Items rows logged by any process since the catalogues were built
        make them stale (one indexed read)."""
        newest = self.data.events.newest(_items_dataset(group_arn))
        self._items_seen[group_arn] = (seen, now)
        if newest > seen:
            self.refresh.mark(group_arn)

    def _items_built(self, group_arn: str) -> None:
        """The group's catalogues are about to be (re)built: they include the Items log up to its newest row."""
        self._items_seen[group_arn] = (self.data.events.newest(_items_dataset(group_arn)), time.monotonic())

    def _rebuild_catalogs(self, group_arn: str) -> None:
        """Rebuild the catalogues of the group's models in the background; the old ones serve meanwhile."""
        try:
            self._items_built(group_arn)
            for arn in list(self.models.keys()):
                slot = self.models.peek(arn)
                served = slot.model if slot is not None else None
                if served is not None and served.group_arn == group_arn:
                    served.catalog = build_catalog(self.store, self.data, group_arn, served.recipe, served.history)
        except Exception:  # the old catalogue keeps serving; the next PutItems marks the group again
            log.exception("rebuilding the catalogues of %s failed", group_arn)
        finally:
            self.refresh.finish(group_arn)

    # ---- histories ---------------------------------------------------------------------------------------------

    def history(self, group_arn: str) -> GroupHistory:
        with self._lock:
            found = self.histories.get(group_arn)
            loader = found is None or (found.future.done() and found.future.exception() is not None)
            slot = self.histories.put(group_arn, _HistorySlot(Future())) if found is None or loader else found
        if loader:
            self._load_history(group_arn, slot)
        return slot.future.result(LOAD_TIMEOUT)

    def _load_history(self, group_arn: str, slot: _HistorySlot) -> None:
        try:
            # The snapshot holds the log up to ``since``; the history follows the rows after it (events
            # acknowledged while the dataset is read included). The generation is read first: a change while the
            # dataset is read then shows as a newer one at the next check.
            since = self.data.events.head()
            slot.generation = interactions_generation(self.store, self.data, group_arn)
            frame, dataset_arn = _interactions_with_session_merges(self.store, self.data, group_arn, since)
            feed = EventFeed(self.data.events, dataset_arn, since) if dataset_arn is not None else None
            history = GroupHistory(frame if frame is not None else _empty_interactions(), feed, self.max_users)
            slot.future.set_result(history)
        except BaseException as exc:  # the waiting requests see the failure; the next call retries
            slot.future.set_exception(exc)

    def follow(self, group_arn: str) -> None:
        """Events were just logged for the group: its history (if loaded here) applies them now."""
        slot = self.histories.peek(group_arn)
        if slot is not None and slot.future.done() and slot.future.exception() is None:
            slot.future.result().sync()

    def realtime_stats(self) -> list[CacheStats]:
        """The loaded histories' tail caches (one per group)."""
        slots = [self.histories.peek(group) for group in self.histories.keys()]
        return [slot.future.result().stats() for slot in slots
                if slot is not None and slot.future.done() and slot.future.exception() is None]


def artifact_revision(data: DataStore, version_arn: str) -> str:
    """Changes whenever a job republishes the model's files ("" = no model)."""
    return data.artifacts.revision(version_arn)


def _items_dataset(group_arn: str) -> str:
    """The group's Items dataset ARN (<group ARN with dataset-group → dataset>/ITEMS, spec §3.1)."""
    return group_arn.replace(":dataset-group/", ":dataset/", 1) + "/ITEMS"


def _model_source(store: Store, model_arn: str) -> tuple[str, str, str]:
    """(recipe ARN of the fitted model, recipe type served, dataset group) of a solution version's model, or
    of a recommender's (``<recommenderArn>/<id>``: its use case's base recipe, the use case's type)."""
    version = store.get(model_arn, "solution-version")
    if version is not None:
        recipe_arn = version.body["recipeArn"]
        return recipe_arn, catalogue.recipe(recipe_arn).recipe_type, version.body["datasetGroupArn"]
    owner = store.get(model_arn.rsplit("/", 1)[0], "recommender")
    use_case = catalogue.recipe(owner.body["recipeArn"]) if owner is not None else None
    if owner is None or use_case is None or use_case.use_case is None:
        raise LookupError(f"Solution version {model_arn} no longer exists.")
    return use_case.use_case.base.arn, use_case.recipe_type, owner.body["datasetGroupArn"]


def _interactions_with_session_merges(
    store: Store, data: DataStore, group_arn: str, upto: int
) -> tuple[pl.DataFrame | None, str | None]:
    """(the group's Interactions with the event log up to ``upto``, plus the anonymous session events earlier
    merges gave their users; the Interactions dataset's ARN), both None without an Interactions dataset."""
    found = group_schemas(store, group_arn).get("INTERACTIONS")
    if found is None:
        return None, None
    frame = data.read_dataset(found[0], found[1], "ALL", events_upto=upto, duplicates=True)  # as the tails keep them
    wanted = {"USER_ID", "ITEM_ID", "TIMESTAMP", "EVENT_TYPE"} & set(frame.columns)
    log = data.events.columns(found[0], {c: frame.schema[c] for c in wanted} | {"$sid": pl.String, "$anon": pl.Boolean}, upto)
    if log is None:
        return frame, found[0]
    merged = replayed_session_merges(log)
    return (pl.concat([frame, merged], how="diagonal_relaxed") if merged.height else frame), found[0]


def _empty_interactions() -> pl.DataFrame:
    return pl.DataFrame(schema={"USER_ID": pl.String, "ITEM_ID": pl.String, "TIMESTAMP": pl.Int64})


def interactions_generation(store: Store, data: DataStore, group_arn: str) -> tuple[str, str, int]:
    """(ARN, creation time, data generation) of the group's Interactions dataset: any import, deletion job,
    or the dataset deleted (and perhaps created again under the same ARN) changes it. Empty without one."""
    for dataset in store.list("dataset", parent=group_arn):
        if dataset.body["datasetType"] == "INTERACTIONS":
            return dataset.arn, str(dataset.body.get("creationDateTime", "")), data.generation(dataset.arn)
    return "", "", 0


def group_schemas(store: Store, group_arn: str) -> dict[str, tuple[str, Schema]]:
    """datasetType → (dataset ARN, parsed schema) for the group's datasets."""
    out: dict[str, tuple[str, Schema]] = {}
    for dataset in store.list("dataset", parent=group_arn):
        schema = store.get(dataset.body["schemaArn"], "schema")
        if schema is not None:
            out[dataset.body["datasetType"]] = (dataset.arn, parse_schema(schema.body["schema"]))
    return out


def build_catalog(store: Store, data: DataStore, group_arn: str, recipe: Recipe, history: GroupHistory) -> Catalog:
    """The model's items plus those the Items dataset added since, with metadata, ages and popularity."""
    schemas = group_schemas(store, group_arn)
    items = data.read_dataset(*schemas["ITEMS"], "ALL") if "ITEMS" in schemas else None
    users = data.read_dataset(*schemas["USERS"], "ALL") if "USERS" in schemas else None
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
