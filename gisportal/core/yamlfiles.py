"""Configuration files people edit (rules catalogue, fee schedule): read as YAML, with an error naming the file."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import yaml

from gisportal.core.errors import GisportalError

logger = logging.getLogger(__name__)


def read_yaml(path: Path | str, error: type[GisportalError], what: str) -> Any:
    """The YAML document in ``path``; a missing file or bad YAML raises ``error`` naming the file and ``what``."""
    try:
        return yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise error(f"{path}: {what} not found", file=str(path)) from None
    except yaml.YAMLError as exc:
        raise error(f"{path}: not valid YAML ({exc})", file=str(path)) from None
