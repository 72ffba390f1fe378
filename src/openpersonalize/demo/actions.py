"""Actions and action interactions with planted propensities, on top of a generated dataset group.

Each action belongs to one topic of the generated data (think "join the Comedy club"). Every user is shown
each action (VIEWED) with probability ``exposure``; they take it (TAKEN, a few hours to days later) with
probability ``sigmoid(base + strength · θ_u[topic])`` — so who takes what follows the tastes that also drive
their item interactions, which is what a Next-Best-Action model must recover. Users who do not take it
decline explicitly (NOT_TAKEN) half the time. Action interactions fall in the last four weeks of the item
data, so all of them count as recent (spec §4.8's six-week window).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from ._taste import GeneratedData, avro_schema

DAY = 86_400


@dataclass(frozen=True)
class GeneratedActions:
    actions: pl.DataFrame
    action_interactions: pl.DataFrame
    schemas: dict[str, str]  # ACTIONS / ACTION_INTERACTIONS → Avro schema text
    action_topics: np.ndarray  # topic index of each action (row order of ``actions``)


SCHEMAS = {
    "ACTIONS": avro_schema("Actions", [
        {"name": "ACTION_ID", "type": "string"},
        {"name": "TOPIC", "type": "string", "categorical": True},
        {"name": "VALUE", "type": ["null", "long"]},
        {"name": "EXPIRATION_TIMESTAMP", "type": ["null", "long"]},
        {"name": "REPEAT_FREQUENCY", "type": ["null", "long"]},
    ]),
    "ACTION_INTERACTIONS": avro_schema("ActionInteractions", [
        {"name": "USER_ID", "type": "string"},
        {"name": "ACTION_ID", "type": "string"},
        {"name": "EVENT_TYPE", "type": "string"},
        {"name": "TIMESTAMP", "type": "long"},
    ]),
}


def generate_actions(
    data: GeneratedData,
    *,
    actions: int = 6,
    exposure: float = 0.9,
    base: float = -2.5,
    strength: float = 7.0,
    seed: int = 0,
) -> GeneratedActions:
    """Actions tied to the most common topics of ``data``, and planted action interactions."""
    rng = np.random.default_rng(seed)
    truth = data.truth
    topics = np.argsort(-truth.user_tastes.sum(axis=0), kind="stable")[:actions]
    end = int(data.interactions["TIMESTAMP"].max())
    table = pl.DataFrame({
        "ACTION_ID": [f"a{k}" for k in range(len(topics))],
        "TOPIC": [truth.topics[t] for t in topics],
        "VALUE": rng.integers(1, 11, len(topics)).tolist(),
        "EXPIRATION_TIMESTAMP": [None] * len(topics),
        "REPEAT_FREQUENCY": [None] * len(topics),
    }, schema={"ACTION_ID": pl.String, "TOPIC": pl.String, "VALUE": pl.Int64,
               "EXPIRATION_TIMESTAMP": pl.Int64, "REPEAT_FREQUENCY": pl.Int64})
    n_users = len(truth.user_ids)
    shown = rng.random((n_users, len(topics))) < exposure
    propensity = 1.0 / (1.0 + np.exp(-(base + strength * truth.user_tastes[:, topics])))
    takes = shown & (rng.random(shown.shape) < propensity)
    users, acts = np.nonzero(shown)
    seen_at = end - rng.integers(3 * DAY, 28 * DAY, len(users))
    rows = {"USER_ID": truth.user_ids[users].astype(str), "ACTION_ID": [f"a{k}" for k in acts],
            "EVENT_TYPE": ["VIEWED"] * len(users), "TIMESTAMP": seen_at}
    frame = pl.DataFrame(rows)
    took = takes[users, acts]
    taken = frame.filter(pl.Series(took)).with_columns(
        pl.lit("TAKEN").alias("EVENT_TYPE"),
        pl.col("TIMESTAMP") + pl.Series(rng.integers(3600, 3 * DAY, int(took.sum()))),
    )
    declined = ~took & (rng.random(len(users)) < 0.5)
    refused = frame.filter(pl.Series(declined)).with_columns(pl.lit("NOT_TAKEN").alias("EVENT_TYPE"),
                                                            pl.col("TIMESTAMP") + 60)
    interactions = pl.concat([frame, taken, refused]).sort(["TIMESTAMP", "USER_ID"])
    return GeneratedActions(table, interactions, dict(SCHEMAS), topics)


def write_actions_csv(actions: GeneratedActions, out_dir: str | Path) -> dict[str, Path]:
    """actions.csv and action_interactions.csv in the bulk import format (empty cell = null)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"actions": out / "actions.csv", "action_interactions": out / "action_interactions.csv"}
    actions.actions.write_csv(paths["actions"], null_value="")
    actions.action_interactions.write_csv(paths["action_interactions"])
    return paths
