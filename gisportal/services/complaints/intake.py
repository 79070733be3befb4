"""What a citizen submits with a complaint, checked and located before anything is stored.

Every field is checked with a message that names it (``parameter``); the place is a WGS84 point checked against
the territory (the parcel under it resolved through the store), or a land-title reference resolved to its parcel.
Tracking numbers and secret codes are made and normalised here too.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any

from gisportal.core.contact_details import email_address, is_phone_number
from gisportal.core.coords import WGS84, check_lon_lat, to_float, transformer
from gisportal.core.errors import InvalidInput, NotFound
from gisportal.storage.base import Store
from gisportal.zoning.lookup import check_in_territory

logger = logging.getLogger(__name__)

CATEGORIES = ("illegal_construction", "note_content", "service_delay", "other")
DESCRIPTION_MIN, DESCRIPTION_MAX, MESSAGE_MAX = 20, 5000, 5000
_CIN = re.compile(r"^[A-Z]{1,2}[0-9]{1,7}$")


@dataclass(frozen=True)
class NewComplaint:
    """What a citizen submits (attachments aside); checked by :func:`check_new_complaint`."""

    category: str
    description: str
    contact_name: str
    lon: Any = None
    lat: Any = None
    parcel_ref: str | None = None
    contact_email: str | None = None
    contact_phone: str | None = None
    contact_cin: str | None = None
    lang: str = "fr"


def clean_text(text: Any, limit: int) -> str:
    """Text from a person: stripped, NUL-free, cut to ``limit``."""
    return str(text or "").replace("\x00", "").strip()[:limit]


def check_new_complaint(new: NewComplaint) -> NewComplaint:
    """The submission with every field checked and normalised; the first problem is raised with its field."""
    def refuse(message: str, parameter: str) -> None:
        raise InvalidInput(message, parameter=parameter)

    if new.category not in CATEGORIES:
        refuse("Choose a category: illegal_construction, note_content, service_delay or other.", "category")
    description = str(new.description or "").replace("\x00", "").strip()
    if not DESCRIPTION_MIN <= len(description) <= DESCRIPTION_MAX:
        refuse("Describe the problem in 20 to 5000 characters.", "description")
    name = clean_text(new.contact_name, 500)
    if not 2 <= len(name) <= 120:
        refuse("Give your name (2 to 120 characters).", "contact_name")
    email = clean_text(new.contact_email, 500) or None
    if email is not None and (len(email) > 254 or email_address(email) is None):
        refuse("This e-mail address does not look right (name@example.ma).", "contact_email")
    phone = clean_text(new.contact_phone, 100) or None
    if phone is not None and not is_phone_number(phone):
        refuse("This phone number does not look right (e.g. +212 6 12 34 56 78).", "contact_phone")
    if email is None and phone is None:
        refuse("Give an e-mail address or a phone number so that the agency can reach you.", "contact_phone")
    cin = re.sub(r"\s", "", clean_text(new.contact_cin, 100)).upper() or None
    if cin is not None and not _CIN.match(cin):
        refuse("A national identity card number (CIN) looks like K123456 or BE123456.", "contact_cin")
    ref = clean_text(new.parcel_ref, 200) or None
    if ref is not None and len(ref) > 64:
        refuse("A land-title reference looks like TF-104523/06.", "parcel_ref")
    has_point = new.lon not in (None, "") or new.lat not in (None, "")
    if not has_point and ref is None:
        refuse("Say where: click the place on the map or type the parcel's land-title reference.", "location")
    lang = new.lang if new.lang in ("fr", "ar", "en") else "fr"
    return NewComplaint(new.category, description, name, new.lon if has_point else None,
                        new.lat if has_point else None, ref, email, phone, cin, lang)


def locate(store: Store, new: NewComplaint) -> tuple[float, float, str | None]:
    """``(lon, lat, parcel_ref)`` of a submission: its point checked against the territory, or its parcel's."""
    to_wgs84 = transformer(store.crs, WGS84) if store.crs else None
    if new.lon is not None or new.lat is not None:
        if new.lon is None or new.lat is None:
            raise InvalidInput("Give both the longitude and the latitude of the place.", parameter="location")
        lon, lat = to_float(new.lon, "lon"), to_float(new.lat, "lat")
        check_lon_lat(lon, lat)
        if to_wgs84 is None:
            raise NotFound("This portal holds no data yet.")
        x, y = transformer(WGS84, store.crs).transform(lon, lat)
        check_in_territory(store, x, y)
        if new.parcel_ref:
            parcel = store.parcel_by_ref(new.parcel_ref)
            if parcel is None:
                raise InvalidInput("No parcel has this land-title reference.", parameter="parcel_ref",
                                   ref=new.parcel_ref)
            return lon, lat, parcel.ref
        parcel = store.parcel_at(x, y)
        return lon, lat, parcel.ref if parcel else None
    parcel = store.parcel_by_ref(new.parcel_ref or "")
    if parcel is None or to_wgs84 is None:
        raise InvalidInput("No parcel has this land-title reference.", parameter="parcel_ref",
                           ref=new.parcel_ref)
    point = parcel.geometry.representative_point()
    lon, lat = to_wgs84.transform(point.x, point.y)
    return round(lon, 7), round(lat, 7), parcel.ref


def normalize_number(number: str | None) -> str | None:
    """``rc-2026-123`` -> ``RC-2026-000123``; ``None`` for what cannot be a tracking number."""
    text = str(number or "").strip().upper()[:40]
    match = re.match(r"^RC-?(\d{4})-?(\d{1,6})$", text)
    return f"RC-{match.group(1)}-{int(match.group(2)):06d}" if match else None


