"""SQL side of the embedded store: metadata tables and the parcel search index.

These tables live in the same GeoPackage file as the layers. Searching parcels
uses SQLite's FTS5 full-text index (prefix queries on every word), quarters
and streets are a small table of places with a representative point.
"""

from __future__ import annotations

import logging
import sqlite3

import geopandas as gpd

from gisportal.storage.base import Suggestion
from gisportal.storage.indexing import address_parts, parcel_search_rows, place_rows

logger = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS gp_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS gp_plans (
    id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, title_fr TEXT NOT NULL, title_ar TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS gp_plan_versions (
    id INTEGER PRIMARY KEY, plan_id INTEGER NOT NULL REFERENCES gp_plans(id), version INTEGER NOT NULL,
    approval_act TEXT NOT NULL, approval_date TEXT NOT NULL, effective_from TEXT NOT NULL,
    published_at TEXT NOT NULL, UNIQUE (plan_id, version));
CREATE TABLE IF NOT EXISTS gp_version_origins (
    version_id INTEGER PRIMARY KEY REFERENCES gp_plan_versions(id), origin TEXT NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS gp_places (kind TEXT NOT NULL, label TEXT NOT NULL, x REAL NOT NULL, y REAL NOT NULL);
CREATE VIRTUAL TABLE IF NOT EXISTS gp_parcel_search USING fts5(
    words, label UNINDEXED, ref UNINDEXED, x UNINDEXED, y UNINDEXED,
    tokenize = 'unicode61 remove_diacritics 2');
"""


def build_search_index(db: sqlite3.Connection, parcels: gpd.GeoDataFrame) -> None:
    """Rebuild the parcel index and the quarters/streets places from ``parcels``."""
    rows = parcel_search_rows(parcels)
    db.execute("DELETE FROM gp_parcel_search")
    db.executemany("INSERT INTO gp_parcel_search (words, label, ref, x, y) VALUES (?, ?, ?, ?, ?)",
                   rows[["words", "label", "ref", "x", "y"]].itertuples(index=False, name=None))
    db.execute("DELETE FROM gp_places")
    streets, _houses = address_parts(parcels["address"].tolist())
    db.executemany("INSERT INTO gp_places VALUES (?, ?, ?, ?)",
                   place_rows(parcels["quarter"].tolist(), streets, rows["x"].to_numpy(), rows["y"].to_numpy()))
    logger.info("search index: %d parcels", len(parcels))


def search_parcels(db: sqlite3.Connection, words: list[str], limit: int) -> list[Suggestion]:
    """Parcels whose reference or address has a word starting with each of ``words``."""
    query = " AND ".join(f'"{w.replace(chr(34), "")}"*' for w in words if w)
    if not query or limit <= 0:
        return []
    rows = db.execute("SELECT label, ref, x, y FROM gp_parcel_search WHERE gp_parcel_search MATCH ? LIMIT ?",
                      (query, limit))
    return [Suggestion("parcel", label, ref, x, y) for label, ref, x, y in rows]
