"""Terms of the committees service: kinds of session, project types, decisions (fr/ar/en labels), the
formats of file numbers, CIN and phone numbers, and the applicant's personal code (made, hashed, checked).
"""

from __future__ import annotations

import logging
import re
import unicodedata

logger = logging.getLogger(__name__)

#: Kinds of committee session of Moroccan practice: code -> labels.
SESSION_KINDS: dict[str, dict[str, str]] = {
    "major_projects": {"fr": "Commission d'examen des grands projets", "ar": "لجنة دراسة المشاريع الكبرى",
                       "en": "Major projects committee"},
    "small_projects": {"fr": "Commission des petits projets", "ar": "لجنة المشاريع الصغرى",
                       "en": "Small projects committee"},
    "technical": {"fr": "Comité technique", "ar": "اللجنة التقنية", "en": "Technical committee"},
    "subdivision": {"fr": "Commission de lotissement", "ar": "لجنة التجزئات", "en": "Subdivision committee"},
    "derogation": {"fr": "Commission de dérogation", "ar": "لجنة الاستثناءات", "en": "Derogation committee"},
}
#: Kinds of project: code -> labels.
PROJECT_TYPES: dict[str, dict[str, str]] = {
    "housing": {"fr": "Habitat", "ar": "سكن", "en": "Housing"},
    "commercial": {"fr": "Commerce et services", "ar": "تجارة وخدمات", "en": "Commerce and services"},
    "industrial": {"fr": "Industrie", "ar": "صناعة", "en": "Industry"},
    "tourism": {"fr": "Tourisme", "ar": "سياحة", "en": "Tourism"},
    "facility": {"fr": "Équipement public", "ar": "تجهيز عمومي", "en": "Public facility"},
    "subdivision": {"fr": "Lotissement", "ar": "تجزئة", "en": "Subdivision"},
    "mixed": {"fr": "Mixte", "ar": "مختلط", "en": "Mixed use"},
    "other": {"fr": "Autre", "ar": "أخرى", "en": "Other"},
}
#: Decisions: code -> labels.
DECISIONS: dict[str, dict[str, str]] = {
    "favourable": {"fr": "Avis favorable", "ar": "رأي موافق", "en": "Favourable"},
    "unfavourable": {"fr": "Avis défavorable", "ar": "رأي غير موافق", "en": "Unfavourable"},
    "adjourned": {"fr": "Ajourné", "ar": "مؤجل", "en": "Adjourned"},
}
#: Decisions that must state their reasons.
REASONED = ("unfavourable", "adjourned")

FILE_NUMBER = re.compile(r"^[A-Z0-9][A-Z0-9/_.-]{1,39}$")
CIN = re.compile(r"^[A-Z]{1,2}[0-9]{1,6}$")
MAX_TEXT = {"applicant_reference": 60, "conditions": 2000, "applicant_name": 120, "title": 200}


def normalise_number(value: str) -> str:
    """A file number as stored: trimmed, upper case, inner spaces removed."""
    return re.sub(r"\s+", "", str(value or "")).upper()


def clean_phone(value: str) -> str:
    """A phone number without spaces, dots, dashes or brackets."""
    return re.sub(r"[\s.()-]", "", value or "")


def _folded(text: str) -> str:

    decomposed = unicodedata.normalize("NFKD", str(text or "").strip().lower())
    return re.sub(r"[\s_'’-]+", " ", "".join(c for c in decomposed if not unicodedata.combining(c)))


def term_code(vocabulary: dict[str, dict[str, str]], value: str) -> str:
    """The code of ``value`` in ``vocabulary``, given as the code or as a label in any language (case and
    accents ignored: ``défavorable``, ``Avis défavorable``, ``unfavourable``); else ``value`` as given."""
    wanted = _folded(value)
    for code, labels in vocabulary.items():
        names = {_folded(code), *(_folded(label) for label in labels.values())}
        names |= {n.removeprefix("avis ") for n in names}
        if wanted in names:
            return code
    return str(value or "").strip()
