"""The tile archives in the web layer (issue #18): written after each publication through this app when
``GISPORTAL_TILES_DIR`` is set, and named to the map when ``GISPORTAL_TILES_URL`` says where they are hosted.

The map reads the archives only while they hold the data the app serves: when the app writes them itself
(``tiles_dir``), the manifest's data generation must be the store's; otherwise (archives written elsewhere by
``gisportal write-tiles``) the operator's ``tiles_url`` is trusted. Historical maps (``?as_of=``) and the small
service maps keep the dynamic tiles.
"""

from __future__ import annotations

import json
import logging
import threading
import weakref
from pathlib import Path
from typing import Any

from flask import Flask

from gisportal.publishing.publication import PUBLISH_LISTENERS
from gisportal.zoning.archives import MANIFEST, write_archives

logger = logging.getLogger(__name__)


def manifest_generation(directory: Path) -> str | None:
    """The data generation the archives in ``directory`` were written at (``None`` when there are none)."""
    try:
        return str(json.loads((Path(directory) / MANIFEST).read_text(encoding="utf-8"))["generation"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def archive_url_template(portal: Any) -> str | None:
    """``<tiles_url>/{layer}.pmtiles`` when the map should read the archives, else ``None``."""
    settings = portal.settings
    if not settings.tiles_url:
        return None
    if settings.tiles_dir is not None and manifest_generation(settings.tiles_dir) != portal.store.generation():
        return None  # not (yet) written for the data served: the dynamic tiles are right
    return settings.tiles_url.rstrip("/") + "/{layer}.pmtiles"


def init_app(app: Flask) -> None:
    """Write the archives after every publication through this app (when ``tiles_dir`` is set)."""
    p = app.extensions["gisportal"]
    if p.settings.tiles_dir is None:
        return
    instance = weakref.ref(p)

    def on_publish(store: Any, previous: Any, version: Any) -> None:
        current = instance()
        if current is None:  # the app is gone: stop listening
            PUBLISH_LISTENERS.remove(on_publish)
            return
        if store is current.store:
            # Off the request: the parcels layer of a big city takes tens of seconds; until the manifest names
            # the new generation the map keeps the dynamic tiles, which are right.
            threading.Thread(target=_write, args=(store, current.settings.tiles_dir), name="tile-archives",
                             daemon=True).start()

    PUBLISH_LISTENERS.append(on_publish)


#: One archive build at a time per process (publications in a row are written in turn, the last one last).
_WRITING = threading.Lock()


def _write(store: Any, directory: Path) -> None:
    with _WRITING:
        try:
            write_archives(store, directory)
        except Exception:  # noqa: BLE001 - logged: the map keeps the dynamic tiles
            logger.exception("writing the tile archives to %s failed", directory)
