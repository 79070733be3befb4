"""Issuing notes as official documents: numbering, signing, verification, currency.

A note is issued once per distinct content: the same parcel under the same
plan versions (and, for a historical note, the same date) gets its existing
number back. The signed payload states the facts the note rests on; the PDF
is sealed byte for byte (:mod:`gisportal.core.signing`).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from gisportal.core.errors import NotFound, told
from gisportal.core.signing import KeyRing, NotAuthentic, UnknownNumber, canonical_json, seal_pdf, verify_pdf
from gisportal.note.build import UrbanNote, build_note
from gisportal.note.registry import IssuedNote, NoteRegistry
from gisportal.note.render import signed_cover_facts
from gisportal.sites.render import site_payload_today
from gisportal.storage.base import Store
from gisportal.zoning.rules import RulesCatalogue
from gisportal.zoning.zone_cover import CoverLimits

logger = logging.getLogger(__name__)

LANGS = ("fr", "ar", "both")


def note_payload(note: UrbanNote, lang: str) -> dict[str, Any]:
    """The facts a note states, as signed: parcel, zones, servitudes, plan versions, rules used."""
    return {
        "lang": lang,
        "as_of": note.as_of.isoformat(),
        "historical": note.is_historical,
        "parcel": {"ref": note.parcel.ref, "area_m2": round(note.parcel.area_m2, 2)},
        "zones": [{"plan": z.plan, "version": z.plan_version, "code": z.code, "share": round(z.share, 4),
                   "area_m2": round(z.area_m2, 2),
                   "rules": z.rules.model_dump(mode="json") if z.rules else None} for z in note.zones],
        "overlays": [{"plan": o.plan, "version": o.plan_version, "kind": o.kind, "label": o.label_fr,
                      "area_m2": round(o.area_m2, 2)} for o in note.overlays],
        "plans": [{"name": p.name, "version": p.version, "approval_act": p.approval_act,
                   "approval_date": p.approval_date.isoformat()} for p in note.plans],
        **signed_cover_facts(note),
    }


def content_hash(payload: dict[str, Any]) -> str:
    """SHA-256 of the payload; the date counts only for historical notes."""
    stable = dict(payload)
    if not stable["historical"]:
        stable.pop("as_of")
    return hashlib.sha256(canonical_json(stable)).hexdigest()


def signed_bytes(payload: dict[str, Any], number: str, issued_at: str) -> bytes:
    """What the registry signature covers."""
    return canonical_json({"number": number, "issued_at": issued_at, "note": payload})


def issue_note(registry: NoteRegistry, keyring: KeyRing, note: UrbanNote, lang: str,
               before_issue: Callable[[], None] | None = None) -> IssuedNote:
    """The registered note for this content: reused when identical, else newly numbered and signed.

    ``before_issue`` runs before a new note is numbered (a ceiling on issuance may raise there).
    """
    return issue_payload(registry, keyring, note_payload(note, lang), before_issue)


def issue_payload(registry: NoteRegistry, keyring: KeyRing, payload: dict[str, Any],
                  before_issue: Callable[[], None] | None = None) -> IssuedNote:
    """The registered document for this payload (a parcel's or a site's note): reused when identical."""
    digest = content_hash(payload)
    existing = registry.find(digest)
    if existing is not None:
        return existing
    if before_issue is not None:
        before_issue()
    return registry.issue(payload, digest, lambda number, at: keyring.sign(signed_bytes(payload, number, at)))


def verification_token(issued: IssuedNote) -> str:
    """The short token the QR code carries beside the number."""
    return issued.signature[:16]


def check_number(registry: NoteRegistry, keyring: KeyRing, number: str, token: str | None = None) -> IssuedNote:
    """The issued note behind a number (and QR token), its registry signature checked.

    ``token=None``: no token checked (staff, the CLI); an empty token is refused before the number is looked up.
    An unknown number and a wrong token raise the same :class:`UnknownNumber` (404): without the token, nobody can
    tell whether a number was issued.
    """
    asked, number = number or "", (number or "")[:40]
    if token is not None and not token:
        raise NotAuthentic(told("Enter the verification code printed with the number (the QR code carries it)."),
                           number=number)
    issued = registry.get(asked.strip()) if number and len(asked) <= 40 else None
    wrong = issued is not None and token is not None and \
        not hmac.compare_digest(token.encode(), verification_token(issued).encode())
    if issued is None or wrong:
        if token is None:
            raise UnknownNumber(told("No note numbered '%(number)s' was issued by this portal.", number=number),
                                number=number)
        raise UnknownNumber(told("No note numbered '%(number)s' with this verification code was issued by this "
                                 "portal.", number=number), number=number)
    keyring.verify(signed_bytes(issued.payload, issued.number, issued.issued_at.isoformat()), issued.key_id,
                   issued.signature)
    return issued


@dataclass(frozen=True)
class Currency:
    """Whether an issued note still states what applies today."""

    current: bool
    changed_plans: list[str]
    changed_content: bool


def currency(store: Store, catalogue: RulesCatalogue, issued: IssuedNote,
             limits: CoverLimits | None = None) -> Currency:
    """Compare an issued note with the note the parcel (or the site) would get today (slivers under ``limits``)."""
    if issued.payload.get("kind") == "site":
        today = site_payload_today(store, catalogue, issued.payload, limits)
    else:
        parcel = store.parcel_by_ref(issued.parcel_ref)
        if parcel is None:
            return Currency(False, [], True)
        today = note_payload(build_note(store, catalogue, parcel, limits=limits), issued.lang)
    before = {(p["name"], p["version"]) for p in issued.plan_versions}
    now = {(p["name"], p["version"]) for p in today["plans"]}
    changed = sorted({name for name, _ in before ^ now})
    same = content_hash(today) == content_hash({**issued.payload, "historical": False})
    return Currency(not changed and same and not issued.historical, changed, not same)


def note_pdf(registry: NoteRegistry, keyring: KeyRing, issued: IssuedNote, render: Callable[[], bytes]) -> bytes:
    """The sealed PDF of an issued note: the stored one, or rendered, sealed and stored now."""
    stored = registry.pdf(issued.number)
    if stored is not None:
        return stored
    return registry.attach_pdf(issued.number, seal_pdf(render(), issued.number, keyring))


def verify_document(registry: NoteRegistry | None, keyring: KeyRing, document: bytes) -> IssuedNote | str:
    """Verify an uploaded or local PDF: the seal offline, then (when a registry is at hand) the number."""
    seal = verify_pdf(document, keyring)
    if registry is None:
        return seal.number
    issued = registry.get(seal.number)
    if issued is None:
        raise NotFound(f"The seal is valid but note {seal.number} is not in this registry.")
    return issued
