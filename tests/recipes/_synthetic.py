"""Small interaction logs with planted structure, for the recipe contract tests.

Users belong to one of ``n_groups`` tastes; each taste is a chain of items that users walk in order,
starting anywhere, with some noise. Co-occurrence, factor and sequence models can all find the structure;
popularity cannot (every group is equally popular), so it is the floor every personalised recipe must beat.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import polars as pl

from openpersonalize.recipes.base import TrainingData


def planted(n_users: int = 300, n_groups: int = 6, chain: int = 12, events: int = 14, seed: int = 0) -> TrainingData:
    rng = np.random.default_rng(seed)
    rows: list[tuple[str, str, int, str]] = []
    n_items = n_groups * chain
    for user in range(n_users):
        group = user % n_groups
        start = int(rng.integers(chain))
        for step in range(events):
            if rng.random() < 0.15:
                item = int(rng.integers(n_items))  # noise
            else:
                item = group * chain + (start + step) % chain
            kind = "click" if rng.random() < 0.7 else "watch"
            rows.append((f"u{user}", f"i{item}", 1_600_000_000 + 3600 * step + user, kind))
    frame = pl.DataFrame(rows, schema=["USER_ID", "ITEM_ID", "TIMESTAMP", "EVENT_TYPE"], orient="row")
    return TrainingData.from_frames(frame)


# One theme per taste group of ``planted`` (same order): text a sentence encoder and TF-IDF both separate.
THEMES = (
    ("Space", "rockets galaxy astronauts orbit planets"),
    ("Cooking", "recipes kitchen chef baking flavours"),
    ("Football", "stadium goals league players season"),
    ("Romance", "love wedding couple heartbreak kiss"),
    ("Detective", "murder crime police investigation clues"),
    ("Fantasy", "dragons wizards magic castle quest"),
)


def with_item_metadata(data: TrainingData, chain: int = 12) -> TrainingData:
    """``planted`` data plus an Items table: a GENRE (categorical), TITLE (itemName) and DESCRIPTION
    (textual) from each item's taste group, with the roles an Items schema would declare."""
    index = np.array([int(i[1:]) for i in data.item_ids])
    theme = index // chain % len(THEMES)
    items = pl.DataFrame({
        "ITEM_ID": data.item_ids,
        "GENRE": [THEMES[t][0] for t in theme],
        "TITLE": [f"{THEMES[t][0]} story number {i}" for t, i in zip(theme, index, strict=True)],
        "DESCRIPTION": [f"A tale of {THEMES[t][1]}." for t in theme],
    })
    roles = {"GENRE": "categorical", "TITLE": "item_name", "DESCRIPTION": "textual"}
    return replace(data, items=items, item_roles=roles)
