"""The shape of the code, held as a test: the import graph of `sensor/` and `analytics/` has no
cycle, `sensor` never imports `analytics`, and no module imports another module's private
(`_name`) names. Every import counts, deferred ones and those under TYPE_CHECKING too: hiding
an arrow does not remove it (ARCHITECTURE.md draws the graph)."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ROOT

PACKAGES = ("sensor", "analytics")


def modules(root: Path = ROOT) -> dict[str, Path]:
    """Dotted name (as installed, under `trustwatch.`) -> file, for both packages."""
    found = {}
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join(("trustwatch", *parts))] = path
    return found


def imported_names(module: str, path: Path) -> Iterator[tuple[str, str]]:
    """(imported module, imported name or '') for every import statement of the file, relative
    imports resolved against the module's package."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, ""
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            for alias in node.names:
                yield target, alias.name


def graph(known: dict[str, Path]) -> tuple[dict[str, set[str]], list[str]]:
    """Edges between known modules, and the private names imported across modules."""
    edges: dict[str, set[str]] = {m: set() for m in known}
    private = []
    for module, path in known.items():
        for target, name in imported_names(module, path):
            if f"{target}.{name}" in known:  # `from package import module`
                edges[module].add(f"{target}.{name}")
            elif target in known and target != module:
                edges[module].add(target)
                if name.startswith("_") and not name.startswith("__"):
                    private.append(f"{module} imports {target}.{name}")
    return edges, private


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for v in edges:
        if v not in index:
            visit(v)
    return found


def test_no_import_cycle() -> None:
    edges, _ = graph(modules())
    assert cycles(edges) == []


def test_the_sensor_never_imports_the_analytics() -> None:
    edges, _ = graph(modules())
    upward = [f"{m} -> {t}" for m, targets in edges.items() if m.startswith("trustwatch.sensor")
              for t in targets if t.startswith("trustwatch.analytics")]
    assert upward == []


def test_no_private_name_is_imported_from_another_module() -> None:
    _, private = graph(modules())
    assert private == []


@pytest.mark.parametrize(("files", "expected"), [
    ({"a.py": "from .b import x\n", "b.py": "def f():\n    from .a import y\n"},
     [["trustwatch.sensor.a", "trustwatch.sensor.b"]]),
    ({"a.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .b import x\n",
      "b.py": "from trustwatch.sensor.a import y\n"}, [["trustwatch.sensor.a", "trustwatch.sensor.b"]]),
    ({"a.py": "from .b import x\n", "b.py": "import os\n"}, []),
])
def test_the_checks_see_hidden_cycles(tmp_path: Path, files: dict[str, str], expected: list[list[str]]) -> None:
    """A cycle hidden behind a deferred or TYPE_CHECKING import, or spelled absolutely, is
    still a cycle."""
    for package in PACKAGES:
        (tmp_path / package).mkdir()
        (tmp_path / package / "__init__.py").write_text("")
    for name, text in files.items():
        (tmp_path / "sensor" / name).write_text(text)
    assert cycles(graph(modules(tmp_path))[0]) == expected


def test_the_checks_see_private_imports_and_upward_arrows(tmp_path: Path) -> None:
    for package in PACKAGES:
        (tmp_path / package).mkdir()
        (tmp_path / package / "__init__.py").write_text("")
    (tmp_path / "analytics" / "core.py").write_text("def _helper():\n    pass\n")
    (tmp_path / "sensor" / "x.py").write_text("from ..analytics.core import _helper\n")
    edges, private = graph(modules(tmp_path))
    assert private == ["trustwatch.sensor.x imports trustwatch.analytics.core._helper"]
    assert "trustwatch.analytics.core" in edges["trustwatch.sensor.x"]
