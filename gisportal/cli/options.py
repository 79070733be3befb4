"""What the command-line modules (:mod:`gisportal.cli.commands`, :mod:`gisportal.cli.planning`,
:mod:`gisportal.cli.sites`)
parse and answer alike."""

from __future__ import annotations

import json
import sys
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from gisportal.core.settings import load_settings

if TYPE_CHECKING:
    from gisportal.storage.base import Store


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


def configured_store() -> Store:
    """The store the settings name (``GISPORTAL_*``)."""
    from gisportal.storage import open_store  # only the commands that need a store load it: --help starts at once

    return open_store(load_settings())


def print_report(report: Any) -> None:
    """A report (validation, import) as indented JSON on standard output."""
    click.echo(json.dumps(report.to_dict(), ensure_ascii=False, indent=2))
