"""Item attributes for Item-Attribute-Affinity: an index from ``(column, value)`` to items, and the
``itemAttributes`` expression language of batch segment jobs (spec §8.2).

An expression is one or more ``ITEMS.<column> = <value>`` terms joined by ``AND``; the value is a double-quoted
string or a number. A categorical cell holds several values separated by ``|`` (spec §4.4), and an item has an
attribute when any of its values equals the term's. The index keeps only plain arrays so that it is saved with
the model like any other learned state (``allow_pickle=False``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import polars as pl

from ._data import ITEM_ID, lookup_sorted

RESERVED_ITEM_COLUMNS = frozenset({ITEM_ID, "CREATION_TIMESTAMP"})
SEPARATOR = "\x1f"  # joins column and value in a key; never present in CSV cells
MULTI_VALUE = "|"  # categorical multi-value separator (spec §4.4)
MAX_EXPRESSION_LENGTH = 2500  # a generous bound: the docs show a handful of terms per line

# One term, in stages, so an error names the first character that does not fit and what was expected there.
_STAGES = (
    (re.compile(r"\s*ITEMS\s*\.\s*", re.IGNORECASE), "ITEMS.<column>"),
    (re.compile(r"(?P<column>[A-Za-z_][A-Za-z0-9_]*)"), "a column name after ITEMS."),
    (re.compile(r"\s*=\s*"), "'=' (only '=' comparisons joined by AND are supported)"),
    (re.compile(r'"(?P<quoted>(?:[^"\\]|\\.)*)"|(?P<number>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*'),
     'a double-quoted string or a number'),
)
_AND = re.compile(r"AND\b", re.IGNORECASE)


class AttributeExpressionError(ValueError):
    """An ``itemAttributes`` expression that cannot be parsed or matches nothing (a user-facing message)."""


@dataclass(frozen=True)
class Term:
    column: str  # as written in the expression; matched case-insensitively
    value: str  # the unquoted string, or the number as written


def parse_expression(expression: str) -> list[Term]:
    """``ITEMS.GENRES = "Comedy" AND ITEMS.YEAR = 1999`` → terms; raises AttributeExpressionError."""
    if not expression.strip():
        raise AttributeExpressionError("The itemAttributes expression is empty; expected ITEMS.<column> = \"value\".")
    if len(expression) > MAX_EXPRESSION_LENGTH:
        raise AttributeExpressionError(
            f"The itemAttributes expression has {len(expression)} characters; at most {MAX_EXPRESSION_LENGTH} are allowed."
        )
    terms, position = [], 0
    while True:
        found: dict[str, str | None] = {}
        for pattern, expected in _STAGES:
            match = pattern.match(expression, position)
            if match is None:
                raise AttributeExpressionError(
                    f"Invalid itemAttributes expression {expression!r} at character {position + 1}: expected "
                    f"{expected}; the form is ITEMS.<column> = \"value\" [AND ...]."
                )
            found.update(match.groupdict())
            position = match.end()
        quoted = found.get("quoted")
        value = re.sub(r"\\(.)", r"\1", quoted) if quoted is not None else str(found["number"])
        terms.append(Term(str(found["column"]), value))
        position += len(expression[position:]) - len(expression[position:].lstrip())
        if position == len(expression):
            return terms
        joiner = _AND.match(expression, position)
        if joiner is None:
            raise AttributeExpressionError(
                f"Invalid itemAttributes expression {expression!r} at character {position + 1}: expected AND "
                f"between terms, found {expression[position:position + 10]!r}."
            )
        position = joiner.end()


def canonical_number(text: str) -> str:
    """One spelling per number, so ``5``, ``5.0`` and ``"5"`` all match a numeric cell holding 5."""
    number = float(text)
    return str(int(number)) if number.is_integer() and abs(number) < 2**63 else repr(number)


@dataclass(frozen=True)
class AttributeIndex:
    """Sorted ``column<US>value`` keys and, per key, the catalogue indices of the items having it (CSR)."""

    columns: np.ndarray  # str, attribute column names as in the dataset
    numeric: np.ndarray  # bool, aligned with ``columns``
    keys: np.ndarray  # str, sorted
    indptr: np.ndarray  # int64, len(keys) + 1
    items: np.ndarray  # int64 item indices

    @classmethod
    def build(cls, items: pl.DataFrame | None) -> AttributeIndex:
        """From an Items frame aligned with the catalogue (row i = item i); reserved columns are skipped."""
        columns = [] if items is None else [c for c in items.columns if c.upper() not in RESERVED_ITEM_COLUMNS]
        keys: list[np.ndarray] = []
        owners: list[np.ndarray] = []
        numeric = []
        for name in columns:
            column_keys, column_items, is_numeric = _column_pairs(items[name], name) if items is not None else ([], [], False)
            keys.append(column_keys)
            owners.append(column_items)
            numeric.append(is_numeric)
        all_keys = np.concatenate(keys) if keys else np.zeros(0, dtype=str)
        all_items = np.concatenate(owners) if owners else np.zeros(0, dtype=np.int64)
        order = np.lexsort((all_items, all_keys))
        all_keys, all_items = all_keys[order], all_items[order]
        unique, starts = np.unique(all_keys, return_index=True)
        indptr = np.append(starts, len(all_keys)).astype(np.int64)
        return cls(np.asarray(columns, dtype=str), np.asarray(numeric, dtype=bool), unique.astype(str), indptr,
                   all_items.astype(np.int64))

    def items_of(self, key: str) -> np.ndarray:
        pos = lookup_sorted(self.keys, np.asarray([key]))[0]
        return np.zeros(0, np.int64) if pos < 0 else self.items[self.indptr[pos] : self.indptr[pos + 1]]

    def key_of(self, term: Term) -> str:
        """The index key of a term; the column is matched case-insensitively (raises for unknown columns)."""
        upper = np.char.upper(self.columns.astype(str))
        found = np.flatnonzero(upper == term.column.upper())
        if len(found) == 0:
            known = ", ".join(f"ITEMS.{c}" for c in self.columns) or "none"
            raise AttributeExpressionError(
                f"ITEMS.{term.column} is not an attribute column of the Items data this model was trained on; "
                f"attribute columns: {known}."
            )
        column = str(self.columns[found[0]])
        value = term.value
        if self.numeric[found[0]]:
            try:
                value = canonical_number(value)
            except ValueError:
                raise AttributeExpressionError(
                    f"ITEMS.{column} is numeric but the expression compares it with {term.value!r}."
                ) from None
        return column + SEPARATOR + value

    def matching_items(self, expression: str) -> np.ndarray:
        """Item indices having every attribute of ``expression`` (AND); raises if none does."""
        matched: np.ndarray | None = None
        for term in parse_expression(expression):
            items = self.items_of(self.key_of(term))
            matched = items if matched is None else np.intersect1d(matched, items)
        assert matched is not None  # parse_expression returns at least one term
        if len(matched) == 0:
            raise AttributeExpressionError(
                f"No item in the training data has all the attributes of {expression!r}."
            )
        return matched

    def expression_of(self, key: str) -> str:
        """The single-term expression for an index key (used to build evaluation queries)."""
        column, _, value = key.partition(SEPARATOR)
        escaped = value.replace("\\", "\\\\").replace('"', '\\"')
        return f'ITEMS.{column} = "{escaped}"'

    def arrays(self, prefix: str) -> dict[str, np.ndarray]:
        return {f"{prefix}{name}_": getattr(self, name) for name in ("columns", "numeric", "keys", "indptr", "items")}

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], prefix: str) -> AttributeIndex:
        return cls(*(arrays[f"{prefix}{name}_"] for name in ("columns", "numeric", "keys", "indptr", "items")))


def _column_pairs(values: pl.Series, name: str) -> tuple[np.ndarray, np.ndarray, bool]:
    """(keys, item indices) of one column: numbers in canonical form, strings split on ``|``; nulls skipped."""
    present = values.is_not_null().to_numpy()
    rows = np.flatnonzero(present).astype(np.int64)
    kept = values.filter(pl.Series(present))
    if kept.dtype.is_numeric():
        texts = np.asarray([canonical_number(str(v)) for v in kept.cast(pl.Float64).to_list()], dtype=str)
        return np.char.add(name + SEPARATOR, texts) if len(texts) else np.zeros(0, str), rows, True
    parts = kept.cast(pl.String).str.split(MULTI_VALUE)
    lengths = parts.list.len().to_numpy()
    flat = parts.explode().str.strip_chars().to_numpy().astype(str)
    owners = np.repeat(rows, lengths)
    keep = flat != ""
    keys = np.char.add(name + SEPARATOR, flat[keep]) if keep.any() else np.zeros(0, str)
    return keys, owners[keep], False
