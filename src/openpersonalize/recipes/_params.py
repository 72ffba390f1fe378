"""Hyperparameter declarations: each recipe states a parameter's type, default and range once (STYLE habit 9).

An AWS hyperparameter is a :class:`HyperParameter`; the same object feeds the ``DescribeAlgorithm`` defaults and
ranges, the HPO ranges, CreateSolution's validation of the wire strings and the model's own check in ``fit``.
A setting of our model that AWS does not expose is an :class:`Interval` (its default is the constructor's).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Generic, Literal, Protocol, TypeVar

Kind = Literal["int", "float", "bool", "categorical"]
# "campaign" parameters (exploration) are set through CampaignConfig, not solutionConfig.
Scope = Literal["algorithm", "featurization", "campaign"]
Value = int | float | bool | str
V = TypeVar("V", bound=Value)  # the declared type of a parameter's values, so ``p.default`` types a signature

_INTEGER = re.compile(r"[+-]?[0-9]+")
_NUMBER = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?")  # no nan/inf/underscores


class InvalidParameterError(ValueError):
    """A hyperparameter is outside its declared range (message in scikit-learn's format)."""


class Constraint(Protocol):
    """What ``Recipe._validate_params`` checks each constructor argument against."""

    def check(self, owner: str, name: str, value: Any) -> None: ...


def _raise(owner: str, name: str, rule: str, value: Any) -> None:
    raise InvalidParameterError(f"The {name!r} parameter of {owner} must be {rule}. Got {value!r} instead.")


def _typed(kind: type | str, value: Any) -> bool:
    """``value`` is of the declared type (a bool is never a number; an int is a float)."""
    if isinstance(value, bool):
        return kind in (bool, "bool")
    if kind in (int, "int"):
        return isinstance(value, int)
    return kind in (float, "float") and isinstance(value, int | float)


@dataclass(frozen=True)
class Interval:
    """A model setting AWS does not expose: its type and closed range (None = unbounded)."""

    kind: type
    low: float | None = None
    high: float | None = None
    allow_none: bool = False  # None means "choose it while fitting"

    def check(self, owner: str, name: str, value: Any) -> None:
        if value is None and self.allow_none:
            return
        in_range = _typed(self.kind, value) and (self.low is None or value >= self.low) and (
            self.high is None or value <= self.high)
        if not in_range:
            _raise(owner, name, self.describe(), value)

    def describe(self) -> str:
        if self.kind is bool:
            return "a bool"
        article = "an" if self.kind is int else "a"
        low = "-inf" if self.low is None else f"{self.low:g}"
        high = "inf" if self.high is None else f"{self.high:g}"
        return f"{article} {self.kind.__name__} in the range [{low}, {high}]" + (" or None" if self.allow_none else "")


@dataclass(frozen=True)
class HyperParameter(Generic[V]):
    """One AWS hyperparameter: its type, default, allowed values and whether HPO may tune it."""

    name: str
    kind: Kind
    default: V
    low: float | None = None  # inclusive unless low_open
    high: float | None = None  # inclusive; None = no upper bound
    values: tuple[str, ...] = ()  # categorical: canonical spellings
    aliases: tuple[tuple[str, str], ...] = ()  # other accepted spellings → canonical
    tunable: bool = False
    hpo_only: bool = False  # may only be chosen by HPO from a range (Similar-Items dims)
    scope: Scope = "algorithm"
    low_open: bool = False

    def rule(self) -> str:
        """The allowed values in words, for error messages."""
        if self.kind == "bool":
            return "a boolean: true or false"
        if self.kind == "categorical":
            return "one of " + ", ".join(repr(v) for v in self.values)
        noun = "an integer" if self.kind == "int" else "a number"
        if self.high is None:
            sign = ">" if self.low_open else ">="
            return f"{noun} {sign} {_show(self.low)}"
        return f"{noun} in the range {'(' if self.low_open else '['}{_show(self.low)}, {_show(self.high)}]"

    def default_text(self) -> str:
        """The default as the wire carries it: every hyperparameter value is a string."""
        return format_value(self.default)

    def parse(self, text: str) -> Value | None:
        """The typed value of a wire string, or None when ``text`` is not of the parameter's type."""
        cleaned = text.strip()
        if self.kind == "int":
            return int(cleaned) if _INTEGER.fullmatch(cleaned) else None
        if self.kind == "float":
            number = float(cleaned) if _NUMBER.fullmatch(cleaned) else math.nan
            return number if math.isfinite(number) else None
        if self.kind == "bool":
            return {"true": True, "false": False}.get(cleaned.lower())
        spelled = {v.lower(): v for v in self.values} | {a.lower(): c for a, c in self.aliases}
        return spelled.get(" ".join(cleaned.lower().split()))

    def in_range(self, value: Value) -> bool:
        if self.kind not in ("int", "float") or isinstance(value, bool | str):
            return True
        low = -math.inf if self.low is None else self.low
        return (value > low if self.low_open else value >= low) and (self.high is None or value <= self.high)

    def check(self, owner: str, name: str, value: Any) -> None:
        """The model's check in ``fit``: a typed value (a categorical may use any accepted spelling)."""
        if self.kind == "categorical":
            ok = isinstance(value, str) and self.parse(value) is not None
        else:
            ok = _typed(self.kind, value) and self.in_range(value)
        if not ok:
            _raise(owner, name, self.rule(), value)


def declared(*params: HyperParameter[Any]) -> dict[str, Constraint]:
    """``_parameter_constraints`` entries for the AWS hyperparameters a model takes as constructor arguments."""
    return {p.name: p for p in params}


def format_value(value: Value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _show(number: float | None) -> str:
    return format_value(int(number)) if number is not None and float(number).is_integer() else str(number)


def int_param(name: str, default: int, low: int, high: int | None, *, tunable: bool = False,
              hpo_only: bool = False, scope: Scope = "algorithm") -> HyperParameter[int]:
    return HyperParameter(name, "int", default, low, high, tunable=tunable, hpo_only=hpo_only, scope=scope)


def float_param(name: str, default: float, low: float, high: float | None, *, tunable: bool = False,
                scope: Scope = "algorithm", low_open: bool = False) -> HyperParameter[float]:
    return HyperParameter(name, "float", default, low, high, tunable=tunable, scope=scope, low_open=low_open)


def bool_param(name: str, default: bool, *, tunable: bool = False) -> HyperParameter[bool]:
    return HyperParameter(name, "bool", default, values=("true", "false"), tunable=tunable)


def choice_param(name: str, default: str, values: tuple[str, ...], *, scope: Scope,
                 aliases: tuple[tuple[str, str], ...] = ()) -> HyperParameter[str]:
    return HyperParameter(name, "categorical", default, values=values, aliases=aliases, scope=scope)


def hidden_dimension(default: int, *, tunable: bool) -> HyperParameter[int]:
    return int_param("hidden_dimension", default, 32, 256, tunable=tunable)


def user_percentiles(low: float, high: float) -> tuple[HyperParameter[float], ...]:
    return (
        float_param("min_user_history_length_percentile", low, 0.0, 1.0, scope="featurization"),
        float_param("max_user_history_length_percentile", high, 0.0, 1.0, scope="featurization"),
    )


# Personalize's sequence parameters (User-Personalization, Personalized-Ranking, HRNN_RECORD: spec §5.2 table). Our
# sequential model reads the same two, so its defaults and fit-time ranges are these.
BPTT = int_param("bptt", 32, 2, 32, tunable=True)
RECENCY_MASK = bool_param("recency_mask", True, tunable=True)
SEQUENCE = (BPTT, RECENCY_MASK)
