"""Import of committee decisions from a CSV file, with a validation report before anything is stored.

The file is UTF-8 (a byte-order mark is tolerated), columns separated by ``;`` or ``,`` (spreadsheets in
French locales write ``;``), one decision per line, the columns of :data:`COLUMNS` named in the first line.
Decisions and project types may be written as codes or as labels in French, Arabic or English. Every
problem is reported as (line, column, problem); the import is all-or-nothing
(:meth:`gisportal.services.committees.sessions.Committees.record`).
"""

from __future__ import annotations

import csv
import io
import logging
from dataclasses import dataclass

from gisportal.services.committees.records import DecisionEntry, Finding
from gisportal.services.committees.terms import DECISIONS, PROJECT_TYPES, term_code

logger = logging.getLogger(__name__)

#: Columns of the file: required first, then optional.
REQUIRED_COLUMNS = ("file_number", "parcel_ref", "project_type", "decision")
OPTIONAL_COLUMNS = ("conditions", "applicant_reference", "applicant_name", "applicant_cin", "applicant_phone")
COLUMNS = REQUIRED_COLUMNS + OPTIONAL_COLUMNS
#: Largest file accepted (bytes) and most lines per import.
MAX_BYTES = 2 * 1024 * 1024
MAX_ROWS = 5000


@dataclass(frozen=True)
class ParsedFile:
    """The entries of a file, their line numbers, and the problems of the file itself (encoding, columns)."""

    entries: list[DecisionEntry]
    rows: list[int]
    findings: list[Finding]


def template_csv() -> str:
    """The downloadable template: the header and one example line."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(COLUMNS)
    writer.writerow(["2026/0001", "TF-104523/06", "housing", "favourable",
                     "Conditions (public: no names, ID numbers or phone numbers)", "", "", "", ""])
    return "\ufeff" + out.getvalue()


def _delimiter(header_line: str) -> str:
    return ";" if header_line.count(";") >= header_line.count(",") else ","


def parse_decisions_csv(data: bytes) -> ParsedFile:
    """Read a decisions file; nothing is checked against the database here (see ``Committees.findings``)."""
    def problem(code: str, column: str = "", row: int | None = None, **params: object) -> ParsedFile:
        return ParsedFile([], [], [Finding(row, column, code, dict(params))])

    if len(data) > MAX_BYTES:
        return problem("file_too_large", max=MAX_BYTES // 1024 // 1024)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return problem("not_utf8")
    lines = text.splitlines()
    if not lines or not lines[0].strip():
        return problem("empty")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(lines[0]))
    header = [h.strip().lower() for h in next(reader)]
    findings = [Finding(1, name, "missing_column") for name in REQUIRED_COLUMNS if name not in header]
    findings += [Finding(1, name or "?", "unknown_column") for name in header if name not in COLUMNS]
    if findings:
        return ParsedFile([], [], findings)
    entries: list[DecisionEntry] = []
    rows: list[int] = []
    try:
        for record in reader:
            line = reader.line_num
            if not any(cell.strip() for cell in record):
                continue
            if len(entries) >= MAX_ROWS:
                return problem("too_many_rows", max=MAX_ROWS)
            if len(record) != len(header):
                findings.append(Finding(line, "", "wrong_cell_count", {"found": len(record),
                                                                      "expected": len(header)}))
                continue
            values = {name: cell.strip() for name, cell in zip(header, record, strict=True)}
            entries.append(DecisionEntry(
                file_number=values["file_number"], parcel_ref=values["parcel_ref"],
                project_type=term_code(PROJECT_TYPES, values["project_type"]),
                decision=term_code(DECISIONS, values["decision"]),
                **{name: values.get(name, "") for name in OPTIONAL_COLUMNS}))
            rows.append(line)
    except csv.Error:
        return problem("unreadable", row=reader.line_num)
    if not entries and not findings:
        return problem("empty")
    logger.info("decisions file read: %d line(s), %d problem(s)", len(entries), len(findings))
    return ParsedFile(entries, rows, findings)
