"""Search material both backends derive from parcels: per-parcel words, quarters and streets."""

from __future__ import annotations

import logging
import re

import geopandas as gpd
import pandas as pd

from gisportal.parcels import search_text, search_texts
from gisportal.storage.base import Suggestion

logger = logging.getLogger(__name__)

_STREET = re.compile(r"^\s*\d+\s*(?:bis|ter)?\s*,?\s*", re.I)


def parcel_search_rows(parcels: gpd.GeoDataFrame) -> pd.DataFrame:
    """One row per parcel: folded ``words`` to match, a ``label`` to show, and a point ``x``/``y``."""
    points = parcels.geometry.representative_point()
    refs = parcels["ref"].astype(str)
    addresses = parcels["address"].fillna("").astype(str)
    words = search_texts((refs + " " + refs.str.replace(r"^[A-Za-z]+[-\s]?", "", regex=True) + " " + addresses)
                         .tolist())
    labels = refs.where(addresses == "", refs + " — " + addresses)
    return pd.DataFrame({"words": words, "label": labels.to_numpy(), "ref": refs.to_numpy(),
                         "x": points.x.to_numpy(), "y": points.y.to_numpy()})


def place_rows(parcels: gpd.GeoDataFrame, rows: pd.DataFrame) -> list[tuple[str, str, float, float]]:
    """Quarters and streets with a representative point (median of their parcels' points)."""
    addresses = parcels["address"].fillna("").astype(str)
    frame = pd.DataFrame({"quarter": parcels["quarter"].to_numpy(),
                          "street": addresses.str.replace(_STREET, "", regex=True).to_numpy(),
                          "x": rows["x"].to_numpy(), "y": rows["y"].to_numpy()})
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
