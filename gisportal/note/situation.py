"""The situation plan (plan de situation): a parcel or a site on paper at a stated scale.

The map is an SVG whose user unit is the millimetre on paper (``width``/``height`` in ``mm``), so printed at
100 %, 1 cm on paper is ``scale`` cm on the ground exactly: a metre of the metric CRS is ``1000 / scale`` mm. It
shows the zones in force (coloured by the rules catalogue), the servitudes (dashed), the parcels, the parcel or
site outlined in red, a Lambert coordinate grid with its values, a scale bar with the scale stated beside it and a
north arrow. The page around it (agency, date, QR code, legend) is the web layer's template.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

import numpy as np
import shapely
from markupsafe import escape
from shapely.geometry.base import BaseGeometry

from gisportal.core.errors import InvalidInput, told
from gisportal.storage.base import Store
from gisportal.zoning.mapdata import OVERLAY_COLOURS
from gisportal.zoning.plans import versions_in_force
from gisportal.zoning.rules import RulesCatalogue

logger = logging.getLogger(__name__)

SCALES = (500, 1000, 2000, 5000)
PAPERS = {"A4": (210.0, 297.0), "A3": (297.0, 420.0)}
ORIENTATIONS = ("portrait", "landscape")
#: Page margin, and the heights of the header above the map and the legend below it (mm).
MARGIN_MM, HEADER_MM, FOOTER_MM = 10.0, 34.0, 34.0
#: Left free below the map, so that rounding in the layout never pushes the legend onto a second page (mm).
SLACK_MM = 3.0
#: The scale bar's segments are this tall (mm): what a reader of the PDF recognises it by.
BAR_HEIGHT_MM = 1.5


@dataclass(frozen=True)
class SituationPlan:
    """The map of a situation plan and its sizes (mm on paper)."""

    svg: str
    page_mm: tuple[float, float]
    map_mm: tuple[float, float]
    scale: int
    bar_m: float
    grid_m: float
    zone_codes: tuple[str, ...]
    overlay_kinds: tuple[str, ...]


def page_size(paper: str, orientation: str) -> tuple[float, float]:
    """(width, height) of the page in mm; 422 for a paper or orientation not offered."""
    if paper not in PAPERS:
        raise InvalidInput(told("'paper' is A4 or A3."), parameter="paper")
    if orientation not in ORIENTATIONS:
        raise InvalidInput(told("'orientation' is portrait or landscape."), parameter="orientation")
    w, h = PAPERS[paper]
    return (w, h) if orientation == "portrait" else (h, w)


def check_scale(value: object) -> int:
    """The scale denominator, one of :data:`SCALES`."""
    try:
        scale = int(str(value))
    except ValueError:
        scale = 0
    if scale not in SCALES:
        raise InvalidInput(told("'scale' is one of 500, 1000, 2000 or 5000."), parameter="scale")
    return scale


def _nice(value: float) -> float:
    exponent = 10 ** math.floor(math.log10(value))
    return next(m * exponent for m in (1, 2, 5, 10) if m * exponent >= value)


def _path(geometry: BaseGeometry, to_mm: Callable[[np.ndarray], np.ndarray]) -> str:
    parts = []
    for polygon in shapely.get_parts(geometry):
        if polygon.geom_type != "Polygon" or polygon.is_empty:
            continue
        for ring in (polygon.exterior, *polygon.interiors):
            xy = to_mm(np.asarray(ring.coords))
            parts.append("M" + "L".join(f"{x:.2f},{y:.2f}" for x, y in xy) + "Z")
    return "".join(parts)


def draw_situation(store: Store, catalogue: RulesCatalogue, outline: BaseGeometry, *, scale: int, paper: str,
                   orientation: str, as_of: date | None = None) -> SituationPlan:
    """The situation plan's map of ``outline`` (metric CRS) at 1:``scale`` on ``paper`` in ``orientation``."""
    page_w, page_h = page_size(paper, orientation)
    map_w, map_h = page_w - 2 * MARGIN_MM, page_h - 2 * MARGIN_MM - HEADER_MM - FOOTER_MM - SLACK_MM
    mm_per_m = 1000.0 / scale
    ground_w, ground_h = map_w / mm_per_m, map_h / mm_per_m
    cx, cy = (outline.bounds[0] + outline.bounds[2]) / 2, (outline.bounds[1] + outline.bounds[3]) / 2
    minx, maxy = cx - ground_w / 2, cy + ground_h / 2
    frame = shapely.box(minx, cy - ground_h / 2, cx + ground_w / 2, maxy)

    def to_mm(xy: np.ndarray) -> np.ndarray:
        return np.column_stack([(xy[:, 0] - minx) * mm_per_m, (maxy - xy[:, 1]) * mm_per_m])

    versions = [v.id for v in versions_in_force(store.plan_versions(), as_of or date.today())]
    zones = store.features("zones", versions, frame.bounds)
    overlays = store.features("overlays", versions, frame.bounds)
    parcels = store.features("parcels", None, frame.bounds, limit=20_000)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{map_w:.2f}mm" height="{map_h:.2f}mm" '
           f'viewBox="0 0 {map_w:.2f} {map_h:.2f}" class="gp-situation-map" font-family="DejaVu Sans, sans-serif" '
           f'role="img"><defs><clipPath id="gp-sp-frame"><rect x="0" y="0" width="{map_w:.2f}" '
           f'height="{map_h:.2f}"/></clipPath></defs><g clip-path="url(#gp-sp-frame)">'
           f'<rect x="0" y="0" width="{map_w:.2f}" height="{map_h:.2f}" fill="#f6f6f2"/>']
    codes: list[str] = []
    for code, geometry in zip(zones["code"], zones.geometry, strict=True):
        rules = catalogue.rules_for(code)
        piece = shapely.intersection(geometry, frame)
        out.append(f'<path d="{_path(piece, to_mm)}" fill="{rules.color if rules else "#bbbbbb"}" '
                   'fill-opacity="0.4" stroke="#555" stroke-width="0.25"/>')
        codes.append(str(code))
    kinds: list[str] = []
    for kind, geometry in zip(overlays["kind"], overlays.geometry, strict=True):
        colour = OVERLAY_COLOURS.get(kind, "#444444")
        out.append(f'<path d="{_path(shapely.intersection(geometry, frame), to_mm)}" fill="{colour}" '
                   f'fill-opacity="0.15" stroke="{colour}" stroke-width="0.5" stroke-dasharray="2 1"/>')
        kinds.append(str(kind))
    out.append(f'<path d="{"".join(_path(shapely.intersection(g, frame), to_mm) for g in parcels.geometry)}" '
               'fill="none" stroke="#333" stroke-width="0.15"/>')
    out.append(f'<path d="{_path(outline, to_mm)}" fill="#ffffff" fill-opacity="0.2" stroke="#d00000" '
               'stroke-width="0.8" class="gp-situation-subject"/>')
    for code, geometry in zip(zones["code"], zones.geometry, strict=True):
        piece = shapely.intersection(geometry, frame)
        if piece.area * mm_per_m ** 2 > 400:  # a label where the zone shows on at least 4 cm²
            x, y = to_mm(np.asarray(piece.representative_point().coords))[0]
            out.append(f'<text x="{x:.2f}" y="{y:.2f}" font-size="4" font-weight="bold" text-anchor="middle" '
                       f'fill="#222">{escape(code)}</text>')
    grid = _nice(ground_w / 5)
    out += _grid(minx, maxy, ground_w, ground_h, grid, mm_per_m, map_w, map_h)
    out.append("</g>")
    bar_m = _nice(ground_w / 5)
    out += _scale_bar(bar_m, mm_per_m, scale, map_h)
    out += _north_arrow(map_w)
    out.append(f'<rect x="0" y="0" width="{map_w:.2f}" height="{map_h:.2f}" fill="none" stroke="#000" '
               'stroke-width="0.4"/></svg>')
    return SituationPlan("".join(out), (page_w, page_h), (map_w, map_h), scale, bar_m, grid,
                         tuple(sorted(set(codes))), tuple(sorted(set(kinds))))


def _grid(minx: float, maxy: float, ground_w: float, ground_h: float, step: float, mm_per_m: float,
          map_w: float, map_h: float) -> list[str]:
    """Lambert grid lines every ``step`` metres, each labelled with its coordinate."""
    out = []
    x = math.ceil(minx / step) * step
    while x < minx + ground_w:
        px = (x - minx) * mm_per_m
        out.append(f'<line x1="{px:.2f}" y1="0" x2="{px:.2f}" y2="{map_h:.2f}" stroke="#1a4f8a" stroke-width="0.15" '
                   f'stroke-opacity="0.7"/><text x="{px + 0.8:.2f}" y="3" font-size="2.2" fill="#1a4f8a">'
                   f'X {x:.0f}</text>')
        x += step
    y = math.ceil((maxy - ground_h) / step) * step
    while y < maxy:
        py = (maxy - y) * mm_per_m
        out.append(f'<line x1="0" y1="{py:.2f}" x2="{map_w:.2f}" y2="{py:.2f}" stroke="#1a4f8a" stroke-width="0.15" '
                   f'stroke-opacity="0.7"/><text x="0.8" y="{py - 0.8:.2f}" font-size="2.2" fill="#1a4f8a">'
                   f'Y {y:.0f}</text>')
        y += step
    return out


def _scale_bar(bar_m: float, mm_per_m: float, scale: int, map_h: float) -> list[str]:
    """Four segments, black and white, ``bar_m`` metres long in all; the scale stated beside it."""
    length = bar_m * mm_per_m
    x0, y0 = 6.0, map_h - 8.0
    out = [f'<rect x="{x0 - 3:.2f}" y="{y0 - 5:.2f}" width="{length + 36:.2f}" height="10" fill="#fff" '
           'fill-opacity="0.9" stroke="none"/>']
    for i in range(4):
        out.append(f'<rect x="{x0 + i * length / 4:.3f}" y="{y0:.2f}" width="{length / 4:.3f}" '
                   f'height="{BAR_HEIGHT_MM}" fill="{"#000" if i % 2 == 0 else "#fff"}" stroke="#000" '
                   'stroke-width="0.1" class="gp-scale-bar"/>')
    out.append(f'<text x="{x0:.2f}" y="{y0 - 1:.2f}" font-size="2.5" text-anchor="middle">0</text>'
               f'<text x="{x0 + length:.2f}" y="{y0 - 1:.2f}" font-size="2.5" text-anchor="middle">{bar_m:.0f} m</text>'
               f'<text x="{x0 + length + 4:.2f}" y="{y0 + 1.5:.2f}" font-size="3.2" font-weight="bold">'
               f'1:{scale}</text>')
    return out


def _north_arrow(map_w: float) -> list[str]:
    x, y = map_w - 10, 12
    return [f'<g transform="translate({x:.2f},{y:.2f})"><circle r="6" fill="#fff" fill-opacity="0.9" stroke="#000" '
            'stroke-width="0.2"/><path d="M0,-5 L3,4 L0,2 L-3,4 Z" fill="#000"/></g>'
            f'<text x="{x:.2f}" y="{y + 10:.2f}" font-size="3.5" font-weight="bold" text-anchor="middle">N</text>']
