"""Test support taken from ``test_documents.py``: shared by several test modules."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

BIDI = re.compile("[\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def pdf_text(pdf: bytes, tmp_path: Path) -> str:
    """Text of a PDF through poppler's pdftotext, bidi marks removed and spaces folded."""
    assert shutil.which("pdftotext"), "pdftotext missing: `make test` installs poppler-utils"
    path = tmp_path / "note.pdf"
    path.write_bytes(pdf)
    out = subprocess.run(["pdftotext", str(path), "-"], check=True, capture_output=True, text=True).stdout
    return re.sub(r"\s+", " ", BIDI.sub("", out))


def make_pdf(*paragraphs: str) -> bytes:
    """A PDF holding ``paragraphs`` (Arabic ones right to left), made by WeasyPrint without network."""
    from weasyprint import HTML

    body = "".join(f'<p dir="{"rtl" if re.search("[ء-ي]", p) else "ltr"}">{p}</p>' for p in paragraphs)
    return HTML(string=f"<html><body>{body}</body></html>").write_pdf()
