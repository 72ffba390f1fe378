"""The ``batch-inference`` job: answer JSON Lines of users, items or ranking requests (spec §8.1).

Input lines per recipe type: ``{"userId"}`` (User-Personalization, Popularity-Count), ``{"itemId"}`` (related
items), ``{"userId", "itemList"}`` (Personalized-Ranking); any may carry ``filterValues``. Each output line is
``{"input", "output": {"recommendedItems", "scores"}, "error"}``; scores only for User-Personalization and
Personalized-Ranking. jobs/batch_io.py streams the files; this module answers a chunk of lines.

Scoring is vectorised: the users of a chunk become one ``Histories`` block scored ``SCORE_ROWS`` at a time,
a filter is one boolean mask per line over the catalogue, top-k is ``argpartition``, display scores are the
softmax over each line's candidates (spec §5.4). A line that cannot be answered gets an ``error`` and the job
goes on. Histories are the group's Interactions with the event selection the solution trained with
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

from ..errors import InvalidInputException
from ..control.batch_jobs import INFERENCE_KIND
from ..statuses import ACTIVE
from ..services import Services
from ..data.metadata import Job, Record
from ..data.artifacts import model_dir
from ..data.schema import Schema, parse_schema
from ..filters.compile import CompiledFilter, FilterCatalog, UserEvents, compile_filter
from ..filters.parse import parse_filter
from ..recipes import catalogue
from ..recipes._data import lookup_sorted
from ..recipes.base import Histories, Recipe
from .base import JobFailed, Progress
from .batch_io import Answer, LineError, error_line, filter_values, id_member, parse_line, run_batch, show
from .training import _select_events

SCORING_THREADS = max(1, min(4, os.cpu_count() or 1))
SCORE_ROWS = 256  # users scored at once: bounds the score matrix at SCORE_ROWS × n_items floats
MAX_RANKING_ITEMS = 500  # spec §11: inputList of GetPersonalizedRanking
EXPLORATION_SHARE = 0.5  # as serving/recommend.py: explorationWeight 1.0 explores half the list
SCORED_TYPES = (catalogue.USER_PERSONALIZATION, catalogue.PERSONALIZED_RANKING)  # spec §8.1


# ---- models and data -------------------------------------------------------------------------------------------


def load_recipe(services: Services, version: Record) -> Recipe:
    path = model_dir(services.data.root, version.arn)
    if not (path / "config.json").exists():
        raise JobFailed(f"The model of solution version {version.arn} is missing; train a new version.")
    return Recipe.load(path)


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
                 num_results: int, exploration: dict[str, str], seed: int) -> None:
        self.recipe, self.recipe_type, self.index, self.filter = recipe, recipe_type, index, job_filter
        self.num_results = num_results
        self.with_scores = recipe_type in SCORED_TYPES
        weight = float(exploration.get("explorationWeight", "0"))
        self.n_explore = int(round(num_results * weight * EXPLORATION_SHARE))
        self.explorable = _explorable(recipe, index, float(exploration.get("explorationItemAgeCutOff", "30")))
        self.rng = np.random.default_rng(seed)
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
        if self.recipe_type == catalogue.RELATED_ITEMS:
            found = lookup_sorted(self.recipe.item_ids_, np.asarray([line.key for line in lines], dtype=str))
            rows = np.flatnonzero(found >= 0)
            wanted[rows, found[rows]] = False  # never the query item itself
        if self.recipe_type == catalogue.PERSONALIZED_RANKING:
            return [o or self._ranked(line, scores[r], wanted[r]) for r, (line, o) in enumerate(zip(lines, out, strict=True))]
        masked = np.where(wanted, scores, -np.inf)
        top = _top_k(masked, self.num_results)
        if self.n_explore and len(self.explorable):
            top = self._explore(top, wanted)
        shown = _softmax_at(masked, top) if self.with_scores else None
        names = self.recipe.item_ids_[np.maximum(top, 0)].tolist()
        valid = (top >= 0).tolist()
        for row, line in enumerate(lines):
            if out[row] is None:
                keep = valid[row]
                output: dict[str, Any] = {"recommendedItems": [n for n, k in zip(names[row], keep, strict=True) if k]}
                if shown is not None:
                    output["scores"] = [v for v, k in zip(shown[row], keep, strict=True) if k]
                out[row] = orjson.dumps({"input": line.parsed, "output": output, "error": None}) + b"\n"
        return [o for o in out if o is not None]

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
        # _final_scores is the matrix recommend_batch ranks by; batch needs the values too (display scores,
        # per-line filter masks), so it is called directly rather than through recommend_batch's top-k.
        return self.recipe._final_scores(histories)

    def _ranked(self, line: Line, scores: np.ndarray, wanted: np.ndarray) -> bytes:
        """The line's itemList best first; items the model cannot score keep their order at the end with a null
        score; items the filter excludes are left out, as GetPersonalizedRanking does."""
        assert line.item_list is not None  # ranking lines always carry one
        positions = lookup_sorted(self.recipe.item_ids_, np.asarray(line.item_list, dtype=str)).tolist()
        kept = [(item, p) for item, p in zip(line.item_list, positions, strict=True) if p < 0 or wanted[p]]
        known = sorted((pair for pair in kept if pair[1] >= 0 and np.isfinite(scores[pair[1]])),
                       key=lambda pair: -float(scores[pair[1]]))
        scored = {item for item, _ in known}
        unknown = [item for item, _ in kept if item not in scored]
        values = np.array([scores[p] for _, p in known], dtype=np.float64)
        probabilities: list[float] = []
        if len(values):
            weights = np.exp(values - values.max())  # softmax over the list (spec §5.4)
            probabilities = np.round(weights / weights.sum(), 7).tolist()
        output = {"recommendedItems": [item for item, _ in known] + unknown,
                  "scores": probabilities + [None] * len(unknown)}
        return orjson.dumps({"input": line.parsed, "output": output, "error": None}) + b"\n"

    def _explore(self, top: np.ndarray, wanted: np.ndarray) -> np.ndarray:
        """The ``n_explore`` weakest slots go to young, little-seen items (spec §5.4, as serving does): a random
        draw per line among the explorable items its filter allows that are not already picked."""
        pool = self.explorable
        keys = self.rng.random((len(top), len(pool)))
        picked = (top[:, :, None] == pool[None, None, :]).any(axis=1)
        keys = np.where(wanted[:, pool] & ~picked, keys, -1.0)
        k = min(self.n_explore, top.shape[1])
        chosen = np.argsort(-keys, axis=1)[:, :k]
        drawn = np.where(np.take_along_axis(keys, chosen, axis=1) >= 0, pool[chosen], -1)
        out = top.copy()
        out[:, top.shape[1] - k :] = np.where(drawn >= 0, drawn, top[:, top.shape[1] - k :])
        return out


def _explorable(recipe: Recipe, index: UserIndex | None, cutoff_days: float) -> np.ndarray:
    """Items first seen within ``cutoff_days`` of the newest interaction, with fewer users than the median."""
    if index is None or not len(index.items):
        return np.zeros(0, np.int64)
    first = np.full(len(recipe.item_ids_), np.inf)
    np.minimum.at(first, index.items, index.times)
    counts = recipe.item_counts_
    median = float(np.median(counts[counts > 0])) if (counts > 0).any() else 1.0
    young = first >= float(index.times.max()) - cutoff_days * 86400.0
    return np.flatnonzero(young & (counts < median))


def _top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k best finite scores per row, best first; -1 pads rows with fewer candidates."""
    k = min(k, scores.shape[1])
    if k <= 0:
        return np.zeros((scores.shape[0], 0), dtype=np.int64)
    part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    order = np.argsort(-np.take_along_axis(scores, part, axis=1), axis=1, kind="stable")
    top = np.take_along_axis(part, order, axis=1)
    return np.where(np.isfinite(np.take_along_axis(scores, top, axis=1)), top, -1)


def _softmax_at(masked: np.ndarray, top: np.ndarray) -> list[list[float]]:
    """Personalize's display scores (spec §5.4): softmax over each row's allowed candidates, at ``top``."""
    finite = np.isfinite(masked)
    peak = np.where(finite.any(axis=1), np.max(np.where(finite, masked, -np.float32(3e38)), axis=1), 0.0)
    weights = np.exp(masked - peak[:, None].astype(np.float32))  # exp(-inf) = 0 for excluded items
    total = weights.sum(axis=1, dtype=np.float64)
    picked = np.take_along_axis(weights, np.maximum(top, 0), axis=1) / np.maximum(total, 1e-300)[:, None]
    return np.round(np.where(top >= 0, picked, 0.0), 7).tolist()


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
    exploration = (record.body.get("batchInferenceJobConfig") or {}).get("itemExplorationConfig") or {}
    seed = zlib.crc32(record.arn.encode())  # exploration draws are reproducible per job
    return Inference(recipe, recipe_type, index, job_filter, int(record.body["numResults"]), exploration, seed)


def run(services: Services, job: Job, progress: Progress) -> None:
    """The batch-inference runner (jobs/runners.py)."""
    run_batch(services, job, INFERENCE_KIND, progress, lambda record: _inference(services, record))
