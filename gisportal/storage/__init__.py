"""Storage backends, chosen by name from the settings."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from gisportal.core.agencydb import SQLITE_NAME, AgencyDB, create_sqlite_schema, database_errors, sqlite_engine
from gisportal.core.errors import InvalidInput
from gisportal.core.settings import Settings
from gisportal.storage.base import Store

logger = logging.getLogger(__name__)


def _embedded(settings: Settings) -> Store:
    from gisportal.storage.embedded.store import EmbeddedStore  # a backend is loaded only when it is chosen

    return EmbeddedStore(settings.store_path, crs=settings.crs)


def _postgis(settings: Settings) -> Store:
    from gisportal.storage.postgis.store import PostgisStore  # psycopg, GeoAlchemy2: only for this backend

    if not settings.database_url:
        raise InvalidInput("The postgis backend needs GISPORTAL_DATABASE_URL=postgresql://user@host:port/db.")
    return PostgisStore(settings.database_url, crs=settings.crs, read_urls=settings.database_read_urls,
                        prepare=not settings.database_transaction_pooling,
                        max_lag_seconds=settings.database_read_max_lag_seconds,
                        retry_seconds=settings.database_read_retry_seconds)


#: Backend name -> factory.
BACKENDS: dict[str, Callable[[Settings], Store]] = {"embedded": _embedded, "postgis": _postgis}


def backend_name(settings: Settings) -> str:
    """The backend in use: ``storage`` when set, else PostGIS when a database URL is given, else embedded."""
    return settings.storage or ("postgis" if settings.database_url else "embedded")


def open_store(settings: Settings) -> Store:
    """Open the backend named by the settings."""
    name = backend_name(settings)
    try:
        factory = BACKENDS[name]
    except KeyError:
        raise InvalidInput(f"Unknown storage backend '{name}'. Known: {', '.join(BACKENDS)}.") from None
    return factory(settings)


def open_agency(settings: Settings, store: Store | None = None) -> AgencyDB:
    """The agency tables that go with the settings' backend.

    Embedded: ``<data_dir>/agency.sqlite``. PostGIS: the store's engine when a store is given (its
    migrations already ran), else a new engine on ``database_url``, migrated here.
    """
    if backend_name(settings) == "postgis":
        engine: Any = getattr(store, "engine", None)
        if engine is not None:
            return AgencyDB(engine, owned=False)
        # PostgreSQL plumbing (psycopg, Alembic) is loaded only by instances that use it
        from gisportal.storage.postgis.db import make_engine, migrate

        if not settings.database_url:
            raise InvalidInput("The postgis backend needs GISPORTAL_DATABASE_URL=postgresql://user@host:port/db.")
        engine = make_engine(settings.database_url, prepare=not settings.database_transaction_pooling)
        with database_errors():
            migrate(engine)
        return AgencyDB(engine)
    engine = sqlite_engine(settings.data_dir / SQLITE_NAME)
    create_sqlite_schema(engine)
    return AgencyDB(engine)
