"""The library's regulation documents linked from the notes: which documents of the document library a note (page,
JSON, PDF) names for the plans that apply, cached per process until the library changes; and the app's
:class:`Library` itself, built once per app (:func:`init_library`) for the note and the library's pages alike.

Here rather than in the library's web module: the note's renderers (the API, the PDF) need these links, and a
citizen service's web module is no place for the note to import from.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, current_app, url_for

from gisportal.core.audit import AuditLog
from gisportal.services.library.documents import Library, LibraryDocument
from gisportal.web.core.context import Portal, portal

#: The endpoint of a library document's download, where the notes link to.
DOCUMENT_ENDPOINT = "library.document"


def init_library(app: Flask) -> None:
    """Build the app's library once, with the cache of the notes' links to it (``app.extensions``)."""
    p = app.extensions["gisportal"]
    lib = Library(p.agency, p.settings.data_dir / "library", p.settings.library_max_bytes, AuditLog(p.agency))
    app.extensions["gisportal_library"] = lib
    app.extensions["gisportal_library_links"] = RegulationLinks(lib)


def library() -> Library:
    """The library of the current app (built once by :func:`init_library`)."""
    lib: Library = current_app.extensions["gisportal_library"]
    return lib


@dataclass
class RegulationLinks:
    """Regulation documents per plan for the notes, cached per process until the library's revision changes."""

    library: Library
    revision: int | None = None
    checked_at: float = -math.inf
    by_lang: dict[str, dict[str, list[dict[str, Any]]]] = field(default_factory=dict)
    documents: dict[str, list[LibraryDocument]] = field(default_factory=dict)

    def for_notes(self, p: Portal, lang: str, url_of: Callable[[int], str]) -> dict[str, list[dict[str, Any]]]:
        """``{plan name: [{id, title, reference, url, zones}]}`` (zones empty: the whole plan) for instance ``p``;
        ``url_of`` gives a document's URL from its id."""
        now = time.monotonic()
        if now - self.checked_at >= p.settings.reload_check_seconds:
            self.checked_at = now
            current = self.library.revision()
            if current != self.revision:
                self.documents = self.library.regulations_by_plan()
                self.revision, self.by_lang = current, {}
        links = self.by_lang.get(lang)
        if links is None:
            links = {plan: [{"id": d.id, "title": d.title(lang), "reference": d.reference,
                             "url": url_of(d.id), "zones": list(d.zone_codes)}
                            for d in docs] for plan, docs in self.documents.items()}
            self.by_lang[lang] = links
        return links

    def changed(self) -> None:
        """This process changed the library: look again on the next request."""
        self.checked_at = -math.inf


def note_documents(lang: str) -> dict[str, list[dict[str, Any]]]:
    """The regulation documents per plan, for the note being rendered in ``lang``."""
    return current_app.extensions["gisportal_library_links"].for_notes(
        portal(), lang, lambda doc_id: url_for(DOCUMENT_ENDPOINT, doc_id=doc_id))


def library_changed() -> None:
    """This process changed the library: the notes' links are looked up again on the next request."""
    current_app.extensions["gisportal_library_links"].changed()
