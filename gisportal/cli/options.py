"""What the command-line modules (:mod:`gisportal.cli.commands`, :mod:`gisportal.cli.planning`, :mod:`gisportal.cli.sites`)
parse and answer alike."""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path

import click


def optional_date(value: str | None) -> date | None:
    """A ``YYYY-MM-DD`` option's date (``None`` when the option is not given); a bad date is a usage error."""
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"'{value}' is not a date (YYYY-MM-DD)") from None


def write_pdf(body: bytes, number: str, output: Path | None) -> None:
    """A sealed PDF to ``output``; to standard output when piped, else to ``<number>.pdf`` on a terminal."""
    if output is None and sys.stdout.isatty():
        output = Path(f"{number}.pdf")
    if output is None:
        sys.stdout.buffer.write(body)
    else:
        output.write_bytes(body)
        click.echo(f"{number} -> {output}", err=True)
