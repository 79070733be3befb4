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
from typing import cast

import geopandas as gpd
import numpy as np
import shapely

from gisportal.demo.parcels import CENTER, ParcelDraws, draw_parcels, parcel_columns, street_of, world
from gisportal.demo.streets import widening_strips

logger = logging.getLogger(__name__)

__all__ = ["CRS", "CENTER", "NAMES", "ZONE_LABELS", "CityPlan", "DemoPlanVersion", "DemoCity", "generate_demo_city",
           "plan_city"]

CRS = "EPSG:26191"

ZONE_LABELS: dict[str, tuple[str, str]] = {
    "IM": ("Zone d'immeubles collectifs", "منطقة العمارات"),
    "HC": ("Zone d'habitat continu", "منطقة السكن المسترسل"),
    "HE": ("Zone d'habitat économique", "منطقة السكن الاقتصادي"),
    "V1": ("Zone de villas isolées", "منطقة الفيلات المنفردة"),
    "V2": ("Zone de villas jumelées", "منطقة الفيلات المزدوجة"),
    "ZI": ("Zone industrielle", "المنطقة الصناعية"),
    "ZA": ("Zone d'activités économiques", "منطقة الأنشطة الاقتصادية"),
    "ZT": ("Zone touristique", "المنطقة السياحية"),
    "EP": ("Zone d'équipements publics", "منطقة التجهيزات العمومية"),
    "EV": ("Zone d'espaces verts", "منطقة المساحات الخضراء"),
    "ZP": ("Secteur de projet", "قطاع المشروع"),
}
_CODES = tuple(ZONE_LABELS)
IM, HC, HE, V1, V2, ZI, ZA, ZT, EP, EV, ZP = range(len(_CODES))
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


def _axis(rng: np.random.Generator, n: int, lo: float, hi: float) -> tuple[np.ndarray, np.ndarray, np.ndarray,
                                                                         np.ndarray, float]:
    """Blocks along one axis: starts, ends, street widths (n + 1), boulevard flags, total length."""
    size = rng.uniform(lo, hi, n)
    width = rng.uniform(10.0, 20.0, n + 1)
    blv = np.zeros(n + 1, dtype=bool)
    pos = np.cumsum(rng.integers(4, 7, n // 4 + 2)) - 1
    blv[pos[pos < n]] = True
    width[blv] = rng.uniform(30.0, 40.0, int(blv.sum()))
    pitch = size + width[1:]
    start = width[0] + np.concatenate(([0.0], np.cumsum(pitch[:-1])))
    total = float(width[0] + pitch.sum())
    return start - total / 2, start + size - total / 2, width, blv, total


def _cuts(rng: np.random.Generator, n: int, g: int) -> np.ndarray:
    """Sector limits along one axis, as street indices 0..n, every g or g + 1 blocks."""
    c = np.cumsum(rng.integers(g, g + 2, n))
    return np.concatenate(([0], c[c <= n - g], [n]))


def _zone_pattern(rng: np.random.Generator, u: np.ndarray, v: np.ndarray, top: np.ndarray,
                  old: np.ndarray) -> np.ndarray:
    """2013 zone code index of each sector from its normalised centre (u east, v north, in [-1, 1])."""
    n = u.size
    r = np.hypot(u, v)
    p, q = rng.random((2, n))
    code = np.select(
        [r < 0.35, r < 0.6, u < -0.2],
        [np.where(p < 0.65, IM, HC), np.select([p < 0.35, p < 0.7], [HC, IM], HE),
         np.select([p < 0.5, p < 0.85], [V1, V2], HE)],
        np.where(p < 0.75, HE, HC)).astype(np.int64)
    code[(u > 0.2) & (v < -0.2) & (p < 0.5)] = ZA
    code[(u > 0.45) & (v < -0.4)] = ZI
    code[old] = HC
    free = (code != ZI) & ~old & ~top
    code[free & (q < 0.07)] = EP
    code[free & (q >= 0.07) & (q < 0.12)] = EV
    code[top] = np.where(q[top] < 0.2, EV, ZT)
    cand = np.flatnonzero(free & (r > 0.35) & (r < 0.9))
    if cand.size:
        code[rng.choice(cand, min(cand.size, 1 if n < 150 else 2), replace=False)] = ZP
    score = {IM: -r, HC: -r, HE: -v, V1: -u, V2: -u - 0.2 * v, ZI: u - v, ZA: u - v, ZT: v, EP: q, EV: -q, ZP: p}
    for c in range(len(_CODES)):  # small districts: make sure every code shows up once
        counts = np.bincount(code, minlength=len(_CODES))
        ok = counts[code] > 1
        if counts[c] == 0 and ok.any():
            code[np.flatnonzero(ok)[np.argmax(score[c][ok])]] = c
    return code


def _rezone(rng: np.random.Generator, code: np.ndarray, r: np.ndarray) -> np.ndarray:
    """2023 codes: one HE -> HC, then ZI -> ZA and villas -> IM near the centre (~10 % of sectors)."""
    new = code.copy()

    def take(src: int, dst: int, k: int, key: np.ndarray) -> int:
        idx = np.flatnonzero((code == src) & (new == code))
        k = min(k, idx.size - 1)  # every code keeps at least one sector
        if k > 0:
            new[idx[np.argsort(key[idx], kind="stable")[:k]]] = dst
        return max(k, 0)

    left = max(3, round(0.1 * code.size)) - take(HE, HC, 1, rng.random(code.size))
    left -= take(ZI, ZA, max(1, left // 4), r)
    left -= take(V1, IM, max(1, left // 2), r)
    left -= take(V2, IM, left, r)
    left -= take(HC, IM, left, r)
    take(HE, IM, left, r)
    return new


def _layout(rng: np.random.Generator, nb: float, theta: float) -> SimpleNamespace:
    """Street grid of about ``nb`` blocks, zoning sectors (local frame) and the 2013 code under each block."""
    ny = max(3, round(np.sqrt(nb / 0.95)))
    nx = max(3, round(nb / ny))
    x0, x1, swx, blvx, W = _axis(rng, nx, 80.0, 140.0)
    y0, y1, swy, blvy, H = _axis(rng, ny, 60.0, 100.0)
    g = int(np.clip(min(nx, ny) // 5, 1, 5))
    vx = np.concatenate(([-W / 2], (x1[:-1] + x0[1:]) / 2, [W / 2]))[_cuts(rng, nx, g)]
    vy = np.concatenate(([-H / 2], (y1[:-1] + y0[1:]) / 2, [H / 2]))[_cuts(rng, ny, g)]
    VX, VY = np.meshgrid(vx, vy)
    dmax = min(70.0, 0.3 * min(np.diff(vx).min(), np.diff(vy).min()))
    d = rng.uniform(0.2, 1.0, (2, *VX.shape)) * dmax * rng.choice([-1.0, 1.0], (2, *VX.shape))
    d *= rng.random(VX.shape) < 0.45  # about half the sector corners leave the street crossing
    d[0][:, [0, -1]] = 0.0
    d[1][[0, -1], :] = 0.0
    VX, VY = VX + d[0], VY + d[1]
    ring = [(slice(None, -1), slice(None, -1)), (slice(None, -1), slice(1, None)), (slice(1, None), slice(1, None)),
            (slice(1, None), slice(None, -1)), (slice(None, -1), slice(None, -1))]
    quads = np.stack([np.stack([VX[s], VY[s]], -1) for s in ring], axis=2).reshape(-1, 5, 2)
    sectors = cast(np.ndarray, shapely.polygons(quads))  # an array of rings gives an array of polygons
    cen = quads[:, :4].mean(axis=1)
    u, v = cen[:, 0] / (W / 2), cen[:, 1] / (H / 2)
    top = np.arange(len(sectors)) >= (len(vy) - 2) * (len(vx) - 1)
    her_c = (float(rng.uniform(-0.2, 0.05) * W), 0.3 * H)
    her_r = float(np.clip(0.1 * min(W, H), 150.0, 450.0))
    old = np.hypot(cen[:, 0] - her_c[0], cen[:, 1] - her_c[1]) < 1.3 * her_r
    codes1 = _zone_pattern(rng, u, v, top, old)
    j, i = np.divmod(np.arange(nx * ny), nx)
    hit = shapely.STRtree(sectors).query(shapely.points((x0[i] + x1[i]) / 2, (y0[j] + y1[j]) / 2),
                                         predicate="intersects")
    bsec = np.full(nx * ny, -1)
    bsec[hit[0][::-1]] = hit[1][::-1]
    ua, ud = rng.random((2, nx * ny))
    return SimpleNamespace(nx=nx, ny=ny, x0=x0, x1=x1, y0=y0, y1=y1, sw=(swy, swx), blv=(blvy, blvx), W=W, H=H,
                           i=i, j=j, sectors=sectors, r=np.hypot(u, v), codes1=codes1, bcode=codes1[bsec],
                           ua=ua, ud=ud, theta=theta, her_c=her_c, her_r=her_r,
                           q=int(np.clip(round(np.sqrt(nx * ny) / 5), 3, 10)))


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


def _to_world(lay: SimpleNamespace, geoms: np.ndarray) -> np.ndarray:
    """Geometries from the local frame to EPSG:26191."""
    return shapely.transform(geoms, lambda xy: np.column_stack(world(lay, xy[:, 0], xy[:, 1])))


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
                                                 lambda o, s, a: street_of(lay, o, s, a // lay.q))]
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
                          geometry=_to_world(lay, geoms[keep]), crs=CRS)
    df["max_height_m"] = df["max_height_m"].astype(float)
    return df


def _zones_frame(lay: SimpleNamespace, codes: np.ndarray) -> gpd.GeoDataFrame:
    """The zoning sectors with the given code indices, in EPSG:26191."""
    names = np.array(_CODES)[codes]
    return gpd.GeoDataFrame({"code": names, "label_fr": [ZONE_LABELS[c][0] for c in names],
                             "label_ar": [ZONE_LABELS[c][1] for c in names]},
                            geometry=_to_world(lay, lay.sectors), crs=CRS)


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
        lay = _layout(rng, nb, theta)
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
    codes2 = _rezone(rng, lay.codes1, lay.r)
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
