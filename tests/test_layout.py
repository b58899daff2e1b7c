"""The code's rooms: no import runs upward or in a circle (read with `ast`, nothing imported).

The engine's and the registry's rooms are ranked below; a module may import its own room
and the rooms ranked before it. Across the whole of `app/`, the module import graph has no
cycle, counting the imports inside functions too (a lazy import still ties two modules).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Lowest first. A module belongs to the longest prefix listed.
ENGINE = [
    "app.engine.compiled",
    "app.engine.targets",
    "app.engine.layers",
    "app.engine.capture",  # the package itself: its docstring
    "app.engine.capture.adapter",
    "app.engine.capture.keras",
    "app.engine.capture.frozen",
    "app.engine.methods",
    "app.engine.evaluation",
    "app.engine.runtime",
]
REGISTRY = [
    "app.registry.policy",
    "app.registry.card",
    "app.registry.files",
    "app.registry.text_specs",
    "app.registry.formats",
    "app.registry.heads",
    "app.registry.served",
    "app.registry.versions",
    "app.registry.registry",
    "app.registry.watcher",
]
EXPLAIN = [
    "app.explain.options",
    "app.explain.results",
    "app.explain.targets",
    "app.explain.answers",
    "app.explain.run",
    "app.explain.overlays",
    "app.explain.texts",
    "app.explain.images",
]
# What each package must never import (it sits below them).
NEVER = {
    "app.engine": (
        "app.registry",
        "app.explain",
        "app.api",
        "app.render",
        "app.pipeline",
        "app.jobs",
    ),
    "app.registry": ("app.explain", "app.api", "app.render", "app.pipeline", "app.jobs"),
    "app.explain": ("app.api", "app.pipeline", "app.jobs"),
    "app.jobs": ("app.api", "app.pipeline"),
    "app.render": ("app.engine", "app.registry", "app.explain", "app.api"),
    "app.preprocess": ("app.engine", "app.registry", "app.explain", "app.api"),
}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def read_imports(path: Path) -> set[str]:
    """The `app.*` modules a file imports, at any depth (`from a import b` may name a module)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return {name for name in found if name == "app" or name.startswith("app.")}


def app_graph() -> dict[str, set[str]]:
    files = {module_name(path): path for path in (ROOT / "app").rglob("*.py")}
    graph = {}
    for name, path in files.items():
        graph[name] = {target for target in read_imports(path) if target in files} - {name}
    return graph


GRAPH = app_graph()


def room(module: str, order: list[str]) -> int | None:
    matches = [
        i for i, prefix in enumerate(order) if module == prefix or module.startswith(prefix + ".")
    ]
    return max(matches, key=lambda i: len(order[i])) if matches else None


@pytest.mark.parametrize(
    "order", [ENGINE, REGISTRY, EXPLAIN], ids=["engine", "registry", "explain"]
)
def test_no_import_runs_upward(order: list[str]) -> None:
    package = order[0].rsplit(".", 1)[0]
    members = [m for m in GRAPH if m.startswith(package + ".")]
    unplaced = [m for m in members if room(m, order) is None and m != package]
    assert not unplaced, f"modules in no room of {package}: {unplaced}"
    upward = [
        f"{source} -> {target}"
        for source in members
        for target in GRAPH[source]
        if target.startswith(package + ".")
        and (rank := room(source, order)) is not None
        and (target_rank := room(target, order)) is not None
        and target_rank > rank
    ]
    assert not upward, "imports that run upward:\n" + "\n".join(upward)


@pytest.mark.parametrize("package", sorted(NEVER))
def test_no_import_of_a_package_above(package: str) -> None:
    wrong = [
        f"{source} -> {target}"
        for source in GRAPH
        if source == package or source.startswith(package + ".")
        for target in GRAPH[source]
        if any(target == above or target.startswith(above + ".") for above in NEVER[package])
    ]
    assert not wrong, "\n".join(wrong)


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1: on the path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_no_import_cycle_between_modules() -> None:
    # A package's __init__ importing its own submodules is no cycle of concern.
    graph = {m: {t for t in targets if not m.startswith(t + ".")} for m, targets in GRAPH.items()}
    cycle = find_cycle(graph)
    assert cycle is None, " -> ".join(cycle or [])


def test_the_checks_see_a_planted_cycle_and_an_upward_import() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None
    assert room("app.engine.capture.keras.fold", ENGINE) == ENGINE.index("app.engine.capture.keras")
    assert room("app.engine.runtime.gradcam", ENGINE) > room("app.engine.layers.lookup", ENGINE)
