"""Parse filter expressions (spec §7) into a small typed tree, and check them against the group's schemas.

Parsing happens once, at CreateFilter; serving compiles the tree to masks (filters/compile.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import lark

from ..errors import InvalidInputException
from ..data.schema import Schema

# Canonical dataset names, keyed by their upper-case spelling (case-insensitive input; `Action` alias §7.2 (5)).
DATASETS = {
    "ITEMS": "Items",
    "INTERACTIONS": "Interactions",
    "USERS": "Users",
    "ACTIONS": "Actions",
    "ACTION": "Actions",
    "ACTION_INTERACTIONS": "Action_Interactions",
}
# Dataset name in filters → datasetType of the dataset record.
DATASET_TYPES = {
    "Items": "ITEMS",
    "Interactions": "INTERACTIONS",
    "Users": "USERS",
    "Actions": "ACTIONS",
    "Action_Interactions": "ACTION_INTERACTIONS",
}
# Which datasets each target may filter on: candidate metadata, or the requesting user's history.
TARGET_DATASETS = {
    "ItemID": ("Items", "Interactions"),
    "UserID": ("Users", "Interactions"),
    "ActionID": ("Actions", "Action_Interactions"),
}
MAX_FIELDS_PER_FILTER = 10


@dataclass(frozen=True)
class Operand:
    """A literal list, a `$PARAM`, a `CurrentItem.<field>` reference, or a mix (lists may hold placeholders)."""

    values: tuple[str | float, ...] = ()
    placeholders: tuple[str, ...] = ()
    current_item: str | None = None
    wildcard: bool = False


@dataclass(frozen=True)
class Condition:
    dataset: str  # canonical, e.g. "Items"
    field: str  # as written; matched to the schema case-insensitively
    op: str  # IN, NOT IN, =, !=, <, <=, >, >=
    operand: Operand


@dataclass(frozen=True)
class Expression:
    action: str  # INCLUDE | EXCLUDE
    target: str  # ItemID | UserID | ActionID
    conditions: tuple[Condition, ...]
    bool_ops: tuple[str, ...]  # AND/OR between consecutive conditions
    user_conditions: tuple[Condition, ...] = ()  # IF CurrentUser.<f> ... (dataset "Users")

    @property
    def placeholders(self) -> set[str]:
        names = {p for c in self.conditions + self.user_conditions for p in c.operand.placeholders}
        return names


@dataclass(frozen=True)
class FilterExpression:
    expressions: tuple[Expression, ...]

    @property
    def uses_current_item(self) -> bool:
        return any(c.operand.current_item for e in self.expressions for c in e.conditions + e.user_conditions)


@cache
def _parser() -> lark.Lark:
    grammar = resources.files(__package__).joinpath("grammar.lark").read_text()
    return lark.Lark(grammar, parser="lalr", maybe_placeholders=False)


def _invalid(detail: str) -> InvalidInputException:
    return InvalidInputException(f"Could not create filter. Invalid Expression: {detail}")


class _Builder(lark.Transformer[Any, Any]):
    def string(self, items: list[lark.Token]) -> Operand:
        return Operand(values=(str(items[0])[1:-1],))

    def number(self, items: list[lark.Token]) -> Operand:
        return Operand(values=(float(items[0]),))

    def placeholder(self, items: list[lark.Token]) -> Operand:
        return Operand(placeholders=(str(items[0])[1:],))

    def wildcard(self, _items: list[Any]) -> Operand:
        return Operand(wildcard=True)

    def current_ref(self, items: list[lark.Token]) -> Operand:
        return Operand(current_item=str(items[1]))

    def set_list(self, items: list[Operand]) -> Operand:
        return Operand(
            values=tuple(v for o in items for v in o.values),
            placeholders=tuple(p for o in items for p in o.placeholders),
            wildcard=any(o.wildcard for o in items),
        )

    def set_operand(self, items: list[Operand]) -> Operand:
        return items[0]

    def cmp_operand(self, items: list[Operand]) -> Operand:
        return items[0]

    def field_ref(self, items: list[lark.Token]) -> tuple[str, str]:
        return DATASETS[str(items[0]).upper()], str(items[1])

    def user_ref(self, items: list[lark.Token]) -> tuple[str, str]:
        return "Users", str(items[1])

    def _condition(self, items: list[Any]) -> Condition:
        (dataset, name), op, operand = items
        return Condition(dataset, name, " ".join(str(op).upper().split()), operand)

    set_condition = cmp_condition = user_set_condition = user_cmp_condition = _condition

    def if_clause(self, items: list[Any]) -> tuple[Condition, ...]:
        if any(isinstance(i, lark.Token) and str(i).upper() != "AND" for i in items):
            raise _invalid("conditions in an IF clause can only be joined with AND.")
        return tuple(i for i in items if isinstance(i, Condition))

    def expression(self, items: list[Any]) -> Expression:
        action, target, *rest = items
        user_conditions: tuple[Condition, ...] = ()
        if rest and isinstance(rest[-1], tuple):
            user_conditions = rest.pop()
        conditions = tuple(i for i in rest if isinstance(i, Condition))
        ops = tuple(str(i).upper() for i in rest if isinstance(i, lark.Token))
        canonical_target = {"ITEMID": "ItemID", "USERID": "UserID", "ACTIONID": "ActionID"}[str(target).upper()]
        return Expression(str(action).upper(), canonical_target, conditions, ops, user_conditions)

    def start(self, items: list[Expression]) -> FilterExpression:
        return FilterExpression(tuple(items))


def parse_filter(text: str) -> FilterExpression:
    """Parse; a syntax error names the unexpected token and its column."""
    try:
        tree = _parser().parse(text)
    except lark.exceptions.UnexpectedCharacters as exc:
        raise _invalid(f"invalid input symbol {text[exc.pos_in_stream]!r} at position {exc.column}.") from None
    except lark.exceptions.UnexpectedToken as exc:
        if exc.token.type == "$END":
            raise _invalid("the expression ends too early.") from None
        raise _invalid(f"unexpected {exc.token.value!r} at position {exc.column}.") from None
    except lark.exceptions.UnexpectedEOF:
        raise _invalid("the expression ends too early.") from None
    try:
        return _Builder().transform(tree)  # type: ignore[no-any-return]
    except lark.exceptions.VisitError as exc:
        if isinstance(exc.orig_exc, InvalidInputException):
            raise exc.orig_exc from None
        raise


def check_filter(expr: FilterExpression, schemas: dict[str, Schema]) -> set[tuple[str, str]]:
    """Semantic checks against the dataset group's schemas (``datasetType`` → Schema).

    Returns the distinct (dataset, column) pairs the filter uses, for the per-group field quota.
    """
    fields: set[tuple[str, str]] = set()
    for expression in expr.expressions:
        _check_expression(expression, schemas, fields)
    if len(fields) > MAX_FIELDS_PER_FILTER:
        raise _invalid(f"a filter can use at most {MAX_FIELDS_PER_FILTER} distinct dataset fields; it uses {len(fields)}.")
    return fields


def _check_expression(expression: Expression, schemas: dict[str, Schema], fields: set[tuple[str, str]]) -> None:
    first = expression.conditions[0].dataset
    allowed = TARGET_DATASETS[expression.target]
    for condition in expression.conditions:
        if condition.dataset != first:
            raise _invalid(
                f"conditions on {first} and {condition.dataset} cannot share one expression; combine them with '|'."
            )
        if condition.dataset not in allowed:
            raise _invalid(f"{condition.dataset} cannot filter {expression.target}; use one of {', '.join(allowed)}.")
        fields.add(_check_field(condition, schemas))
    for condition in expression.user_conditions:
        fields.add(_check_field(condition, schemas))


def _check_field(condition: Condition, schemas: dict[str, Schema]) -> tuple[str, str]:
    dataset_type = DATASET_TYPES[condition.dataset]
    schema = schemas.get(dataset_type)
    if schema is None:
        raise _invalid(f"the dataset group has no {condition.dataset} dataset.")
    field = next((f for f in schema.fields if f.name.upper() == condition.field.upper()), None)
    if field is None:
        raise _invalid(f"{condition.dataset}.{condition.field} is not a column of the {condition.dataset} schema.")
    if field.textual or field.type == "boolean":
        kind = "textual" if field.textual else "boolean"
        raise _invalid(f"{condition.dataset}.{condition.field} is a {kind} column; {kind} columns cannot be used in filters.")
    if condition.operand.wildcard and field.name != "EVENT_TYPE":
        raise _invalid(f"'*' can only be used with {condition.dataset}.EVENT_TYPE.")
    numeric = field.type in ("int", "long", "float", "double")
    if condition.op not in ("IN", "NOT IN") and not numeric:
        raise _invalid(f"{condition.dataset}.{condition.field} is not numeric; operator {condition.op} needs a numeric column.")
    return condition.dataset, field.name
