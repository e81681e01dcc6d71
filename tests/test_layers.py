"""The shape of porch: no import cycle among its modules, and no module too long to read.

An import cycle hides the layers from a reader (which module is the lower
one?), and a type-only edge is still an edge a reader follows. The checker
reads every module's imports with ``ast`` (those under ``if TYPE_CHECKING:``
and inside functions too), so nothing needs importing, and finds the cycles as
the strongly connected components of the graph: there must be none.
docs/architecture.md draws the layers this keeps one way.

A module is read in one sitting: at most ``MAX_LINES`` lines, in porch/ and in
the benchmark (bench/). A longer one holds more than one concept; split it
along them.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "porch"
MAX_LINES = 400


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def imported(name: str, path: Path, known: set[str]) -> Iterator[str]:
    """The porch modules ``name`` imports, wherever the import statement stands.

    ``from . import x`` names the module ``x`` when it is one, else the package;
    ``from .a import b`` names ``a.b`` when that is a module, else ``a``.
    """
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names if alias.name in known)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                source = ".".join([*base, *([node.module] if node.module else [])])
            else:
                source = node.module or ""
            for alias in node.names:
                if f"{source}.{alias.name}" in known:
                    yield f"{source}.{alias.name}"
                elif source in known:
                    yield source


def with_parents(target: str, known: set[str]) -> Iterator[str]:
    """``porch.session.cookie`` runs ``porch/session/__init__.py`` first: that is an edge too.

    The root package is left out: it is the public facade that imports the
    others, and no module imports it.
    """
    parts = target.split(".")
    for end in range(2, len(parts) + 1):
        if ".".join(parts[:end]) in known:
            yield ".".join(parts[:end])


def graph() -> dict[str, set[str]]:
    found = modules()
    known = set(found)
    return {
        name: {
            module
            for target in imported(name, path, known)
            for module in with_parents(target, known)
            if module != name and not name.startswith(f"{module}.")
        }
        for name, path in found.items()
    }


def cycles(edges: dict[str, set[str]]) -> list[set[str]]:
    """The strongly connected components with more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(edges[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.add(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(component)

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return components


def test_there_is_no_import_cycle() -> None:
    found = sorted(cycles(graph()), key=sorted)
    assert found == [], "\n".join(" <-> ".join(sorted(component)) for component in found)


def line_counts() -> dict[str, int]:
    """porch's own modules and the benchmark's; not what bench/run installs under
    bench/ (hidden folders: .venv-peers, .baselines' checkouts and virtualenvs)."""
    files = [*PACKAGE.rglob("*.py"), *(ROOT / "bench").rglob("*.py")]
    return {
        str(path.relative_to(ROOT)): len(path.read_text(encoding="utf-8").splitlines())
        for path in sorted(files)
        if not any(part.startswith(".") for part in path.relative_to(ROOT).parts)
    }


def test_no_module_of_porch_or_bench_is_over_400_lines() -> None:
    counts = line_counts()
    assert any(name.startswith("bench/") for name in counts)  # the benchmark is read too
    too_long = {name: lines for name, lines in counts.items() if lines > MAX_LINES}
    assert too_long == {}, f"over {MAX_LINES} lines: {too_long}"


def test_the_checker_sees_type_only_and_function_level_imports() -> None:
    """One edge of each kind: under ``if TYPE_CHECKING:``, inside a function, at the top."""
    edges = graph()
    assert "porch.option_types" in edges["porch.app"]  # under `if TYPE_CHECKING:`
    assert "porch.testing.server" in edges["porch"]  # inside __getattr__
    assert "porch.session.stores" in edges["porch.option_schema"]  # a plain top-level import


def test_the_checker_finds_a_cycle_and_only_a_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [{"a", "b", "c"}]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_importing_a_submodule_is_an_edge_to_its_package_too() -> None:
    """``from .session.stores import Store`` runs ``porch/session/__init__.py`` first."""
    assert "porch.session" in graph()["porch.option_schema"]
