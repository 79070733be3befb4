"""Static vector tiles: the layers of the plan versions in force as PMTiles archives (issue #18).

A PMTiles archive is one file that any static host or CDN serves with HTTP range requests; the map reads it with
the ``pmtiles`` JavaScript library when ``GISPORTAL_TILES_URL`` points to where the archives are hosted (the
dynamic ``/tiles/...`` endpoints stay). One archive per layer (``zones.pmtiles``, ``overlays.pmtiles``,
``parcels.pmtiles``), the same zooms and attributes as the dynamic tiles, written by tippecanoe straight to
PMTiles from the layer's features streamed into it as they are exported (``tilesets.stream_tippecanoe``). They
are written by ``gisportal write-tiles`` and, when ``GISPORTAL_TILES_DIR`` is set, after every publication; each
file is replaced atomically, so a static host never serves half an archive. ``manifest.json`` beside them names
the data generation and the plan versions they hold.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from datetime import date
from pathlib import Path

from gisportal.storage.base import Store
from gisportal.zoning.plans import versions_in_force
from gisportal.zoning.tilesets import stream_tippecanoe

logger = logging.getLogger(__name__)

#: The layers written, each to ``<layer>.pmtiles``.
ARCHIVE_LAYERS = ("zones", "overlays", "parcels")
MANIFEST = "manifest.json"


def archive_name(layer: str) -> str:
    """The file name of a layer's archive."""
    return f"{layer}.pmtiles"


def write_archives(store: Store, directory: Path, as_of: date | None = None) -> dict[str, int]:
    """Write the archives of the versions in force on ``as_of`` (today) into ``directory``; returns the
    number of features of each layer. A layer without features gets no archive (an old one is removed)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    generation = store.generation()  # before reading: a write meanwhile makes the manifest older, never newer
    version_ids = sorted(v.id for v in versions_in_force(store.plan_versions(), as_of or date.today()))
    counts: dict[str, int] = {}
    with tempfile.TemporaryDirectory(dir=directory, prefix=".build-") as work:
        for layer in ARCHIVE_LAYERS:
            frame = store.features(layer, version_ids, None)
            built = Path(work) / archive_name(layer)
            counts[layer] = stream_tippecanoe(frame, layer, built) if len(frame) else 0
            if counts[layer]:
                os.replace(built, directory / archive_name(layer))
            else:
                (directory / archive_name(layer)).unlink(missing_ok=True)
        manifest = Path(work) / MANIFEST
        manifest.write_text(json.dumps({"generation": generation, "plan_versions": version_ids,
                                        "features": counts}), encoding="utf-8")
        os.replace(manifest, directory / MANIFEST)
    logger.info("tile archives written to %s: %s", directory, counts)
    return counts
