"""Parcels: land-title references, addresses and quarters.

A parcel is identified by its land-title reference (titre foncier, e.g.
``TF-104523/06``). People type references loosely (``tf 104523/06``,
``104523/06``), so lookups go through :func:`ref_key`.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from dataclasses import dataclass

from shapely.geometry.base import BaseGeometry

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ParcelRecord:
    """A parcel as stored: reference, address, quarter and geometry in the metric CRS."""

    ref: str
    address: str | None
    quarter: str | None
    geometry: BaseGeometry


def ref_key(ref: str) -> str:
    """Comparison key of a land-title reference: upper-case letters and digits only."""
    return re.sub(r"[^0-9A-Z]", "", str(ref).upper())


def ref_key_candidates(text: str) -> list[str]:
    """Keys to try for a typed reference: as typed, and with the ``TF`` prefix people omit."""
    key = ref_key(text)
    if not key:
        return []
    return [key] if key.startswith("TF") else [key, f"TF{key}"]


def search_text(text: str) -> str:
    """Text folded for matching: lower case, accents removed, punctuation to spaces."""
    decomposed = unicodedata.normalize("NFKD", str(text))
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return re.sub(r"[^\w]+", " ", stripped.lower()).strip()
