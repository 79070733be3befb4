"""SQL side of the embedded store: metadata tables and the parcel search index.

These tables live in the same GeoPackage file as the layers. Searching parcels
uses SQLite's FTS5 full-text index (prefix queries on every word), quarters
and streets are a small table of places with a representative point.
"""

from __future__ import annotations

import logging
import re
import sqlite3

import geopandas as gpd
import pandas as pd

from gisportal.parcels import search_text
from gisportal.storage.base import Suggestion

logger = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS gp_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS gp_plans (
    id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, title_fr TEXT NOT NULL, title_ar TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS gp_plan_versions (
    id INTEGER PRIMARY KEY, plan_id INTEGER NOT NULL REFERENCES gp_plans(id), version INTEGER NOT NULL,
    approval_act TEXT NOT NULL, approval_date TEXT NOT NULL, effective_from TEXT NOT NULL,
    published_at TEXT NOT NULL, UNIQUE (plan_id, version));
CREATE TABLE IF NOT EXISTS gp_places (kind TEXT NOT NULL, label TEXT NOT NULL, x REAL NOT NULL, y REAL NOT NULL);
CREATE VIRTUAL TABLE IF NOT EXISTS gp_parcel_search USING fts5(
    words, label UNINDEXED, ref UNINDEXED, x UNINDEXED, y UNINDEXED,
    tokenize = 'unicode61 remove_diacritics 2');
"""

_STREET = re.compile(r"^\s*\d+\s*(?:bis|ter)?\s*,?\s*", re.I)


def build_search_index(db: sqlite3.Connection, parcels: gpd.GeoDataFrame) -> None:
    """Rebuild the parcel index and the quarters/streets places from ``parcels``."""
    points = parcels.geometry.representative_point()
    xs, ys = points.x.to_numpy(), points.y.to_numpy()
    refs = parcels["ref"].astype(str)
    addresses = parcels["address"].fillna("").astype(str)
    words = (refs + " " + refs.str.replace(r"^[A-Za-z]+[-\s]?", "", regex=True) + " " + addresses).map(search_text)
    labels = refs.where(addresses == "", refs + " — " + addresses)
    db.execute("DELETE FROM gp_parcel_search")
    db.executemany("INSERT INTO gp_parcel_search (words, label, ref, x, y) VALUES (?, ?, ?, ?, ?)",
                   zip(words, labels, refs, xs, ys))
    frame = pd.DataFrame({"quarter": parcels["quarter"], "street": addresses.str.replace(_STREET, "", regex=True),
                          "x": xs, "y": ys})
    db.execute("DELETE FROM gp_places")
    for kind, column in (("quarter", "quarter"), ("street", "street")):
        groups = frame[frame[column].fillna("") != ""].groupby(column)[["x", "y"]].median()
        db.executemany("INSERT INTO gp_places VALUES (?, ?, ?, ?)",
                       ((kind, name, float(x), float(y)) for name, (x, y) in groups.iterrows()))
    logger.info("search index: %d parcels", len(parcels))


def search_parcels(db: sqlite3.Connection, words: list[str], limit: int) -> list[Suggestion]:
    """Parcels whose reference or address has a word starting with each of ``words``."""
    query = " AND ".join(f'"{w.replace(chr(34), "")}"*' for w in words if w)
    if not query or limit <= 0:
        return []
    rows = db.execute("SELECT label, ref, x, y FROM gp_parcel_search WHERE gp_parcel_search MATCH ? LIMIT ?",
                      (query, limit))
    return [Suggestion("parcel", label, ref, x, y) for label, ref, x, y in rows]
