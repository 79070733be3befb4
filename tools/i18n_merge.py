"""Refresh the message catalogues and fill translations from JSON files (developer tool).

    flock /tmp/gisportal-i18n.lock .venv/bin/python tools/i18n_merge.py

1. extracts every message of the code and templates (``babel.cfg``) into ``messages.pot``;
2. updates the ``fr``/``ar``/``en`` catalogues from it (no fuzzy guesses);
3. fills empty or fuzzy entries from ``gisportal/translations/incoming/*.json``, each a mapping
   ``{"English msgid": {"fr": "...", "ar": "..."}}`` (plural messages: lists ``["one", "other", ...]``);
4. compiles the catalogues and lists what is still untranslated in fr and ar.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
TRANSLATIONS = ROOT / "gisportal" / "translations"
BIN = Path(sys.executable).parent


def main() -> int:
    pot = TRANSLATIONS / "messages.pot"
    subprocess.run([BIN / "pybabel", "-q", "extract", "-F", "babel.cfg", "-k", "_l", "-k", "lazy_gettext", "-k", "told",
                    "-k", "N_", "--no-location", "--omit-header", "-o", str(pot), "."], cwd=ROOT, check=True)
    subprocess.run([BIN / "pybabel", "-q", "update", "--no-fuzzy-matching", "--ignore-obsolete", "-i", str(pot),
                    "-d", str(TRANSLATIONS)], cwd=ROOT, check=True)
    incoming: dict[str, dict] = {}
    for path in sorted((TRANSLATIONS / "incoming").glob("*.json")):
        incoming.update(json.loads(path.read_text(encoding="utf-8")))
    missing_total = 0
    for lang_dir in sorted(p for p in TRANSLATIONS.iterdir() if (p / "LC_MESSAGES" / "messages.po").exists()):
        lang = lang_dir.name
        po_path = lang_dir / "LC_MESSAGES" / "messages.po"
        with po_path.open("rb") as f:
            catalog = read_po(f, locale=lang)
        missing = []
        for message in catalog:
            if not message.id:
                continue
            key = message.id[0] if isinstance(message.id, tuple) else message.id
            wanted = incoming.get(key, {}).get(lang)
            # a plural message with any form left empty falls back to English for the numbers of that form
            empty = not all(message.string) if isinstance(message.string, tuple) else not message.string
            if wanted and (empty or message.fuzzy):
                message.string = tuple(wanted) if isinstance(message.id, tuple) else wanted
                message.flags.discard("fuzzy")
                empty = False
            if empty and lang != "en":
                missing.append(key)
        with po_path.open("wb") as f:
            write_po(f, catalog, width=120, omit_header=False, include_previous=False)
        subprocess.run([BIN / "pybabel", "-q", "compile", "-i", str(po_path),
                        "-o", str(po_path.with_suffix(".mo"))], check=True)
        if missing:
            print(f"{lang}: {len(missing)} untranslated:", *[f"  {m!r}" for m in missing[:50]], sep="\n")
        missing_total += len(missing)
    return 0


if __name__ == "__main__":
    sys.exit(main())
