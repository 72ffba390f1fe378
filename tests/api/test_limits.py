"""api/limits.py's pure parts; tests/security/test_requests.py drives the guard and the protocol over sockets."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from openpersonalize.api.limits import MAX_JSON_VALUES, Guard, host_name, json_shape_problem
from openpersonalize.config import Settings
from openpersonalize.errors import PersonalizeError


@pytest.mark.parametrize(("header", "name"), [
    ("localhost:8080", "localhost"), ("127.0.0.1", "127.0.0.1"), ("[::1]:8080", "[::1]"), ("LOCALHOST", "localhost"),
    ("evil.example:80", "evil.example"), ("::1", "::1"),
])
def test_host_name(header: str, name: str) -> None:
    assert host_name(header) == name


def json_too_deep(body: bytes) -> bool:
    problem = json_shape_problem(body)
    return problem is not None and "deeper" in problem


def test_json_depth_counts_brackets_outside_strings_only() -> None:
    assert json_too_deep(b"[" * 65 + b"]" * 65)
    assert not json_too_deep(b"[" * 64 + b"]" * 64)
    assert not json_too_deep(b'{"a": "' + b"[" * 500 + b'"}')
    assert not json_too_deep(b'{"a": "\\"[[[[", "b": [' + b"{}," * 500 + b"{}]}")


def test_json_depth_check_is_linear_on_a_string_that_never_closes() -> None:
    # Escaped quotes after an opening one that never closes: a string pattern that needs its closing quote
    # rescans to the end from every quote (hours at the body cap). The bound is far above linear time.
    body = b"[" * 64 + b'"' + b'\\"' * 2_000_000 + b"[" * 10
    started = time.perf_counter()
    assert json_shape_problem(body) is None  # the brackets after the opening quote are inside the string
    assert time.perf_counter() - started < 5.0
    assert json_too_deep(b"[" * 65 + b'"' + b'\\"' * 1000)


def test_json_values_outside_strings_are_bounded() -> None:
    many = b'{"x": [' + b"{}," * MAX_JSON_VALUES + b"{}]}"
    assert json_shape_problem(many) == f"The request body holds more than {MAX_JSON_VALUES} JSON values."
    assert json_shape_problem(b'{"x": [' + b"1," * (MAX_JSON_VALUES // 2) + b"1]}") is None
    assert json_shape_problem(b'{"schema": "' + b"{}," * MAX_JSON_VALUES + b'"}') is None  # inside a string


def _scope(headers: dict[str, str], method: str = "POST", path: str = "/") -> dict[str, Any]:
    return {"type": "http", "method": method, "path": path,
            "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()]}


async def _body() -> dict[str, Any]:
    return {"type": "http.request", "body": b"{}", "more_body": False}


def admit(settings: Settings, scope: dict[str, Any]) -> str:
    try:
        asyncio.run(Guard(settings).admit(scope, _body))
    except PersonalizeError as refused:
        return refused.code
    return "admitted"


def test_the_guard_admits_what_an_sdk_sends_and_refuses_the_rest() -> None:
    settings = Settings(access_keys={})
    sdk = {"Host": "127.0.0.1:8080", "Content-Type": "application/x-amz-json-1.1", "Content-Length": "2"}
    assert admit(settings, _scope(sdk)) == "admitted"
    assert admit(settings, _scope({**sdk, "Content-Type": "application/json; charset=utf-8"})) == "admitted"
    assert admit(settings, _scope({**sdk, "Content-Type": "text/plain"})) == "UnsupportedMediaTypeException"
    assert admit(settings, _scope({**sdk, "Host": "rebound.example"})) == "AccessDeniedException"
    assert admit(settings, _scope({**sdk, "Content-Length": str(10 << 20)})) == "RequestEntityTooLargeException"
    assert admit(settings, _scope({**sdk, "Content-Length": "-1"})) == "RequestEntityTooLargeException"
    keyed = Settings(access_keys={"AKID": "secret"})
    assert admit(keyed, _scope({**sdk, "Host": "rebound.example"})) == "UnrecognizedClientException"
    twice = _scope(sdk)
    twice["headers"].insert(0, (b"host", b"rebound.example"))  # a proxy routing on the first would disagree
    assert admit(settings, twice) == "InvalidRequestException"
