"""Arabic names of quarters and streets and Arabic text of approval acts from a file: ``gisportal names FILE``.

Registered on :data:`gisportal.cli.commands.main`. The file is CSV (UTF-8, ``,`` or ``;``; columns ``kind,name,arabic``,
kind ``quarter``, ``street`` or ``approval_act``) or YAML (``quarters:``, ``streets:``, ``approval_acts:``, each a
mapping of the name as the data carries it to its Arabic text). Every row is checked against the store first
(the quarter, street or approval act must exist there, the Arabic text must be Arabic, one Arabic name per name
and one name per Arabic name); the report names each problem by line and column, and nothing is written unless
there is none. What is set joins what the store already holds (``--replace`` starts afresh): ``quarters_ar`` and
``streets_ar`` (Arabic name -> the data's name, which search reads) and ``approval_acts_ar`` (act -> its Arabic
text, which the Arabic note shows).
"""

from __future__ import annotations

import csv
import io
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import click
import yaml

from gisportal.core.settings import load_settings
from gisportal.zoning.quarter_names import META_KEY, STREETS_META_KEY, is_arabic, names_of

if TYPE_CHECKING:
    from gisportal.storage.base import Store

logger = logging.getLogger(__name__)

ACTS_META_KEY = "approval_acts_ar"
KINDS = {"quarter": "quarters", "street": "streets", "approval_act": "approval_acts"}
MAX_LENGTH = 300


@dataclass(frozen=True)
class NameRow:
    """One name of the file: where it was (``line`` of the CSV, or the YAML key), its kind, name and Arabic."""

    where: str
    kind: str
    name: str
    arabic: str


def read_rows(path: Path) -> tuple[list[NameRow], list[dict[str, str]]]:
    """The rows of a CSV or YAML file, and the problems of its form (unknown kind, missing columns)."""
    text = path.read_text(encoding="utf-8-sig")
    if path.suffix.lower() in (".yaml", ".yml"):
        return _yaml_rows(text)
    try:
        dialect = csv.Sniffer().sniff(text.splitlines()[0] if text else ",", delimiters=",;")
    except csv.Error:
        dialect = csv.excel  # one column: the header check below says what is missing
    reader = csv.DictReader(io.StringIO(text), dialect=dialect)
    missing = {"kind", "name", "arabic"} - {(f or "").strip() for f in reader.fieldnames or []}
    if missing:
        return [], [{"where": "line 1", "column": ", ".join(sorted(missing)), "problem": "missing column"}]
    rows, problems = [], []
    for line, record in enumerate(reader, start=2):
        values = {(k or "").strip(): (v or "").strip() for k, v in record.items() if isinstance(v, str)}
        kind = values.get("kind", "")
        if kind not in KINDS:
            problems.append({"where": f"line {line}", "column": "kind",
                             "problem": f"unknown kind {kind!r}: quarter, street or approval_act"})
            continue
        rows.append(NameRow(f"line {line}", kind, values.get("name", ""), values.get("arabic", "")))
    return rows, problems


def _yaml_rows(text: str) -> tuple[list[NameRow], list[dict[str, str]]]:
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        return [], [{"where": "file", "column": "", "problem": f"not YAML: {exc}"}]
    if not isinstance(data, dict):
        return [], [{"where": "file", "column": "", "problem": "expected quarters:, streets:, approval_acts:"}]
    rows, problems = [], []
    by_section = {section: kind for kind, section in KINDS.items()}
    for section, names in data.items():
        if section not in by_section or not isinstance(names, dict):
            problems.append({"where": str(section), "column": "", "problem":
                             "unknown section (quarters, streets, approval_acts: each a mapping name -> Arabic)"})
            continue
        rows += [NameRow(f"{section}: {name}", by_section[section], str(name).strip(),
                         "" if arabic is None else str(arabic).strip()) for name, arabic in names.items()]
    return rows, problems


def _exists(store: Store, row: NameRow, acts: set[str]) -> bool:
    if row.kind == "approval_act":
        return row.name in acts
    return any(s.kind == row.kind and s.label == row.name for s in store.search(row.name, 10))


def check_rows(store: Store, rows: list[NameRow]) -> list[dict[str, str]]:
    """Every problem of ``rows`` against ``store``: each names where it is, the column and what is wrong."""
    problems: list[dict[str, str]] = []
    acts = {v.approval_act for v in store.plan_versions()}
    seen: dict[tuple[str, str], NameRow] = {}
    arabic_seen: dict[tuple[str, str], NameRow] = {}

    def bad(row: NameRow, column: str, problem: str) -> None:
        problems.append({"where": row.where, "column": column, "problem": problem})

    for row in rows:
        if not row.name:
            bad(row, "name", "empty")
        elif len(row.name) > MAX_LENGTH:
            bad(row, "name", f"longer than {MAX_LENGTH} characters")
        elif not _exists(store, row, acts):
            bad(row, "name", f"no {row.kind.replace('_', ' ')} of this name in the data")
        if not row.arabic:
            bad(row, "arabic", "empty")
        elif not is_arabic(row.arabic) or len(row.arabic) > MAX_LENGTH or not row.arabic.isprintable():
            bad(row, "arabic", f"not Arabic text (Arabic letters, printable, at most {MAX_LENGTH} characters)")
        earlier = seen.setdefault((row.kind, row.name), row)
        if earlier is not row and earlier.arabic != row.arabic:
            bad(row, "name", f"given another Arabic text already ({earlier.where})")
        other = arabic_seen.setdefault((row.kind, row.arabic), row)
        if row.kind != "approval_act" and other is not row and other.name != row.name:
            bad(row, "arabic", f"the same Arabic name as {other.name!r} ({other.where}): search could not tell them "
                "apart")
    return problems


def merged_meta(meta: dict[str, str], rows: list[NameRow], replace: bool) -> dict[str, str]:
    """The store metadata with ``rows`` set (on top of what it holds unless ``replace``)."""
    quarters = {} if replace else names_of(meta, META_KEY)
    streets = {} if replace else names_of(meta, STREETS_META_KEY)
    acts = {} if replace else names_of(meta, ACTS_META_KEY)
    for row in rows:
        if row.kind == "approval_act":
            acts[row.name] = row.arabic
            continue
        table = quarters if row.kind == "quarter" else streets
        for arabic in [a for a, name in table.items() if name == row.name]:  # the name's earlier Arabic
            del table[arabic]
        table[row.arabic] = row.name
    return {key: json.dumps(table, ensure_ascii=False)
            for key, table in ((META_KEY, quarters), (STREETS_META_KEY, streets), (ACTS_META_KEY, acts))}


@click.command("names")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--check", is_flag=True, help="Only check the file and print the report; write nothing.")
@click.option("--replace", is_flag=True, help="Forget the Arabic names held before (default: add to them).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def names(path: Path, check: bool, replace: bool, fmt: str) -> None:
    """Set the Arabic names of quarters and streets and the Arabic text of approval acts from a CSV or YAML file
    (columns kind,name,arabic; kind quarter|street|approval_act). All rows or none: exit 2 with the report."""
    rows, problems = read_rows(path)
    from gisportal.storage import open_store  # loaded when the command runs: the CLI starts at once

    store = open_store(load_settings())
    try:
        problems += check_rows(store, rows)
        counts = {kind: sum(r.kind == kind for r in rows) for kind in KINDS}
        report = {"file": str(path), "rows": len(rows), "problems": problems, "counts": counts,
                  "written": not problems and not check}
        if report["written"]:
            store.set_meta(merged_meta(store.meta(), rows, replace))
    finally:
        store.close()
    if fmt == "json":
        click.echo(json.dumps(report, ensure_ascii=False, indent=2))
    else:
        for p in problems:
            click.echo(f"{p['where']}: {p['column']}: {p['problem']}".replace(": : ", ": "))
        verb = "set" if report["written"] else ("checked" if not problems else "NOT written")
        click.echo(f"{len(rows)} names {verb} ({counts['quarter']} quarters, {counts['street']} streets, "
                   f"{counts['approval_act']} approval acts); {len(problems)} problem(s)")
    if problems:
        raise SystemExit(2)


#: Added to the ``gisportal`` command by :mod:`gisportal.cli.commands`.
NAMES_COMMANDS = (names,)
