"""CSV cells a spreadsheet will not run: outside text starting with ``=``, ``+``, ``-``, ``@``, a TAB or a CR
is prefixed with ``'`` (OWASP's advice against CSV/formula injection). Numbers stay numbers."""

from __future__ import annotations

#: First characters a spreadsheet reads as the start of a formula (or that hide one).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: object) -> object:
    """``value`` for a CSV cell: a string that could start a formula is made plain text."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def safe_row(values: list[object]) -> list[object]:
    """:func:`safe_cell` over a row."""
    return [safe_cell(value) for value in values]


def plain_cell(value: str) -> str:
    """The inverse of :func:`safe_cell` for a file exported by us and read back (a rules CSV edited and imported):
    the ``'`` put before a formula's first character is taken away again."""
    if value.startswith("'") and value[1:].startswith(FORMULA_STARTS):
        return value[1:]
    return value
