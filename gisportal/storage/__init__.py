"""Storage backends, chosen by name from the settings."""

from __future__ import annotations

import logging
from collections.abc import Callable

from gisportal.core.errors import InvalidInput
from gisportal.core.settings import Settings
from gisportal.storage.base import Store

logger = logging.getLogger(__name__)


def _embedded(settings: Settings) -> Store:
    # each backend (and its drivers) is loaded only when an instance uses it
    from gisportal.storage.embedded.store import EmbeddedStore

    return EmbeddedStore(settings.store_path, crs=settings.crs)


def _postgis(settings: Settings) -> Store:
    # each backend (psycopg, GeoAlchemy2...) is loaded only when an instance uses it
    from gisportal.storage.postgis.store import PostgisStore

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

