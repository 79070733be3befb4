"""The demo district's layout: the street grid (blocks, streets, boulevards), the zoning sectors with their
2013 and 2023 codes, street names, and the move from the local frame to EPSG:26191.

Helper of :mod:`gisportal.demo.city` (which describes the district); the same random generator is drawn from
in the same order, so the same seed gives the same city.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import cast

import numpy as np
import shapely

from gisportal.demo.streets import street_name

CRS = "EPSG:26191"
CENTER = (463661.0, 574347.0)  # WGS84 (-5.80, 35.77) in EPSG:26191

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
CODES = tuple(ZONE_LABELS)
IM, HC, HE, V1, V2, ZI, ZA, ZT, EP, EV, ZP = range(len(CODES))


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
    for c in range(len(CODES)):  # small districts: make sure every code shows up once
        counts = np.bincount(code, minlength=len(CODES))
        ok = counts[code] > 1
        if counts[c] == 0 and ok.any():
            code[np.flatnonzero(ok)[np.argmax(score[c][ok])]] = c
    return code


def rezone(rng: np.random.Generator, code: np.ndarray, r: np.ndarray) -> np.ndarray:
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


def layout(rng: np.random.Generator, nb: float, theta: float) -> SimpleNamespace:
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


def world(lay: SimpleNamespace, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Local frame -> EPSG:26191."""
    c, s = np.cos(lay.theta), np.sin(lay.theta)
    return CENTER[0] + x * c - y * s, CENTER[1] + x * s + y * c


def to_world(lay: SimpleNamespace, geoms: np.ndarray) -> np.ndarray:
    """Geometries from the local frame to EPSG:26191."""
    return shapely.transform(geoms, lambda xy: np.column_stack(world(lay, xy[:, 0], xy[:, 1])))


def street_at(lay: SimpleNamespace, orient: int, sidx: int, seg: int) -> str:
    """Name of street ``sidx`` (orient 0 = east-west, 1 = north-south) where it crosses quarter ``seg``."""
    return street_name(bool(lay.blv[orient][sidx]), float(lay.sw[orient][sidx]), orient, sidx, seg)
