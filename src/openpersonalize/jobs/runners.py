"""The one table of job kinds → runners."""

from __future__ import annotations

from . import lifecycle
from .base import Runner

RUNNERS: dict[str, Runner] = {
    "activate": Runner(lifecycle.activate),
    "delete": Runner(lifecycle.remove),
}
