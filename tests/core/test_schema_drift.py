"""The two descriptions of the agency's tables cannot drift (issue #13): the SQLAlchemy Core metadata
(``gisportal.core.agencydb.metadata``, every service's tables) against the schema a new instance really gets, on both
backends: the Alembic chain's head on PostGIS, ``create_all`` plus the embedded extras on SQLite. Alembic's own
``compare_metadata`` lists every table, column, type, nullability, index and unique constraint that differs."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from gisportal.core.agencydb import load_table_modules, metadata
from gisportal.core.settings import load_settings
from gisportal.storage import open_agency, open_store

#: Full-text search structures each backend builds beside the Core tables, by design (PostgreSQL: a generated
#: tsvector column and its GIN index, revision 0007; SQLite: FTS5 virtual tables, which are not Core tables).
BACKEND_FULL_TEXT = {("column", "gp_library_documents", "search_vector"),
                     ("index", "gp_library_documents", "gp_library_documents_search")}


def _ours(obj, name, type_, reflected, compare_to) -> bool:
    """Only the agency's tables (the store's own, PostGIS's and Alembic's are described elsewhere)."""
    table = obj if type_ == "table" else getattr(obj, "table", None)
    table_name = name if type_ == "table" else getattr(table, "name", None)
    return table_name in metadata.tables and (type_, table_name, name) not in BACKEND_FULL_TEXT


def test_the_database_schema_is_the_core_metadata(empty_instance):
    load_table_modules()
    settings = load_settings(empty_instance.settings)
    store = open_store(settings)
    agency = open_agency(settings, store)
    try:
        with agency.engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"include_object": _ours, "compare_type": True})
            differences = compare_metadata(context, metadata)
            tables = set(sa_inspect_tables(conn))
    finally:
        agency.close()
        store.close()
    assert set(metadata.tables) <= tables  # every Core table exists
    assert differences == [], differences


def sa_inspect_tables(conn) -> list[str]:
    import sqlalchemy as sa

    return sa.inspect(conn).get_table_names()
