"""Deterministic synthetic district of Tangier for demonstrations, tests and benchmarks.

The district is a street grid, slightly rotated (3-7°), in EPSG:26191 (Merchich /
Nord Maroc, metres) centred on (463661, 574347), i.e. WGS84 (-5.80, 35.77). It is
built in a local frame (origin at the centre, x east, y north), then rotated and
moved into place.

* Blocks 80-140 m by 60-100 m between 10-20 m streets, 30-40 m boulevards every
  4-6 blocks; contiguous quarters of 3-10 x 3-10 blocks bear Tangier's names.
* Zoning sectors: quadrilaterals of 1-6 blocks a side tiling the district
  (streets included); their corners sit on street crossings, about half of them
  pushed into the blocks, so that oblique limits cut a few % of the parcels.
  Codes follow the Moroccan nomenclature: dense IM/HC centre around an old core,
  villas west, economic housing south and east, industry in the south-east
  corner, tourism on the northern coast, EP/EV scattered, one or two ZP sectors.
  Version 2 (2023) keeps the sectors and rezones about 10 % of them.
* Parcels: each block is cut into rows along its long side and columns of lots
  sized after the 2013 zone at the block centre; the lots tile the block. All of
  it is numpy + vectorised shapely 2, so a million parcels take a few seconds.
* Overlays (servitudes): road widening, reserved facilities, planned green
  spaces, a wadi's non aedificandi strip and flood zone, a heritage perimeter,
  an airport height easement and the 100 m coastal strip.

All randomness comes from ``numpy.random.default_rng(seed)``: the same
``(n_parcels, seed)`` always gives the same city.
"""

from __future__ import annotations

import datetime
import logging
from dataclasses import dataclass
from types import SimpleNamespace

import geopandas as gpd
import numpy as np
import shapely

from gisportal.demo.layout import (
    CENTER,
    CODES,
    CRS,
    HC,
    HE,
    IM,
    V1,
    V2,
    ZA,
    ZONE_LABELS,
    ZP,
    layout,
    rezone,
    street_at,
    to_world,
)
from gisportal.demo.parcels import ParcelDraws, draw_parcels, parcel_columns
from gisportal.demo.streets import widening_strips

logger = logging.getLogger(__name__)

__all__ = ["CRS", "CENTER", "NAMES", "ZONE_LABELS", "CityPlan", "DemoPlanVersion", "DemoCity", "generate_demo_city",
           "plan_city"]

# Per zone code: min/max lot area (m²), min/max row depth (m; 1e4 = one row), lot width jitter.
_LOTS = np.array([
    [250, 800, 22, 35, .25], [120, 250, 14, 20, .2], [80, 150, 11, 15, .08], [600, 1200, 30, 45, .3],
    [300, 600, 25, 35, .2], [2000, 8000, 45, 90, .3], [1000, 4000, 35, 60, .3], [3000, 10000, 1e4, 1e4, .3],
    [2500, 9000, 1e4, 1e4, .3], [4000, 15000, 1e4, 1e4, .2], [1500, 6000, 40, 80, .3]])

_FACILITIES = (("école", "مدرسة"), ("collège", "إعدادية"), ("lycée", "ثانوية"), ("centre de santé", "مركز صحي"),
               ("mosquée", "مسجد"), ("marché", "سوق"), ("terrain de sport", "ملعب رياضي"),
               ("annexe administrative", "ملحقة إدارية"))
_WADI = ("Oued Mghogha", "واد مغوغة")


@dataclass(frozen=True, eq=False)
class DemoPlanVersion:
    """One approved version of the demo plan: its zoning and its overlays (EPSG:26191)."""

    version: int
    approval_act: str
    approval_date: datetime.date
    zones: gpd.GeoDataFrame      # code, label_fr, label_ar, geometry (Polygon)
    overlays: gpd.GeoDataFrame   # kind, label_fr, label_ar, provision_fr, provision_ar, max_height_m, geometry


@dataclass(frozen=True, eq=False)
class DemoCity:
    """A generated district: territory and plan names, two plan versions and the cadastral parcels."""

    territory_fr: str
    territory_ar: str
    plan_name: str
    plan_title_fr: str
    plan_title_ar: str
    versions: tuple[DemoPlanVersion, ...]
    parcels: gpd.GeoDataFrame    # ref, address, quarter, geometry (Polygon)


def _lots(lay: SimpleNamespace, f: float) -> tuple[np.ndarray, np.ndarray]:
    """Rows per block and lots per row, lot areas scaled by ``f``."""
    rule = _LOTS[lay.bcode]
    L, D = lay.x1[lay.i] - lay.x0[lay.i], lay.y1[lay.j] - lay.y0[lay.j]
    area = (rule[:, 0] + lay.ua * (rule[:, 1] - rule[:, 0])) * f
    rows = np.clip(np.rint(D / (rule[:, 2] + lay.ud * (rule[:, 3] - rule[:, 2]))), 1, 8).astype(np.int64)
    return rows, np.maximum(1, np.rint(L * D / rows / area)).astype(np.int64)


def _fit(lay: SimpleNamespace, n: int) -> tuple[float, int, int]:
    """Lot-area factor (within 0.7-1.4) bringing the parcel count near ``n``; the count then, and at factor 1."""
    f, total1 = 1.0, None
    for _ in range(15):
        total = int(np.prod(_lots(lay, f), axis=0).sum())
        total1 = total if total1 is None else total1
        if abs(total / n - 1) < 0.005:
            break
        f_new = float(np.clip(f * total / n, 0.7, 1.4))
        if f_new == f:
            break
        f = f_new
    return f, total, total if total1 is None else total1


def _blocks_parts(rng: np.random.Generator, lay: SimpleNamespace, blocks: np.ndarray, lo: float) -> np.ndarray:
    """Rectangles over part of each given block (from one end, full or half depth), local frame."""
    i, j = lay.i[blocks], lay.j[blocks]
    L, D = lay.x1[i] - lay.x0[i], lay.y1[j] - lay.y0[j]
    w = L * rng.uniform(lo, 1.0, blocks.size)
    west, half, low = rng.random((3, blocks.size)) < 0.5
    xa = np.where(west, lay.x0[i], lay.x1[i] - w)
    ya = np.where(half & ~low, lay.y0[j] + D / 2, lay.y0[j])
    return shapely.box(xa, ya, xa + w, np.where(half & low, lay.y0[j] + D / 2, lay.y0[j] + D))


def _overlays(rng: np.random.Generator, lay: SimpleNamespace) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Overlay layers of the 2013 and 2023 versions (2023 adds widenings and green spaces, swaps reservations)."""
    W, H, nan = lay.W, lay.H, float("nan")
    ext = shapely.box(-W / 2, -H / 2, W / 2, H / 2)
    m1 = max(3, (lay.nx + lay.ny) // 20)  # road widening strips: m1 in 2013, a few more in 2023
    widen = [("road_widening", "Élargissement de voie", "توسيع الطريق",
              f"Bande de {w:.0f} m à céder pour l'élargissement de la voie ({name}) ; aucune construction n'y est "
              "autorisée.", f"شريط بعرض {w:.0f} م يتعين التخلي عنه لتوسيع الطريق ({name})؛ يمنع فيه كل بناء.", nan, box)
             for box, w, name in widening_strips(rng, lay.x0, lay.x1, lay.y0, lay.y1, m1 + max(1, m1 // 3),
                                                 lambda o, s, a: street_at(lay, o, s, a // lay.q))]
    # Reserved facilities and planned green spaces over parts of residential blocks.
    kf, kg = max(4, lay.bcode.size // 180), max(3, lay.bcode.size // 250)
    kf2, kg2 = max(1, kf // 3), max(1, kg // 3)
    cand = np.flatnonzero(np.isin(lay.bcode, (IM, HC, HE, V1, V2, ZA, ZP)))
    cand = cand if cand.size >= kf + kf2 + kg + kg2 else np.arange(lay.bcode.size)
    pick = rng.choice(cand, min(cand.size, kf + kf2 + kg + kg2), replace=False)
    boxes = _blocks_parts(rng, lay, pick, 0.35)
    ftype = [_FACILITIES[t % len(_FACILITIES)] for t in rng.permutation(max(len(_FACILITIES), kf + kf2))]
    fac = [("reserved_facility", f"Réservation pour équipement public ({fr})", f"تخصيص لتجهيز عمومي ({ar})",
            f"Terrain réservé à la réalisation d'un équipement public ({fr}) ; toute construction privée y est "
            "interdite pendant la durée de validité du plan (loi n° 12-90 relative à l'urbanisme).",
            f"أرض مخصصة لإنجاز تجهيز عمومي ({ar})؛ يمنع فيها كل بناء خاص طيلة مدة صلاحية التصميم (القانون رقم "
            "12.90 المتعلق بالتعمير).", nan, box) for (fr, ar), box in zip(ftype, boxes[:kf + kf2], strict=False)]
    green = [("green_space", "Espace vert projeté", "مساحة خضراء مبرمجة", "Terrain affecté à un espace vert public ; "
              "seuls les aménagements paysagers et de loisirs y sont admis.",
              "أرض مخصصة لمساحة خضراء عمومية؛ لا يسمح فيها إلا بالتهيئة المشهدية والترفيهية.", nan, box)
             for box in boxes[kf + kf2:]]
    # The wadi, its non aedificandi strip and its flood zone.
    t = np.linspace(0.0, 1.0, int(np.clip(H / 15, 100, 4000)))
    lam = rng.uniform(900.0, 1600.0)
    amp = min(0.06 * W, 250.0)
    ph = rng.uniform(0, 2 * np.pi, 2)
    wx = (rng.uniform(0.1, 0.3) * W * rng.choice([-1.0, 1.0]) + amp * np.sin(2 * np.pi * t * H / lam + ph[0])
          + amp / 3 * np.sin(2 * np.pi * t * H / (lam / 2.7) + ph[1]))
    wadi = shapely.linestrings(wx, -H / 2 - 20 + t * (H + 40))
    na_w, fl_w = float(rng.integers(20, 31)), float(rng.integers(80, 151))
    common = [
        ("non_aedificandi", "Zone non aedificandi (emprise de l'oued)", "منطقة يمنع فيها البناء (حرم الوادي)",
         f"Bande de {na_w:.0f} m le long de l'{_WADI[0]} où toute construction est interdite (domaine public "
         "hydraulique, loi n° 36-15 sur l'eau).",
         f"شريط بعرض {na_w:.0f} م على طول {_WADI[1]} يمنع فيه كل بناء (الملك العمومي المائي، القانون رقم 36.15 "
         "المتعلق بالماء).", nan, wadi.buffer(na_w / 2)),
        ("flood_risk", "Zone inondable", "منطقة معرضة للفيضانات",
         f"Zone exposée au risque d'inondation de l'{_WADI[0]} : toute construction est soumise à l'avis de "
         "l'Agence du bassin hydraulique du Loukkos ; les sous-sols sont interdits.",
         f"منطقة معرضة لخطر فيضان {_WADI[1]}: يخضع كل بناء لرأي وكالة الحوض المائي اللوكوس؛ يمنع إنجاز الطوابق "
         "تحت الأرضية.", nan, wadi.buffer(fl_w / 2)),
    ]
    a = np.linspace(0, 2 * np.pi, 49)[:-1]
    ph = rng.uniform(0, 2 * np.pi, 2)
    rad = lay.her_r * (1 + 0.12 * np.sin(3 * a + ph[0]) + 0.06 * np.sin(5 * a + ph[1]))
    common.append(("heritage", "Protection du patrimoine", "حماية التراث",
                   "Périmètre de protection du noyau ancien : toute démolition, construction ou modification de "
                   "façade est soumise à l'avis de l'inspection régionale des monuments historiques.",
                   "مدار حماية النواة العتيقة: يخضع كل هدم أو بناء أو تغيير للواجهات لرأي المفتشية الجهوية للمباني "
                   "التاريخية.", nan,
                   shapely.Polygon(np.column_stack([lay.her_c[0] + rad * np.cos(a), lay.her_c[1] + rad * np.sin(a)]))))
    aw, ah = 0.35 * W, 0.35 * H
    common.append(("airport_easement", "Servitude aéronautique", "ارتفاق الملاحة الجوية",
                   "Servitude de dégagement de l'aéroport Tanger Ibn Battouta : la hauteur des constructions est "
                   "limitée à 15 m.", "ارتفاق خلوص مطار طنجة ابن بطوطة: يحدد علو البنايات في 15 م.", 15.0,
                   shapely.Polygon([(-W / 2, -H / 2), (-W / 2 + aw, -H / 2), (-W / 2 + 0.6 * aw, -H / 2 + 0.5 * ah),
                                    (-W / 2, -H / 2 + ah)])))
    common.append(("coastal_strip", "Bande côtière", "الشريط الساحلي",
                   "Bande de 100 m à partir de la limite du rivage où toute construction est interdite (loi n° 81-12 "
                   "relative au littoral).", "شريط بعرض 100 م ابتداء من حد الشاطئ يمنع فيه كل بناء (القانون رقم 81.12 "
                   "المتعلق بالساحل).", nan, shapely.box(-W / 2, H / 2 - 100.0, W / 2, H / 2)))
    drop = max(1, kf // 5)
    v1 = widen[:m1] + fac[:kf] + green[:kg] + common
    v2 = widen + fac[drop:] + green + common
    return _overlay_frame(lay, v1, ext), _overlay_frame(lay, v2, ext)


def _overlay_frame(lay: SimpleNamespace, feats: list[tuple], ext: shapely.Polygon) -> gpd.GeoDataFrame:
    """Overlay records (local frame), clipped to the district, as a GeoDataFrame in EPSG:26191."""
    cols = ["kind", "label_fr", "label_ar", "provision_fr", "provision_ar", "max_height_m"]
    geoms = shapely.intersection(np.array([f[-1] for f in feats], dtype=object), ext)
    geoms = np.array([g if g.geom_type in ("Polygon", "MultiPolygon") else  # drop stray lines of a collection
                      shapely.union_all(shapely.get_parts(g)[shapely.get_type_id(shapely.get_parts(g)) == 3])
                      for g in geoms], dtype=object)
    keep = ~shapely.is_empty(geoms)
    df = gpd.GeoDataFrame({c: [f[n] for f, k in zip(feats, keep, strict=True) if k] for n, c in enumerate(cols)},
                          geometry=to_world(lay, geoms[keep]), crs=CRS)
    df["max_height_m"] = df["max_height_m"].astype(float)
    return df


def _zones_frame(lay: SimpleNamespace, codes: np.ndarray) -> gpd.GeoDataFrame:
    """The zoning sectors with the given code indices, in EPSG:26191."""
    names = np.array(CODES)[codes]
    return gpd.GeoDataFrame({"code": names, "label_fr": [ZONE_LABELS[c][0] for c in names],
                             "label_ar": [ZONE_LABELS[c][1] for c in names]},
                            geometry=to_world(lay, lay.sectors), crs=CRS)


#: The demo's names: territory (French, Arabic), plan name, plan title (French, Arabic).
NAMES = ("Tanger – district de démonstration", "طنجة – منطقة نموذجية للعرض", "tanger-centre",
         "Plan d'aménagement de Tanger-Centre", "تصميم تهيئة طنجة-المركز")


@dataclass(frozen=True, eq=False)
class CityPlan:
    """Everything of a district but its parcels' columns: the grid, the plan versions and the parcels' draws
    (:func:`gisportal.demo.parcels.parcel_columns` cuts the parcels of any band of blocks from them)."""

    layout: SimpleNamespace
    draws: ParcelDraws
    versions: tuple[DemoPlanVersion, ...]


def plan_city(n_parcels: int = 6000, seed: int = 2026) -> CityPlan:
    """The district of :func:`generate_demo_city` without its parcels' columns (memory: the blocks, and 8 bytes
    a parcel for the land-title numbers)."""
    if n_parcels < 1:
        raise ValueError("n_parcels must be positive")
    rng = np.random.default_rng(seed)
    theta = float(np.radians(rng.uniform(3.0, 7.0) * rng.choice([-1.0, 1.0])))
    nb, best = max(9.0, n_parcels / 35.0), None
    for _ in range(10):  # size the grid: the lot mix depends on the zoning pattern drawn on it
        lay = layout(rng, nb, theta)
        f, total, total1 = _fit(lay, n_parcels)
        err = abs(total / n_parcels - 1) + 0.01 * abs(np.log(f))
        if best is None or err < best[0]:
            best = (err, lay, f)
        if err < 0.01:
            break
        nb *= (n_parcels / total1) ** 0.8
    assert best is not None  # the first round always sets it
    _, lay, f = best
    rows, k = _lots(lay, f)
    logger.debug("demo city: %d x %d blocks, lot factor %.3f", lay.nx, lay.ny, f)
    draws = draw_parcels(rng, lay, rows, k, _LOTS[lay.bcode, 4])
    codes2 = rezone(rng, lay.codes1, lay.r)
    ov1, ov2 = _overlays(rng, lay)
    versions = (
        DemoPlanVersion(1, "Décret n° 2-13-512 du 12 juin 2013", datetime.date(2013, 6, 12),
                        _zones_frame(lay, lay.codes1), ov1),
        DemoPlanVersion(2, "Décret n° 2-23-301 du 4 mai 2023", datetime.date(2023, 5, 4),
                        _zones_frame(lay, codes2), ov2),
    )
    logger.info("demo city planned: %d parcels, %d sectors, %d/%d overlays (seed %d)",
                draws.count, len(lay.sectors), len(ov1), len(ov2), seed)
    return CityPlan(lay, draws, versions)


def generate_demo_city(n_parcels: int = 6000, seed: int = 2026) -> DemoCity:
    """Generate the demo district of Tangier with about ``n_parcels`` parcels, deterministically.

    The same ``(n_parcels, seed)`` always returns the same city. The count is
    within ±3 % of ``n_parcels`` from a few hundred parcels up (a tiny district
    cannot be cut that finely); every zone code appears from about 1000 up.
    Geometry is in EPSG:26191, centred on (463661, 574347). Two plan versions
    are returned (2013 and 2023); parcels are sized after the 2013 zoning.
    """
    plan = plan_city(n_parcels, seed)
    columns = parcel_columns(plan.layout, plan.draws, 0, plan.layout.nx * plan.layout.ny)
    parcels = gpd.GeoDataFrame({"ref": columns["ref"], "address": columns["address"], "quarter": columns["quarter"]},
                               geometry=columns["geometry"], crs=CRS)
    return DemoCity(*NAMES, plan.versions, parcels)
