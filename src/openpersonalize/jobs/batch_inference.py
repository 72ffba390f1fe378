"""The ``batch-inference`` job: answer JSON Lines of users, items or ranking requests (spec §8.1).

Input lines per recipe type: ``{"userId"}`` (User-Personalization, Popularity-Count), ``{"itemId"}`` (related
items), ``{"userId", "itemList"}`` (Personalized-Ranking); any may carry ``filterValues``. Each output line is
``{"input", "output": {"recommendedItems", "scores"}, "error"}``; scores only for User-Personalization and
Personalized-Ranking. jobs/batch_io.py streams the files; this module answers a chunk of lines.

Scoring is vectorised: the users of a chunk become one ``Histories`` block scored ``SCORE_ROWS`` at a time,
a filter is one boolean mask per line over the catalogue; top-k, display scores (the softmax over every item
the model scores, spec §5.4), exploration and ranking lists are ranking.py's, as GetRecommendations and
GetPersonalizedRanking use them, so a line answers what the campaign would. A line that cannot be answered
gets an ``error`` and the job goes on. Histories are the group's Interactions with the event selection the solution trained with
(jobs/training.py), as the runtime serves them; filters read all of the user's interactions.
"""

from __future__ import annotations

import os
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson
import polars as pl

from .. import ranking
from ..errors import InvalidInputException
from ..statuses import ACTIVE
from ..services import Services
from ..data.metadata import Job, Record
from ..data.schema import Schema, parse_schema
from ..filters.compile import CompiledFilter, FilterCatalog, UserEvents, compile_filter
from ..filters.parse import parse_filter
from ..recipes import catalogue
from ..recipes._data import lookup_sorted
from ..recipes.base import Histories, Recipe
from .base import JobFailed, Progress
from .batch_io import INFERENCE_KIND, Answer, LineError, error_line, filter_values, id_member, parse_line, run_batch, show
from .training import _select_events

SCORING_THREADS = max(1, min(4, os.cpu_count() or 1))
SCORE_ROWS = 256  # users scored at once: bounds the score matrix at SCORE_ROWS × n_items floats
MAX_RANKING_ITEMS = 500  # spec §11: inputList of GetPersonalizedRanking
SCORED_TYPES = (catalogue.USER_PERSONALIZATION, catalogue.PERSONALIZED_RANKING)  # spec §8.1


# ---- models and data -------------------------------------------------------------------------------------------


def load_recipe(services: Services, version: Record) -> Recipe:
    try:
        return Recipe.load(services.data.artifacts.local(version.arn))
    except FileNotFoundError:
        raise JobFailed(f"The model of solution version {version.arn} is missing; train a new version.") from None


def group_frames(services: Services, group_arn: str) -> tuple[dict[str, pl.DataFrame], dict[str, Schema]]:
    """datasetType → frame (all rows) and → schema, for the group's datasets."""
    frames, schemas = {}, {}
    for dataset in services.store.list("dataset", parent=group_arn):
        schema_record = services.store.get(dataset.body["schemaArn"], "schema")
        if schema_record is not None:
            schema = schemas[dataset.body["datasetType"]] = parse_schema(schema_record.body["schema"])
            frames[dataset.body["datasetType"]] = services.data.read_dataset(dataset.arn, schema, "ALL")
    return frames, schemas


class UserIndex:
    """Every user's chronological history in CSR form, keyed by sorted user id (vectorised lookups)."""

    def __init__(self, frame: pl.DataFrame, item_ids: np.ndarray, event_types: np.ndarray) -> None:
        codes = pl.DataFrame({"ITEM_ID": item_ids.astype(str), "_item": np.arange(len(item_ids), dtype=np.int64)})
        typed = "EVENT_TYPE" in frame.columns
        frame = (
            frame.select(pl.col("USER_ID").cast(pl.String), pl.col("ITEM_ID").cast(pl.String),
                         pl.col("TIMESTAMP").cast(pl.Float64),
                         (pl.col("EVENT_TYPE").cast(pl.String) if typed else pl.lit("")).alias("EVENT_TYPE"))
            .with_row_index("_order")
            .join(codes, on="ITEM_ID", how="inner")  # items the model does not know are not history
            .sort(["USER_ID", "TIMESTAMP", "_order"])
        )
        users = frame.group_by("USER_ID", maintain_order=True).len()
        self.user_ids = users["USER_ID"].to_numpy().astype(str)
        self.offsets = np.concatenate([[0], np.cumsum(users["len"].to_numpy())]).astype(np.int64)
        self.items = frame["_item"].to_numpy()
        self.times = frame["TIMESTAMP"].to_numpy()
        names = frame["EVENT_TYPE"].to_numpy().astype(str)
        found = lookup_sorted(event_types, names) if len(event_types) else np.zeros(len(names), np.int64)
        self.types = np.maximum(found, 0)  # a type the model never saw reads as its first (as the runtime does)

    def positions(self, user_ids: list[str]) -> np.ndarray:
        return lookup_sorted(self.user_ids, np.asarray(user_ids, dtype=str))

    def histories(self, positions: np.ndarray) -> Histories:
        """The histories of users at ``positions`` (-1: no history) as one ragged block."""
        known = positions >= 0
        at = np.maximum(positions, 0)
        starts = np.where(known, self.offsets[at], 0)
        lengths = np.where(known, self.offsets[at + 1] - starts, 0)
        offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        take = np.repeat(starts - offsets[:-1], lengths) + np.arange(offsets[-1])
        return Histories(self.items[take], offsets, self.types[take], self.times[take])


class JobFilter:
    """The job's filter with each line's ``filterValues``: one boolean mask per line over the model's items."""

    def __init__(self, compiled: CompiledFilter, catalog: FilterCatalog, interactions: pl.DataFrame | None) -> None:
        self.compiled, self.catalog = compiled, catalog
        self.events: dict[str, UserEvents] | None = None
        if compiled.uses_history and interactions is not None:
            self.events = _events_by_user(interactions)

    def item_mask(self, user_id: str | None, item_id: str | None, values: dict[str, str]) -> np.ndarray:
        history = self.events.get(user_id) if self.events is not None and user_id is not None else None
        user = self.catalog.tables["UserID"].record(user_id) if user_id and self.compiled.uses_user_record else None
        current = None
        if item_id is not None and self.compiled.uses_current_item:
            current = self.catalog.item_record(item_id) or {"ITEM_ID": item_id}
        try:
            return self.compiled.item_mask(self.catalog, user_id=user_id, history=history, user_record=user,
                                           current_item=current, values=values)
        except InvalidInputException as error:
            raise LineError(error.message) from None


def _events_by_user(interactions: pl.DataFrame) -> dict[str, UserEvents]:
    """Every user's interactions, oldest first, for filters that read the requesting user's history."""
    frame = interactions.with_columns(pl.col("USER_ID").cast(pl.String), pl.col("ITEM_ID").cast(pl.String))
    if "EVENT_TYPE" not in frame.columns:
        frame = frame.with_columns(pl.lit("").alias("EVENT_TYPE"))
    frame = frame.with_row_index("_order").sort(["USER_ID", "TIMESTAMP", "_order"]).drop("_order")
    other = [c for c in frame.columns if c not in ("USER_ID", "ITEM_ID", "EVENT_TYPE")]
    out = {}
    for (user,), part in frame.group_by("USER_ID", maintain_order=True):
        out[str(user)] = UserEvents(part["ITEM_ID"].to_list(), part["EVENT_TYPE"].to_list(),
                                    {c: part[c].to_list() for c in other})
    return out


def make_filter(services: Services, filter_arn: str | None, frames: dict[str, pl.DataFrame],
                schemas: dict[str, Schema], item_ids: np.ndarray, user_ids: np.ndarray | None = None) -> JobFilter | None:
    if filter_arn is None:
        return None
    record = services.store.get(filter_arn, "filter")
    if record is None:
        raise JobFailed(f"The filter {filter_arn} no longer exists.")
    try:
        compiled = compile_filter(parse_filter(record.body["filterExpression"]), schemas)
    except InvalidInputException as error:
        raise JobFailed(f"The filter {filter_arn} cannot be applied: {error}") from None
    interactions = frames.get("INTERACTIONS")
    catalog = FilterCatalog.build(item_ids, frames.get("ITEMS"), frames.get("USERS"), user_ids=user_ids,
                                  interactions=interactions)
    return JobFilter(compiled, catalog, interactions)


# ---- answering lines -------------------------------------------------------------------------------------------


@dataclass
class Line:
    raw: bytes
    parsed: dict[str, Any]
    key: str  # userId, or itemId for related items
    values: dict[str, str]
    item_list: list[str] | None = None


class Inference:
    """Answers chunks of input lines for one solution version (spec §8.1 formats per recipe type)."""

    def __init__(self, recipe: Recipe, recipe_type: str, index: UserIndex | None, job_filter: JobFilter | None,
                 num_results: int, explore: Exploration, *, unscored: float | None = 0.0) -> None:
        self.recipe, self.recipe_type, self.index, self.filter = recipe, recipe_type, index, job_filter
        self.num_results = num_results
        self.with_scores = recipe_type in SCORED_TYPES
        self.unscored = unscored  # what an item the model cannot score shows (serving/recommend.py: v1 0, v2 none)
        self.explore = explore
        self.item_names = recipe.item_ids_.astype(object)  # str objects made once, not per line
        self.pool = ThreadPoolExecutor(SCORING_THREADS, thread_name_prefix="batch-score")

    def __getstate__(self) -> dict[str, Any]:
        """Ray ships the job's answerer to its tasks (jobs/fanout.py): everything but the thread pool, made anew."""
        return {name: value for name, value in self.__dict__.items() if name != "pool"}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self.pool = ThreadPoolExecutor(SCORING_THREADS, thread_name_prefix="batch-score")

    def __call__(self, raws: list[bytes]) -> list[bytes]:
        out: list[bytes | None] = [None] * len(raws)
        good: list[tuple[int, Line]] = []
        for i, raw in enumerate(raws):
            parsed = None
            try:
                parsed = parse_line(raw)
                good.append((i, self._line(raw, parsed)))
            except LineError as error:
                out[i] = error_line(raw, parsed, str(error))
        blocks = [good[start : start + SCORE_ROWS] for start in range(0, len(good), SCORE_ROWS)]
        # Blocks are scored on SCORING_THREADS threads: the heavy parts (sparse products, argpartition, exp)
        # release the GIL, so two cores answer nearly twice as many lines.
        answers = self.pool.map(lambda block: self._answer([line for _, line in block]), blocks)
        for block, texts in zip(blocks, answers, strict=True):
            for (i, _), text in zip(block, texts, strict=True):
                out[i] = text
        return [text for text in out if text is not None]

    def _line(self, raw: bytes, parsed: dict[str, Any]) -> Line:
        values = filter_values(parsed)
        if self.recipe_type == catalogue.RELATED_ITEMS:
            return Line(raw, parsed, id_member(parsed, "itemId"), values)
        user = id_member(parsed, "userId")
        if self.recipe_type != catalogue.PERSONALIZED_RANKING:
            return Line(raw, parsed, user, values)
        items = parsed.get("itemList")
        if not isinstance(items, list) or not items or not all(isinstance(v, str) for v in items):
            raise LineError(f"itemList must be a non-empty list of item ids; got {show(items)}.")
        if len(items) > MAX_RANKING_ITEMS:
            raise LineError(f"itemList has {len(items)} items; at most {MAX_RANKING_ITEMS} are allowed.")
        return Line(raw, parsed, user, values, list(dict.fromkeys(items)))

    def _answer(self, lines: list[Line]) -> list[bytes]:
        scores = self._scores(lines)
        out: list[bytes | None] = [None] * len(lines)
        wanted = np.ones(scores.shape, dtype=bool)  # the filter's verdict per line (True without a filter)
        if self.filter is not None:
            for row, line in enumerate(lines):
                try:
                    wanted[row] = self._mask(line)
                except LineError as error:
                    out[row] = error_line(line.raw, line.parsed, str(error))
        if self.recipe_type == catalogue.PERSONALIZED_RANKING:
            return [o or self._ranked(line, scores[r], wanted[r]) for r, (line, o) in enumerate(zip(lines, out, strict=True))]
        picked = ranking.top_k(self._masked(lines, scores, wanted), self.num_results)
        if self.explore.slots:
            picked = _padded(self._explored(picked, wanted), self.num_results)
        for row, (line, output) in enumerate(zip(lines, self._outputs(picked, scores), strict=True)):
            if out[row] is None:
                out[row] = orjson.dumps({"input": line.parsed, "output": output, "error": None}) + b"\n"
        return [o for o in out if o is not None]

    def _outputs(self, picked: np.ndarray, scores: np.ndarray) -> list[dict[str, Any]]:
        """Each row's output from its picks (-1 pads the end of a row short of k): the item ids and, for scored
        recipes, every item's display score as GetRecommendations shows it, explored ones too. Whole blocks are
        converted at once: per-line conversions were most of the time a line holds the interpreter."""
        counts = np.count_nonzero(picked >= 0, axis=1).tolist()
        names = self.item_names[np.maximum(picked, 0)].tolist()
        if not self.with_scores:
            return [{"recommendedItems": row[:count]} for row, count in zip(names, counts, strict=True)]
        shown = ranking.display_scores(scores, picked)
        if any(None in row[:count] for row, count in zip(shown, counts, strict=True)):  # an item the model cannot score
            shown = [[self.unscored if v is None else v for v in row] for row in shown]
        return [{"recommendedItems": row[:count], "scores": values[:count]}
                for row, values, count in zip(names, shown, counts, strict=True)]

    def _masked(self, lines: list[Line], scores: np.ndarray, wanted: np.ndarray) -> np.ndarray:
        """The scores top-k reads: -inf where the filter excludes an item and at a related-items line's own
        item; the scores themselves when nothing is excluded (the masked copy cost 3 µs a row, 4 % of a batch row)."""
        allowed = wanted if self.filter is not None else None
        if self.recipe_type == catalogue.RELATED_ITEMS:
            found = lookup_sorted(self.recipe.item_ids_, np.asarray([line.key for line in lines], dtype=str))
            rows = np.flatnonzero(found >= 0)
            allowed = wanted.copy()
            allowed[rows, found[rows]] = False  # never the query item itself
        return scores if allowed is None else np.where(allowed, scores, -np.inf)

    def _mask(self, line: Line) -> np.ndarray:
        assert self.filter is not None  # checked by the caller
        if self.recipe_type == catalogue.RELATED_ITEMS:
            return self.filter.item_mask(None, line.key, line.values)
        return self.filter.item_mask(line.key, None, line.values)

    def _scores(self, lines: list[Line]) -> np.ndarray:
        """Model scores (rows × items, -inf = never recommendable) for the lines' users or query items."""
        if self.recipe_type == catalogue.RELATED_ITEMS:
            found = lookup_sorted(self.recipe.item_ids_, np.asarray([line.key for line in lines], dtype=str))
            # an unknown item has an empty history: the model serves popular items (spec §5.4)
            histories = Histories.from_lists([np.array([i]) if i >= 0 else np.zeros(0, np.int64) for i in found])
        else:
            assert self.index is not None  # built for every user-keyed recipe type
            histories = self.index.histories(self.index.positions([line.key for line in lines]))
        return self.recipe.final_scores(histories)

    def _ranked(self, line: Line, scores: np.ndarray, wanted: np.ndarray) -> bytes:
        """The line's itemList as GetPersonalizedRanking orders it (ranking.rank_list); items the filter excludes
        are left out."""
        assert line.item_list is not None  # ranking lines always carry one
        positions = lookup_sorted(self.recipe.item_ids_, np.asarray(line.item_list, dtype=str))
        kept = (positions < 0) | wanted[np.maximum(positions, 0)]
        items = np.asarray(line.item_list, dtype=object)[kept]
        order, shown = ranking.rank_list(scores, positions[kept])
        output = {"recommendedItems": items[order].tolist(),
                  "scores": [None if np.isnan(v) else v for v in shown.tolist()]}
        return orjson.dumps({"input": line.parsed, "output": output, "error": None}) + b"\n"

    def _explored(self, picked: np.ndarray, wanted: np.ndarray) -> list[list[int]]:
        """Each line's picks with its exploration slots drawn in (ranking.draw, ranking.explore, as
        GetRecommendations does): young, little-seen items its filter allows and it has not picked."""
        pool, rng = self.explore.pool, self.explore.rng
        lists = []
        for row, base in enumerate(_rows(picked)):
            extra = ranking.draw(pool[wanted[row, pool]], self.explore.slots, rng, base).tolist()
            lists.append(ranking.explore(base, extra, self.num_results, rng))
        return lists


@dataclass(frozen=True)
class Exploration:
    """A job's exploration (itemExplorationConfig, spec §5.4): slots per line, the candidates, the draws."""

    slots: int
    pool: np.ndarray
    rng: np.random.Generator


def exploration(recipe: Recipe, recipe_type: str, frames: dict[str, pl.DataFrame], config: dict[str, str],
                num_results: int, seed: int) -> Exploration:
    """The job's exploration slots and pool (User-Personalization only, as serving): ranking.exploration_pool
    over the model's items, aged by ranking.item_ages from the Items' CREATION_TIMESTAMP and the group's first
    interactions. A job without itemExplorationConfig does not explore."""
    rng = np.random.default_rng(seed)
    interactions = frames.get("INTERACTIONS")
    slots = ranking.exploration_slots(num_results, float(config.get("explorationWeight", "0")))
    if recipe_type != catalogue.USER_PERSONALIZATION or interactions is None or not interactions.height or not slots:
        return Exploration(0, np.zeros(0, np.int64), rng)
    ids = recipe.item_ids_
    ages = ranking.item_ages(_creation(ids, frames.get("ITEMS")), _first_seen(ids, interactions))
    latest = float(interactions["TIMESTAMP"].cast(pl.Float64).max())  # type: ignore[arg-type]
    cutoff = float(config.get("explorationItemAgeCutOff", "30"))
    return Exploration(slots, ranking.exploration_pool(ages, recipe.item_counts_, len(ids), latest, cutoff), rng)


def _creation(ids: np.ndarray, items: pl.DataFrame | None) -> np.ndarray | None:
    """Each model item's CREATION_TIMESTAMP (NaN without one); None without that column."""
    if items is None or "CREATION_TIMESTAMP" not in items.columns:
        return None
    keyed = items.select(pl.col("ITEM_ID").cast(pl.String), pl.col("CREATION_TIMESTAMP").cast(pl.Float64))
    keyed = keyed.unique("ITEM_ID", keep="last").sort("ITEM_ID")
    pos = lookup_sorted(keyed["ITEM_ID"].to_numpy().astype(str), ids)
    stamps = keyed["CREATION_TIMESTAMP"].fill_null(np.nan).to_numpy()
    return np.where(pos >= 0, stamps[np.maximum(pos, 0)], np.nan) if len(stamps) else np.full(len(ids), np.nan)


def _first_seen(ids: np.ndarray, interactions: pl.DataFrame) -> np.ndarray:
    """Each model item's first interaction in the group (NaN if none)."""
    first = (interactions.group_by(pl.col("ITEM_ID").cast(pl.String))
             .agg(pl.col("TIMESTAMP").cast(pl.Float64).min()).sort("ITEM_ID"))
    pos = lookup_sorted(first["ITEM_ID"].to_numpy().astype(str), ids)
    return np.where(pos >= 0, first["TIMESTAMP"].to_numpy()[np.maximum(pos, 0)], np.nan)


def _rows(picked: np.ndarray) -> list[list[int]]:
    """Each row's valid picks (without the -1 padding)."""
    return [[p for p in row if p >= 0] for row in picked.tolist()]


def _padded(lists: list[list[int]], width: int) -> np.ndarray:
    out = np.full((len(lists), width), -1, dtype=np.int64)
    for row, items in enumerate(lists):
        out[row, : len(items)] = items
    return out


# ---- the runner ------------------------------------------------------------------------------------------------


def _inference(services: Services, record: Record) -> Answer:
    version = services.store.get(record.body["solutionVersionArn"], "solution-version")
    if version is None or version.status != ACTIVE:
        raise JobFailed(f"The solution version {record.body['solutionVersionArn']} is no longer ACTIVE.")
    recipe = load_recipe(services, version)
    recipe_type = catalogue.recipe(version.body["recipeArn"]).recipe_type
    frames, schemas = group_frames(services, version.body["datasetGroupArn"])
    index = None
    if recipe_type != catalogue.RELATED_ITEMS and "INTERACTIONS" in frames:
        config = version.body.get("solutionConfig", {})
        selected = _select_events(frames["INTERACTIONS"], version.body.get("eventType"), config)
        index = UserIndex(selected, recipe.item_ids_, recipe.event_types_)
    job_filter = make_filter(services, record.body.get("filterArn"), frames, schemas, recipe.item_ids_)
    config = (record.body.get("batchInferenceJobConfig") or {}).get("itemExplorationConfig") or {}
    num_results = int(record.body["numResults"])
    seed = zlib.crc32(record.arn.encode())  # exploration draws are reproducible per job
    explore = exploration(recipe, recipe_type, frames, config, num_results, seed)
    unscored = None if catalogue.recipe(version.body["recipeArn"]).capabilities.reasons else 0.0
    return Inference(recipe, recipe_type, index, job_filter, num_results, explore, unscored=unscored)


def run(services: Services, job: Job, progress: Progress) -> None:
    """The batch-inference runner (jobs/runners.py)."""
    run_batch(services, job, INFERENCE_KIND, progress, lambda record: _inference(services, record))
