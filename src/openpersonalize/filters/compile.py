"""Compile parsed filter expressions (filters/parse.py) to boolean masks over a model's candidates (spec §7.2).

Contract with serving: ``compile_filter(expr, schemas)`` once per filter; ``FilterCatalog.build(...)`` once per
loaded model (rebuilt when item/user data changes); then per request
``compiled.item_mask(catalog, user_id=..., history=..., user_record=..., current_item=..., values=...)``
(``user_mask`` / ``action_mask`` likewise) → a bool array aligned with the catalogue, True = may be returned.
Masks served from the cache are read-only: copy before changing one.

Semantics (spec §7.2), with the choices this module makes:

- Result = (union of the applied INCLUDE expressions, or every candidate when none applies) minus (union of
  the applied EXCLUDE expressions). An EXCLUDE expression missing a placeholder value is skipped; an INCLUDE
  one is an InvalidInputException naming the placeholder. An ``IF CurrentUser...`` clause that is false, or a
  user without a Users record, skips its expression (as if it were not written).
- ``AND`` binds tighter than ``OR``, as in SQL, whose keywords (WHERE, IN, NOT IN) the language borrows: ``A OR
  B AND C`` is ``A OR (B AND C)``. AWS documents no precedence and no parentheses for conditions; SQL's rule is
  what a reader of the expression expects, and left-to-right would silently differ from it.
- Metadata conditions test the candidate's record; a candidate without one, or with a null value, satisfies no
  condition (not ``NOT IN``, not ``!=`` either). Multi-valued categorical values (``a|b``): ``IN`` if any
  value is listed, ``NOT IN`` if none is. String matching is exact, except event types (case ignored).
- Interactions conditions (target ItemID; Action_Interactions for ActionID) look at the requesting user's
  history, newest last, keeping the 100 (actions: 300) most recent events per event type. Conditions of one
  expression must hold for the same event (``EVENT_TYPE IN ("click") AND DEVICE IN ("mobile")`` = clicked on
  mobile); the expression matches the items of those events. For target UserID they match the users whose
  own (windowed) interactions satisfy them, from the catalogue's interactions table.
- ``CurrentItem.<f>`` is the related-items request's item record; without a current item (not a related-items
  request) the filter is an InvalidInputException. A current item without that value satisfies nothing.

Masks of expressions that do not read the user's history depend only on the catalogue and the request's
values, so they are cached per catalogue (LRU, bounded by bytes): a repeated request is a key and a lookup.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import InvalidInputException
from ..data.schema import Field, Schema
from .parse import DATASET_TYPES, Condition, Expression, FilterExpression
from .values import (
    INTERACTIONS_WINDOW,
    Column,
    FilterCatalog,
    number_text,
    parse_filter_values,
    placeholder_numbers,
    split_value,
    texts_of,
    to_number,
)
from .values import Table

__all__ = ["CompiledFilter", "FilterCatalog", "UserEvents", "compile_filter", "parse_filter_values", "recent_events"]

HISTORY_WINDOW = {"Interactions": INTERACTIONS_WINDOW, "Action_Interactions": 300}  # spec §7.3: per event type
CANDIDATE_DATASET = {"ItemID": "Items", "UserID": "Users", "ActionID": "Actions"}
HISTORY_DATASET = {"ItemID": "Interactions", "ActionID": "Action_Interactions"}
_tokens = itertools.count()


@dataclass(frozen=True)
class UserEvents:
    """The requesting user's interactions, oldest first: ``item_ids`` (action ids for action filters),
    ``event_types``, and any other Interactions columns by schema name."""

    item_ids: Sequence[Any] | np.ndarray
    event_types: Sequence[Any] | np.ndarray
    columns: Mapping[str, Sequence[Any] | np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        lengths = {len(self.item_ids), len(self.event_types), *(len(v) for v in self.columns.values())}
        if len(lengths) > 1:
            raise ValueError(f"UserEvents columns must have equal lengths; got {sorted(lengths)}")

    def __len__(self) -> int:
        return len(self.item_ids)

    def column(self, name: str) -> Sequence[Any] | np.ndarray | None:
        """A column by schema name (any case); EVENT_TYPE and ITEM_ID/ACTION_ID are the dedicated arrays."""
        upper = name.upper()
        if upper == "EVENT_TYPE":
            return self.event_types
        if upper in ("ITEM_ID", "ACTION_ID"):
            return self.item_ids
        return next((v for k, v in self.columns.items() if k.upper() == upper), None)


def recent_events(event_types: Sequence[Any] | np.ndarray, limit: int) -> np.ndarray | None:
    """Indices (ascending) of the ``limit`` newest events of each event type, case ignored; None = all."""
    count = len(event_types)
    if count <= limit:  # no type can have more than `limit` events
        return None
    listed = event_types.tolist() if isinstance(event_types, np.ndarray) else list(event_types)
    # Newest first, one integer code per event type (case ignored; events without a type share a code).
    lowered = texts_of(listed[::-1], casefold=True)
    codes = {text: code for code, text in enumerate(dict.fromkeys(lowered))}
    newest_first = np.array(list(map(codes.__getitem__, lowered)), dtype=np.int64)
    order = np.argsort(newest_first, kind="stable")
    groups = newest_first[order]
    rank = np.arange(count) - np.searchsorted(groups, groups, side="left")
    return np.sort(count - 1 - order[rank < limit])


# ---- compiled expressions -------------------------------------------------------------------------------------

CANDIDATE, HISTORY, POPULATION, USER = "candidate", "history", "population", "user"
NUMERIC = ("int", "long", "float", "double")
NOUNS = {"ItemID": "items", "UserID": "users", "ActionID": "actions"}


@dataclass(frozen=True)
class _Ref:
    """A ``CurrentItem.<field>`` operand, resolved against the Items schema."""

    column: str
    numeric: bool
    categorical: bool


@dataclass(frozen=True)
class _Cond:
    source: str  # CANDIDATE metadata, the requesting user's HISTORY, every user's (POPULATION), the USER record
    column: str  # exact schema name
    numeric: bool
    categorical: bool
    casefold: bool
    op: str
    literals: tuple[Any, ...]  # numbers for numeric columns, strings otherwise
    placeholders: tuple[str, ...]
    current_item: _Ref | None
    wildcard: bool
    text: str  # for messages


@dataclass(frozen=True)
class _Expr:
    include: bool
    source: str
    groups: tuple[tuple[_Cond, ...], ...]  # OR of AND-groups (AND binds tighter)
    user_conditions: tuple[_Cond, ...]
    placeholders: tuple[str, ...]
    current_fields: tuple[str, ...]  # upper-case CurrentItem columns it reads
    window: int
    text: str

    def key(self, request: _Request) -> tuple[Any, ...]:
        """What the expression's mask depends on besides the catalogue (the cache key)."""
        current = request.current_item or {}
        return (
            *(request.raw.get(name) for name in self.placeholders),
            *(_hashable(current.get(name)) for name in self.current_fields),
        )


@dataclass(frozen=True)
class _Request:
    raw: Mapping[str, str]
    values: dict[str, list[str]]
    current_item: dict[str, Any] | None  # keys upper-cased (fields match case-insensitively)
    user_record: dict[str, Any] | None


Entry = tuple[np.ndarray | None, np.ndarray | None, np.ndarray]  # include union, exclude union, result


class CompiledFilter:
    """A filter ready to produce masks; build with :func:`compile_filter`."""

    def __init__(self, target: str, expressions: tuple[_Expr, ...]) -> None:
        self.target = target
        self.expressions = expressions
        self.uses_current_item = any(e.current_fields for e in expressions)
        self.uses_history = any(e.source == HISTORY for e in expressions)
        self.uses_user_record = any(e.user_conditions for e in expressions)
        self._token = next(_tokens)  # cache key part: cheaper to hash than the expression tree

    def item_mask(
        self,
        catalog: FilterCatalog,
        *,
        user_id: str | None = None,
        history: UserEvents | None = None,
        user_record: dict[str, Any] | None = None,
        current_item: dict[str, Any] | None = None,
        values: Mapping[str, str] | None = None,
    ) -> np.ndarray:
        """Which items (in catalogue order) may be recommended. ``user_id`` is the requesting user: what the
        filter reads about them comes in ``history`` (their events) and ``user_record`` (their Users row)."""
        return self._mask("ItemID", catalog, history, user_record, current_item, values or {})

    def user_mask(
        self,
        catalog: FilterCatalog,
        *,
        user_id: str | None = None,
        history: UserEvents | None = None,
        user_record: dict[str, Any] | None = None,
        current_item: dict[str, Any] | None = None,
        values: Mapping[str, str] | None = None,
    ) -> np.ndarray:
        """Which users (catalogue user order) may be in a segment (UserID filters, batch segments)."""
        return self._mask("UserID", catalog, history, user_record, current_item, values or {})

    def action_mask(
        self,
        catalog: FilterCatalog,
        *,
        user_id: str | None = None,
        history: UserEvents | None = None,
        user_record: dict[str, Any] | None = None,
        current_item: dict[str, Any] | None = None,
        values: Mapping[str, str] | None = None,
    ) -> np.ndarray:
        """Which actions may be recommended; ``history`` holds the user's action interactions."""
        return self._mask("ActionID", catalog, history, user_record, current_item, values or {})

    def _mask(
        self,
        target: str,
        catalog: FilterCatalog,
        history: UserEvents | None,
        user_record: dict[str, Any] | None,
        current_item: dict[str, Any] | None,
        values: Mapping[str, str],
    ) -> np.ndarray:
        if target != self.target:
            raise InvalidInputException(
                f"The filter selects {NOUNS[self.target]} ({self.target}); it cannot filter {NOUNS[target]}."
            )
        if self.uses_current_item and current_item is None:
            field_name = next(f for e in self.expressions for f in e.current_fields)
            raise InvalidInputException(
                f"The filter uses CurrentItem.{field_name}: filters with CurrentItem can only be applied to "
                "related-items requests (an itemId for a RELATED_ITEMS recipe or use case)."
            )
        request = _Request(values, parse_filter_values(values), _upper(current_item), _upper(user_record))
        table = catalog.tables[target]
        static: list[tuple[int, tuple[Any, ...]]] = []
        dynamic: list[_Expr] = []
        for i, expression in enumerate(self.expressions):
            if _applies(expression, request):
                if expression.source == HISTORY:
                    dynamic.append(expression)
                else:
                    static.append((i, expression.key(request)))
        key = (self._token, tuple(static))
        entry = catalog.cached(key)
        if entry is None:
            entry = _static_masks(catalog, table, [self.expressions[i] for i, _ in static], request)
            catalog.store(key, entry, table.size)
        if not dynamic:
            return entry[2]
        return _with_history(table, entry, dynamic, history, request)


def _applies(expression: _Expr, request: _Request) -> bool:
    """False when the expression is skipped: an EXCLUDE missing a value, or a false IF clause."""
    missing = [name for name in expression.placeholders if name not in request.values]
    if missing:
        if expression.include:
            raise InvalidInputException(
                f"filterValues has no value for ${missing[0]}, which the INCLUDE expression "
                f"`{expression.text}` needs."
            )
        return False
    return all(_user_condition(condition, request) for condition in expression.user_conditions)


def _user_condition(condition: _Cond, request: _Request) -> bool:
    if request.user_record is None:  # no Users record: the IF clause is false (spec §7.2 impl. choice)
        return False
    value = request.user_record.get(condition.column.upper())
    column = Column.from_values([value], numeric=condition.numeric, categorical=condition.categorical)
    return bool(_test(column, condition, request)[0])


def _static_masks(catalog: FilterCatalog, table: Table, expressions: list[_Expr], request: _Request) -> Entry:
    include: np.ndarray | None = None
    exclude: np.ndarray | None = None
    for expression in expressions:
        mask = _candidates(catalog, table, expression, request)
        if expression.include:
            include = mask if include is None else include | mask
        else:
            exclude = mask if exclude is None else exclude | mask
    result = include.copy() if include is not None else np.ones(table.size, dtype=bool)
    if exclude is not None:
        result &= ~exclude
    return include, exclude, result


def _candidates(catalog: FilterCatalog, table: Table, expression: _Expr, request: _Request) -> np.ndarray:
    """The candidates an expression matches from metadata (CANDIDATE) or every user's events (POPULATION)."""
    if expression.source == CANDIDATE:
        return _where(expression, lambda c: table.column(c.column, numeric=c.numeric, categorical=c.categorical),
                      table.size, request)
    population = catalog.population()
    rows = _where(
        expression,
        lambda c: population.table.column(c.column, numeric=c.numeric, categorical=c.categorical, casefold=c.casefold),
        population.table.size,
        request,
    )
    positions = population.user_positions[rows]
    mask = np.zeros(table.size, dtype=bool)
    mask[positions[positions >= 0]] = True
    return mask


def _with_history(table: Table, entry: Entry, dynamic: list[_Expr], history: UserEvents | None,
                  request: _Request) -> np.ndarray:
    """Combine the cached metadata masks with the items of the user's matching events (a few positions)."""
    include, exclude, result = entry
    included = [_history_positions(e, table, history, request) for e in dynamic if e.include]
    if included:
        merged = include.copy() if include is not None else np.zeros(table.size, dtype=bool)
        for positions in included:
            merged[positions] = True
        if exclude is not None:
            merged &= ~exclude
    else:
        merged = result.copy()
    for expression in dynamic:
        if not expression.include:
            merged[_history_positions(expression, table, history, request)] = False
    return merged


def _history_positions(expression: _Expr, table: Table, history: UserEvents | None, request: _Request) -> np.ndarray:
    if history is None or len(history) == 0:
        return np.empty(0, dtype=np.int64)
    keep = recent_events(history.event_types, expression.window)
    count = len(history) if keep is None else len(keep)

    def column_of(condition: _Cond) -> Column:
        raw = history.column(condition.column)
        values = [None] * count if raw is None else _subset(raw, keep)
        return Column.from_values(values, numeric=condition.numeric, categorical=condition.categorical,
                                  casefold=condition.casefold)

    events = _where(expression, column_of, count, request)
    item_ids = _subset(history.item_ids, keep)
    return table.positions(list(itertools.compress(item_ids, events.tolist())))


def _where(expression: _Expr, column_of: Callable[[_Cond], Column], size: int, request: _Request) -> np.ndarray:
    """OR over the AND-groups of the WHERE conditions, each a vectorised test over ``size`` rows."""
    result: np.ndarray | None = None
    for group in expression.groups:
        matched: np.ndarray | None = None
        for condition in group:
            tested = _test(column_of(condition), condition, request)
            matched = tested if matched is None else matched & tested
        assert matched is not None  # a group holds ≥1 condition (grammar)
        result = matched if result is None else result | matched
    return result if result is not None else np.zeros(size, dtype=bool)


def _test(column: Column, condition: _Cond, request: _Request) -> np.ndarray:
    if condition.wildcard:  # '*' = every event type (spec §7.1)
        return np.full(column.size, condition.op == "IN")
    operand = _operand(condition, request)
    if condition.op == "IN":
        return column.isin(operand)
    if condition.op == "NOT IN":
        return column.not_in(operand)
    if len(operand) > 1:
        raise InvalidInputException(
            f"Invalid filter value for {condition.placeholders[0]}: `{condition.text}` compares with one number; "
            f"got {len(operand)} values."
        )
    if not operand:  # the current item has no value for the field: nothing compares with null
        return np.zeros(column.size, dtype=bool)
    return column.compare(condition.op, float(operand[0]))


def _operand(condition: _Cond, request: _Request) -> list[Any]:
    """Literals, placeholder values and the current item's value(s), as numbers for numeric columns."""
    operand = list(condition.literals)
    for name in condition.placeholders:
        items = request.values[name]
        operand.extend(placeholder_numbers(name, items, f"`{condition.text}`") if condition.numeric else items)
    ref = condition.current_item
    if ref is not None:
        value = (request.current_item or {}).get(ref.column.upper())
        if condition.numeric:
            number = to_number(value) if value is not None and not isinstance(value, bool) else None
            operand.extend([] if number is None else [number])
        else:
            operand.extend(split_value(value, ref.categorical))
    return operand


def _subset(values: Sequence[Any] | np.ndarray, keep: np.ndarray | None) -> list[Any]:
    listed = values.tolist() if isinstance(values, np.ndarray) else list(values)
    return listed if keep is None else [listed[i] for i in keep.tolist()]


def _upper(record: Mapping[str, Any] | None) -> dict[str, Any] | None:
    return None if record is None else {str(k).upper(): v for k, v in record.items()}


def _hashable(value: Any) -> Any:
    try:
        hash(value)
    except TypeError:
        return repr(value)
    return value


# ---- compilation ----------------------------------------------------------------------------------------------


def compile_filter(expr: FilterExpression, schemas: dict[str, Schema]) -> CompiledFilter:
    """Resolve every field against the group's schemas (``datasetType`` → Schema) once, for fast masks."""
    targets = sorted({e.target for e in expr.expressions})
    if len(targets) > 1:
        raise InvalidInputException(
            f"Invalid filter: its expressions select different targets ({', '.join(targets)}); a filter "
            "selects items, users or actions."
        )
    return CompiledFilter(targets[0], tuple(_compile_expression(e, schemas) for e in expr.expressions))


def _compile_expression(expression: Expression, schemas: dict[str, Schema]) -> _Expr:
    dataset = expression.conditions[0].dataset
    source = _source(expression.target, dataset)
    conditions = [_compile_condition(c, source, schemas) for c in expression.conditions]
    groups: list[list[_Cond]] = [[conditions[0]]]
    for op, condition in zip(expression.bool_ops, conditions[1:], strict=True):
        if op == "OR":
            groups.append([condition])
        else:
            groups[-1].append(condition)
    users = tuple(_compile_condition(c, USER, schemas) for c in expression.user_conditions)
    current = sorted({c.current_item.column.upper() for c in (*conditions, *users) if c.current_item})
    return _Expr(
        include=expression.action == "INCLUDE",
        source=source,
        groups=tuple(tuple(g) for g in groups),
        user_conditions=users,
        placeholders=tuple(sorted(expression.placeholders)),
        current_fields=tuple(current),
        window=HISTORY_WINDOW.get(dataset, 0),
        text=_describe(expression),
    )


def _source(target: str, dataset: str) -> str:
    if dataset == CANDIDATE_DATASET[target]:
        return CANDIDATE
    if dataset == HISTORY_DATASET.get(target):
        return HISTORY
    if target == "UserID" and dataset == "Interactions":
        return POPULATION
    raise InvalidInputException(f"Invalid filter: {dataset} conditions cannot select {NOUNS[target]} ({target}).")


def _compile_condition(condition: Condition, source: str, schemas: dict[str, Schema]) -> _Cond:
    dataset = "Users" if source == USER else condition.dataset
    found = _field(dataset, condition.field, schemas)
    numeric = found.type in NUMERIC
    text = _describe_condition(condition, "CurrentUser" if source == USER else dataset)
    if condition.op not in ("IN", "NOT IN") and not numeric:
        raise InvalidInputException(f"Invalid filter: `{text}` compares a non-numeric field; use IN or NOT IN.")
    ref = None
    if condition.operand.current_item is not None:
        item_field = _field("Items", condition.operand.current_item, schemas)
        ref = _Ref(item_field.name, item_field.type in NUMERIC, item_field.categorical)
    return _Cond(
        source=source,
        column=found.name,
        numeric=numeric,
        categorical=found.categorical,
        casefold=found.name.upper() == "EVENT_TYPE" and source in (HISTORY, POPULATION),
        op=condition.op,
        literals=_literals(condition, numeric, text),
        placeholders=condition.operand.placeholders,
        current_item=ref,
        wildcard=condition.operand.wildcard,
        text=text,
    )


def _field(dataset: str, name: str, schemas: dict[str, Schema]) -> Field:
    schema = schemas.get(DATASET_TYPES[dataset])
    if schema is None:
        raise InvalidInputException(f"Invalid filter: it uses {dataset}.{name}, but the dataset group has no "
                                    f"{dataset} dataset.")
    found = next((f for f in schema.fields if f.name.upper() == name.upper()), None)
    if found is None:
        raise InvalidInputException(f"Invalid filter: {name} is not a column of the {dataset} schema.")
    return found


def _literals(condition: Condition, numeric: bool, text: str) -> tuple[Any, ...]:
    if not numeric:
        return tuple(number_text(v) if isinstance(v, float) else v for v in condition.operand.values)
    numbers = []
    for value in condition.operand.values:
        number = value if isinstance(value, float) else to_number(value)
        if number is None:
            raise InvalidInputException(f"Invalid filter: `{text}` lists {value!r}, which is not a number, for a "
                                        "numeric field.")
        numbers.append(number)
    return tuple(numbers)


def _describe_condition(condition: Condition, owner: str) -> str:
    operand = condition.operand
    if operand.current_item is not None:
        right = f"CurrentItem.{operand.current_item}"
    else:
        parts = [number_text(v) if isinstance(v, float) else f'"{v}"' for v in operand.values]
        parts += [f"${p}" for p in operand.placeholders] + (["*"] if operand.wildcard else [])
        right = f"({', '.join(parts)})" if condition.op in ("IN", "NOT IN") else parts[0]
    return f"{owner}.{condition.field} {condition.op} {right}"


def _describe(expression: Expression) -> str:
    conditions = [_describe_condition(expression.conditions[0], expression.conditions[0].dataset)]
    for op, condition in zip(expression.bool_ops, expression.conditions[1:], strict=True):
        conditions.append(f"{op} {_describe_condition(condition, condition.dataset)}")
    text = f"{expression.action} {expression.target} WHERE {' '.join(conditions)}"
    if expression.user_conditions:
        text += " IF " + " AND ".join(_describe_condition(c, "CurrentUser") for c in expression.user_conditions)
    return text
