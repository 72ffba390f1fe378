"""GetActionRecommendations (spec §2.14, §5.4): a Next-Best-Action model's actions for one user.

The loaded model (recipes/next_best_action.py, through serving/models.py like every campaign's) scores each
action it was trained with from the user's item interactions and applies the documented rules: expired
actions, and actions inside their REPEAT_FREQUENCY window after the user took them, are never returned; equal
propensities rank the greater VALUE first. A request adds the user's action interactions (bulk imports and
PutActionInteractions: the repeat rule and Action_Interactions filters read them) and the Actions records
filters test (spec §7.2). Both are kept per loaded model and read again when those datasets change, which is
checked at most once per FRESH_SECONDS: a PutActionInteractions counts within a second.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, cast

import numpy as np
import polars as pl

from ..data.metadata import Store
from ..data.schema import parse_schema
from ..data.store import DataStore
from ..filters.compile import CompiledFilter, FilterCatalog, UserEvents
from ..ids import new_uuid
from .cache import BoundedCache

FRESH_SECONDS = 1.0  # how stale a model's action data may be after PutActionInteractions or an import
SCORE_DECIMALS = 6  # propensities on the wire, as item scores are
MAX_MODELS = 16  # action models whose data stay in memory; the least recently used leave first
ACTION_COLUMNS = ("ACTION_ID", "EVENT_TYPE", "TIMESTAMP")


class ActionModel(Protocol):
    """What serving needs of a PERSONALIZED_ACTIONS recipe (recipes/next_best_action.NextBestAction)."""

    action_ids_: np.ndarray

    def recommend_actions(
        self, history_item_ids: Sequence[str], *, user_id: str | None = None, action_history_ids: Sequence[str] = (),
        action_history_event_types: Sequence[str] = (), action_history_timestamps: Sequence[float] = (),
        num_results: int = 5, now: float | None = None, exclude_action_ids: Sequence[str] = (),
    ) -> tuple[np.ndarray, np.ndarray]: ...


class LoadedModel(Protocol):
    """What this module reads of a loaded model (serving/models.ServedModel): which one it is, and its recipe."""

    version_arn: str
    group_arn: str
    loaded_at: float
    recipe: Any


@dataclass(frozen=True)
class ActionFilter:
    """A request's filter (target ActionID), its values and the user's Users record (``IF CurrentUser``)."""

    compiled: CompiledFilter
    values: Mapping[str, str]
    user_record: dict[str, Any] | None


@dataclass(frozen=True)
class ActionData:
    """One model's view of the group's action datasets: the Actions records in the model's action order, and
    every action interaction sorted by user then time, with each user's row range."""

    filters: FilterCatalog
    events: pl.DataFrame
    rows: dict[str, tuple[int, int]]
    token: tuple[int, ...]

    def user_events(self, user_id: str | None) -> UserEvents:
        start, end = self.rows.get(user_id, (0, 0)) if user_id is not None else (0, 0)
        own = self.events.slice(start, end - start)
        columns = {c: own[c].to_numpy() for c in own.columns if c not in ("USER_ID", "ACTION_ID", "EVENT_TYPE")}
        return UserEvents(own["ACTION_ID"].to_numpy(), own["EVENT_TYPE"].to_numpy(), columns)


class ActionServing:
    """Answers GetActionRecommendations for loaded PERSONALIZED_ACTIONS models."""

    def __init__(self, store: Store, data: DataStore) -> None:
        self.store, self.data = store, data
        self.cache: BoundedCache[str, tuple[float, ActionData]] = BoundedCache("action_data", MAX_MODELS)

    def recommend(self, model: LoadedModel, user_id: str | None, items: Sequence[str], num_results: int,
                  action_filter: ActionFilter | None) -> dict[str, Any]:
        """The wire answer: ``actionList`` of {actionId, score}, best first, and a ``recommendationId``.
        ``items`` are the user's item interactions, which the propensities are computed from."""
        recipe = cast(ActionModel, model.recipe)
        data = self.action_data(model)
        events = data.user_events(user_id)
        excluded: Sequence[str] = ()
        if action_filter is not None:
            allowed = action_filter.compiled.action_mask(
                data.filters, user_id=user_id, history=events, user_record=action_filter.user_record,
                values=action_filter.values)
            excluded = recipe.action_ids_[~np.asarray(allowed, dtype=bool)]
        stamps = events.column("TIMESTAMP")
        ids, scores = recipe.recommend_actions(
            items, user_id=user_id, action_history_ids=events.item_ids, action_history_event_types=events.event_types,
            action_history_timestamps=stamps if stamps is not None else (), num_results=num_results,
            exclude_action_ids=excluded)
        actions = [{"actionId": str(a), "score": round(float(s), SCORE_DECIMALS)} for a, s in zip(ids, scores)]
        # Not remembered for metric attribution: its reports cover item events (spec §2.11), not actions.
        return {"actionList": actions, "recommendationId": f"RID-{new_uuid()}"}

    def action_data(self, model: LoadedModel) -> ActionData:
        """The model's action data, read again when the action datasets changed (see the module docstring)."""
        key, now = f"{model.version_arn}@{model.loaded_at}", time.monotonic()
        found = self.cache.get(key)
        if found is not None and now - found[0] < FRESH_SECONDS:
            return found[1]
        token = self._token(model.group_arn)
        if found is not None and found[1].token == token:
            self.cache.put(key, (now, found[1]))
            return found[1]
        return self.cache.put(key, (now, self._build(model, token)))[1]

    def _token(self, group_arn: str) -> tuple[int, ...]:
        """Bulk rows and the newest event-log row of the Actions and Action_Interactions datasets: any write
        changes it."""
        token = []
        for kind in ("ACTIONS", "ACTION_INTERACTIONS"):
            arn = dataset_arn(group_arn, kind)
            token += [self.data.bulk_rows(arn), self.data.events.newest(arn)]
        return tuple(token)

    def _build(self, model: LoadedModel, token: tuple[int, ...]) -> ActionData:
        action_ids = np.asarray(cast(ActionModel, model.recipe).action_ids_)
        actions = self._read(model.group_arn, "ACTIONS")
        filters = FilterCatalog.build(np.zeros(0, dtype=str), actions=actions, action_ids=action_ids)
        events = self._read(model.group_arn, "ACTION_INTERACTIONS")
        if events is None:
            events = pl.DataFrame(schema={"USER_ID": pl.String, **{c: pl.String for c in ACTION_COLUMNS[:2]},
                                          "TIMESTAMP": pl.Int64})
        events = events.with_columns(pl.col("USER_ID").cast(pl.String)).sort("USER_ID", "TIMESTAMP", maintain_order=True)
        return ActionData(filters, events, _row_ranges(events["USER_ID"].to_numpy()), token)

    def _read(self, group_arn: str, kind: str) -> pl.DataFrame | None:
        arn = dataset_arn(group_arn, kind)
        dataset = self.store.get(arn, "dataset")
        schema = None if dataset is None else self.store.get(dataset.body["schemaArn"], "schema")
        if dataset is None or schema is None:
            return None
        return self.data.read_dataset(arn, parse_schema(schema.body["schema"]), "ALL")


def dataset_arn(group_arn: str, dataset_type: str) -> str:
    """A group's dataset of one type: ``…:dataset/<group name>/<TYPE>`` (spec §3.1)."""
    head, _, name = group_arn.partition(":dataset-group/")
    return f"{head}:dataset/{name}/{dataset_type}"


def _row_ranges(users: np.ndarray) -> dict[str, tuple[int, int]]:
    """user → (first row, end row) in rows sorted by user."""
    change = np.flatnonzero(users[1:] != users[:-1]) + 1 if len(users) else np.zeros(0, dtype=np.int64)
    starts, ends = np.concatenate([[0], change]), np.append(change, len(users))
    return {str(users[s]): (int(s), int(e)) for s, e in zip(starts, ends) if s < e}
