"""No import cycles in gisportal (issue #13), imports placed inside functions counted: grimp's graph holds every
import statement of the package, wherever it stands (only ``if TYPE_CHECKING:`` ones, which never run, are left
out). A cycle is a strongly connected group of modules; the test names each group with the imports that close it."""

from __future__ import annotations

import ast
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parents[2]


def strongly_connected(edges: dict[str, set[str]]) -> list[list[str]]:
    """The groups of two or more modules that import each other, directly or not (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []
    for root in sorted(edges):
        if root in index:
            continue
        work = [(root, iter(sorted(edges[root])))]
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
                    work.append((child, iter(sorted(edges.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                group = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == node:
                        break
                if len(group) > 1:
                    groups.append(sorted(group))
    return groups


def test_the_cycle_finder_finds_cycles():
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set(), "e": {"e", "d"}, "f": {"g"}, "g": {"f"}}
    assert sorted(strongly_connected(edges)) == [["a", "b", "c"], ["f", "g"]]


def test_gisportal_has_no_import_cycle():
    graph = grimp.build_graph("gisportal", exclude_type_checking_imports=True)
    edges = {m: set(graph.find_modules_directly_imported_by(m)) for m in graph.modules}
    cycles = strongly_connected(edges)

    def lines(a: str, b: str) -> str:
        return ", ".join(str(d["line_number"]) for d in graph.get_import_details(importer=a, imported=b))

    described = [[f"{a} -> {b} (line {lines(a, b)})" for a in group for b in sorted(edges[a] & set(group))]
                 for group in cycles]
    assert cycles == [], described
    assert len(graph.modules) > 100  # the whole package was read


#: Modules whose imports inside functions need no comment each: the command line loads a command's dependencies
#: when the command runs, so that ``gisportal --help`` and every other command start at once.
LAZY_BY_DESIGN = {"gisportal/cli/commands.py", "gisportal/cli/imports.py", "gisportal/cli/planning.py",
                  "gisportal/cli/sites.py"}


def _explained(lines: list[str], at: int) -> bool:
    """A comment on the import's line, or above the group of imports it belongs to."""
    while True:
        if "#" in lines[at]:
            return True
        at -= 1
        above = lines[at].strip()
        if not above.startswith(("from ", "import ")):
            return above.startswith("#") or (above.startswith("try:") and "#" in above)


def test_imports_inside_functions_say_why():
    """An import inside a function is allowed for an optional or heavy dependency only, with a comment saying
    why (on its line, or just above it): any other belongs at the top of its module."""
    silent = []
    for path in sorted((ROOT / "gisportal").rglob("*.py")):
        name = str(path.relative_to(ROOT))
        if "migrations" in path.parts or name in LAZY_BY_DESIGN:
            continue
        lines = path.read_text(encoding="utf-8").splitlines()
        for func in ast.walk(ast.parse("\n".join(lines))):
            if not isinstance(func, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for node in ast.walk(func):
                if isinstance(node, (ast.Import, ast.ImportFrom)) and not _explained(lines, node.lineno - 1):
                    silent.append(f"{name}:{node.lineno}: {lines[node.lineno - 1].strip()}")
    assert silent == [], "\n".join(silent)
