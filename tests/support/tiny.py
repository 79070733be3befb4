"""Shared fixtures: a hand-made tiny territory with numbers computable by hand, and the demo district, on both
storage backends (embedded GeoPackage and PostGIS on a throwaway cluster; see ``support/instances.py``).

The tiny territory (``tiny``) is built through the real store API in EPSG:26191
(Lambert Nord Maroc), every coordinate relative to an origin (X0, Y0) near
Tangier. Plan ``tiny-plan`` has two versions:

* version 1 (in force from ``V1_FROM``, about 8 years ago): one zone ``B`` over
  the whole strip x 0..300, y 0..100, and a ``green_space`` overlay on
  x 0..50, y 0..50;
* version 2 (in force from ``V2_FROM``, about 2 years ago): zones ``A``
  (x 0..100), ``B`` (x 100..200) and ``C`` (x 200..300, a code the rules
  catalogue does not define), all y 0..100; overlays ``road_widening``
  (x 0..40, y 10..15), ``airport_easement`` with max height 9 m
  (x 140..200, y 40..100) and ``heritage`` (x 0..100, y 85..100).

Rules (the tests' own catalogue): A has CES 0.5, COS 2.0, 12 m, R+3, minimum
lot 200 m²; B has CES 0.25, COS 1.0, 20 m, R+5, minimum lot 100 m².

Parcels (boxes minx, miny, maxx, maxy):

==========  ====================  =====  ==============================================
ref         box                   m²     what it shows
==========  ====================  =====  ==============================================
TF-1001/06  90, 10, 110, 30        400   half in A, half in B
TF-1002/06  10, 10, 30, 30         400   all A, a quarter under the road widening
TF-1003/06  150, 50, 170, 70       400   all B, under the airport easement (9 m)
TF-1004/06  250, 50, 270, 70       400   all C: no rules in the catalogue
TF-1005/06  40, 90, 60, 110        400   half in A, half outside every zone; heritage
TF-1006/06  60, 40, 70, 50         100   all A, below A's minimum lot (200 m²)
TF-1007/06  70, 60, 110, 80        800   3/4 in A, 1/4 in B
==========  ====================  =====  ==============================================

The point (150, 20) lies in zone B of version 2 and on no parcel (a street).
"""

from __future__ import annotations

import shutil
from datetime import date, timedelta
from pathlib import Path
from types import SimpleNamespace

import geopandas as gpd
import pytest
import shapely

TINY_CRS = "EPSG:26191"


X0, Y0 = 460000.0, 570000.0


TINY_RULES_YAML = """\
uses:
  housing: {fr: Habitation, ar: السكن, en: Housing}
  retail: {fr: Commerce, ar: التجارة, en: Retail}
  industry: {fr: Industrie, ar: الصناعة, en: Industry}
zones:
  A:
    label: {fr: Zone A, ar: المنطقة أ, en: Zone A}
    color: "#aa0000"
    allowed_uses: [housing, retail]
    forbidden_uses: [industry]
    cos: 2.0
    ces: 0.5
    max_height_m: 12
    max_floors: 3
    min_lot_area_m2: 200
  B:
    label: {fr: Zone B, ar: المنطقة ب, en: Zone B}
    color: "#00aa00"
    allowed_uses: [housing]
    forbidden_uses: [industry, retail]
    cos: 1.0
    ces: 0.25
    max_height_m: 20
    max_floors: 5
    min_lot_area_m2: 100
"""


#: ref -> (box relative to the origin, address, quarter)
TINY_PARCELS = {
    "TF-1001/06": ((90, 10, 110, 30), "1 Rue Ibn Battouta", "Marshan"),
    "TF-1002/06": ((10, 10, 30, 30), "3 Rue Ibn Battouta", "Marshan"),
    "TF-1003/06": ((150, 50, 170, 70), "2 Avenue Pasteur", "Iberia"),
    "TF-1004/06": ((250, 50, 270, 70), "4 Avenue Pasteur", "Iberia"),
    "TF-1005/06": ((40, 90, 60, 110), "5 Rue Ibn Battouta", "Marshan"),
    "TF-1006/06": ((60, 40, 70, 50), None, "Marshan"),
    "TF-1007/06": ((70, 60, 110, 80), "7 Rue Al Farabi", "Souani"),
}


def box(minx: float, miny: float, maxx: float, maxy: float) -> shapely.Polygon:
    """A box in EPSG:26191, coordinates relative to the tiny territory's origin."""
    return shapely.box(X0 + minx, Y0 + miny, X0 + maxx, Y0 + maxy)


def _zones(rows: list[tuple[str, tuple]]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"code": [c for c, _ in rows], "label_fr": [f"Zone {c}" for c, _ in rows],
                             "label_ar": [f"المنطقة {c}" for c, _ in rows]},
                            geometry=[box(*b) for _, b in rows], crs=TINY_CRS)


def _overlays(rows: list[tuple[str, str, float | None, tuple]]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({
        "kind": [k for k, *_ in rows], "label_fr": [lbl for _, lbl, *_ in rows],
        "label_ar": [f"ع {lbl}" for _, lbl, *_ in rows], "provision_fr": ["Prescription" for _ in rows],
        "provision_ar": ["مقتضى" for _ in rows],
        "max_height_m": [float("nan") if h is None else h for _, _, h, _ in rows],
    }, geometry=[box(*b) for *_, b in rows], crs=TINY_CRS)


def build_tiny_store(store, today: date) -> SimpleNamespace:
    """Write the tiny territory into ``store`` (any backend) through the store API, then close it."""
    from gisportal.storage.base import NewPlanVersion

    v1_from, v2_from = today - timedelta(days=3000), today - timedelta(days=700)
    parcels = gpd.GeoDataFrame(
        {"ref": list(TINY_PARCELS), "address": [a for _, a, _ in TINY_PARCELS.values()],
         "quarter": [q for _, _, q in TINY_PARCELS.values()]},
        geometry=[box(*b) for b, _, _ in TINY_PARCELS.values()], crs=TINY_CRS)
    store.put_parcels(parcels)
    store.publish_plan_version(
        NewPlanVersion("tiny-plan", "Plan d'aménagement de test", "تصميم التهيئة للاختبار", "Décret v1",
                       v1_from, v1_from),
        _zones([("B", (0, 0, 300, 100))]),
        _overlays([("green_space", "Espace vert v1", None, (0, 0, 50, 50))]),
    )
    store.publish_plan_version(
        NewPlanVersion("tiny-plan", "Plan d'aménagement de test", "تصميم التهيئة للاختبار", "Décret v2",
                       v2_from, v2_from),
        _zones([("A", (0, 0, 100, 100)), ("B", (100, 0, 200, 100)), ("C", (200, 0, 300, 100))]),
        _overlays([("road_widening", "Élargissement rue X", None, (0, 10, 40, 15)),
                   ("airport_easement", "Servitude aéronautique", 9.0, (140, 40, 200, 100)),
                   ("heritage", "Patrimoine", None, (0, 85, 100, 100))]),
    )
    store.close()
    return SimpleNamespace(v1_from=v1_from, v2_from=v2_from)


def clear_gisportal_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Remove every GISPORTAL_* variable (the Makefile exports GISPORTAL_DATA_DIR)."""
    import os

    for name in list(os.environ):
        if name.startswith("GISPORTAL_"):
            monkeypatch.delenv(name)


def _create_app(config: dict):
    """create_app with only ``config`` as settings, whatever the environment holds."""
    from gisportal.web import create_app

    with pytest.MonkeyPatch.context() as mp:
        clear_gisportal_env(mp)
        return create_app(config)


def copy_demo(template: Path, data_dir: Path) -> Path:
    """A private copy of the embedded demo district (``demo_template``) in ``data_dir``; returns ``data_dir``."""
    shutil.copytree(template, data_dir, dirs_exist_ok=True)
    return data_dir
