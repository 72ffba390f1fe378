"""Realistic synthetic datasets with planted structure, for tests, demos and benchmarks (issue 2).

Two shapes, each a full dataset group (Interactions, Items, Users + Avro schemas valid for a custom group
and for the matching domain group):

- ``generate_vod``: VIDEO_ON_DEMAND — Click and Watch events, GENRES, TITLE (itemName), DESCRIPTION (textual),
  SUBSCRIPTION_MODEL and AGE.
- ``generate_ecommerce``: ECOMMERCE — View → Cart → Purchase funnel in sessions, CATEGORY_L1/L2, PRICE,
  PRODUCT_NAME (itemName), PRODUCT_DESCRIPTION (textual), MEMBERSHIP_STATUS.

The generative model (the same in both; "topics" are genres or L2 categories)
-------------------------------------------------------------------------------
1. Topics have Zipf-distributed sizes. Each item has a primary topic (VOD items may carry 1–2 extra genres,
   written ``Drama|Romance``) and a popularity weight drawn from a Zipf law (power-law item popularity).
   VOD items come in series: contiguous item ids sharing genres and title, episode popularity decaying.
2. Each user likes 1–3 topics, picked ∝ topic size, with weights ~ Dirichlet(α): the taste vector θ_u.
   Activity (events per user) is Pareto-distributed, at least 2 per user when the total allows
   (Personalize's minimum, spec §4.8).
3. Each user's events form sessions (a new session w.p. ``session_break`` per event). The latent topic of an
   event is the previous event's topic w.p. ``stay`` within a session (binge-watching / browsing drift,
   so order matters), otherwise a fresh draw from θ_u. The item is drawn from that topic ∝ popularity,
   except w.p. ``popularity_mix`` where it comes from global popularity (taste-free noise). VOD only: w.p.
   ``next_episode`` the next event in a session is the next episode of the show being watched.
4. Timestamps (epoch seconds, ~6 months ending 2025-07-01) are strictly increasing per user in sequence
   order: minutes apart inside a session, days apart between sessions, within a per-user active window.
5. Outcomes depend on fit, a(u, i) = Σ θ_u over the item's topics: VOD Watches follow a subset of Clicks
   chosen ∝ 0.25 + a with watched fraction ~ Beta(1 + 5a, 1.5 + 2(1 − a)) as EVENT_VALUE; e-commerce Carts
   follow Views ∝ 0.2 + a and Purchases follow Carts ∝ (0.3 + a) × price and membership factors.
6. Users: VOD AGE centres on the favourite genre's audience age and SUBSCRIPTION_MODEL rises with activity;
   e-commerce MEMBERSHIP_STATUS rises with activity and raises purchase odds.

The exact number of interaction rows requested is produced. The ground truth (θ, item topics, popularity,
series, session of every row) is returned as ``Truth`` so tests can check a recommender recovers it.
Output depends only on the arguments: the same seed gives identical frames.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from ._taste import GeneratedData, Truth
from .ecommerce import generate_ecommerce as _ecommerce
from .vod import generate_vod as _vod

__all__ = ["DOMAINS", "GeneratedData", "Truth", "generate", "generate_ecommerce", "generate_vod", "write_csv"]

DOMAINS = ("vod", "ecommerce")
SCHEMA_FILES = {"INTERACTIONS": "interactions", "ITEMS": "items", "USERS": "users"}
# Ids are "u<n>"/"i<n>" (≤ 256 chars, spec §4.2); keep sizes where numpy arrays stay comfortably in memory.
MAX_ROWS = 500_000_000


def _check_size(name: str, value: int, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int, got {type(value).__name__} {value!r}.")
    if not minimum <= value <= MAX_ROWS:
        raise ValueError(f"{name} must be between {minimum} and {MAX_ROWS}, got {value}.")


def _check(users: int, items: int, interactions: int, seed: int) -> None:
    _check_size("users", users, 1)
    _check_size("items", items, 1)
    _check_size("interactions", interactions, 1)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}.")


def generate_vod(*, users: int = 1000, items: int = 2000, interactions: int = 50_000, seed: int = 0) -> GeneratedData:
    """A VIDEO_ON_DEMAND dataset group; see the module docstring for the planted model."""
    _check(users, items, interactions, seed)
    return _vod(users=int(users), items=int(items), interactions=int(interactions), seed=int(seed))


def generate_ecommerce(*, users: int = 1000, items: int = 2000, interactions: int = 50_000, seed: int = 0) -> GeneratedData:
    """An ECOMMERCE dataset group; see the module docstring for the planted model."""
    _check(users, items, interactions, seed)
    return _ecommerce(users=int(users), items=int(items), interactions=int(interactions), seed=int(seed))


def generate(domain: str, *, users: int, items: int, interactions: int, seed: int) -> GeneratedData:
    """Dispatch on ``domain`` (``vod`` or ``ecommerce``)."""
    if domain not in DOMAINS:
        raise ValueError(f"domain must be one of {list(DOMAINS)}, got {domain!r}.")
    maker = generate_vod if domain == "vod" else generate_ecommerce
    return maker(users=users, items=items, interactions=interactions, seed=seed)


def write_csv(data: GeneratedData, out_dir: str | Path, *, with_truth: bool = False) -> dict[str, Path]:
    """Write interactions.csv, items.csv, users.csv and ``<name>.schema.json`` files; return their paths.

    CSV follows the bulk import format (spec §4.4): unquoted header row, empty cell for null, ``|`` between
    categorical values, epoch-second timestamps, Items strings in double quotes. ``with_truth`` also writes ``truth.npz`` (plain arrays,
    loadable with ``allow_pickle=False``) for benchmarks that score recovery of the planted tastes.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    frames = {"INTERACTIONS": data.interactions, "ITEMS": data.items, "USERS": data.users}
    paths: dict[str, Path] = {}
    for dataset_type, stem in SCHEMA_FILES.items():
        csv_path = out / f"{stem}.csv"
        _write_frame(frames[dataset_type], csv_path, quote_strings=dataset_type == "ITEMS")
        schema_path = out / f"{stem}.schema.json"
        schema_path.write_text(data.schemas[dataset_type] + "\n")
        paths[stem] = csv_path
        paths[f"{stem}.schema"] = schema_path
    if with_truth:
        paths["truth"] = _write_truth(data.truth, out / "truth.npz")
    return paths


def _write_frame(frame: pl.DataFrame, path: Path, *, quote_strings: bool) -> None:
    """CSV with a plain header; Items quote every string cell, since textual values are to be wrapped in
    double quotes (spec §4.4) and the same files may be uploaded to Amazon Personalize itself."""
    if not quote_strings:
        frame.write_csv(path)
        return
    with path.open("wb") as out:
        out.write((",".join(frame.columns) + "\n").encode())
        frame.write_csv(out, include_header=False, quote_style="non_numeric")


def _write_truth(truth: Truth, path: Path) -> Path:
    np.savez_compressed(
        path,
        topics=np.array(truth.topics),
        user_ids=truth.user_ids.astype(str),
        item_ids=truth.item_ids.astype(str),
        user_tastes=truth.user_tastes,
        item_topics=truth.item_topics,
        item_primary_topic=truth.item_primary_topic,
        item_popularity=truth.item_popularity,
        item_series=truth.item_series,
        event_session=truth.event_session,
    )
    return path
