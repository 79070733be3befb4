"""Arabic names of quarters, so that a person typing "مرشان" finds the quarter the data calls "Marshan".

Parcel data usually carry the quarter's name in one script. An instance keeps the other names in its store's
metadata (``quarters_ar``: a JSON object, Arabic name -> the name the parcels carry); the demo city writes the
names of Tangier's quarters there. Search looks them up when the text typed is in Arabic.
"""

from __future__ import annotations

import json
import logging
import re
import unicodedata

logger = logging.getLogger(__name__)

META_KEY = "quarters_ar"
#: Arabic names of the demo city's quarters (Tangier's).
TANGIER_AR = {
    "Marshan": "مرشان", "Iberia": "إيبيريا", "Branes": "البرانص", "Mesnana": "مسنانة", "Souani": "السواني",
    "Californie": "كاليفورنيا", "Malabata": "ملاباطا", "Boubana": "بوبانة", "Dradeb": "الدرادب",
    "Beni Makada": "بني مكادة", "Moujahidine": "المجاهدين", "Casabarata": "كاسابراطا", "Val Fleuri": "فال فلوري",
    "Moulay Youssef": "مولاي يوسف", "Idrissia": "الإدريسية", "Hay Mohammadi": "الحي المحمدي", "Msallah": "المصلى",
    "Bendibane": "بنديبان", "Charf": "الشرف", "Jbel Kbir": "الجبل الكبير", "Rahrah": "الرهراه",
    "Boukhalef": "بوخالف", "Gzenaya": "اكزناية", "Mghogha": "مغوغة", "Aouama": "العوامة", "Bir Chifa": "بئر الشفاء",
    "Sidi Driss": "سيدي إدريس", "Dar Tounsi": "دار التونسي", "Ain Ktiouet": "عين قطيوط", "Hay El Fath": "حي الفتح",
    "Hay Benkirane": "حي بنكيران", "Ziaten": "الزياتن", "Mers El Kheir": "مرس الخير", "Jirari": "الجيراري",
    "Branes Kdima": "البرانص القديمة", "Hay Hassani": "الحي الحسني",
}
_ARABIC = re.compile(r"[\u0600-\u06ff]")
_FOLD = str.maketrans({"أ": "ا", "إ": "ا", "آ": "ا", "ة": "ه", "ى": "ي", "ئ": "ي", "ؤ": "و", "ـ": None})


def fold(text: str) -> str:
    """Arabic text compared loosely: no vowel marks, one form of alef, ta marbuta as ha, alef maqsura as ya."""
    text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    return " ".join(text.translate(_FOLD).split())


def arabic_names(quarters: list[str] | set[str]) -> dict[str, str]:
    """Arabic name -> quarter name for the demo's quarters (``Marshan 2`` -> ``مرشان 2``)."""
    out: dict[str, str] = {}
    for name in quarters:
        base, _, suffix = name.rpartition(" ") if name.rsplit(" ", 1)[-1].isdigit() else (name, "", "")
        if base in TANGIER_AR:
            out[TANGIER_AR[base] + (f" {suffix}" if suffix else "")] = name
    return out


def is_arabic(text: str) -> bool:
    """Whether ``text`` holds Arabic letters."""
    return bool(_ARABIC.search(text))


def matching(meta: dict[str, str], text: str, limit: int) -> list[tuple[str, str]]:
    """(Arabic name, quarter name) of the quarters whose Arabic name, or one of its words, starts with ``text``."""
    try:
        names = json.loads(meta.get(META_KEY) or "{}")
    except ValueError:
        logger.warning("store metadata %s is not JSON: ignored", META_KEY)
        return []
    wanted = fold(text)
    found = [(ar, latin) for ar, latin in names.items()
             if fold(ar).startswith(wanted) or any(w.startswith(wanted) for w in fold(ar).split())]
    return sorted(found, key=lambda pair: (not fold(pair[0]).startswith(wanted), len(pair[0])))[:limit]
