"""The PDF renderer: the same note template, printed by WeasyPrint.

French, Arabic (right-to-left, shaped by HarfBuzz inside WeasyPrint) or both
(French pages then Arabic pages in one file). Styles are inlined and the
fetcher refuses every URL, so rendering never touches the network.
"""

from __future__ import annotations

import logging
from functools import lru_cache
from typing import Any

from flask import render_template
from flask_babel import force_locale

from gisportal.core.resources import resource_dir
from gisportal.note.build import UrbanNote
from gisportal.note.render import note_to_dict
from gisportal.web.core.context import portal
from gisportal.web.core.i18n import format_locale
from gisportal.web.note.history import change_of
from gisportal.web.note.regulations import note_documents

logger = logging.getLogger(__name__)
# The site stylesheet has screen-only rules WeasyPrint reports and ignores.
logging.getLogger("weasyprint").setLevel(logging.ERROR)

_CSS_FILES = ("css/portal.css",)


def pdf_from_html(*pages: str) -> bytes:
    """One PDF from HTML documents printed one after the other (e.g. the French then the Arabic version),
    rendered by WeasyPrint with every URL refused: a document must embed all it shows."""
    # WeasyPrint takes seconds to import: loaded with the first PDF, not with every app and command
    from weasyprint import HTML
    from weasyprint.urls import URLFetcher, URLFetchingError

    class NoNetwork(URLFetcher):
        """Refuses every URL: a document embeds all it shows."""

        def fetch(self, url: str, *args: Any, **kwargs: Any) -> Any:
            raise URLFetchingError(f"not fetched: {url}")

    documents = [HTML(string=html, url_fetcher=NoNetwork()).render() for html in pages]
    return documents[0].copy([page for doc in documents for page in doc.pages]).write_pdf()


@lru_cache(maxsize=1)
def inline_css() -> str:
    """The site's stylesheets, for embedding in a PDF."""
    return "\n".join((resource_dir("static") / name).read_text(encoding="utf-8") for name in _CSS_FILES)


def note_html(note: UrbanNote, lang: str, document: dict[str, Any] | None, pdf: bool = False) -> str:
    """The note page in ``lang`` (used for the web page and for the PDF)."""
    with force_locale(format_locale(lang)):

        data = note_to_dict(note, portal().catalogue, lang, note_documents(lang))
        return render_template("note/note.html", note=note, data=data, document=document, pdf=pdf,
                               inline_css=inline_css() if pdf else "", changed=change_of(note))


def render_note_pdf(note: UrbanNote, lang: str, document: dict[str, Any]) -> bytes:
    """The note as PDF bytes; ``lang`` is ``fr``, ``ar``, ``en`` or ``both``."""
    languages = ["fr", "ar"] if lang == "both" else [lang]
    return pdf_from_html(*(note_html(note, code, document, pdf=True) for code in languages))
