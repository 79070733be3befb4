"""List the imports placed inside functions in gisportal/, each with why it might be there.

    .venv/bin/python tools/inner_imports.py [--all]

Kinds: ``cycle`` (the imported module imports this one, directly or not: moving the import up would make a
cycle), ``cli-lazy`` (the command line loads a command's dependencies when the command runs), ``third-party``
and ``stdlib`` (a library loaded when first needed), ``no-cycle`` (a gisportal module that could be imported at
the top). Without ``--all`` only the counts and the ``no-cycle`` and ``stdlib`` ones are printed.
"""

from __future__ import annotations

import ast
import sys
from collections import Counter
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parent.parent


def _module(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def inner_imports() -> list[tuple[str, int, str, str, str]]:
    """(file, line, function, imported, kind) for every import statement inside a function."""
    sys.path.insert(0, str(ROOT))
    graph = grimp.build_graph("gisportal", exclude_type_checking_imports=True)
    rows = []
    for path in sorted((ROOT / "gisportal").rglob("*.py")):
        if "migrations" in path.parts:
            continue
        module = _module(path)
        for func in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(func, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for node in ast.walk(func):
                if isinstance(node, ast.ImportFrom):
                    base = node.module or ""
                    targets = {f"{base}.{a.name}" if f"{base}.{a.name}" in graph.modules else base
                               for a in node.names}
                elif isinstance(node, ast.Import):
                    targets = {a.name for a in node.names}
                else:
                    continue
                for target in sorted(targets):
                    rows.append((str(path.relative_to(ROOT)), node.lineno, func.name, target,
                                 _kind(graph, module, target)))
    return rows


def _kind(graph: grimp.ImportGraph, module: str, target: str) -> str:
    if not target.startswith("gisportal"):
        return "stdlib" if target.split(".")[0] in sys.stdlib_module_names else "third-party"
    while target not in graph.modules:
        target = target.rsplit(".", 1)[0]
    if target != module and graph.find_shortest_chain(importer=target, imported=module):
        return "cycle"
    return "cli-lazy" if module in ("gisportal.cli.commands", "gisportal.cli.planning") else "no-cycle"


def main() -> None:
    rows = inner_imports()
    print(f"{len(rows)} imports inside functions:", dict(Counter(r[4] for r in rows)))
    for file, line, func, target, kind in rows:
        if "--all" in sys.argv or kind in ("no-cycle", "stdlib"):
            print(f"{file}:{line} {func}(): {target} [{kind}]")


if __name__ == "__main__":
    main()
