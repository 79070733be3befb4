"""No import cycles in gisportal (issue #13), imports placed inside functions counted: grimp's graph holds every
import statement of the package, wherever it stands (only ``if TYPE_CHECKING:`` ones, which never run, are left
out). ``graphlib``'s topological sort finds a cycle; the test names it with the lines of the imports that close it."""

from __future__ import annotations

import ast
import itertools
from collections.abc import Iterable, Mapping
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parents[2]


def import_cycle(edges: Mapping[str, Iterable[str]]) -> list[str]:
    """One cycle of imports as ``[a, b, ..., a]`` (``a`` imports ``b``...), or ``[]`` when there is none.

    ``graphlib.TopologicalSorter`` takes each module's imports as its predecessors; its ``CycleError`` names a
    cycle as a list in which each module is imported by the next one, the first repeated at the end."""
    try:
        TopologicalSorter(edges).prepare()
    except CycleError as error:
        return list(reversed(error.args[1]))
    return []


def test_the_cycle_finder_finds_cycles():
    assert import_cycle({"a": {"b"}, "b": {"c"}, "c": {"d"}, "d": set(), "e": {"a", "d"}}) == []
    cycle = import_cycle({"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set(), "e": {"d"}})
    assert cycle[0] == cycle[-1] and len(cycle) == 4
    start = cycle.index("a")
    assert cycle[start:-1] + cycle[:start] + ["a"] == ["a", "b", "c", "a"]  # the imports' direction, any rotation
    assert import_cycle({"e": {"e", "d"}, "d": set()}) == ["e", "e"]  # a module importing itself


def test_gisportal_has_no_import_cycle():
    graph = grimp.build_graph("gisportal", exclude_type_checking_imports=True)
    edges = {m: set(graph.find_modules_directly_imported_by(m)) for m in graph.modules}
    cycle = import_cycle(edges)

    def lines(a: str, b: str) -> str:
        return ", ".join(str(d["line_number"]) for d in graph.get_import_details(importer=a, imported=b))

    assert cycle == [], [f"{a} -> {b} (line {lines(a, b)})" for a, b in itertools.pairwise(cycle)]
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
