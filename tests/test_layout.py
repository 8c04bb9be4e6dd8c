"""The house keeps its shape: no import cycles among sporder_py modules (imports inside functions
count too), no module over 600 lines, and the layers of DESIGN §2 import downwards only."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from conftest import ROOT

PACKAGE = ROOT / "sporder_py"
MAX_LINES = 600

# What each layer may not import (DESIGN §2: cli -> render/store -> formats/ops/resolver/
# integrity/probe/wsk -> model -> winsock).  Prefixes of module names.
FORBIDDEN: dict[str, tuple[str, ...]] = {
    "sporder_py.winsock": ("sporder_py.model", "sporder_py.formats", "sporder_py.ops",
                           "sporder_py.store", "sporder_py.cli", "click", "rich"),
    "sporder_py.model": ("sporder_py.formats", "sporder_py.ops", "sporder_py.store",
                         "sporder_py.cli", "sporder_py.render", "click", "rich"),
    "sporder_py.resolver": ("sporder_py.formats", "sporder_py.ops", "sporder_py.store",
                            "sporder_py.cli", "sporder_py.render", "click", "rich"),
    "sporder_py.lspmap": ("sporder_py.formats", "sporder_py.ops", "sporder_py.store",
                          "sporder_py.cli", "sporder_py.render", "click", "rich"),
    "sporder_py.integrity": ("sporder_py.formats", "sporder_py.store", "sporder_py.cli",
                             "sporder_py.render", "click", "rich"),
    "sporder_py.ops": ("sporder_py.store", "sporder_py.cli", "sporder_py.render", "click", "rich"),
    "sporder_py.formats": ("sporder_py.ops", "sporder_py.store", "sporder_py.cli",
                           "sporder_py.render", "click", "rich"),
    "sporder_py.store": ("sporder_py.cli", "sporder_py.render", "click", "rich"),
    "sporder_py.render": ("sporder_py.cli", "sporder_py.store", "click"),
    "sporder_py.wsk": ("sporder_py.cli", "sporder_py.store", "click", "rich"),
    "sporder_py.probe": ("sporder_py.cli", "sporder_py.store", "click", "rich"),
    "sporder_py.stacks": ("sporder_py.formats", "sporder_py.ops", "sporder_py.store",
                          "sporder_py.cli", "sporder_py.render", "click", "rich"),
    "sporder_py.report": ("sporder_py.ops", "sporder_py.store", "sporder_py.cli",
                          "sporder_py.render", "click", "rich"),
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imports_of(name: str, path: Path) -> set[str]:
    """Every module ``name`` imports, at any depth of its code, resolved to absolute names."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            subs = [f"{mod}.{a.name}" for a in node.names if f"{mod}.{a.name}" in MODULES]
            found.update(subs)                # "from . import render" imports a module...
            if len(subs) < len(node.names):   # ...and "from .model import X" the module itself
                found.add(mod)
    return found


GRAPH = {name: {m for m in imports_of(name, path) if m in MODULES and m != name}
         for name, path in MODULES.items()}


def test_no_import_cycles() -> None:
    # Tarjan's strongly connected components; any component of two or more is a cycle.
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(GRAPH[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in sorted(GRAPH):
        if v not in index:
            visit(v)
    assert cycles == []


def test_the_graph_is_real() -> None:
    """The checker sees imports: the CLI's group imports the store, and the store the formats."""
    assert "sporder_py.store.location" in GRAPH["sporder_py.cli.app"]
    assert "sporder_py.formats.catalog_toml" in GRAPH["sporder_py.store.reading"]


@pytest.mark.parametrize("name", sorted(MODULES))
def test_module_size(name: str) -> None:
    lines = MODULES[name].read_text(encoding="utf-8").count("\n")
    assert lines <= MAX_LINES, f"{name} has {lines} lines (at most {MAX_LINES})"


@pytest.mark.parametrize("name", sorted(MODULES))
def test_layers_import_downwards(name: str) -> None:
    rules = [bad for layer, bad in FORBIDDEN.items()
             if name == layer or name.startswith(layer + ".")]
    imported = imports_of(name, MODULES[name])
    wrong = sorted(m for m in imported for bad in rules for b in bad
                   if m == b or m.startswith(b + "."))
    assert wrong == [], f"{name} imports {wrong}"


@pytest.mark.parametrize("package", sorted(n for n, p in MODULES.items()
                                           if p.name == "__init__.py"))
def test_every_package_says_what_it_holds(package: str) -> None:
    doc = ast.get_docstring(ast.parse(MODULES[package].read_text(encoding="utf-8")))
    assert doc and len(doc) > 80, f"{package} has no docstring saying what it holds"
