"""The package's shape: stages import only earlier stages, and nothing imports in a cycle.

Every ``import`` of a ``dedup`` module is read from the source (module level and
inside functions alike; ``if TYPE_CHECKING:`` blocks and script entry points
(``if __name__ == "__main__":``) are left out, as importing never runs them).
Stages, in pipeline order, are listed in ``STAGES``; a module may import its
own stage or an earlier one.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent / "dedup"

#: Pipeline order.  Each entry is a set of module-name prefixes; the first
#: matching entry (longest prefix) gives a module's rank.
STAGES: list[tuple[str, tuple[str, ...]]] = [
    (
        "foundation",
        (
            "dedup._version",
            "dedup._errors",
            "dedup._options",
            "dedup._rules",
            "dedup._arrays",
            "dedup._io",
            "dedup._parallel",
            "dedup._progress",
        ),
    ),
    ("compiled", ("dedup._kernels",)),
    # Formatting functions over duck-typed results: the result types render through them.
    ("present", ("dedup._present",)),
    ("results", ("dedup._types",)),
    ("text", ("dedup._text",)),
    ("sketch", ("dedup._sketch",)),
    ("verify", ("dedup._verify",)),
    ("cluster", ("dedup._cluster",)),
    ("engine", ("dedup._engine",)),
    (
        "front ends",
        ("dedup._api", "dedup._index", "dedup._strip", "dedup._corpus", "dedup.spark"),
    ),
    ("command line", ("dedup._cli", "dedup.__main__")),
    ("public surface", ("dedup",)),
    # Plugins for other tools, written against the public surface as their users' code is.
    ("integrations", ("dedup.contrib",)),
]

#: Import cycles still to be removed, each as the sorted modules it runs through (none left).
KNOWN_CYCLES: set[tuple[str, ...]] = set()


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _all_modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(ROOT.rglob("*.py"))}


def _unrun_lines(tree: ast.Module) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and ast.unparse(node.test) in {"TYPE_CHECKING", "__name__ == '__main__'"}:
            for child in node.body:
                lines.update(range(child.lineno, (child.end_lineno or child.lineno) + 1))
    return lines


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """The ``dedup`` modules that ``name`` imports at run time (submodules resolved)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped = _unrun_lines(tree)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if getattr(node, "lineno", None) in skipped:
            continue
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("dedup"))
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join([*parts[: len(parts) - node.level + 1], base]).rstrip(".")
            if not base.startswith("dedup"):
                continue
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                found.add(sub if sub in known else base)
    found.discard(name)
    return found


def rank(module: str) -> int:
    best, best_len = -1, -1
    for n, (_, prefixes) in enumerate(STAGES):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best_len:
                best, best_len = n, len(prefix)
    return best


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    modules = _all_modules()
    compiled = {
        "dedup._text._segment",
        "dedup._sketch._kernels",
        "dedup._verify._kernels",
        "dedup._index._kernels",
    }
    known = set(modules) | compiled
    return {name: imports_of(name, path, known) for name, path in modules.items()}


def test_every_module_belongs_to_a_stage(graph: dict[str, set[str]]) -> None:
    assert [m for m in graph if rank(m) < 0] == []


def test_no_stage_imports_a_later_stage(graph: dict[str, set[str]]) -> None:
    later = sorted(
        f"{m} ({STAGES[rank(m)][0]}) imports {d} ({STAGES[rank(d)][0]})"
        for m, deps in graph.items()
        for d in deps
        if rank(d) > rank(m)
    )
    assert later == []


def _cycles(graph: dict[str, set[str]]) -> set[tuple[str, ...]]:
    """Strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: set[tuple[str, ...]] = set()

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
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
                found.add(tuple(sorted(component)))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_import_cycles_but_the_known_ones(graph: dict[str, set[str]]) -> None:
    # Pairwise: each known cycle is checked on its own two modules, so that removing
    # one (the list must then shrink) or adding any other fails here.
    pairs = {
        tuple(sorted((a, b)))
        for a, deps in graph.items()
        for b in deps
        if a in graph.get(b, set()) and a != b
    }
    assert pairs == KNOWN_CYCLES
    longer = {c for c in _cycles(graph) if len(c) > 2 and not set(c) <= {m for k in KNOWN_CYCLES for m in k}}
    assert longer == set()


def test_the_checker_sees_a_cycle_and_a_back_edge() -> None:
    toy = {
        "dedup._text.segment": {"dedup._verify.reference"},
        "dedup._verify.reference": {"dedup._text.segment"},
    }
    assert _cycles(toy) == {("dedup._text.segment", "dedup._verify.reference")}
    assert rank("dedup._verify.reference") > rank("dedup._text.segment")
    assert rank("dedup._index.redis") > rank("dedup._engine") > rank("dedup._cluster.build")
