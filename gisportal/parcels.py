"""Parcels: land-title references, addresses and quarters.

A parcel is identified by its land-title reference (titre foncier, e.g.
``TF-104523/06``). People type references loosely (``tf 104523/06``,
``104523/06``), so lookups go through :func:`ref_key`.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Sequence
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


def search_texts(texts: Sequence[str]) -> list[str]:
    """:func:`search_text` of many texts at once (a million parcels' words when they are imported).

    Pure-ASCII texts, most references and addresses, are folded by Arrow's compute kernels in one pass (for ASCII,
    lower case and ``[^A-Za-z0-9_]+`` to a space is exactly what :func:`search_text` does); the others (accents,
    Arabic) go through :func:`search_text` one by one.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    array = pa.array([str(t) for t in texts], type=pa.large_string())
    ascii_mask = pc.string_is_ascii(array).to_numpy(zero_copy_only=False)
    folded = pc.utf8_trim(pc.replace_substring_regex(pc.ascii_lower(array), pattern=r"[^A-Za-z0-9_]+",
                                                     replacement=" "), characters=" ")
    out = folded.to_pylist()
    for i in (~ascii_mask).nonzero()[0]:
        out[i] = search_text(array[i].as_py())
    return out
