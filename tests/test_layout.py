"""The layering of DESIGN.md §2, checked on the source: data flows one way, and nothing imports in a circle.

``ALLOWED`` is the whole table: every package and top-level module of ``openpersonalize`` is a key, and its
value names every layer it may import. Leaves import nothing of the project. Imports inside functions are
counted like any other (they used to hide cycles); only the CLI may import lazily, to start fast.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "openpersonalize"
MAX_LINES = 600
LEAVES = {"errors", "ids", "statuses", "blocking", "config"}
ALLOWED: dict[str, set[str]] = {
    **{leaf: set() for leaf in LEAVES},
    "data": {"errors", "ids", "config", "statuses"},
    "filters": {"errors", "data"},
    "ranking": {"errors"},
    "recipes": {"errors", "data", "ranking"},
    "evaluation": {"errors", "data", "recipes", "ranking"},
    "serving": {"errors", "ids", "blocking", "config", "statuses", "data", "filters", "recipes", "ranking"},
    "services": {"config", "data", "serving"},
    "jobs": {"errors", "ids", "statuses", "config", "services", "data", "filters", "recipes", "evaluation", "ranking"},
    "control": {*LEAVES, "data", "filters", "ranking", "recipes", "evaluation", "serving", "services", "jobs"},
    "api": {"errors", "ids", "config", "statuses", "blocking", "services", "control", "console"},
    "console": {"errors", "ids", "config", "statuses", "services", "control", "data", "filters"},
    "demo": {"errors", "data", "config"},
    "server": {"config", "services", "data", "jobs", "control", "api", "serving", "console", "demo"},
    "cli": {"config", "errors", "services", "data", "jobs", "control", "api", "server", "demo"},
    "__init__": set(),
}
LAZY_IMPORTS_ALLOWED = {"cli"}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" and len(parts) > 1 else parts)


MODULES = {_module_name(p): p for p in PACKAGE.rglob("*.py")}


def _resolve(module: str, node: ast.ImportFrom) -> list[str]:
    """Project modules named by ``node`` (``from ..recipes import base`` → ``recipes.base``)."""
    if node.level == 0:
        if not (node.module or "").startswith("openpersonalize"):
            return []
        base = (node.module or "").removeprefix("openpersonalize").lstrip(".")
    else:
        package = module.split(".") if MODULES[module].name == "__init__.py" else module.split(".")[:-1]
        package = package[: len(package) - (node.level - 1)]
        base = ".".join([*package, *([node.module] if node.module else [])])
    named = [f"{base}.{alias.name}" if base else alias.name for alias in node.names]
    return [name if name in MODULES else base for name in named]


def _edges() -> list[tuple[str, str, bool]]:
    """(importer, imported, inside a function) for every project import, TYPE_CHECKING ones included."""
    edges = []
    for module, path in MODULES.items():
        tree = ast.parse(path.read_text())
        in_function = {id(n) for f in ast.walk(tree) if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef)) for n in ast.walk(f)}
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                edges += [(module, target, id(node) in in_function) for target in _resolve(module, node) if target in MODULES and target != module]
    return edges


def _layer(module: str) -> str:
    return module.split(".")[0]


def test_every_layer_is_in_the_table() -> None:
    assert {_layer(m) for m in MODULES} - set(ALLOWED) == set()


def test_layers_import_only_what_the_table_allows() -> None:
    offenders = sorted(
        f"{a} imports {b}" for a, b, _ in _edges() if _layer(a) != _layer(b) and _layer(b) not in ALLOWED[_layer(a)]
    )
    assert offenders == []


def test_no_cycles_between_modules() -> None:
    graph: dict[str, set[str]] = defaultdict(set)
    for a, b, _ in _edges():
        graph[a].add(b)
    assert _cycles(graph) == []


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in sorted(MODULES):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_imports_sit_at_the_top_of_modules() -> None:
    """An import inside a function is how a cycle hides; the CLI alone imports lazily (start-up time)."""
    lazy = sorted({f"{a} imports {b}" for a, b, inside in _edges() if inside and _layer(a) not in LAZY_IMPORTS_ALLOWED})
    assert lazy == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    graph: dict[str, set[str]] = defaultdict(set, {"errors": {"ids"}, "ids": {"errors"}})
    assert _cycles(graph) == [["errors", "ids"]]


def test_no_module_over_the_size_cap() -> None:
    big = [f"{p.relative_to(PACKAGE)}: {n}" for p in PACKAGE.rglob("*.py") if (n := len(p.read_text().splitlines())) > MAX_LINES]
    assert big == []


def test_models_are_never_unpickled() -> None:
    assert [p for p in PACKAGE.rglob("*.py") if "pickle.load" in p.read_text() or "allow_pickle=True" in p.read_text()] == []


@pytest.mark.parametrize("layer", ["serving", "jobs"])
def test_serving_and_jobs_never_reach_upward(layer: str) -> None:
    """Spelled out because it is the rule most tempting to break: serving is handed what it needs, jobs publish."""
    upward = {"control", "api", "jobs"} if layer == "serving" else {"control", "api", "serving"}
    assert sorted(f"{a} imports {b}" for a, b, _ in _edges() if _layer(a) == layer and _layer(b) in upward) == []
