"""Per-user recent events for serving: training history from the datasets plus events streamed since (spec §10).

Each dataset group has one ``GroupHistory``: the Interactions dataset read once (bulk rows plus the event log
up to a sequence number, the snapshot), kept as CSR arrays sorted by (user, time), and per-user tails of the
events logged after it. So an event changes that user's (or anonymous session's) next recommendation as soon
as PutEvents has answered.

The durable event log (data/eventlog.py) is the source of the tails. Before answering, a history follows the
log: when its head moved (a cheap check), the rows after the last one applied are applied in log order, from
this process or any other sharing the log (``serve --workers N``, several nodes on one database). Tails are
bounded: at most ``max_users`` users' tails stay in memory, least recently used out first. An evicted user's tail
is rebuilt from the log on their next request, by the same code in the same order, so it comes back identical
(events, impressions, session merges, change counter). A fixed-size bitmap remembers which users may have rows
after the snapshot, so a user who never sent an event costs no read.

Sessions (spec §10.2): an event carrying both a ``userId`` and a ``sessionId`` merges what the session did
anonymously into the user, once. Impressions (explicit, or implicit through a ``recommendationId``) are
counted per user; items shown repeatedly and never interacted with are demoted by ``recommend.py``.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

from ..data.eventlog import Entry, EventLog
from ..ids import new_token
from .cache import BoundedCache, CacheStats

MAX_EVENTS_PER_USER = 500  # the newest events kept per user: models read ≤ 200, filters the newest 100 per type
MAX_USERS = 100_000  # users' tails kept in memory per group by default (config.Settings.realtime_users)
SENDER_BITS = 1 << 24  # bitmap of users with events after the snapshot: 2 MB per group, false hits only cost a read
CONTEXT_COLUMNS_SKIPPED = frozenset({"USER_ID", "ITEM_ID", "TIMESTAMP", "EVENT_VALUE", "IMPRESSION", "RECOMMENDATION_ID",
                                     "EVENT_ATTRIBUTION_SOURCE"})


@dataclass
class UserHistory:
    """One user's chronological events (oldest first) and the impressions they were shown."""

    item_ids: list[str]
    event_types: list[str]
    timestamps: list[float]
    shown: dict[str, int] = field(default_factory=dict)  # item → times shown (impressions)
    version: int = 0  # the user's streamed-change counter when read (``GroupHistory.user_version``)
    _unclicked: dict[str, int] | None = field(default=None, repr=False, compare=False)

    def unclicked_impressions(self) -> dict[str, int]:
        """Items shown but never interacted with → how often they were shown (a request asks more than once)."""
        if self._unclicked is None:
            seen = set(self.item_ids) if self.shown else set()
            self._unclicked = {item: count for item, count in self.shown.items() if item not in seen}
        return self._unclicked


@dataclass(slots=True)
class _Tail:
    """One user's events since the snapshot (up to 100k of these per group: kept small, ids interned)."""

    items: list[str] = field(default_factory=list)
    types: list[str] = field(default_factory=list)
    times: list[float] = field(default_factory=list)
    shown: dict[str, int] | None = None  # item → times shown
    merged: tuple[str, ...] = ()  # sessions whose anonymous events were merged in (a user has one or two)
    changes: int = 0  # bumped on every streamed change: part of the per-user score cache key


@dataclass(frozen=True)
class EventFeed:
    """Where a history's tails come from: the log, the group's Interactions dataset, the snapshot's last row."""

    log: EventLog
    dataset_arn: str
    since: int


class GroupHistory:
    """All users' histories of one dataset group: a bulk snapshot plus bounded tails following the event log
    (thread-safe). Without a feed it serves the snapshot alone."""

    def __init__(self, frame: pl.DataFrame, feed: EventFeed | None = None, max_users: int = MAX_USERS) -> None:
        frame = frame.filter(pl.col("ITEM_ID").is_not_null() & pl.col("USER_ID").is_not_null())
        frame = frame.with_row_index("_order").sort(["USER_ID", "TIMESTAMP", "_order"])
        users = frame["USER_ID"].cast(pl.String).to_numpy().astype(str)
        self._items = _shared_strings(frame["ITEM_ID"].cast(pl.String))
        types = frame["EVENT_TYPE"] if "EVENT_TYPE" in frame.columns else pl.Series([""] * frame.height)
        self._types = _shared_strings(types.cast(pl.String).fill_null(""))
        self._times = frame["TIMESTAMP"].cast(pl.Float64).to_numpy()
        starts = np.flatnonzero(np.r_[True, users[1:] != users[:-1]]) if len(users) else np.zeros(0, np.int64)
        self._offsets = np.r_[starts, len(users)].astype(np.int64)
        self._row = {str(u): i for i, u in enumerate(users[starts])}
        self._feed = feed
        self._applied = feed.since if feed is not None else 0  # the newest log row applied to the tails
        self._tails: BoundedCache[str, _Tail] = BoundedCache("realtime_users", max_users)
        self._senders = bytearray(SENDER_BITS // 8)
        self._lock = threading.RLock()  # guards applying rows and rebuilding tails (their order is the log's)
        self.token = new_token()  # identifies this snapshot in answer-cache keys (serving/answers.py)
        self.latest_timestamp = float(self._times.max()) if len(self._times) else 0.0
        self.context_popularity = _context_popularity(frame)
        first = frame.group_by("ITEM_ID").agg(pl.col("TIMESTAMP").min()).sort("ITEM_ID")
        self.first_seen_ids = first["ITEM_ID"].cast(pl.String).to_numpy().astype(str)
        self.first_seen_times = first["TIMESTAMP"].cast(pl.Float64).to_numpy()

    def get(self, user_id: str) -> UserHistory:
        """The user's events (bulk, then streamed), newest ``MAX_EVENTS_PER_USER`` kept."""
        row = self._row.get(user_id)
        items: list[str] = []
        types: list[str] = []
        times: list[float] = []
        if row is not None:
            lo, hi = int(self._offsets[row]), int(self._offsets[row + 1])
            lo = max(lo, hi - MAX_EVENTS_PER_USER)
            items, types, times = self._items[lo:hi].tolist(), self._types[lo:hi].tolist(), self._times[lo:hi].tolist()
        tail = self._tail(user_id)
        shown: dict[str, int] = {}
        version = 0
        if tail is not None:
            with self._lock:
                items, types, times = items + tail.items, types + tail.types, times + tail.times
                shown, version = dict(tail.shown or {}), tail.changes
        cut = -MAX_EVENTS_PER_USER
        return UserHistory(items[cut:], types[cut:], times[cut:], shown, version)

    def known_users(self) -> list[str]:
        """Users of the bulk snapshot, most events first (ties in snapshot order)."""
        users = np.empty(len(self._row), dtype=object)
        for user, row in self._row.items():
            users[row] = user
        order = np.argsort(-np.diff(self._offsets), kind="stable")
        return users[order].tolist()  # type: ignore[no-any-return]

    def user_version(self, user_id: str) -> int:
        """Changes whenever this user's streamed history changes (a cheap cache key, the same in every process)."""
        tail = self._tail(user_id)
        return 0 if tail is None else tail.changes

    def stats(self) -> CacheStats:
        return self._tails.stats()

    # ---- following the log -----------------------------------------------------------------------------------

    def sync(self) -> None:
        """Apply the log's rows after the last one applied, in log order (nothing to do when its head is still)."""
        feed = self._feed
        if feed is None:
            return
        head = feed.log.head()
        if head <= self._applied:
            return
        with self._lock:
            if head <= self._applied:
                return
            entries = feed.log.since(feed.dataset_arn, self._applied)
            for seq, row in entries:
                self._observe(seq, row)
            self._applied = max(head, entries[-1][0] if entries else head)

    def _observe(self, seq: int, row: dict[str, Any]) -> None:
        user = str(row.get("USER_ID"))
        if row.get("ITEM_ID") is not None:
            self.latest_timestamp = max(self.latest_timestamp, float(row.get("TIMESTAMP") or 0.0))
        tail = self._tails.peek(user)
        if tail is None and not self._marked(user):
            # The user's first row since the snapshot: the tail is this row alone, no need to read it back.
            tail = self._tails.put(user, _Tail())
        self._mark(user)
        if tail is not None:  # an evicted user is rebuilt from the log when asked for
            self._apply(tail, user, seq, row, live=True)

    def _tail(self, user_id: str) -> _Tail | None:
        """The user's tail: in memory, rebuilt from the log, or None (no event since the snapshot)."""
        self.sync()
        tail = self._tails.get(user_id)
        if tail is not None or self._feed is None or not self._marked(user_id):
            return tail
        with self._lock:
            tail = self._tails.peek(user_id)
            if tail is None:
                tail = self._tails.put(user_id, self._replay(user_id, self._applied))
            return tail

    def _replay(self, user: str, upto: int) -> _Tail:
        """The tail the live path had built for ``user`` once every row up to ``upto`` was applied."""
        assert self._feed is not None
        tail = _Tail()
        rows: list[Entry] = self._feed.log.user_rows(self._feed.dataset_arn, user, self._feed.since, upto)
        for seq, row in rows:
            self._apply(tail, user, seq, row, live=False)
        return tail

    def _apply(self, tail: _Tail, user: str, seq: int, row: dict[str, Any], live: bool) -> None:
        """One logged row into its user's tail: the one place that decides what a tail holds."""
        session = row.get("$sid")
        if session is not None and not row.get("$anon") and session != user and str(session) not in tail.merged:
            tail.merged += (str(session),)
            # What the session had done before this row: live, its tail in memory is exactly that.
            anonymous = self._tails.peek(str(session)) if live else None
            _merge_session(tail, anonymous if anonymous is not None else self._replay(str(session), seq - 1))
        tail.changes += 1
        for item in _impressions(row):
            tail.shown = tail.shown or {}
            tail.shown[item] = tail.shown.get(item, 0) + 1
        item_id = row.get("ITEM_ID")
        if item_id is None:
            return
        tail.items.append(sys.intern(str(item_id)))
        tail.types.append(sys.intern(str(row.get("EVENT_TYPE") or "")))
        tail.times.append(float(row.get("TIMESTAMP") or 0.0))
        if len(tail.items) > 2 * MAX_EVENTS_PER_USER:  # bound memory of a very active user
            del tail.items[:MAX_EVENTS_PER_USER], tail.types[:MAX_EVENTS_PER_USER], tail.times[:MAX_EVENTS_PER_USER]

    def _mark(self, user: str) -> None:
        bit = hash(user) & (SENDER_BITS - 1)
        self._senders[bit >> 3] |= 1 << (bit & 7)

    def _marked(self, user: str) -> bool:
        bit = hash(user) & (SENDER_BITS - 1)
        return bool(self._senders[bit >> 3] & (1 << (bit & 7)))


def _merge_session(tail: _Tail, anonymous: _Tail) -> None:
    """What the session did anonymously becomes the user's, in time order (spec §10.2)."""
    if not anonymous.items:
        return
    tail.changes += 1
    merged = sorted(
        zip(tail.times + anonymous.times, tail.items + anonymous.items, tail.types + anonymous.types, strict=True),
        key=lambda event: event[0],
    )
    tail.times = [t for t, _, _ in merged]
    tail.items = [i for _, i, _ in merged]
    tail.types = [e for _, _, e in merged]
    for item, count in (anonymous.shown or {}).items():
        tail.shown = tail.shown or {}
        tail.shown[item] = tail.shown.get(item, 0) + count


def replayed_session_merges(log: pl.DataFrame) -> pl.DataFrame:
    """The merges ``observe`` made, rebuilt from the event log after a restart (spec §10.2).

    ``log``: the Interactions event log's USER_ID, ITEM_ID, TIMESTAMP, EVENT_TYPE, ``$sid`` and ``$anon`` in
    append order. For each (session, user) pair, the session's anonymous events logged before the pair's first
    identified event are returned again under the user's id — what the live merge copied into the user's tail.
    """
    log = log.with_row_index("_line")
    known = log.filter(pl.col("$sid").is_not_null() & ~pl.col("$anon").fill_null(False) & (pl.col("USER_ID") != pl.col("$sid")))
    pairs = known.group_by(["$sid", "USER_ID"]).agg(pl.col("_line").min().alias("_at")).rename({"USER_ID": "_user"})
    anonymous = log.filter(pl.col("$anon").fill_null(False))
    merged = anonymous.join(pairs, left_on="USER_ID", right_on="$sid").filter(pl.col("_line") < pl.col("_at"))
    return merged.with_columns(pl.col("_user").alias("USER_ID")).drop("_line", "_at", "_user", "$sid", "$anon")


def _impressions(row: dict[str, Any]) -> list[str]:
    shown = row.get("$impression") or row.get("IMPRESSION")
    if not shown:
        return []
    return [item for item in str(shown).split("|") if item]


def _shared_strings(values: pl.Series) -> np.ndarray:
    """The column as an object array holding one str per distinct value: a request's slice of it becomes a list
    without making a string per event (a fixed-width unicode array did: 1.3 → 0.3 µs for 50 events), and it
    weighs 8 bytes per event."""
    distinct = values.unique(maintain_order=True)
    codes = values.cast(pl.Enum(distinct)).to_physical().to_numpy()
    return np.asarray(distinct.to_list(), dtype=object)[codes]


def _context_popularity(frame: pl.DataFrame) -> dict[tuple[str, str], dict[str, int]]:
    """(column, value) → item → distinct users, for the Interactions' contextual string columns.

    Serves a user with no history from what is popular in the caller's context (e.g. DEVICE=mobile).
    """
    out: dict[tuple[str, str], dict[str, int]] = {}
    columns = [c for c, t in frame.schema.items() if c not in CONTEXT_COLUMNS_SKIPPED and c != "_order" and t == pl.String]
    columns = [c for c in columns if c != "EVENT_TYPE"]
    for column in columns:
        counts = (
            frame.filter(pl.col(column).is_not_null())
            .group_by([column, "ITEM_ID"])
            .agg(pl.col("USER_ID").n_unique().alias("n"))
        )
        for value, item, n in counts.iter_rows():
            out.setdefault((column, str(value)), {})[str(item)] = int(n)
    return out


# ---- the PutEvents hook (called by control/events.py) ---------------------------------------------------------

Recalled = Callable[[str], "tuple[str, tuple[str, ...]] | None"]  # recommendationId → (source ARN, item ids shown)


def annotate_events(events: list[dict[str, Any]], rows: list[dict[str, Any]], columns: set[str], recalled: Recalled) -> None:
    """Before the durable append: implicit impressions and attribution from a ``recommendationId`` (spec §10.1).

    Explicit ``impression`` wins. The shown items are kept under ``$impression`` for serving in any case, and
    written to the IMPRESSION / EVENT_ATTRIBUTION_SOURCE columns when the schema has them.
    """
    for event, row in zip(events, rows, strict=True):
        shown = list(event.get("impression") or [])
        source = None
        rid = event.get("recommendationId")
        if rid is not None:
            found = recalled(rid)
            if found is not None:
                source = found[0]
                shown = shown or list(found[1])
        if not shown:
            continue
        row["$impression"] = "|".join(shown)
        if "IMPRESSION" in columns and row.get("IMPRESSION") is None:
            row["IMPRESSION"] = _joined_within(shown, 1000)
        if source is not None and "EVENT_ATTRIBUTION_SOURCE" in columns and row.get("EVENT_ATTRIBUTION_SOURCE") is None:
            row["EVENT_ATTRIBUTION_SOURCE"] = source


def _joined_within(items: list[str], limit: int) -> str:
    """Items joined with '|' — as many whole ids as fit the column's 1000 characters."""
    out: list[str] = []
    size = 0
    for item in items:
        size += len(item) + (1 if out else 0)
        if size > limit:
            break
        out.append(item)
    return "|".join(out)
