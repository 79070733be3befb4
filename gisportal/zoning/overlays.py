"""Overlays (servitudes): prescriptions that cut across zones.

Each kind says whether the land under it can carry a building. Land ceded to a
road widening, reserved for a public facility or a green space, or declared
non aedificandi is deducted from the buildable area of a parcel; a height
easement caps the height of whatever is built.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class OverlayKind:
    """A kind of servitude with its labels and its effect on building."""

    key: str
    label_fr: str
    label_ar: str
    label_en: str
    removes_buildable_area: bool
    caps_height: bool = False


OVERLAY_KINDS: dict[str, OverlayKind] = {
    k.key: k
    for k in (
        OverlayKind("road_widening", "Alignement / élargissement de voie", "تصفيف / توسيع الطريق",
                    "Road alignment / widening", True),
        OverlayKind("reserved_facility", "Réservation pour équipement public", "تخصيص لتجهيز عمومي",
                    "Land reserved for a public facility", True),
        OverlayKind("green_space", "Espace vert projeté", "مساحة خضراء مبرمجة", "Planned green space", True),
        OverlayKind("non_aedificandi", "Zone non aedificandi", "منطقة غير قابلة للبناء",
                    "Non-aedificandi strip", True),
        OverlayKind("heritage", "Protection du patrimoine", "حماية التراث", "Heritage protection", False),
        OverlayKind("flood_risk", "Zone inondable", "منطقة معرضة للفيضانات", "Flood risk", False),
        OverlayKind("airport_easement", "Servitude aéronautique", "ارتفاق الملاحة الجوية",
                    "Airport height easement", False, caps_height=True),
        OverlayKind("coastal_strip", "Bande côtière (loi 81-12)", "الشريط الساحلي (القانون 81-12)",
                    "Coastal strip", True),
    )
}


def overlay_kind(key: str) -> OverlayKind:
    """The kind named ``key``; an unknown kind is kept as a neutral, informative one."""
    known = OVERLAY_KINDS.get(key)
    if known is not None:
        return known
    return OverlayKind(key, key, key, key, removes_buildable_area=False)
