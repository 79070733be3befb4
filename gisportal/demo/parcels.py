"""Cutting the demo district's blocks into parcels, for the whole district or a band of blocks at a time.

Helper of :mod:`gisportal.demo.city` (the district in memory) and :mod:`gisportal.demo.national` (a city of
millions of parcels streamed to PostGIS). The random draws of the parcels are made once for the whole district,
in the order the in-memory demo has always made them (:func:`draw_parcels`); :func:`parcel_columns` then cuts
any range of blocks from them. A range made of whole quarter bands (block rows ``q`` at a time, see
:func:`band_ranges`) holds every street segment's numbering whole, so the parcels of a band are exactly those
the in-memory district has there: same geometry, reference, address and quarter.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import numpy as np
import shapely

from gisportal.demo.layout import street_at, world
from gisportal.demo.streets import addresses, land_title_numbers, land_title_refs, quarter_names

__all__ = ["ParcelDraws", "band_ranges", "draw_parcels", "parcel_columns", "parcel_slices"]



@dataclass(frozen=True, eq=False)
class ParcelDraws:
    """The parcels' random draws for the whole district, and where each block's columns and parcels start.

    Per column of lots (a few per block): ``col_end``; per parcel: ``title_numbers`` (8 bytes a parcel, the
    one thing here that grows with the parcels: a land-title number is a shuffle over the whole district).
    """

    rows: np.ndarray           # lot rows of each block
    k: np.ndarray              # lots per row of each block
    col_start: np.ndarray      # first column of each block (into col_end)
    col_end: np.ndarray        # cumulative lot widths over all columns, block after block
    parcel_start: np.ndarray   # first parcel of each block; one more item: the parcel count
    quarters: np.ndarray       # quarter names, by quarter id
    title_numbers: np.ndarray  # land-title number of each parcel

    @property
    def count(self) -> int:
        """How many parcels the district has."""
        return int(self.parcel_start[-1])


def _quarter_count(lay: SimpleNamespace) -> int:
    """Quarters of the district (quarter ids run up to the last block's)."""
    return ((lay.ny - 1) // lay.q) * -(-lay.nx // lay.q) + (lay.nx - 1) // lay.q + 1


def draw_parcels(rng: np.random.Generator, lay: SimpleNamespace, rows: np.ndarray, k: np.ndarray,
                 jitter: np.ndarray) -> ParcelDraws:
    """Draw the lot widths (``jitter``: each block's width jitter), quarter names and land-title numbers."""
    # Lot widths are drawn per (block, column) and shared by the rows of the block, so that lots
    # meet corner to corner (no T-junction that rotation could turn into a sliver overlap).
    col_end = np.cumsum(1.0 + np.repeat(jitter, k) * rng.uniform(-1.0, 1.0, int(k.sum())))
    nper = rows * k
    parcel_start = np.concatenate(([0], np.cumsum(nper)))
    quarters = quarter_names(rng, _quarter_count(lay))
    numbers = land_title_numbers(rng, int(parcel_start[-1]))
    return ParcelDraws(rows, k, np.cumsum(k) - k, col_end, parcel_start, quarters, numbers)


def band_ranges(lay: SimpleNamespace, target_parcels: int, draws: ParcelDraws) -> Iterator[tuple[int, int]]:
    """Block ranges ``[b0, b1)`` of whole quarter bands (``q`` block rows each), about ``target_parcels`` parcels
    each (at least one band)."""
    step = lay.q * lay.nx
    b0 = 0
    total = lay.nx * lay.ny
    while b0 < total:
        b1 = min(b0 + step, total)
        while b1 < total and draws.parcel_start[min(b1 + step, total)] - draws.parcel_start[b0] <= target_parcels:
            b1 = min(b1 + step, total)
        yield b0, b1
        b0 = b1


def parcel_slices(lay: SimpleNamespace, draws: ParcelDraws, b0: int, b1: int,
                  size: int | None = None) -> Iterator[dict[str, Any]]:
    """The parcels of blocks ``[b0, b1)`` in slices of ``size`` parcels at most (default: one slice), each a
    dict of ``ref``, ``address``, ``quarter`` and ``geometry`` (EPSG:26191).

    Each block is cut into rows along its long side and columns of lots that tile it. The addresses are
    numbered over the whole range (a street segment's numbers need all its parcels); the geometries and
    references, most of the memory, are made a slice at a time.
    """
    rows, k = draws.rows[b0:b1], draws.k[b0:b1]
    nper = rows * k
    n = int(nper.sum())
    b = b0 + np.repeat(np.arange(nper.size), nper)
    start = np.cumsum(nper) - nper
    loc = np.arange(n) - start[b - b0]
    kb = draws.k[b]
    r, c = np.divmod(loc, kb)
    del loc
    C = draws.col_end
    cstart = draws.col_start[b]
    base = np.where(cstart > 0, C[np.maximum(cstart - 1, 0)], 0.0)
    tot = C[cstart + kb - 1] - base
    end_rel = C[cstart + c] - base
    start_rel = np.where(c > 0, C[np.maximum(cstart + c - 1, 0)] - base, 0.0)
    del cstart, base, kb, c
    bi, bj = lay.i[b], lay.j[b]
    bx0, bx1, by0, by1 = lay.x0[bi], lay.x1[bi], lay.y0[bj], lay.y1[bj]
    x0, x1 = bx0 + (bx1 - bx0) * (start_rel / tot), bx0 + (bx1 - bx0) * (end_rel / tot)
    nr = draws.rows[b]
    y0, y1 = by0 + (by1 - by0) * (r / nr), by0 + (by1 - by0) * ((r + 1) / nr)
    del start_rel, end_rel, tot, nr, r, b
    # Address on the nearest block side; numbers rise along the street, odd / even on either side.
    side = np.argmin(np.stack([y0 - by0, by1 - y1, x0 - bx0, bx1 - x1]), axis=0)
    orient = (side >= 2).astype(np.int64)
    address = addresses(orient, np.choose(side, [bj, bj + 1, bi, bi + 1]), np.where(orient == 0, bi, bj) // lay.q,
                        side % 2 == 0, np.where(orient == 0, x0 + x1, y0 + y1),
                        lambda o, s, g: street_at(lay, o, s, g))
    del side, orient
    quarter = draws.quarters[(bj // lay.q) * -(-lay.nx // lay.q) + bi // lay.q]
    east = bx0 + bx1 > 0
    p0 = int(draws.parcel_start[b0])
    step = size or max(n, 1)
    for s0 in range(0, n, step):
        s = slice(s0, min(s0 + step, n))
        X, Y = world(lay, np.stack([x0[s], x1[s], x1[s], x0[s], x0[s]], 1),
                     np.stack([y0[s], y0[s], y1[s], y1[s], y0[s]], 1))
        geom = shapely.polygons(np.stack([X, Y], -1))
        del X, Y
        yield {"ref": land_title_refs(draws.title_numbers[p0 + s.start:p0 + s.stop], east[s]),
               "address": address[s], "quarter": quarter[s], "geometry": geom}


def parcel_columns(lay: SimpleNamespace, draws: ParcelDraws, b0: int, b1: int) -> dict[str, Any]:
    """The parcels of blocks ``[b0, b1)`` at once (:func:`parcel_slices`)."""
    return next(parcel_slices(lay, draws, b0, b1))
