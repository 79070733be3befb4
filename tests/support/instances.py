"""Portal instances on either storage backend, for the tests.

An :class:`Instance` is what a deployment is made of: a data directory (keys,
secret key, and for the embedded backend the GeoPackage and the SQLite registry)
and, for PostGIS, a database of its own on the session's throwaway cluster
(:mod:`pgcluster`). Tests reach the store through :meth:`Instance.open_store`,
the app through :attr:`Instance.settings`, the command line through
:attr:`Instance.env`, and check "nothing changed" with :meth:`Instance.snapshot`.

PostGIS databases are cloned from template databases (``CREATE DATABASE ...
TEMPLATE``, about 0.1 s), so every test that writes gets a database of its own.
"""

from __future__ import annotations

import itertools
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

BACKENDS = ("embedded", "postgis")
#: PostGIS on a primary and a streaming replica, both through PgBouncer in transaction mode (issue #18): a
#: backend id of the tests (``[replicated]``), the ``postgis`` store configured with read replicas.
REPLICATED = "replicated"

#: Every table of the PostGIS schema (the Alembic version table included).
PG_TABLES = ("gp_meta", "gp_plans", "gp_plan_versions", "gp_version_origins", "gp_zones", "gp_overlays",
             "gp_parcels", "gp_places", "gp_issued_notes", "gp_alembic_version")

_numbers = itertools.count(1)


class PgDatabases:
    """Databases on the session's cluster: a PostGIS-enabled template, clones, drops."""

    def __init__(self, cluster: Any) -> None:
        self.cluster = cluster
        self.postgis_template = "gp_template_postgis"
        # A server time zone that is never UTC (Morocco's own is UTC in Ramadan): values must not depend on it.
        cluster.execute("ALTER SYSTEM SET timezone = 'Africa/Lagos'")
        cluster.execute("SELECT pg_reload_conf()")
        cluster.create_database(self.postgis_template)

    def create(self, template: str | None = None, prefix: str = "gp") -> str:
        """A new database cloned from ``template`` (default: empty with PostGIS); returns its name."""
        name = f"{prefix}_{next(_numbers)}"
        self.cluster.create_database(name, template=template or self.postgis_template)
        return name

    def drop(self, name: str) -> None:
        self.cluster.drop_database(name)


class ReplicatedDatabases(PgDatabases):
    """Databases on a primary with a streaming replica (``pg_basebackup -R``), each behind its own PgBouncer in
    transaction pooling mode: ``url(db)`` reaches the primary, ``read_url(db)`` the replica, both pooled."""

    def __init__(self) -> None:
        from support.pgbouncer import PgBouncer
        from support.pgcluster import PgCluster

        super().__init__(PgCluster())
        self.replica = PgCluster(replica_of=self.cluster)
        self.bouncers = [PgBouncer(self.cluster), PgBouncer(self.replica, query_wait_timeout=2)]

    def url(self, name: str) -> str:
        return self.bouncers[0].url(name)

    def read_url(self, name: str) -> str:
        return self.bouncers[1].url(name)

    def destroy(self) -> None:
        for bouncer in self.bouncers:
            bouncer.stop()
        self.replica.destroy()
        self.cluster.destroy()


@dataclass
class Instance:
    """One portal instance on one backend."""

    backend: str
    data_dir: Path
    database_name: str | None = None
    database_url: str | None = None
    read_urls: list[str] = field(default_factory=list)  # replicated: the replica, through PgBouncer
    _stores: list = field(default_factory=list, repr=False)
    _pg: PgDatabases | None = field(default=None, repr=False)

    @property
    def settings(self) -> dict[str, Any]:
        """Settings overrides for ``create_app`` / ``load_settings``."""
        if self.backend == REPLICATED:
            return {"data_dir": self.data_dir, "storage": "postgis", "database_url": self.database_url,
                    "database_read_urls": self.read_urls, "database_transaction_pooling": True}
        return {"data_dir": self.data_dir, "storage": self.backend, "database_url": self.database_url}

    @property
    def env(self) -> dict[str, str]:
        """The same as ``GISPORTAL_*`` environment variables (command line, server processes)."""
        env = {"GISPORTAL_DATA_DIR": str(self.data_dir), "GISPORTAL_STORAGE": self.settings["storage"]}
        if self.database_url:
            env["GISPORTAL_DATABASE_URL"] = self.database_url
        if self.read_urls:
            env["GISPORTAL_DATABASE_READ_URLS"] = ",".join(self.read_urls)
            env["GISPORTAL_DATABASE_TRANSACTION_POOLING"] = "true"
        return env

    @property
    def store_path(self) -> Path:
        """The embedded store's file (embedded backend only)."""
        return self.data_dir / "gisportal.gpkg"

    def open_store(self, crs: str | None = None):
        """A new store object on this instance (closed when the instance is discarded)."""
        from gisportal.core.settings import load_settings
        from gisportal.storage import open_store

        store = open_store(load_settings({**self.settings, "crs": crs}))
        self._stores.append(store)
        return store

    def snapshot(self) -> Any:
        """Everything stored, to compare before and after a write that must change nothing.

        Embedded: the file's bytes, inode and mtime. PostGIS: row count and a digest of the rows of every
        table (the data generation in ``gp_meta`` included).
        """
        if self.backend == "embedded":
            st = self.store_path.stat()
            return self.store_path.read_bytes(), st.st_ino, st.st_mtime_ns
        import psycopg

        with psycopg.connect(self.database_url) as conn:
            return {t: conn.execute(f"SELECT count(*), md5(COALESCE(string_agg(r::text, '|' ORDER BY r::text), ''))"
                                    f" FROM {t} r").fetchone() for t in PG_TABLES}

    def sql(self, statement: str, *params: Any) -> list[tuple]:
        """Run one statement on the instance's database (PostGIS only); returns the rows."""
        import psycopg

        with psycopg.connect(self.database_url, autocommit=True) as conn:
            cur = conn.execute(statement, params or None)
            return cur.fetchall() if cur.description else []

    def discard(self) -> None:
        """Close the stores opened by the tests, drop the database."""
        for store in self._stores:
            try:
                store.close()
            except Exception:  # a store on a stopped cluster
                pass
        self._stores.clear()
        if self._pg is not None and self.database_name:
            self._pg.drop(self.database_name)


def new_instance(request: pytest.FixtureRequest, backend: str, data_dir: Path,
                 template: Instance | None = None) -> Instance:
    """An instance on ``backend``, empty or a copy of ``template``; discarded with the requesting fixture."""
    data_dir.mkdir(parents=True, exist_ok=True)
    if backend == "embedded":
        instance = Instance("embedded", data_dir)
        if template is not None:
            shutil.copyfile(template.store_path, instance.store_path)
    elif backend == "postgis":
        pg: PgDatabases = request.getfixturevalue("pg")
        name = pg.create(template.database_name if template is not None else None)
        instance = Instance("postgis", data_dir, name, pg.cluster.url(name), _pg=pg)
    elif backend == REPLICATED:
        rpg: ReplicatedDatabases = request.getfixturevalue("pg_replicated")
        name = rpg.create(template.database_name if template is not None else None)
        instance = Instance(REPLICATED, data_dir, name, rpg.url(name), [rpg.read_url(name)], _pg=rpg)
    else:
        raise ValueError(f"unknown backend {backend!r}")
    request.addfinalizer(instance.discard)
    return instance
