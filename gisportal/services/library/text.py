"""Text of the library's documents: extraction from PDFs, normalisation for search, highlighted snippets.

Search runs on a *normalised* copy of the text, the same on both backends: case folded, Latin accents
removed (``règlement`` → ``reglement``), Arabic short vowels (tashkeel), tatweel and bidi marks removed,
alef forms (أ إ آ ٱ) unified to ا, ta marbuta ة to ه, alef maqsura ى to ي, presentation forms (what
PDF extraction often gives) decomposed to base letters. The query goes through the same function, so a
query typed without diacritics finds the text written with them and the other way round.

The databases match and rank (SQLite FTS5 bm25, PostgreSQL ``ts_rank``), but the snippet is cut here
from the *original* text: the databases' own ``snippet()``/``ts_headline`` can only show the normalised
copy they indexed (no accents, ة written ه), which reads wrong. :func:`highlight` maps every normalised
character back to the original, escapes everything and wraps the hits in ``<mark>``.

Extraction: pypdf gives Arabic in logical order with its lam-alef ligatures intact (poppler's
``pdftotext`` swaps them: الا → اال), so it is used; a PDF it cannot read keeps an empty text (the
document is still stored and browsable, it just is not found by its body). Known limit: in PDFs made by
WeasyPrint a kasra on a final ة comes back as "ةإِ" (the font's glyph map); normalised, the word still starts
with the right letters, so prefix matching finds it.
"""

from __future__ import annotations

import io
import logging
import re
import unicodedata
from functools import lru_cache

from markupsafe import Markup, escape
from pypdf import PdfReader

logger = logging.getLogger(__name__)

#: Text kept per document (characters); enough for a regulation of several hundred pages.
MAX_TEXT_CHARS = 2_000_000
#: Characters scanned for the first hit when cutting a snippet (beyond, the snippet shows the start).
SNIPPET_SCAN_CHARS = 300_000
#: Pages read from one PDF at most.
MAX_PAGES = 1000

_TATWEEL = "\u0640"
_LETTER_MAP = str.maketrans({"ٱ": "ا", "ة": "ه", "ى": "ي"})
_WORD = re.compile(r"\w+")
#: The Arabic definite article and the particles fused with it, at the start of a word of 2+ more letters.
_ARTICLES = r"(?:وال|بال|كال|فال|ال|لل)"
_ARTICLE = re.compile(r"(?<!\w)" + _ARTICLES + r"(?=\w\w)")


@lru_cache(maxsize=8192)
def _normalise_char(char: str) -> str:
    """One original character as its normalised form (possibly empty)."""
    out = []
    for part in unicodedata.normalize("NFKD", char):
        if part == _TATWEEL or unicodedata.category(part) in ("Mn", "Me", "Cf"):
            continue
        out.append(part)
    return "".join(out).casefold().translate(_LETTER_MAP)


def normalise(text: str) -> str:
    """``text`` folded for search (see the module's docstring); idempotent."""
    if text.isascii():
        return text.casefold()
    return "".join(_normalise_char(c) for c in text)


def search_form(text: str) -> str:
    """``text`` as indexed: :func:`normalise`, then the Arabic article (ال, وال, بال, كال, فال, لل) cut from words."""
    return _ARTICLE.sub("", normalise(text))


def index_form(text: str) -> str:
    """``text`` as both backends index it: the words of :func:`search_form`, one space apart.

    Punctuation goes, so SQLite's and PostgreSQL's tokenisers see the same words (PostgreSQL's parser
    would otherwise keep ``d-2-24`` or ``a/b`` as tokens of their own).
    """
    return " ".join(_WORD.findall(search_form(text).replace("_", " ")))


def query_terms(query: str, limit: int = 12) -> list[str]:
    """The words of a search query in :func:`search_form` (at most ``limit``; punctuation and operators dropped)."""
    terms: list[str] = []
    for word in _WORD.findall(search_form(query or "")):
        word = word.replace("_", "")
        if word and word not in terms:
            terms.append(word)
    return terms[:limit]


def _normalised_with_offsets(text: str) -> tuple[str, list[int]]:
    """The normalised text and, for each of its characters, the index of the original character."""
    chars: list[str] = []
    origin: list[int] = []
    for index, char in enumerate(text):
        folded = _normalise_char(char)
        chars.append(folded)
        origin.extend([index] * len(folded))
    return "".join(chars), origin


def highlight(text: str, terms: list[str], width: int = 220) -> Markup:
    """A window of ``text`` around the first hit of ``terms`` (word prefixes), escaped, hits in ``<mark>``.

    Without a hit, the start of the text. Never more than about ``width`` characters; the text is
    untrusted (it comes from an uploaded file) and is escaped whole, the only markup being ``<mark>``.
    """
    text = text or ""
    if not terms:
        return Markup(escape(_cut(text, 0, width)))
    window_start = max(0, _first_hit(text, terms) - width // 3)
    if window_start:  # start on a word
        space = text.find(" ", window_start, window_start + width // 3)
        window_start = space + 1 if space >= 0 else window_start
    window = text[window_start:window_start + width]
    folded, origin = _normalised_with_offsets(window)
    pattern = _terms_pattern(terms)
    pieces: list[str] = ["…" if window_start else ""]
    cursor = 0
    for match in pattern.finditer(folded):
        start = origin[match.start()]
        end = origin[match.end()] if match.end() < len(origin) else len(window)  # vowels after the word too
        if start < cursor:
            continue
        pieces.append(str(escape(window[cursor:start])))
        pieces.append(f"<mark>{escape(window[start:end])}</mark>")
        cursor = end
    pieces.append(str(escape(window[cursor:])))
    if window_start + width < len(text):
        pieces.append("…")
    return Markup("".join(pieces))


def _first_hit(text: str, terms: list[str]) -> int:
    """Index in ``text`` of the first word starting with one of ``terms`` (0 when none), paragraph by paragraph."""
    pattern = _terms_pattern(terms)
    offset = 0
    for paragraph in text[:SNIPPET_SCAN_CHARS].split("\n"):
        folded, origin = _normalised_with_offsets(paragraph)
        match = pattern.search(folded)
        if match:
            return offset + origin[match.start()]
        offset += len(paragraph) + 1
    return 0


def _terms_pattern(terms: list[str]) -> re.Pattern[str]:
    """Words of normalised text starting with one of ``terms`` (after an optional Arabic article)."""
    alternatives = "|".join(re.escape(t) for t in sorted(terms, key=len, reverse=True))
    return re.compile(r"(?<!\w)" + _ARTICLES + r"?(?:" + alternatives + r")\w*")


def _cut(text: str, start: int, width: int) -> str:
    piece = text[start:start + width]
    return piece + ("…" if start + width < len(text) else "")


def extract_pdf_text(data: bytes) -> str:
    """The text of a PDF (pages joined by blank lines), at most :data:`MAX_TEXT_CHARS`; ``""`` if unreadable."""

    try:
        reader = PdfReader(io.BytesIO(data))
        parts: list[str] = []
        size = 0
        for page in reader.pages[:MAX_PAGES]:
            page_text = page.extract_text() or ""
            parts.append(page_text)
            size += len(page_text)
            if size >= MAX_TEXT_CHARS:
                break
    except Exception as exc:  # pypdf raises many kinds on damaged files: the document stays, unsearchable
        logger.warning("text extraction failed: %s", exc)
        return ""
    text = "\n\n".join(parts)
    return "".join(c for c in text if c in "\n\t" or unicodedata.category(c) != "Cc")[:MAX_TEXT_CHARS]
