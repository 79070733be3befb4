"""Search material both backends derive from parcels: per-parcel words, quarters and streets."""

from __future__ import annotations

import logging
import re
from collections.abc import Collection
from typing import Any

import geopandas as gpd
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from gisportal.storage.base import Suggestion
from gisportal.zoning.parcels import fold_texts, search_text, search_texts, text_array

logger = logging.getLogger(__name__)

_STREET = re.compile(r"^\s*\d+\s*(?:bis|ter)?\s*,?\s*", re.I)
_HOUSE = re.compile(r"^\s*(?P<house>\d+\s*(?:bis|ter)?)", re.I)


def parcel_search_rows(parcels: gpd.GeoDataFrame) -> pd.DataFrame:
    """One row per parcel: folded ``words`` to match, a ``label`` to show, and a point ``x``/``y``."""
    points = parcels.geometry.representative_point()
    refs = parcels["ref"].astype(str)
    addresses = parcels["address"].fillna("").astype(str)
    words = search_texts((refs + " " + refs.str.replace(r"^[A-Za-z]+[-\s]?", "", regex=True) + " " + addresses)
                         .tolist()).to_pylist()
    labels = refs.where(addresses == "", refs + " — " + addresses)
    return pd.DataFrame({"words": words, "label": labels.to_numpy(), "ref": refs.to_numpy(),
                         "x": points.x.to_numpy(), "y": points.y.to_numpy()})


def address_parts(addresses: object) -> tuple[Any, Any]:
    """The street (the address without its leading house number) and the folded house number of each address,
    as two Arrow arrays (null where there is none).

    ``"12 bis, Rue Ibn Battouta"`` -> ``("Rue Ibn Battouta", "12 bis")``; no address -> ``(null, null)``; an
    address without a number -> ``(address, null)``. ASCII addresses by Arrow's kernels in one pass, the others
    (Arabic, accents) one by one, with the same patterns.
    """

    texts = text_array(addresses)
    streets = fold_texts(texts, lambda a: pc.utf8_trim_whitespace(pc.replace_substring_regex(
        a, pattern=f"(?i){_STREET.pattern}", replacement="")), lambda t: _STREET.sub("", t).strip())

    def number(text: str) -> str:
        found = _HOUSE.match(text)
        return found.group("house") if found else ""

    numbers = fold_texts(texts, lambda a: pc.struct_field(pc.extract_regex(a, pattern=f"(?i){_HOUSE.pattern}"),
                                                          [0]), number)
    houses = search_texts(numbers)
    return _empty_to_null(streets), _empty_to_null(houses)


def _empty_to_null(values: Any) -> Any:

    return pc.if_else(pc.equal(values, ""), pa.scalar(None, values.type), values)


def place_rows(quarters: Collection[object], streets: Collection[object], x: Collection[float],
               y: Collection[float]) -> list[tuple[str, str, float, float]]:
    """Quarters and streets with a representative point: the median of their parcels' points ``x``/``y``."""
    frame = pd.DataFrame({"quarter": quarters, "street": streets, "x": x, "y": y})
    out: list[tuple[str, str, float, float]] = []
    for kind in ("quarter", "street"):
        groups = frame[frame[kind].fillna("") != ""].groupby(kind)[["x", "y"]].median()
        out += [(kind, str(name), float(x), float(y)) for name, (x, y) in groups.iterrows()]
    return out


def match_places(places: list[Suggestion], words: list[str], limit: int) -> list[Suggestion]:
    """Places every one of whose typed words starts one of their words; quarters first, shortest first."""
    found = [p for p in places if all(any(w.startswith(q) for w in search_text(p.label).split()) for q in words)]
    found.sort(key=lambda p: (p.kind != "quarter", len(p.label)))
    return found[:limit]
