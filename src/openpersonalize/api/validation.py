"""Server-side validation of a request against its botocore input shape.

botocore checks only required members, types and ``min`` on the client (spec §1.6); the server must also
enforce ``max``, ``pattern`` and ``enum``. Messages name the member path, the value and the rule.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Any

import regex
from botocore.model import Shape

from ..errors import InvalidInputException

# Documented extensions of the AWS patterns, by member path. Import and data-deletion inputs may also be
# local files (the embedded deployment's disk): file:///abs/path or an absolute path (data/readers.py).
PATTERN_EXTENSIONS = {"dataSource.dataLocation": r"(s3|http|https|file)://.+|/.+"}
# Dataset export output may be local too (control/export_jobs.py refuses http(s), which cannot be written).
PATTERN_EXTENSIONS["jobOutput.s3DataDestination.path"] = PATTERN_EXTENSIONS["dataSource.dataLocation"]
# Batch inference / segment input may be local too (jobs/batch_io.py).
PATTERN_EXTENSIONS["jobInput.s3DataSource.path"] = PATTERN_EXTENSIONS["dataSource.dataLocation"]
# Metric-attribution reports may go to a local folder too (control/metric_attributions.py refuses http(s)).
PATTERN_EXTENSIONS["metricsOutputConfig.s3DataDestination.path"] = PATTERN_EXTENSIONS["dataSource.dataLocation"]

_INT_TYPES = ("integer", "long")
_FLOAT_TYPES = ("float", "double")


@lru_cache(maxsize=None)
def _pattern(text: str) -> regex.Pattern[str]:
    # botocore patterns are Java regexes (\p{L} etc.); the regex module understands them.
    return regex.compile(text)


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _fail(path: str, value: Any, rule: str) -> InvalidInputException:
    return InvalidInputException(f"1 validation error detected: Value {_show(value)} at '{path}' failed to satisfy constraint: {rule}")


def validate(params: Any, shape: Shape | None) -> dict[str, Any]:
    """Check ``params`` against ``shape``; return it with timestamps normalised to floats."""
    if shape is None:
        return {}
    if not isinstance(params, dict):
        raise InvalidInputException("The request body must be a JSON object.")
    return _structure(params, shape, "")


def _structure(value: Any, shape: Shape, path: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _fail(path or shape.name, value, "Member must be an object")
    members = shape.members  # type: ignore[attr-defined]
    out: dict[str, Any] = {}
    for key, item in value.items():
        if key not in members:
            continue  # AWS ignores unknown members; so does boto3 on the way back.
        if item is None:
            continue
        out[key] = _value(item, members[key], f"{path}.{key}" if path else key)
    for key in shape.required_members:  # type: ignore[attr-defined]
        if key not in out:
            raise InvalidInputException(
                f"1 validation error detected: Value null at '{path + '.' if path else ''}{key}' failed to satisfy constraint: Member must not be null"
            )
    return out


def _value(value: Any, shape: Shape, path: str) -> Any:
    kind = shape.type_name
    if kind == "structure":
        return _structure(value, shape, path)
    if kind == "list":
        return _list(value, shape, path)
    if kind == "map":
        return _map(value, shape, path)
    if kind == "string":
        return _string(value, shape, path)
    if kind == "boolean":
        if not isinstance(value, bool):
            raise _fail(path, value, "Member must be a boolean")
        return value
    if kind in _INT_TYPES or kind in _FLOAT_TYPES:
        return _number(value, shape, path)
    if kind == "timestamp":
        return _timestamp(value, path)
    return value


def _length(value: Any, shape: Shape, path: str) -> None:
    meta = shape.metadata
    if "min" in meta and len(value) < meta["min"]:
        raise _fail(path, value, f"Member must have length greater than or equal to {meta['min']}")
    if "max" in meta and len(value) > meta["max"]:
        raise _fail(path, value, f"Member must have length less than or equal to {meta['max']}")


def _string(value: Any, shape: Shape, path: str) -> str:
    if not isinstance(value, str):
        raise _fail(path, value, "Member must be a string")
    _length(value, shape, path)
    meta = shape.metadata
    if "enum" in meta and value not in meta["enum"]:
        raise _fail(path, value, f"Member must satisfy enum value set: [{', '.join(meta['enum'])}]")
    # AWS matches the whole value (Java Matcher.matches), so the models omit a trailing $.
    pattern = PATTERN_EXTENSIONS.get(path, meta.get("pattern"))
    if pattern is not None and not _pattern(pattern).fullmatch(value):
        raise _fail(path, value, f"Member must satisfy regular expression pattern: {pattern}")
    return value


def _number(value: Any, shape: Shape, path: str) -> int | float:
    integral = shape.type_name in _INT_TYPES
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _fail(path, value, "Member must be a number")
    if integral and isinstance(value, float):
        if not value.is_integer():
            raise _fail(path, value, "Member must be an integer")
        value = int(value)
    if isinstance(value, float) and not math.isfinite(value):
        raise _fail(path, value, "Member must be a finite number")
    meta = shape.metadata
    if "min" in meta and value < meta["min"]:
        raise _fail(path, value, f"Member must have value greater than or equal to {meta['min']}")
    if "max" in meta and value > meta["max"]:
        raise _fail(path, value, f"Member must have value less than or equal to {meta['max']}")
    return value


def _timestamp(value: Any, path: str) -> float:
    # Epoch seconds as a JSON number (spec §1.5); numeric strings are tolerated.
    if isinstance(value, bool):
        raise _fail(path, value, "Member must be a timestamp in epoch seconds")
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        raise _fail(path, value, "Member must be a timestamp in epoch seconds") from None
    if not math.isfinite(seconds):
        raise _fail(path, value, "Member must be a timestamp in epoch seconds")
    return seconds


def _list(value: Any, shape: Shape, path: str) -> list[Any]:
    if not isinstance(value, list):
        raise _fail(path, value, "Member must be a list")
    _length(value, shape, path)
    member = shape.member  # type: ignore[attr-defined]
    return [_value(item, member, f"{path}.{i + 1}.member") for i, item in enumerate(value)]


def _map(value: Any, shape: Shape, path: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _fail(path, value, "Member must be a map")
    _length(value, shape, path)
    key_shape, value_shape = shape.key, shape.value  # type: ignore[attr-defined]
    out: dict[str, Any] = {}
    for key, item in value.items():
        _string(key, key_shape, f"{path}.key")
        out[key] = _value(item, value_shape, f"{path}.{key}")
    return out
