"""Arabic names of quarters and streets, so that a person typing "مرشان" or "شارع ابن بطوطة" finds the quarter
the data calls "Marshan" and the street it calls "Avenue Ibn Battouta".

Parcel data usually carry names in one script. An instance keeps the other names in its store's metadata
(``quarters_ar`` and ``streets_ar``: JSON objects, Arabic name -> the name the parcels carry); the demo city writes
the names of Tangier's quarters and streets there, ``gisportal names`` sets them from a file. Search looks them up
when the text typed is in Arabic. A street's kind word (شارع, زنقة, نهج...) may be typed or left out, and one kind
for another: a citizen says شارع for a street the data calls "Rue".
"""

from __future__ import annotations

import json
import logging
import re
import unicodedata

logger = logging.getLogger(__name__)

META_KEY = "quarters_ar"
STREETS_META_KEY = "streets_ar"
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
#: Arabic names of the demo city's streets and boulevards, without their kind (Tangier's, as on their signs).
STREETS_AR = {
    "Ibn Battouta": "ابن بطوطة", "Al Moutanabi": "المتنبي", "Sidi Bouabid": "سيدي بوعبيد", "Ibn Khaldoun": "ابن خلدون",
    "Al Farabi": "الفارابي", "Oued El Makhazine": "وادي المخازن", "Ibn Rochd": "ابن رشد", "Ibn Sina": "ابن سينا",
    "Al Khansaa": "الخنساء", "Moussa Ibn Noussair": "موسى بن نصير", "Tarik Ibn Ziad": "طارق بن زياد",
    "Abou Bakr Essedik": "أبو بكر الصديق", "Omar Ibn Al Khattab": "عمر بن الخطاب",
    "Ali Ibn Abi Taleb": "علي بن أبي طالب",
    "Al Mansour Eddahbi": "المنصور الذهبي", "Allal Ben Abdellah": "علال بن عبد الله", "Allal El Fassi": "علال الفاسي",
    "Abdelkrim El Khattabi": "عبد الكريم الخطابي", "Ahmed Chaouki": "أحمد شوقي", "Imam Malik": "الإمام مالك",
    "Ibn Zaidoun": "ابن زيدون", "Ibn Toumert": "ابن تومرت", "Zellaka": "الزلاقة", "Anoual": "أنوال", "Al Qods": "القدس",
    "Sidi Amar": "سيدي عمار", "Al Andalous": "الأندلس", "Ibn Al Khatib": "ابن الخطيب", "Al Idrissi": "الإدريسي",
    "Jamal Eddine Al Afghani": "جمال الدين الأفغاني", "Ibn Al Banna": "ابن البناء", "Cadi Ayad": "القاضي عياض",
    "Ibn Hazm": "ابن حزم", "Mokhtar Soussi": "المختار السوسي", "Al Wahda": "الوحدة", "Sebou": "سبو",
    "Oum Er-Rbia": "أم الربيع", "Moulouya": "ملوية", "Salah Eddine Al Ayoubi": "صلاح الدين الأيوبي",
    "Khalid Ibn Al Walid": "خالد بن الوليد", "Okba Ibn Nafii": "عقبة بن نافع",
    "Abderrahmane Eddakhil": "عبد الرحمن الداخل",
    "Ibn Al Arabi": "ابن العربي", "Al Bouhtouri": "البحتري", "Abou Al Alaa Al Maari": "أبو العلاء المعري",
    "Sidi Ahmed Benajiba": "سيدي أحمد بن عجيبة", "Ibn Tofail": "ابن طفيل",
    "Mohammed V": "محمد الخامس", "Hassan II": "الحسن الثاني", "Pasteur": "باستور", "Moulay Youssef": "مولاي يوسف",
    "Mohammed VI": "محمد السادس", "Moulay Rachid": "مولاي رشيد", "Moulay Abdelaziz": "مولاي عبد العزيز",
    "Sidi Mohammed Ben Abdellah": "سيدي محمد بن عبد الله", "Youssef Ben Tachfine": "يوسف بن تاشفين",
    "Al Massira Al Khadra": "المسيرة الخضراء", "Moulay Ismail": "مولاي إسماعيل",
    "Abdelkhalek Torres": "عبد الخالق الطريس",
    "Moulay Slimane": "مولاي سليمان", "Moulay Ali Cherif": "مولاي علي الشريف",
}
#: The kind of a street in Arabic, as Moroccan street signs write it.
STREET_KINDS_AR = {"Rue": "زنقة", "Avenue": "شارع", "Boulevard": "شارع", "Impasse": "درب", "Place": "ساحة",
                   "Route": "طريق", "Allée": "ممر"}
#: Kind words a person may type before a street's name (folded); any one stands for any other.
_KIND_WORDS = {"شارع", "زنقه", "نهج", "درب", "ساحه", "طريق", "ممر", "زقاق", "بولفار", "الشارع", "الزنقه"}
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


def arabic_street_names(streets: list[str] | set[str]) -> dict[str, str]:
    """Arabic name -> street name for the demo's streets (``Rue Ibn Battouta`` -> ``زنقة ابن بطوطة``)."""
    out: dict[str, str] = {}
    for name in streets:
        kind, _, rest = name.partition(" ")
        if kind in STREET_KINDS_AR and rest in STREETS_AR:
            out[f"{STREET_KINDS_AR[kind]} {STREETS_AR[rest]}"] = name
    return out


def is_arabic(text: str) -> bool:
    """Whether ``text`` holds Arabic letters."""
    return bool(_ARABIC.search(text))


def names_of(meta: dict[str, str], key: str = META_KEY) -> dict[str, str]:
    """The Arabic names an instance keeps under ``key`` (Arabic -> the data's name); none when unreadable."""
    try:
        names = json.loads(meta.get(key) or "{}")
    except ValueError:
        logger.warning("store metadata %s is not JSON: ignored", key)
        return {}
    return names if isinstance(names, dict) else {}


def matching(meta: dict[str, str], text: str, limit: int) -> list[tuple[str, str]]:
    """(Arabic name, quarter name) of the quarters whose Arabic name, or one of its words, starts with ``text``."""
    wanted = fold(text)
    found = [(ar, latin) for ar, latin in names_of(meta).items()
             if fold(ar).startswith(wanted) or any(w.startswith(wanted) for w in fold(ar).split())]
    return sorted(found, key=lambda pair: (not fold(pair[0]).startswith(wanted), len(pair[0])))[:limit]


def _without_kind(folded: str) -> tuple[str, str]:
    """(kind word or "", the rest) of a folded street name."""
    first, _, rest = folded.partition(" ")
    return (first, rest) if first in _KIND_WORDS and rest else ("", folded)


def matching_streets(meta: dict[str, str], text: str, limit: int) -> list[tuple[str, str]]:
    """(Arabic name, street name) of the streets whose Arabic name matches ``text``: every typed word starts a
    word of the name, the kind word left out or another one typed, or only (the start of) a kind word typed;
    the kind typed first, then shorter names."""
    kind, rest = _without_kind(fold(text))
    wanted = rest.split()
    found = []
    for ar, latin in names_of(meta, STREETS_META_KEY).items():
        its_kind, its_rest = _without_kind(fold(ar))
        words = its_rest.split()
        if wanted and all(any(w.startswith(q) for w in words) for q in wanted):
            found.append((not its_rest.startswith(rest), bool(kind) and its_kind != kind, len(ar), ar, latin))
        elif len(wanted) == 1 and len(rest) >= 2 and its_kind.startswith(rest):  # (the start of) a kind word alone
            found.append((True, False, len(ar), ar, latin))
    return [(ar, latin) for *_, ar, latin in sorted(found)][:limit]
