"""The latent model shared by the VOD and e-commerce generators, vectorised with numpy.

Everything here works on integer indexes ("topics" are VOD genres or e-commerce L2 categories); the domain
modules turn indexes into ids, names and CSV columns. The model itself is documented in ``generator.py``.

Per-user sequences are generated without a Python loop over users or events: events live in one flat array,
sorted by user, and sequential structure (binge runs, series, sessions) is built with the "forward fill the
index of the last start" trick (``last_start``) and segmented cumulative sums.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson
import polars as pl

Rng = np.random.Generator
FloatArray = np.ndarray
IntArray = np.ndarray
BoolArray = np.ndarray

HOUR = 3600
DAY = 24 * HOUR


def zipf_weights(n: int, exponent: float, rng: Rng) -> FloatArray:
    """Power-law weights ``rank**-exponent`` normalised to 1, assigned to the n indexes in random order."""
    weights = np.arange(1, n + 1, dtype=np.float64) ** -exponent
    return rng.permutation(weights / weights.sum())


class SegmentSampler:
    """Draw one value per query from a weighted list chosen by the query's segment, all queries at once.

    Segment s holds values ``values[segment == s]`` with the given weights. Keys ``s + cdf_within_s`` are
    globally non-decreasing, so one ``searchsorted`` of ``s + u`` (u uniform in [0, 1)) answers every query.
    Values of zero weight are never drawn; a segment of zero total weight must never be queried.
    """

    def __init__(self, segment: IntArray, values: IntArray, weights: FloatArray, n_segments: int) -> None:
        # Stable sort by segment only; callers often pass already-sorted segments (cheap to detect).
        order = np.arange(len(segment)) if np.all(segment[1:] >= segment[:-1]) else np.argsort(segment, kind="stable")
        self.segment = segment[order]
        self.values = values[order]
        w = weights[order].astype(np.float64)
        totals = np.bincount(self.segment, weights=w, minlength=n_segments)
        cum = np.cumsum(w)
        starts = np.searchsorted(self.segment, np.arange(n_segments))
        before = np.concatenate(([0.0], cum))[starts]
        with np.errstate(invalid="ignore", divide="ignore"):
            within = (cum - before[self.segment]) / totals[self.segment]
        # The last value of each segment must close at exactly 1 so a draw never spills into the next one.
        ends = np.searchsorted(self.segment, np.arange(n_segments), side="right") - 1
        ends = ends[(ends >= starts) & (totals > 0)]
        within[ends] = 1.0
        self.keys = self.segment + np.nan_to_num(within, nan=0.0)

    def sample(self, segments: IntArray, rng: Rng) -> IntArray:
        u = rng.random(len(segments)) * (1.0 - 1e-12)
        pos = np.searchsorted(self.keys, segments + u, side="right")
        return self.values[np.minimum(pos, len(self.values) - 1)]


def sample_rows(probabilities: FloatArray, rows: IntArray, rng: Rng) -> IntArray:
    """For each entry of ``rows``, draw a column index from that row of a (rows × columns) probability matrix."""
    n_rows, n_cols = probabilities.shape
    segment = np.repeat(np.arange(n_rows), n_cols)
    values = np.tile(np.arange(n_cols), n_rows)
    return SegmentSampler(segment, values, probabilities.ravel(), n_rows).sample(rows, rng)


def dirichlet_tastes(
    n_users: int, prior: FloatArray, max_topics: int, concentration: float, rng: Rng
) -> FloatArray:
    """Each user likes 1..max_topics topics, picked by ``prior`` without replacement, mixed Dirichlet(α).

    Topics of zero prior (e.g. genres without items) are never picked.
    """
    available = int((prior > 0).sum())
    n_topics = len(prior)
    k = np.minimum(rng.integers(1, max_topics + 1, size=n_users), available)
    # Gumbel-top-k: sorting log(prior) + Gumbel noise samples topics without replacement ∝ prior.
    with np.errstate(divide="ignore"):
        keys = np.log(prior)[None, :] + rng.gumbel(size=(n_users, n_topics))
    ranks = np.argsort(np.argsort(-keys, axis=1), axis=1)
    chosen = ranks < k[:, None]
    mass = rng.gamma(concentration, size=(n_users, n_topics)) * chosen
    mass[chosen & (mass == 0)] = 1e-12  # gamma can underflow for small α; keep chosen topics positive
    return mass / mass.sum(axis=1, keepdims=True)


def activity_counts(n_users: int, total: int, exponent: float, rng: Rng) -> IntArray:
    """Events per user summing to exactly ``total``: heavy-tailed (Pareto), at least 2 each when possible.

    Two per user is Personalize's training minimum (spec §4.8), so every user is usable when data allows.
    """
    floor = min(2, total // n_users)
    weights = rng.pareto(exponent, size=n_users) + 1.0
    return floor + rng.multinomial(total - floor * n_users, weights / weights.sum())


def owners(counts: IntArray) -> IntArray:
    """``[2, 0, 3] → [0, 0, 2, 2, 2]``: the owning segment of each flat event."""
    return np.repeat(np.arange(len(counts)), counts)


def starts_mask(counts: IntArray) -> BoolArray:
    """True at the first event of every non-empty segment."""
    mask = np.zeros(int(counts.sum()), dtype=bool)
    offsets = np.concatenate(([0], np.cumsum(counts)[:-1]))
    mask[offsets[counts > 0]] = True
    return mask


def last_start(starts: BoolArray) -> IntArray:
    """Index of the most recent True at or before each position (position 0 must be True)."""
    return np.maximum.accumulate(np.where(starts, np.arange(len(starts)), 0))


def segmented_cumsum(values: FloatArray, starts: BoolArray) -> FloatArray:
    """Cumulative sum that restarts at every True of ``starts``."""
    total = np.cumsum(values)
    base = (total - values)[last_start(starts)]
    return total - base


def weighted_choice(weights: FloatArray, k: int, rng: Rng) -> IntArray:
    """Exactly k distinct indexes, drawn without replacement ∝ weights (exponential races, Efraimidis–Spirakis)."""
    if k <= 0:
        return np.zeros(0, dtype=np.int64)
    keys = rng.exponential(size=len(weights)) / np.maximum(weights, 1e-12)
    return np.sort(np.argpartition(keys, k - 1)[:k])


def topic_chain(
    user_of_event: IntArray, session_start: BoolArray, tastes: FloatArray, stay: float, rng: Rng
) -> IntArray:
    """Latent topic per event: kept from the previous event w.p. ``stay`` within a session, else ~ taste."""
    redraw = session_start | (rng.random(len(user_of_event)) >= stay)
    fresh = sample_rows(tastes, user_of_event, rng)
    return fresh[last_start(redraw)]


def draw_items(
    topics: IntArray, membership: SegmentSampler, popularity: FloatArray, mix: float, rng: Rng
) -> IntArray:
    """Item per event: w.p. ``mix`` from global popularity, else from the event's topic ∝ popularity."""
    items = membership.sample(topics, rng)
    global_draw = rng.random(len(topics)) < mix
    n_global = int(global_draw.sum())
    cdf = np.cumsum(popularity)
    cdf[-1] = 1.0
    items[global_draw] = np.minimum(np.searchsorted(cdf, rng.random(n_global), side="right"), len(cdf) - 1)
    return items


def session_times(
    user_of_event: IntArray,
    session_start: BoolArray,
    n_users: int,
    end_time: int,
    horizon_days: float,
    within_gap_s: float,
    rng: Rng,
) -> IntArray:
    """Epoch seconds per event, strictly increasing within each user, all in [end − horizon, end].

    Each user is active over a window of the horizon (length ~ Beta(2, 1) × horizon, placed at random).
    Gaps are exponential: ``within_gap_s`` on average inside a session, and between sessions the window
    divided by the user's session count, so sessions spread over the window. Users whose draws overflow
    their window are compressed into it.
    """
    horizon = horizon_days * DAY
    window = horizon * rng.beta(2.0, 1.0, size=n_users)
    sessions = np.maximum(np.bincount(user_of_event, weights=session_start, minlength=n_users), 1)
    between_mean = (window / sessions)[user_of_event]
    gaps = np.where(session_start, between_mean, within_gap_s) * rng.exponential(size=len(user_of_event))
    first = np.concatenate(([True], user_of_event[1:] != user_of_event[:-1]))
    gaps = np.where(first, 0.0, np.maximum(gaps, 1.0))
    offsets = segmented_cumsum(gaps, first)
    # Offsets grow within a user, so a user's span is the offset of their last event.
    last = np.flatnonzero(np.concatenate((first[1:], [True])))
    span = np.zeros(n_users)
    span[user_of_event[last]] = offsets[last]
    scale = np.minimum(1.0, window / np.maximum(span, 1.0))
    start = end_time - horizon + rng.random(n_users) * (horizon - np.minimum(span, window))
    times = np.floor(start[user_of_event] + offsets * scale[user_of_event]).astype(np.int64)
    return strictly_increasing(times, user_of_event)


def first_seen(items: IntArray, times: IntArray, n_items: int, default: int) -> IntArray:
    """Earliest event time per item (``default`` for items nobody touched)."""
    first = np.full(n_items, default, dtype=np.int64)
    np.minimum.at(first, items, times)
    return first


def strictly_increasing(times: IntArray, user_of_event: IntArray) -> IntArray:
    """Bump ties so each user's times strictly increase (order of events is the planted sequence)."""
    position = np.arange(len(times), dtype=np.int64)
    # Segmented running max via a per-user offset larger than any time range (2**34 s ≈ 544 years).
    lift = user_of_event.astype(np.int64) << 34
    adjusted = np.maximum.accumulate(times - position + lift) - lift + position
    return adjusted


def pick_words(vocabulary: list[list[str]], topics: IntArray, rng: Rng, count: int = 1) -> list[np.ndarray]:
    """``count`` distinct words per entry (count ≤ list sizes), uniform from the entry's topic's word list."""
    flat = np.array([w for words in vocabulary for w in words])
    sizes = np.array([len(words) for words in vocabulary])[topics]
    offsets = np.concatenate(([0], np.cumsum([len(words) for words in vocabulary])[:-1]))[topics]
    first = (rng.random(len(topics)) * sizes).astype(np.int64)
    # Later words step forward cyclically from the first, so the words of one entry never repeat.
    return [flat[offsets + (first + k) % sizes] for k in range(count)]


def affinity(tastes: FloatArray, users: IntArray, item_topics: IntArray, items: IntArray) -> FloatArray:
    """Σ of the user's taste over the item's topics (item_topics: items × k, −1 = none), in [0, 1]."""
    total = np.zeros(len(users))
    for column in item_topics.T:
        topic = column[items]
        total += np.where(topic >= 0, tastes[users, np.maximum(topic, 0)], 0.0)
    return np.minimum(total, 1.0)


def extra_topics(primary: IntArray, prevalence: FloatArray, rates: tuple[float, ...], rng: Rng) -> IntArray:
    """(n × (1 + len(rates))) topic table: the primary, then extra topics w.p. ``rates[k]`` (−1 = none).

    Extras are drawn by prevalence; a draw repeating an earlier topic of the same row is dropped.
    """
    table = np.full((len(primary), 1 + len(rates)), -1, dtype=np.int64)
    table[:, 0] = primary
    cdf = np.cumsum(prevalence)
    cdf[-1] = 1.0
    for k, rate in enumerate(rates, start=1):
        draw = np.minimum(np.searchsorted(cdf, rng.random(len(primary)), side="right"), len(cdf) - 1)
        repeated = (table[:, :k] == draw[:, None]).any(axis=1)
        table[:, k] = np.where((rng.random(len(primary)) < rate) & ~repeated, draw, -1)
    return table


def membership_sampler(item_topics: IntArray, popularity: FloatArray, n_topics: int) -> SegmentSampler:
    """Sampler of an item given a topic, ∝ popularity among the items carrying that topic."""
    items = np.repeat(np.arange(len(item_topics))[:, None], item_topics.shape[1], axis=1).ravel()
    topics = item_topics.ravel()
    keep = topics >= 0
    return SegmentSampler(topics[keep], items[keep], popularity[items[keep]], n_topics)


def topic_matrix(item_topics: IntArray, n_topics: int) -> BoolArray:
    """Dense (items × topics) membership from the topic table."""
    matrix = np.zeros((len(item_topics), n_topics), dtype=bool)
    rows, cols = np.nonzero(item_topics >= 0)
    matrix[rows, item_topics[rows, cols]] = True
    return matrix


@dataclass(frozen=True)
class Truth:
    """The planted structure, by integer index (user i is ``user_ids[i]``, item j is ``item_ids[j]``).

    Attributes
    ----------
    topics : names of the latent topics (VOD genres; e-commerce ``L1/L2`` categories)
    user_ids, item_ids : the string ids, in index order
    user_tastes : (users × topics) each row a probability vector — the user's Dirichlet taste mixture
    item_topics : (items × topics) bool — which topics an item belongs to
    item_primary_topic : (items,) the item's main topic
    item_popularity : (items,) the popularity weights items are drawn with (sum 1)
    item_series : (items,) series index (VOD episodes of one show share it; otherwise one per item)
    event_session : (interaction rows,) session index of each row of ``interactions``, in row order
    params : the model knobs used (stay probability, popularity mix, …)
    """

    topics: list[str]
    user_ids: np.ndarray
    item_ids: np.ndarray
    user_tastes: FloatArray
    item_topics: BoolArray
    item_primary_topic: IntArray
    item_popularity: FloatArray
    item_series: IntArray
    event_session: IntArray
    params: dict[str, float]


@dataclass(frozen=True)
class GeneratedData:
    """A generated dataset group: three DataFrames with columns named as their schemas, and the truth.

    ``schemas`` maps the dataset type (``INTERACTIONS``, ``ITEMS``, ``USERS``) to an Avro schema string valid
    for CreateSchema both without a domain and with ``domain`` (spec §4.1–4.3).
    """

    domain: str  # VIDEO_ON_DEMAND or ECOMMERCE: the dataset-group domain these schemas satisfy
    interactions: pl.DataFrame
    items: pl.DataFrame
    users: pl.DataFrame
    schemas: dict[str, str]
    truth: Truth


def avro_schema(record: str, fields: list[dict[str, Any]]) -> str:
    """An Avro record schema string in the shape of the AWS examples (spec §4.1)."""
    doc = {"type": "record", "name": record, "namespace": "com.amazonaws.personalize.schema", "fields": fields, "version": "1.0"}
    return orjson.dumps(doc).decode()


def string_ids(prefix: str, n: int) -> np.ndarray:
    """``prefix1 … prefixN`` as a numpy unicode array (ids are strings on the wire)."""
    return np.char.add(prefix, np.arange(1, n + 1).astype(str))


def gather(strings: np.ndarray, index: IntArray) -> pl.Series:
    """``strings[index]`` as a polars String column, without materialising a numpy string array per row.

    Converting millions of numpy unicode strings costs ~0.1 s per column; gathering from a small Series
    of distinct values is ~20× cheaper.
    """
    return pl.Series(strings, dtype=pl.String).gather(pl.Series(index, dtype=pl.Int64))
