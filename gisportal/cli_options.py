"""What the command-line modules (:mod:`gisportal.cli`, :mod:`gisportal.cli_planning`) parse alike."""

from __future__ import annotations

from datetime import date

import click


def optional_date(value: str | None) -> date | None:
    """A ``YYYY-MM-DD`` option's date (``None`` when the option is not given); a bad date is a usage error."""
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"'{value}' is not a date (YYYY-MM-DD)") from None
