"""Load a collection of an OGC API – Features server in headless QGIS and print its feature count and area.

Run with the system Python that has ``python3-qgis`` (Debian), ``QT_QPA_PLATFORM=offscreen``:
``/usr/bin/python3 tools/qgis_count.py http://HOST/ogc zones``. Prints one JSON line: ``{"valid", "count",
"area_m2"}`` (area in EPSG:26191 or the CRS given as third argument).
"""

from __future__ import annotations

import json
import os
import sys

from qgis.core import QgsApplication, QgsCoordinateReferenceSystem, QgsCoordinateTransform, QgsProject, QgsVectorLayer


def main(url: str, collection: str, metric: str = "EPSG:26191") -> dict:
    """Count the features of ``collection`` (and sum their areas in ``metric``) as QGIS reads them."""
    app = QgsApplication([], False)
    app.initQgis()
    layer = QgsVectorLayer(f"url='{url}' typename='{collection}' restrictToRequestBBOX='0'", collection, "OAPIF")
    try:
        if not layer.isValid():
            return {"valid": False, "count": 0, "area_m2": 0.0}
        target = QgsCoordinateReferenceSystem(metric)
        move = QgsCoordinateTransform(layer.crs(), target, QgsProject.instance())
        count, area = 0, 0.0
        for feature in layer.getFeatures():
            geometry = feature.geometry()
            geometry.transform(move)
            count += 1
            area += geometry.area()
        return {"valid": True, "count": count, "area_m2": area}
    finally:
        del layer
        QgsProject.instance().clear()


if __name__ == "__main__":
    print(json.dumps(main(*sys.argv[1:])), flush=True)
    os._exit(0)  # QGIS 3.22's teardown (exitQgis) crashes headless; the answer is printed already
