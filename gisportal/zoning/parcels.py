"""Parcels: land-title references, addresses and quarters.

A parcel is identified by its land-title reference (titre foncier, e.g.
``TF-104523/06``). People type references loosely (``tf 104523/06``,
``104523/06``), so lookups go through :func:`ref_key`.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
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


def text_array(texts: Any) -> Any:
    """Texts as an Arrow ``large_string`` array: a pandas column backed by Arrow without a copy, a list or an
    array of texts (missing values -> null) directly, anything else as the text of each value."""

    if not isinstance(texts, (pa.Array, pa.ChunkedArray)):
        try:
            texts = pa.array(texts, type=pa.large_string(), from_pandas=True)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            texts = pa.array([None if t is None or t != t else str(t) for t in texts],  # t != t: NaN
                             type=pa.large_string())
    if isinstance(texts, pa.ChunkedArray):  # a pandas column backed by Arrow gives its chunks
        texts = texts.combine_chunks()
    return texts.cast(pa.large_string())


def fold_texts(texts: object, ascii_kernel: Callable[[Any], Any], one: Callable[[str], str]) -> Any:
    """``one`` of many texts at once, as an Arrow array (nulls stay null): pure-ASCII texts (most references
    and addresses) by ``ascii_kernel``, Arrow compute kernels over the whole column in one pass, which must do
    exactly what ``one`` does to ASCII; the others (accents, Arabic) through ``one``, one by one."""

    array = text_array(texts)
    out = ascii_kernel(array)
    others = (~pc.fill_null(pc.string_is_ascii(array), True).to_numpy(zero_copy_only=False)).nonzero()[0]
    if len(others):
        values = out.to_pylist()
        for i in others:
            values[i] = one(array[i].as_py())
        out = pa.array(values, type=pa.large_string())
    return out


def search_texts(texts: object) -> Any:
    """:func:`search_text` of many texts at once, as an Arrow array (a million parcels' words at import).

    For ASCII, lower case and ``[^A-Za-z0-9_]+`` to a space is exactly what :func:`search_text` does.
    """

    return fold_texts(texts, lambda a: pc.utf8_trim(pc.replace_substring_regex(
        pc.ascii_lower(a), pattern=r"[^A-Za-z0-9_]+", replacement=" "), characters=" "), search_text)


def ref_keys(refs: object) -> Any:
    """:func:`ref_key` of many references at once, as an Arrow array (for ASCII: upper case, then letters and
    digits only)."""

    return fold_texts(refs, lambda a: pc.replace_substring_regex(pc.ascii_upper(a), pattern="[^0-9A-Z]+",
                                                                 replacement=""), ref_key)
