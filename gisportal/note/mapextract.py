"""The map extract drawn on the server: an SVG of the parcel and what applies around it.

Drawn in the store's metric CRS (Lambert Nord Maroc for Tangier): zones in
force coloured by the rules catalogue, servitudes hatched, neighbouring
parcels, the parcel outlined, a scale bar, a north arrow and a coordinate
frame with metric graduations. The same SVG goes into the HTML note and the
PDF, so both show the same map.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np
import shapely
from markupsafe import escape
from shapely import affinity
from shapely.geometry.base import BaseGeometry

from gisportal.note.build import UrbanNote
from gisportal.storage.base import Store
from gisportal.zoning.mapdata import OVERLAY_COLOURS
from gisportal.zoning.plans import versions_in_force
from gisportal.zoning.rules import RulesCatalogue

logger = logging.getLogger(__name__)

WIDTH, HEIGHT, MARGIN = 680.0, 430.0, 34.0


@dataclass(frozen=True)
class MapExtract:
    """The SVG and the zone codes it shows (for the legend)."""

    svg: str
    zone_codes: tuple[str, ...]
    scale_denominator: int


def _path(geometry: BaseGeometry) -> str:
    parts = []
    for polygon in getattr(geometry, "geoms", [geometry]):
        if polygon.geom_type != "Polygon" or polygon.is_empty:
            continue
        for ring in (polygon.exterior, *polygon.interiors):
            xy = np.asarray(ring.coords)
            parts.append("M" + "L".join(f"{x:.1f},{y:.1f}" for x, y in xy) + "Z")
    return "".join(parts)


def _nice(value: float) -> float:
    exponent = 10 ** math.floor(math.log10(value))
    return next(m * exponent for m in (1, 2, 5, 10) if m * exponent >= value)


def render_map_extract(store: Store, catalogue: RulesCatalogue, note: UrbanNote, metre: str = "m") -> MapExtract:
    """Draw the parcel of ``note`` with the zones, servitudes and parcels around it; ``metre`` is the symbol of
    the metre in the reader's language (scale bar, coordinates)."""
    parcel = note.parcel.geometry
    minx, miny, maxx, maxy = parcel.bounds
    pad = max(40.0, 0.8 * max(maxx - minx, maxy - miny))
    minx, miny, maxx, maxy = minx - pad, miny - pad, maxx + pad, maxy + pad
    inner_w, inner_h = WIDTH - 2 * MARGIN, HEIGHT - 2 * MARGIN
    scale = min(inner_w / (maxx - minx), inner_h / (maxy - miny))
    cx, cy = (minx + maxx) / 2, (miny + maxy) / 2
    minx, maxx = cx - inner_w / scale / 2, cx + inner_w / scale / 2
    miny, maxy = cy - inner_h / scale / 2, cy + inner_h / scale / 2
    frame = shapely.box(minx, miny, maxx, maxy)

    def place(g: BaseGeometry) -> BaseGeometry:
        return affinity.affine_transform(shapely.intersection(g, frame),
                                         [scale, 0, 0, -scale, MARGIN - minx * scale, MARGIN + maxy * scale])

    versions = [v.id for v in versions_in_force(store.plan_versions(), note.as_of)]
    bbox = (minx, miny, maxx, maxy)
    zones = store.features("zones", versions, bbox)
    overlays = store.features("overlays", versions, bbox)
    parcels = store.features("parcels", None, bbox, limit=3000)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH:.0f} {HEIGHT:.0f}" class="gp-extract" '
           f'font-family="DejaVu Sans, sans-serif" font-size="9" role="img" aria-labelledby="gp-extract-caption">',
           f'<defs><clipPath id="gp-frame"><rect x="{MARGIN}" y="{MARGIN}" width="{inner_w}" height="{inner_h}"/>'
           '</clipPath></defs>',
           f'<rect x="{MARGIN}" y="{MARGIN}" width="{inner_w}" height="{inner_h}" fill="#f4f4f0"/>',
           '<g clip-path="url(#gp-frame)">']
    codes = []
    for code, geometry in zip(zones["code"], zones.geometry, strict=True):
        rules = catalogue.rules_for(code)
        out.append(f'<path d="{_path(place(geometry))}" fill="{rules.color if rules else "#bbbbbb"}" '
                   'fill-opacity="0.45" stroke="#666" stroke-width="0.8"/>')
        codes.append(code)
    for kind, geometry in zip(overlays["kind"], overlays.geometry, strict=True):
        colour = OVERLAY_COLOURS.get(kind, "#444444")
        out.append(f'<path d="{_path(place(geometry))}" fill="{colour}" fill-opacity="0.18" stroke="{colour}" '
                   'stroke-width="1.4" stroke-dasharray="5 3"/>')
    out.append(f'<path d="{"".join(_path(place(g)) for g in parcels.geometry)}" fill="none" stroke="#333" '
               'stroke-width="0.5"/>')
    out.append(f'<path d="{_path(place(parcel))}" fill="#ffffff" fill-opacity="0.25" stroke="#d00000" '
               'stroke-width="3"/>')
    for code, geometry in zip(zones["code"], zones.geometry, strict=True):
        piece = shapely.intersection(geometry, frame)
        if piece.area * scale * scale > 1500:
            point = place(piece.representative_point())
            out.append(f'<text x="{shapely.get_x(point):.1f}" y="{shapely.get_y(point):.1f}" '
                       'text-anchor="middle" font-size="12" '
                       f'font-weight="bold" fill="#111">'
                       f'{escape(code)}</text>')
    out.append("</g>")
    out += _frame(minx, miny, maxx, maxy, scale, inner_w, inner_h, store.crs, metre)
    out.append("</svg>")
    denominator = int(round(1 / (scale * 0.26458 / 1000) / 10) * 10)  # 1 px = 0.26458 mm at 96 dpi
    return MapExtract("".join(out), tuple(sorted(set(codes))), denominator)


def _frame(minx: float, miny: float, maxx: float, maxy: float, scale: float, inner_w: float, inner_h: float,
           crs: str, metre: str = "m") -> list[str]:
    out = [f'<rect x="{MARGIN}" y="{MARGIN}" width="{inner_w}" height="{inner_h}" fill="none" stroke="#000" '
           'stroke-width="1"/>']
    step = _nice((maxx - minx) / 5)
    x = math.ceil(minx / step) * step
    while x < maxx:
        px = MARGIN + (x - minx) * scale
        out.append(f'<line x1="{px:.1f}" y1="{MARGIN - 5}" x2="{px:.1f}" y2="{MARGIN}" stroke="#000"/>'
                   f'<text x="{px:.1f}" y="{MARGIN - 8}" text-anchor="middle" font-size="8">{x:.0f}</text>')
        x += step
    y = math.ceil(miny / step) * step
    while y < maxy:
        py = MARGIN + (maxy - y) * scale
        out.append(f'<line x1="{MARGIN - 5}" y1="{py:.1f}" x2="{MARGIN}" y2="{py:.1f}" stroke="#000"/>'
                   f'<text x="{MARGIN - 7}" y="{py:.1f}" font-size="8" text-anchor="middle" '
                   f'transform="rotate(-90 {MARGIN - 7} {py:.1f})">{y:.0f}</text>')
        y += step
    bar = _nice((maxx - minx) / 5)
    length = bar * scale
    bx, by = MARGIN + 10, MARGIN + inner_h - 14
    out.append(f'<rect x="{bx - 4}" y="{by - 14}" width="{length + 40}" height="22" fill="#fff" fill-opacity="0.85"/>'
               f'<rect x="{bx}" y="{by}" width="{length / 2:.1f}" height="4" fill="#000"/>'
               f'<rect x="{bx + length / 2:.1f}" y="{by}" width="{length / 2:.1f}" height="4" fill="#fff" '
               f'stroke="#000" stroke-width="0.6"/>'
               f'<text x="{bx}" y="{by - 3}" font-size="8">0</text>'
               f'<text x="{bx + length:.1f}" y="{by - 3}" font-size="8" text-anchor="middle">'
               f'{bar:.0f} {escape(metre)}</text>')
    nx, ny = MARGIN + inner_w - 22, MARGIN + 12
    out.append(f'<g transform="translate({nx},{ny})"><circle r="13" fill="#fff" fill-opacity="0.85"/>'
               '<path d="M0,-11 L6,9 L0,4 L-6,9 Z" fill="#000"/>'
               '<text y="-1" x="0" font-size="0">N</text></g>'
               f'<text x="{nx}" y="{ny + 24}" text-anchor="middle" font-size="10" font-weight="bold">N</text>')
    out.append(f'<text x="{MARGIN + inner_w}" y="{HEIGHT - MARGIN + 14}" text-anchor="end" font-size="8">'
               f'{escape(crs)} — {escape(metre)}</text>')
    return out
