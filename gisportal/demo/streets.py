"""Street names, house numbers, quarter names and land-title references for the demo district.

Helper of :mod:`gisportal.demo.city`. The names are those of real streets and
quarters of Tangier, reused freely over the synthetic grid; land-title numbers
and conservation codes are fictitious. Everything works on numpy arrays so a
million parcels are named in a second or two. Coordinates here are in the
district's local frame (metres, origin at its centre).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np
import shapely

logger = logging.getLogger(__name__)

QUARTERS = (
    "Marshan", "Iberia", "Branes", "Mesnana", "Souani", "Californie", "Malabata", "Boubana", "Dradeb",
    "Beni Makada", "Moujahidine", "Casabarata", "Val Fleuri", "Moulay Youssef", "Idrissia", "Hay Mohammadi",
    "Msallah", "Bendibane", "Charf", "Jbel Kbir", "Rahrah", "Boukhalef", "Gzenaya", "Mghogha", "Aouama",
    "Bir Chifa", "Sidi Driss", "Dar Tounsi", "Ain Ktiouet", "Hay El Fath", "Hay Benkirane", "Ziaten",
    "Mers El Kheir", "Jirari", "Branes Kdima", "Hay Hassani")
BOULEVARDS = (
    "Mohammed V", "Hassan II", "Pasteur", "Moulay Youssef", "Mohammed VI", "Moulay Rachid", "Moulay Abdelaziz",
    "Sidi Mohammed Ben Abdellah", "Youssef Ben Tachfine", "Al Massira Al Khadra", "Moulay Ismail",
    "Abdelkhalek Torres", "Moulay Slimane", "Moulay Ali Cherif")
STREETS = (
    "Ibn Battouta", "Al Moutanabi", "Sidi Bouabid", "Ibn Khaldoun", "Al Farabi", "Oued El Makhazine", "Ibn Rochd",
    "Ibn Sina", "Al Khansaa", "Moussa Ibn Noussair", "Tarik Ibn Ziad", "Abou Bakr Essedik", "Omar Ibn Al Khattab",
    "Ali Ibn Abi Taleb", "Al Mansour Eddahbi", "Allal Ben Abdellah", "Allal El Fassi", "Abdelkrim El Khattabi",
    "Ahmed Chaouki", "Imam Malik", "Ibn Zaidoun", "Ibn Toumert", "Zellaka", "Anoual", "Al Qods", "Sidi Amar",
    "Al Andalous", "Ibn Al Khatib", "Al Idrissi", "Jamal Eddine Al Afghani", "Ibn Al Banna", "Cadi Ayad",
    "Ibn Hazm", "Mokhtar Soussi", "Al Wahda", "Sebou", "Oum Er-Rbia", "Moulouya", "Salah Eddine Al Ayoubi",
    "Khalid Ibn Al Walid", "Okba Ibn Nafii", "Abderrahmane Eddakhil", "Ibn Al Arabi", "Al Bouhtouri",
    "Abou Al Alaa Al Maari", "Sidi Ahmed Benajiba", "Ibn Tofail")


def street_name(boulevard: bool, width: float, orient: int, sidx: int, seg: int) -> str:
    """Name of one street segment.

    ``orient`` is 0 for an east-west street, 1 for a north-south one; ``sidx``
    is the street's index across the grid and ``seg`` the quarter it crosses
    (long streets change name from one quarter to the next). Wide streets are
    avenues, boulevards keep to their own list of names.
    """
    if boulevard:
        return "Boulevard " + BOULEVARDS[(5 * sidx + seg + 3 * orient) % len(BOULEVARDS)]
    kind = "Avenue" if width >= 16.0 else "Rue"
    return f"{kind} {STREETS[(7 * sidx + 3 * seg + 11 * orient) % len(STREETS)]}"


def addresses(orient: np.ndarray, sidx: np.ndarray, seg: np.ndarray, even: np.ndarray, pos: np.ndarray,
              namer: Callable[[int, int, int], str]) -> list[str]:
    """Postal addresses "<n> <street>" of parcels fronting street segments.

    Parcels are grouped by segment ``(orient, sidx, seg)`` and side (``even``);
    numbers rise with ``pos`` (the position along the street), odd on one side
    and even on the other. ``namer(orient, sidx, seg)`` names a segment.
    """
    n = orient.size
    span = int(max(sidx.max(), seg.max())) + 1
    key = (orient.astype(np.int64) * span + sidx) * span + seg
    parity = even.astype(np.int64)
    order = np.lexsort((pos, parity, key))
    grp = np.stack([key, parity])[:, order]
    first = np.concatenate(([True], (np.diff(grp, axis=1) != 0).any(axis=0)))
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n) - np.maximum.accumulate(np.where(first, np.arange(n), 0))
    ukey, inv = np.unique(key, return_inverse=True)
    names = np.array([namer(int(k // span // span), int(k // span % span), int(k % span)) for k in ukey.tolist()])
    return [f"{a} {s}" for a, s in zip((2 * rank + 1 + parity).tolist(), names[inv.ravel()].tolist(), strict=True)]


def quarter_names(rng: np.random.Generator, count: int) -> np.ndarray:
    """``count`` distinct quarter names; names are reused with a suffix ("Marshan 2") when they run out."""
    names = rng.permutation(np.array(QUARTERS)).tolist()
    return np.array([names[t % len(names)] + ("" if t < len(names) else f" {t // len(names) + 1}")
                     for t in range(count)])


def land_title_numbers(rng: np.random.Generator, n: int) -> np.ndarray:
    """Unique land-title numbers, one per parcel: strictly increasing draws shuffled over the parcels.

    4 bytes a number (up to ~700 million parcels); the shuffle is ``rng.permutation(n)``'s, made in place.
    """
    steps = rng.integers(1, 4, n)
    np.cumsum(steps, out=steps)
    steps += 10000
    numbers = steps.astype(np.int32)
    del steps
    order = np.arange(n, dtype=np.int32)
    rng.shuffle(order)  # the same draws as rng.permutation(n), half its memory
    return numbers[order]


def land_title_refs(numbers: np.ndarray, east: np.ndarray) -> list[str]:
    """Land-title references "TF-<number>/<conservation>" of parcels with these numbers
    (:func:`land_title_numbers`); the conservation is "06" west of the centre and "62" east of it."""
    return [f"TF-{a}/{c}" for a, c in zip(numbers.tolist(), np.where(east, "62", "06").tolist(), strict=True)]


def widening_strips(rng: np.random.Generator, x0: np.ndarray, x1: np.ndarray, y0: np.ndarray, y1: np.ndarray,
                    count: int, namer: Callable[[int, int, int], str]) -> list[tuple[shapely.Polygon, float, str]]:
    """``count`` road-widening strips, each 5-10 m deep along one edge of 3-8 blocks of an interior street.

    ``x0, x1`` (``y0, y1``) are the block columns' (rows') extents; the strips
    eat into the blocks bordering the street. Returns ``(strip, width, street
    name)``, the name from ``namer(orient, street index, first block index)``.
    """
    out = []
    for orient in rng.integers(0, 2, count).tolist():
        a0, a1, b0, b1 = (x0, x1, y0, y1) if orient == 0 else (y0, y1, x0, x1)
        s, ln = int(rng.integers(1, b0.size)), int(rng.integers(3, 9))
        a = int(rng.integers(0, max(1, a0.size - ln)))
        e, w = min(a + ln, a0.size) - 1, float(rng.integers(5, 11))
        lo, hi = (b0[s], b0[s] + w) if rng.random() < 0.5 else (b1[s - 1] - w, b1[s - 1])
        out.append((shapely.box(a0[a], lo, a1[e], hi) if orient == 0 else shapely.box(lo, a0[a], hi, a1[e]),
                    w, namer(orient, s, a)))
    return out
