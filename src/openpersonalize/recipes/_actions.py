"""Actions and action interactions for Next-Best-Action (spec §4.2, §10.4), as integer arrays.

``ActionTrainingData`` is a ``TrainingData`` (the item interactions every recipe reads) that also carries the
Actions table and the action interactions, keyed to the same user id map, so the offline split and ``select``
keep working on it unchanged.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

import numpy as np
import polars as pl

from ._data import USER_ID, TrainingData, lookup_sorted

ACTION_ID = "ACTION_ID"
EVENT_TYPE, TIMESTAMP = "EVENT_TYPE", "TIMESTAMP"
# The docs spell the types "Taken", "Not taken", "NOT_TAKEN"… (spec §10.4): compare letters only.
TAKEN, NOT_TAKEN, VIEWED = "TAKEN", "NOTTAKEN", "VIEWED"
EXPIRATION_COLUMNS = ("EXPIRATION_TIMESTAMP", "ACTION_EXPIRATION_TIMESTAMP")  # same reserved field (spec §4.2)


@dataclass(frozen=True)
class ActionTable:
    """Actions, sorted by id; float columns hold NaN where the value is null."""

    action_ids: np.ndarray  # str, sorted
    value: np.ndarray  # float64 VALUE (1–10)
    expiration: np.ndarray  # float64 epoch seconds
    repeat_days: np.ndarray  # float64 REPEAT_FREQUENCY in days

    @classmethod
    def from_frame(cls, actions: pl.DataFrame) -> ActionTable:
        frame = actions.with_columns(pl.col(ACTION_ID).cast(pl.String)).unique(ACTION_ID, keep="last").sort(ACTION_ID)
        expiration = next((c for c in EXPIRATION_COLUMNS if c in frame.columns), None)
        return cls(
            action_ids=frame[ACTION_ID].to_numpy().astype(str),
            value=_floats(frame, "VALUE"),
            expiration=_floats(frame, expiration),
            repeat_days=_floats(frame, "REPEAT_FREQUENCY"),
        )


@dataclass(frozen=True)
class ActionEvents:
    """Action interactions with a known action and a recognised event type, in time order.

    ``user_idx`` indexes the training data's ``user_ids`` (-1: the user has no item interactions).
    """

    user_idx: np.ndarray  # int64
    user_ids: np.ndarray  # str, the raw ids (users unknown to the item data keep theirs here)
    action_idx: np.ndarray  # int64 into ActionTable.action_ids
    timestamp: np.ndarray  # int64 epoch seconds
    taken: np.ndarray  # bool: TAKEN (True) or NOT_TAKEN / VIEWED (False)

    def __len__(self) -> int:
        return len(self.action_idx)

    def subset(self, rows: np.ndarray) -> ActionEvents:
        return ActionEvents(self.user_idx[rows], self.user_ids[rows], self.action_idx[rows], self.timestamp[rows],
                            self.taken[rows])


@dataclass(frozen=True)
class ActionTrainingData(TrainingData):
    actions: ActionTable | None = None
    action_events: ActionEvents | None = None

    @classmethod
    def attach(
        cls, data: TrainingData, actions: pl.DataFrame, action_interactions: pl.DataFrame | None
    ) -> ActionTrainingData:
        """``data`` plus the Actions table and (optionally) the action interactions."""
        table = ActionTable.from_frame(actions)
        events = _events(action_interactions, table, data.user_ids)
        base = {name: getattr(data, name) for name in TrainingData.__dataclass_fields__}
        return cls(**base, actions=table, action_events=events)

    def with_action_events(self, events: ActionEvents) -> ActionTrainingData:
        return replace(self, action_events=events)


def normalise_event_type(name: str) -> str:
    return re.sub(r"[^A-Z]", "", name.upper())


def _events(frame: pl.DataFrame | None, table: ActionTable, user_ids: np.ndarray) -> ActionEvents:
    if frame is None or frame.height == 0:
        empty = np.zeros(0, np.int64)
        return ActionEvents(empty, np.zeros(0, str), empty, empty, np.zeros(0, bool))
    frame = frame.with_columns(pl.col(USER_ID).cast(pl.String), pl.col(ACTION_ID).cast(pl.String),
                               pl.col(TIMESTAMP).cast(pl.Int64)).sort(TIMESTAMP, maintain_order=True)
    kinds = np.asarray([normalise_event_type(t) for t in frame[EVENT_TYPE].cast(pl.String).fill_null("")], dtype=str)
    action_idx = lookup_sorted(table.action_ids, frame[ACTION_ID].to_numpy().astype(str))
    # Unknown actions cannot be recommended and unrecognised event types carry no label: both are skipped.
    keep = (action_idx >= 0) & np.isin(kinds, [TAKEN, NOT_TAKEN, VIEWED])
    users = frame[USER_ID].to_numpy().astype(str)[keep]
    return ActionEvents(
        user_idx=lookup_sorted(user_ids, users),
        user_ids=users,
        action_idx=action_idx[keep],
        timestamp=frame[TIMESTAMP].to_numpy().astype(np.int64)[keep],
        taken=kinds[keep] == TAKEN,
    )


def _floats(frame: pl.DataFrame, column: str | None) -> np.ndarray:
    if column is None or column not in frame.columns:
        return np.full(frame.height, np.nan)
    return frame[column].cast(pl.Float64).fill_null(np.nan).to_numpy().astype(np.float64)
