"""Values a filter compares: request ``filterValues`` (spec §7.2) and encoded column values.

``filterValues`` arrive as strings per placeholder: a comma-separated list of JSON string literals
(``"\\"comedy\\",\\"drama\\""``) or a single number, quoted or not (``"25"``, ``"\\"25\\""``).

:class:`Column` is the one encoding every condition is evaluated on — a catalogue column of a million
candidates, a user's history or a single user record — so ``IN`` / ``NOT IN`` / comparisons mean the same
thing everywhere: a multi-valued categorical value (``a|b|c``) matches ``IN`` when any of its values is in the
set and ``NOT IN`` when none is; a null or missing value satisfies nothing, not even ``NOT IN`` or ``!=``
(spec §7.2 impl. choices).
"""

from __future__ import annotations

import itertools
import math
import re
import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import orjson
import polars as pl

from ..errors import InvalidInputException

# Runtime shapes (spec §1.6, §7.3): FilterAttributeName [A-Za-z0-9_]{1,50}, value ≤1000 chars, ≤25 entries.
# The API layer checks them for runtime calls; batch input lines reach us unchecked, so check here too.
NAME = re.compile(r"[A-Za-z0-9_]{1,50}")
MAX_VALUE_CHARS = 1000
MAX_VALUES = 25
INTERACTIONS_WINDOW = 100  # spec §7.3: interactions per user per event type a filter considers
CACHE_BYTES = 64 << 20  # cached masks per catalogue; one byte per candidate per mask
SEPARATOR = "|"  # multi-valued categorical fields (spec §4.1)
_EXAMPLE = '"\\"comedy\\",\\"drama\\""'


def parse_filter_values(values: Mapping[str, str]) -> dict[str, list[str]]:
    """``{"GENRE": "\\"a\\",\\"b\\"", "AGE": "25"}`` → ``{"GENRE": ["a", "b"], "AGE": ["25"]}``.

    A malformed entry raises InvalidInputException naming its key.
    """
    if len(values) > MAX_VALUES:
        raise InvalidInputException(f"filterValues has {len(values)} entries; at most {MAX_VALUES} are allowed.")
    return {name: parse_filter_value(name, text) for name, text in values.items()}


def parse_filter_value(name: str, text: str) -> list[str]:
    """One ``filterValues`` entry → its list of values (see :func:`parse_filter_values`)."""
    if not isinstance(name, str) or not NAME.fullmatch(name):
        raise InvalidInputException(
            f"Invalid filterValues key {name!r}: a placeholder name has 1-50 characters from [A-Za-z0-9_]."
        )
    if not isinstance(text, str) or len(text) > MAX_VALUE_CHARS:
        raise InvalidInputException(
            f"Invalid filter value for {name}: expected a string of at most {MAX_VALUE_CHARS} characters."
        )
    parsed = _parse(text)
    if isinstance(parsed, str):
        raise InvalidInputException(
            f"Invalid filter value for {name}: {text!r} {parsed}. Expected a comma-separated list of "
            f"double-quoted strings such as {_EXAMPLE}, or a single number such as \"25\"."
        )
    return list(parsed)


@lru_cache(maxsize=4096)
def _parse(text: str) -> tuple[str, ...] | str:
    """The values, or a string saying what is wrong. Cached: repeated requests repeat their values."""
    stripped = text.strip()
    if not stripped:
        return "is empty"
    try:
        # The encoding is exactly the inside of a JSON array of strings (or of one number).
        items = orjson.loads(f"[{stripped}]")
    except orjson.JSONDecodeError:
        return "is not valid"
    if len(items) == 1 and isinstance(items[0], (int, float)) and not isinstance(items[0], bool):
        return (stripped,)
    if all(isinstance(item, str) for item in items):
        return tuple(items)
    return "mixes numbers with strings or holds several unquoted values"


def number_text(value: float) -> str:
    """How a number literal of an expression reads as a string value: ``5.0`` → ``"5"``, ``1.5`` → ``"1.5"``."""
    return str(int(value)) if value.is_integer() else repr(value)


def to_number(text: str) -> float | None:
    """A finite number, or None when the text is not one."""
    try:
        number = float(text)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def placeholder_numbers(name: str, items: Iterable[str], where: str) -> list[float]:
    """Placeholder values used against a numeric column; a non-number names the parameter."""
    numbers = []
    for item in items:
        number = to_number(item)
        if number is None:
            raise InvalidInputException(
                f"Invalid filter value for {name}: {item!r} is not a number, but {where} compares a numeric field."
            )
        numbers.append(number)
    return numbers


def split_value(value: Any, categorical: bool) -> list[str]:
    """A record's value → the strings it holds (``a|b`` → ``[a, b]`` for categorical fields)."""
    text = _text(value)
    if text is None:
        return []
    if not categorical:
        return [text]
    return [part for part in text.split(SEPARATOR) if part]


# ---- encoded columns ----------------------------------------------------------------------------------------

_COMPARE = {
    "=": np.equal,
    "!=": np.not_equal,
    "<": np.less,
    "<=": np.less_equal,
    ">": np.greater,
    ">=": np.greater_equal,
}


@dataclass(frozen=True)
class Column:
    """One field over ``size`` rows, encoded for vectorised tests.

    Numeric: ``numbers`` (float64, NaN = null). Strings: a vocabulary with one code per row (``row_codes``)
    or, for multi-valued categorical fields, (row, code) pairs; small inputs keep their ``texts`` and test
    them against a set. ``casefold`` lower-cases both the data and the tested values (event types match
    ignoring case, spec §7.2).
    """

    size: int
    numbers: np.ndarray | None = None
    vocabulary: Mapping[str, int] | None = None
    pair_rows: np.ndarray | None = None
    pair_codes: np.ndarray | None = None
    row_codes: np.ndarray | None = None  # set when every row has at most one value (code len(vocabulary) = null)
    texts: list[str | None] | None = None  # small single-valued inputs: the strings themselves, set-tested
    casefold: bool = False

    def present(self) -> np.ndarray:
        """Rows with a (non-null) value."""
        if self.numbers is not None:
            return ~np.isnan(self.numbers)
        if self.texts is not None:
            return np.array([t is not None for t in self.texts], dtype=bool)
        if self.row_codes is not None:
            return self.row_codes < len(self.vocabulary or ())
        mask = np.zeros(self.size, dtype=bool)
        mask[self.pair_rows] = True
        return mask

    def isin(self, values: Sequence[str] | Sequence[float]) -> np.ndarray:
        """Rows holding any of ``values`` (strings for string columns, numbers for numeric ones)."""
        if self.numbers is not None:
            return np.isin(self.numbers, np.asarray(values, dtype=np.float64))
        if self.texts is not None:
            wanted = set(texts_of(values, self.casefold))
            return np.fromiter(map(wanted.__contains__, self.texts), dtype=bool, count=self.size)
        vocabulary = self.vocabulary or {}
        hit = np.zeros(len(vocabulary) + 1, dtype=bool)  # the extra slot is the null code
        for value in values:
            code = vocabulary.get(str(value).lower() if self.casefold else str(value))
            if code is not None:
                hit[code] = True
        if self.row_codes is not None:
            return hit[self.row_codes]
        mask = np.zeros(self.size, dtype=bool)
        mask[self.pair_rows[hit[self.pair_codes]]] = True
        return mask

    def not_in(self, values: Sequence[str] | Sequence[float]) -> np.ndarray:
        """Rows with a value, none of whose values is in ``values``."""
        return self.present() & ~self.isin(values)

    def compare(self, op: str, number: float) -> np.ndarray:
        """``numbers <op> number``; null rows are False for every operator, ``!=`` included."""
        if self.numbers is None:
            raise TypeError("compare needs a numeric column")
        with np.errstate(invalid="ignore"):
            result: np.ndarray = _COMPARE[op](self.numbers, number)
        if op == "!=":
            result &= ~np.isnan(self.numbers)
        return result

    # -- constructors ---------------------------------------------------------------------------------------

    @classmethod
    def from_series(cls, series: pl.Series, *, numeric: bool, categorical: bool, casefold: bool = False) -> Column:
        """Encode a catalogue-sized column with polars (no Python loop over rows)."""
        size = series.len()
        if numeric:
            numbers = series.cast(pl.Float64, strict=False).to_numpy().astype(np.float64)  # null → NaN
            return cls(size, numbers=numbers)
        strings = series.cast(pl.String, strict=False)
        if casefold:
            strings = strings.str.to_lowercase()
        if categorical and bool(strings.str.contains(SEPARATOR, literal=True).any()):
            return cls._multi_valued(strings, size, casefold)
        vocabulary, codes = _codes(strings)
        row_codes = codes.fill_null(len(vocabulary)).to_numpy().astype(np.int64)
        return cls(size, vocabulary=vocabulary, row_codes=row_codes, casefold=casefold)

    @classmethod
    def _multi_valued(cls, strings: pl.Series, size: int, casefold: bool) -> Column:
        pairs = (
            pl.DataFrame({"row": np.arange(size, dtype=np.int64), "v": strings.str.split(SEPARATOR)})
            .explode("v")
            .filter(pl.col("v").is_not_null() & (pl.col("v") != ""))
        )
        vocabulary, codes = _codes(pairs["v"])
        return cls(
            size,
            vocabulary=vocabulary,
            pair_rows=pairs["row"].to_numpy(),
            pair_codes=codes.to_numpy().astype(np.int64),
            casefold=casefold,
        )

    @classmethod
    def from_values(cls, values: Sequence[Any], *, numeric: bool, categorical: bool, casefold: bool = False) -> Column:
        """Encode a few values (a user's history, one record). Python comprehensions over ~100 values beat
        numpy's per-call overhead on strings by ~4× (measured); catalogues use from_series instead."""
        size = len(values)
        if numeric:
            numbers = np.fromiter((_number_or_nan(v) for v in values), dtype=np.float64, count=size)
            return cls(size, numbers=numbers)
        texts = texts_of(values, casefold)
        if categorical and any(SEPARATOR in t for t in texts if t is not None):
            return cls._pairs(texts, size, casefold)
        return cls(size, texts=texts, casefold=casefold)

    @classmethod
    def missing(cls, size: int, *, numeric: bool) -> Column:
        """``size`` rows without a value (no dataset, or a column the frame lacks)."""
        if numeric:
            return cls(size, numbers=np.full(size, np.nan))
        return cls(size, vocabulary={}, row_codes=np.zeros(size, dtype=np.int64))  # code 0 = null here

    @classmethod
    def _pairs(cls, texts: list[str | None], size: int, casefold: bool) -> Column:
        vocabulary: dict[str, int] = {}
        rows: list[int] = []
        codes: list[int] = []
        for row, text in enumerate(texts):
            for part in split_value(text, True):
                rows.append(row)
                codes.append(vocabulary.setdefault(part, len(vocabulary)))
        return cls(
            size,
            vocabulary=vocabulary,
            pair_rows=np.asarray(rows, dtype=np.int64),
            pair_codes=np.asarray(codes, dtype=np.int64),
            casefold=casefold,
        )


def _codes(strings: pl.Series) -> tuple[dict[str, int], pl.Series]:
    """Dense codes 0..V-1 per string (null stays null) and the vocabulary string → code."""
    distinct = strings.drop_nulls().unique(maintain_order=True)
    codes = strings.cast(pl.Enum(distinct)).to_physical()  # an Enum's physical codes index its categories
    return dict(zip(distinct.to_list(), range(distinct.len()), strict=True)), codes


def texts_of(values: Sequence[Any], casefold: bool) -> list[str | None]:
    """Values as the strings filters match (None stays None), lower-cased for event types."""
    try:
        # C-speed map when every value is a str (the usual case); str.__str__ rejects None and numbers.
        return list(map(str.lower if casefold else str.__str__, values))
    except TypeError:
        texts = [_text(v) for v in values]
        return [t.lower() if t is not None else None for t in texts] if casefold else texts


def _text(value: Any) -> str | None:
    """A value as the string filters match: numbers as written in expressions (``5.0`` → ``"5"``)."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, float) and math.isfinite(value):
        return number_text(value)
    return str(value)


def _number_or_nan(value: Any) -> float:
    if value is None or isinstance(value, bool):
        return math.nan
    number = to_number(value)
    return math.nan if number is None else number


# ---- the catalogue (encoded dataset columns in candidate order) --------------------------------------------------------------------------------------------


class Table:
    """Candidates of one kind (ids in model order) and their dataset rows, encoded lazily per column."""

    def __init__(self, ids: np.ndarray, frame: pl.DataFrame | None, id_column: str, *, aligned: bool = False) -> None:
        self.ids = ids
        self.size = len(ids)
        self.frame = frame
        self.id_column = id_column
        self.frame_is_aligned = aligned  # row i of the frame is candidate i (a population of interactions)
        self._rows: np.ndarray | None = None
        self._index: dict[Any, int] | None = None
        self._columns: dict[tuple[str, bool, bool, bool], Column] = {}
        self._lock = threading.Lock()

    def rows(self) -> np.ndarray:
        """Frame row of each candidate (-1: no record); the last row of a repeated id wins (newest record)."""
        if self._rows is None:
            rows = np.full(self.size, -1, dtype=np.int64)
            if self.frame is not None and self.frame.height and self.size:
                left = pl.Series("id", self.ids).cast(pl.String).to_frame().with_row_index("pos")
                right = self.frame[self.id_column].cast(pl.String).rename("id").to_frame().with_row_index("row")
                pairs = left.join(right, on="id", how="inner")
                np.maximum.at(rows, pairs["pos"].to_numpy(), pairs["row"].to_numpy().astype(np.int64))
            self._rows = rows
        return self._rows

    def column(self, name: str, *, numeric: bool, categorical: bool, casefold: bool = False) -> Column:
        key = (name, numeric, categorical, casefold)
        column = self._columns.get(key)
        if column is None:
            with self._lock:  # one encoding per column even when requests race for it
                column = self._columns.get(key)
                if column is None:
                    column = self._encode(name, numeric=numeric, categorical=categorical, casefold=casefold)
                    self._columns[key] = column
        return column

    def _encode(self, name: str, *, numeric: bool, categorical: bool, casefold: bool) -> Column:
        if self.frame is None or not self.frame.height or name not in self.frame.columns:
            return Column.missing(self.size, numeric=numeric)  # no dataset (yet): every value is missing
        return Column.from_series(self.aligned(name), numeric=numeric, categorical=categorical, casefold=casefold)

    def aligned(self, name: str) -> pl.Series:
        """The frame's column in candidate order; null for candidates without a record."""
        assert self.frame is not None
        if self.frame_is_aligned:
            return self.frame[name]
        rows = self.rows()
        present = rows >= 0
        gathered = self.frame[name].gather(np.where(present, rows, 0))
        return pl.DataFrame({"v": gathered, "ok": present}).select(pl.when("ok").then("v")).to_series()

    def index(self) -> dict[Any, int]:
        if self._index is None:
            self._index = dict(zip(self.ids.tolist(), range(self.size), strict=True))
        return self._index

    def positions(self, ids: Sequence[Any]) -> np.ndarray:
        """Candidate positions of ``ids`` (unknown ids dropped). Loops over the given ids, never the catalogue."""
        found = list(map(self.index().get, ids, itertools.repeat(-1)))
        positions = np.array(found, dtype=np.int64)
        return positions[positions >= 0]

    def record(self, candidate_id: Any) -> dict[str, Any] | None:
        """The dataset record of one candidate, or None."""
        position = self.index().get(candidate_id)
        if position is None or self.frame is None:
            return None
        row = int(self.rows()[position])
        return self.frame.row(row, named=True) if row >= 0 else None


class _Population:
    """Every user's interactions (for UserID targets), windowed per user and event type, and each row's user."""

    def __init__(self, frame: pl.DataFrame, users: Table) -> None:
        window = INTERACTIONS_WINDOW
        if "EVENT_TYPE" in frame.columns:
            kind = pl.col("EVENT_TYPE").cast(pl.String).str.to_lowercase().fill_null("")
        else:
            kind = pl.lit("")
        newest = pl.int_range(pl.len()).reverse().over(["USER_ID", kind])  # 0 = the user's newest of that type
        ordered = frame.sort("TIMESTAMP", maintain_order=True) if "TIMESTAMP" in frame.columns else frame
        self.frame = ordered.filter(newest < window)
        positions = pl.Series("id", users.ids).cast(pl.String).to_frame().with_row_index("pos")
        joined = self.frame.select(pl.col("USER_ID").cast(pl.String).alias("id")).join(
            positions, on="id", how="left", maintain_order="left"
        )
        self.user_positions = joined["pos"].fill_null(-1).to_numpy().astype(np.int64)
        self.table = Table(np.arange(self.frame.height), self.frame, "USER_ID", aligned=True)


class FilterCatalog:
    """The metadata filters test, aligned with the model's candidate order, plus the per-catalogue mask cache."""

    def __init__(self, tables: dict[str, Table], population: pl.DataFrame | None) -> None:
        self.tables = tables
        self._population_frame = population
        self._population: _Population | None = None
        self._cache: OrderedDict[Any, tuple[np.ndarray | None, np.ndarray | None, np.ndarray]] = OrderedDict()
        self._cache_lock = threading.Lock()
        self._population_lock = threading.Lock()

    @classmethod
    def build(
        cls,
        item_ids: np.ndarray,
        items: pl.DataFrame | None = None,
        users: pl.DataFrame | None = None,
        actions: pl.DataFrame | None = None,
        action_ids: np.ndarray | None = None,
        *,
        user_ids: np.ndarray | None = None,
        interactions: pl.DataFrame | None = None,
    ) -> FilterCatalog:
        """Candidates in model order with their dataset frames. Cheap: columns are encoded on first use.

        ``user_ids`` (default: the Users frame's ids) are the candidates of UserID filters;
        ``interactions`` (all users' interactions) serves their Interactions conditions (batch segments).
        """
        if user_ids is None:
            source = users if users is not None else interactions
            user_ids = (
                source["USER_ID"].unique(maintain_order=True).to_numpy() if source is not None else np.array([], dtype=object)
            )
        tables = {
            "ItemID": Table(np.asarray(item_ids), items, "ITEM_ID"),
            "UserID": Table(np.asarray(user_ids), users, "USER_ID"),
            "ActionID": Table(np.asarray(action_ids if action_ids is not None else []), actions, "ACTION_ID"),
        }
        return cls(tables, interactions)

    def size(self, target: str) -> int:
        return self.tables[target].size

    def item_record(self, item_id: str) -> dict[str, Any] | None:
        """The Items record of ``item_id`` (the ``current_item`` of a related-items request), or None."""
        return self.tables["ItemID"].record(item_id)

    def population(self) -> _Population:
        if self._population is None:
            with self._population_lock:
                if self._population is None:
                    frame = self._population_frame
                    if frame is None:
                        frame = pl.DataFrame({"USER_ID": [], "ITEM_ID": []}, schema={"USER_ID": pl.String, "ITEM_ID": pl.String})
                    self._population = _Population(frame, self.tables["UserID"])
        return self._population

    def cached(self, key: Any) -> tuple[np.ndarray | None, np.ndarray | None, np.ndarray] | None:
        with self._cache_lock:
            entry = self._cache.get(key)
            if entry is not None:
                self._cache.move_to_end(key)
            return entry

    def store(self, key: Any, entry: tuple[np.ndarray | None, np.ndarray | None, np.ndarray], size: int) -> None:
        for mask in entry:
            if mask is not None:
                mask.flags.writeable = False
        capacity = max(8, min(1024, CACHE_BYTES // max(size, 1)))
        with self._cache_lock:
            self._cache[key] = entry
            while len(self._cache) > capacity:
                self._cache.popitem(last=False)
