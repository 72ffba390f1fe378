"""The layering rules of DESIGN.md §2 and STYLE.md, checked on the source: data flows one way.

api/ parses and renders only (no algorithm, no storage, no jobs); recipes/ and evaluation/ know nothing of
HTTP, resources or jobs (errors raised at the validation edge are the one shared vocabulary); no module is a
dumping ground over ~600 lines; saved models are never unpickled.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "openpersonalize"
FORBIDDEN = {
    "api": {"recipes", "jobs", "data", "evaluation", "serving"},
    "recipes": {"control", "jobs", "serving", "api.app", "api.operations"},
    "evaluation": {"control", "jobs", "serving", "api"},
    "filters": {"control", "jobs", "serving", "recipes"},
    "jobs": {"control", "api"},  # control hands jobs its hooks and runners (control/job_table.py)
}
MAX_LINES = 650


def _imports(path: Path) -> set[str]:
    """Package-relative module names imported by ``path`` (``..recipes.base`` → ``recipes.base``)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.level >= 2:
                names.add(node.module)
            elif node.module.startswith("openpersonalize."):
                names.add(node.module.removeprefix("openpersonalize."))
    return names


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_layers_import_only_downstream(layer: str) -> None:
    offenders = []
    for path in (PACKAGE / layer).rglob("*.py"):
        for name in _imports(path):
            if any(name == f or name.startswith(f + ".") for f in FORBIDDEN[layer]):
                offenders.append(f"{path.relative_to(PACKAGE)} imports {name}")
    assert offenders == []


def test_no_module_over_the_size_cap() -> None:
    big = [f"{p.relative_to(PACKAGE)}: {n}" for p in PACKAGE.rglob("*.py") if (n := len(p.read_text().splitlines())) > MAX_LINES]
    assert big == []


def test_models_are_never_unpickled() -> None:
    assert [p for p in PACKAGE.rglob("*.py") if "pickle.load" in p.read_text() or "allow_pickle=True" in p.read_text()] == []
