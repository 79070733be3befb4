"""The README tells the truth about the code (issue #13): its configuration table lists every setting of
:class:`gisportal.core.settings.Settings` with its true default, and nothing else; its "Where things are" table
names every package and module of ``gisportal/``, and only those that exist."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from pydantic_core import PydanticUndefined

from gisportal.core.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def section(text: str, heading: str) -> str:
    """The text under a Markdown heading, up to the next heading of any level."""
    start = text.index(heading + "\n") + len(heading) + 1
    following = re.search(r"^#{1,6} ", text[start:], re.MULTILINE)
    return text[start:start + following.start()] if following else text[start:]


def table_rows(text: str) -> list[list[str]]:
    """The cells of a Markdown table's body rows."""
    return [[c.strip() for c in line.strip().strip("|").split("|")] for line in text.splitlines()
            if line.startswith("|") and not line.startswith("|---")][1:]


def documented_defaults(text: str) -> dict[str, str]:
    """``{GISPORTAL_NAME: its default cell}`` from a configuration table; a row naming several settings
    (``A / B``) gives their defaults in the same order (``x / y``), or all of them the whole cell."""
    found: dict[str, str] = {}
    for names_cell, default_cell, *_ in table_rows(text):
        names = re.findall(r"`(GISPORTAL_[A-Z0-9_]+)`", names_cell)
        defaults = [d.strip() for d in default_cell.split(" / ")]
        for n, name in enumerate(names):
            assert name not in found, f"{name} is in the table twice"
            found[name] = defaults[n] if len(defaults) == len(names) else default_cell
    return found


def default_forms(value: Any) -> set[str]:
    """How a default may be written in the table."""
    if isinstance(value, bool):
        return {str(value).lower()}
    if isinstance(value, int | float):
        forms = {str(value), f"{value:g}", f"{value:,}"}
        if isinstance(value, float) and value.is_integer():
            forms |= {str(int(value)), f"{int(value):,}"}
        for unit, size in (("KiB", 1024), ("MiB", 1024**2), ("GiB", 1024**3)):
            if isinstance(value, int) and value % size == 0 and value >= size:
                forms.add(f"{value // size} {unit}")
        return forms
    return {str(value)}


def test_the_table_reader_pairs_names_with_defaults():
    table = "| variable | default | meaning |\n|---|---|---|\n| `GISPORTAL_A` / `GISPORTAL_B` | `1` / 2 MiB | x |\n"
    assert documented_defaults(table) == {"GISPORTAL_A": "`1`", "GISPORTAL_B": "2 MiB"}
    assert "2 MiB" in default_forms(2 * 1024**2) and "false" in default_forms(False)


def test_every_setting_is_in_the_configuration_table_with_its_default():
    documented = documented_defaults(section(README, "## Configuration (`GISPORTAL_*`)"))
    fields = {f"GISPORTAL_{name.upper()}": info for name, info in Settings.model_fields.items()}
    assert sorted(set(fields) - set(documented)) == []  # every setting is documented...
    assert sorted(set(documented) - set(fields)) == []  # ...and nothing that is not one
    wrong = []
    for name, info in fields.items():
        if info.default is PydanticUndefined or info.default is None:
            continue  # a computed default (a packaged file, a list) or none: said in words
        if not any(form in documented[name].replace("`", "") for form in default_forms(info.default)):
            wrong.append(f"{name}: README says {documented[name]!r}, the code {info.default!r}")
    assert wrong == []


def test_where_things_are_names_every_package_and_module_and_only_those():
    where = section(README, "### Where things are")
    package = ROOT / "gisportal"
    modules = [p for p in package.rglob("*.py") if "migrations" not in p.parts and p.name != "__init__.py"]
    missing = [str(p.relative_to(package)) for p in modules if not re.search(rf"\b{p.stem}\b", where)]
    packages = [p.parent for p in package.rglob("__init__.py") if p.parent != package and "migrations" not in p.parts]
    missing += [f"{p.relative_to(package)}/" for p in packages if f"{p.name}/" not in where]
    assert missing == []
    code_cells = " ".join(" ".join(row[1:3]) for row in table_rows(where))  # the domain and web columns
    named = re.findall(r"`([a-z_]+(?:/[a-z_]+)*)/`", code_cells)  # packages written `name/` or `a/b/`
    folders = {d.relative_to(package).as_posix() for d in package.rglob("*") if d.is_dir()}
    assert named and [n for n in named if not any(f == n or f.endswith("/" + n) for f in folders)] == []
