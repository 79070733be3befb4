"""The library's regulation documents linked from the notes: which documents of the document library a note (page,
JSON, PDF) names for the plans that apply, cached per process until the library changes.

Here rather than in the library's web module: the note's renderers (the API, the PDF) need these links, and a
citizen service's web module is no place for the note to import from.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

from flask import current_app, url_for

from gisportal.core.audit import AuditLog
from gisportal.services.library.documents import Library, LibraryDocument
from gisportal.web.core.context import portal


def library() -> Library:
    """The library of the current instance."""
    p = portal()
    return Library(p.agency, p.settings.data_dir / "library", p.settings.library_max_bytes, AuditLog(p.agency))


@dataclass
class RegulationLinks:
    """Regulation documents per plan for the notes, cached per process until the library's revision changes."""

    revision: int | None = None
    checked_at: float = -math.inf
    by_lang: dict[str, dict[str, list[dict[str, Any]]]] = field(default_factory=dict)
    documents: dict[str, list[LibraryDocument]] = field(default_factory=dict)

    def for_notes(self, lang: str) -> dict[str, list[dict[str, Any]]]:
        """``{plan name: [{id, title, reference, url, zones}]}`` (zones empty: the whole plan)."""
        p = portal()
        now = time.monotonic()
        if now - self.checked_at >= p.settings.reload_check_seconds:
            self.checked_at = now
            current = library().revision()
            if current != self.revision:
                self.documents = library().regulations_by_plan()
                self.revision, self.by_lang = current, {}
        links = self.by_lang.get(lang)
        if links is None:
            links = {plan: [{"id": d.id, "title": d.title(lang), "reference": d.reference,
                             "url": url_for("library.document", doc_id=d.id), "zones": list(d.zone_codes)}
                            for d in docs] for plan, docs in self.documents.items()}
            self.by_lang[lang] = links
        return links

    def changed(self) -> None:
        """This process changed the library: look again on the next request."""
        self.checked_at = -math.inf


def note_documents(lang: str) -> dict[str, list[dict[str, Any]]]:
    """The regulation documents per plan, for the note being rendered in ``lang``."""
    return current_app.extensions["gisportal_library_links"].for_notes(lang)


def library_changed() -> None:
    """This process changed the library: the notes' links are looked up again on the next request."""
    current_app.extensions["gisportal_library_links"].changed()
