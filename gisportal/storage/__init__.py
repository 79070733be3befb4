"""Storage backends, chosen by name from the settings."""

from __future__ import annotations

import logging
from collections.abc import Callable

from gisportal.errors import InvalidInput
from gisportal.settings import Settings
from gisportal.storage.base import Store

logger = logging.getLogger(__name__)


def _embedded(settings: Settings) -> Store:
    from gisportal.storage.embedded import EmbeddedStore

    return EmbeddedStore(settings.store_path, crs=settings.crs)


#: Backend name -> factory. A database backend registers itself here.
BACKENDS: dict[str, Callable[[Settings], Store]] = {"embedded": _embedded}


def open_store(settings: Settings) -> Store:
    """Open the backend named by ``settings.storage``."""
    try:
        factory = BACKENDS[settings.storage]
    except KeyError:
        raise InvalidInput(f"Unknown storage backend '{settings.storage}'. Known: {', '.join(BACKENDS)}.") from None
    return factory(settings)
