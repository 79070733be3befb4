"""The document library on both backends: intake checks, full-text search in French and Arabic (ranked,
highlighted, escaped), stable pages, files, QR codes, supersession, staff pages, API, and the notes' links.

Documents are PDFs made here with WeasyPrint from known sentences (and tiny images made with Pillow):

=====  ==================  ====================================================================
name   kind                text
=====  ==================  ====================================================================
REG_A  plan_regulation      FR_REG (zone A height, "règlement" with its accent) + AR_REG (tashkeel)
LAW    law                  FR_LAW: "règlement" once, in the body only
=====  ==================  ====================================================================
"""

from __future__ import annotations

import io
import re
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import qrcode
import qrcode.constants
from PIL import Image
from support.pdf import make_pdf

from gisportal.core.accounts import Accounts
from gisportal.core.audit import AuditFilter, AuditLog
from gisportal.core.errors import Conflict, InvalidInput, NotFound
from gisportal.services.library.documents import DocumentMeta, Library, documents
from gisportal.services.library.text import extract_pdf_text, highlight, normalise, query_terms, search_form
from gisportal.web.note.regulations import library as app_library

FR_REG = "Le règlement d'aménagement de la zone A fixe la hauteur maximale des constructions à douze mètres."
AR_REG = "يُحدِّدُ نظامُ التهيئة الارتفاعَ الأقصى للبنايات، وتبقى المساحة الخضراء محميةً."
FR_LAW = "La loi relative à l'urbanisme renvoie au règlement pour les détails."
PASSWORD = "a planner's long password"


def flat(text: str) -> str:
    return " ".join(text.split())


def make_image(fmt: str) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (4, 4), (200, 10, 10)).save(out, fmt)
    return out.getvalue()


REG_META = DocumentMeta("plan_regulation", "Règlement du plan de test", "نظام تصميم التهيئة للاختبار", "D-2-24-100",
                        date(2024, 3, 1), "tiny-plan", ("A",))
LAW_META = DocumentMeta("law", "Loi 12-90 relative à l'urbanisme", "القانون 12.90 المتعلق بالتعمير", "12-90",
                        date(1992, 6, 17))


@pytest.fixture
def app(tiny_writable, tiny):
    from gisportal.web import create_app

    app = create_app({**tiny_writable.settings, "rules_file": tiny.rules_file, "TESTING": True,
                      "default_language": "en", "reload_check_seconds": 0})
    Accounts(app.extensions["gisportal"].agency).create("nadia", PASSWORD, "planner", actor="test")
    yield app
    app.extensions["gisportal"].store.close()


@pytest.fixture
def lib(app) -> Library:
    p = app.extensions["gisportal"]
    return Library(p.agency, p.settings.data_dir / "library", p.settings.library_max_bytes)


def rows(lib: Library) -> int:
    import sqlalchemy as sa

    with lib.db.read() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(documents)).scalar_one()


def kept_files(lib: Library) -> list[Path]:
    return sorted(p for p in lib.files_dir.rglob("*") if p.is_file()) if lib.files_dir.exists() else []


def token(client, path: str) -> str:
    page = client.get(path)
    assert page.status_code == 200, page.status_code
    return re.search(r'name="csrf_token"[^>]* value="([^"]+)"', page.get_data(as_text=True)).group(1)


def signed_in(app):
    client = app.test_client()
    response = client.post("/login", data={"username": "nadia", "password": PASSWORD,
                                           "csrf_token": token(client, "/login")})
    assert response.status_code == 303
    return client


# --- text: normalisation, extraction, snippets (no store) ---------------------------------------------------

def test_normalisation_folds_accents_arabic_vowels_alef_forms_ta_marbuta_and_alef_maqsura():
    assert normalise("Règlement ÉLÉVATION") == "reglement elevation"
    assert normalise("إِنَّ أرضَ آمنة ـــ مدينة على") == "ان ارض امنه  مدينه علي"
    assert search_form("والمدينة للبناء الأقصى") == "مدينه بناء اقصي"
    assert query_terms('reglement AND "hauteur" NEAR(*) -x') == ["reglement", "and", "hauteur", "near", "x"]
    assert query_terms("الأَقْصى") == query_terms("الاقصي") == ["اقصي"]


def test_snippets_are_escaped_and_mark_the_words_in_the_original_text():
    text = "Préambule.\nLe Règlement <script>alert(1)</script> fixe la hauteur. الأرضُ والمدينة"
    snippet = str(highlight(text, query_terms("reglement")))
    assert "<mark>Règlement</mark>" in snippet and "&lt;script&gt;alert(1)&lt;/script&gt;" in snippet
    assert "<script>" not in snippet
    arabic = str(highlight(text, query_terms("الارض مدينه")))
    assert "<mark>الأرضُ</mark>" in arabic and "<mark>والمدينة</mark>" in arabic  # vowel and article kept
    far = str(highlight("mot " * 400 + "hauteur finale", ["hauteur"], 100))
    assert far.startswith("…") and "<mark>hauteur</mark>" in far and len(far) < 160


def test_text_is_extracted_from_a_weasyprint_pdf_in_logical_order():
    text = flat(extract_pdf_text(make_pdf(FR_REG, AR_REG)))
    assert FR_REG in text  # lines wrapped by the layout come back as spaces
    assert "الارتفاعَ الأقصى للبنايات" in text  # pypdf keeps the lam-alef ligature and the order
    assert extract_pdf_text(b"%PDF-1.4 broken") == ""


# --- intake ---------------------------------------------------------------------------------------------------

def test_a_pdf_is_kept_by_content_hash_with_its_text_and_metadata(lib):
    data = make_pdf(FR_REG, AR_REG)
    doc = lib.add(data, "../../etc/reglement.pdf", REG_META, "nadia", {"tiny-plan"})
    assert (doc.kind, doc.plan_name, doc.zone_codes, doc.reference) == ("plan_regulation", "tiny-plan", ("A",),
                                                                        "D-2-24-100")
    assert doc.media_type == "application/pdf" and doc.file_size == len(data) and doc.file_name == "reglement.pdf"
    import hashlib

    digest = hashlib.sha256(data).hexdigest()
    assert lib.file_path(doc) == lib.files_dir / digest[:2] / f"{digest}.pdf"
    assert lib.file_path(doc).read_bytes() == data and kept_files(lib) == [lib.file_path(doc)]
    assert FR_REG in flat(doc.body) and lib.get(doc.id) == doc


@pytest.mark.parametrize("data, message", [
    (b"", "empty"),
    (b"This is text, named .pdf", "Only PDF, JPEG, PNG and WebP"),
    (b"GIF89a" + bytes(40), "Only PDF, JPEG, PNG and WebP"),
    (b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>", "Only PDF"),
])
def test_files_that_are_not_pdfs_or_images_by_content_are_refused_and_nothing_is_kept(lib, data, message):
    with pytest.raises(InvalidInput, match=message):
        lib.add(data, "document.pdf", LAW_META, "nadia")
    assert rows(lib) == 0 and kept_files(lib) == []


def test_images_are_accepted_and_oversize_files_refused(lib):
    for fmt, mime in (("PNG", "image/png"), ("JPEG", "image/jpeg"), ("WEBP", "image/webp")):
        assert lib.add(make_image(fmt), f"map.{fmt}", LAW_META, "nadia").media_type == mime
    small = Library(lib.db, lib.files_dir, 2048)
    with pytest.raises(InvalidInput, match="larger than"):
        small.add(make_pdf(FR_REG * 20), "big.pdf", LAW_META, "nadia")
    assert rows(lib) == 3


@pytest.mark.parametrize("meta, message", [
    (DocumentMeta("poem", "T", "ع"), "Unknown kind"),
    (DocumentMeta("law", "Titre", " "), "title in French and in Arabic"),
    (DocumentMeta("law", "T", "ع", plan_name="no-such-plan"), "Unknown plan"),
    (DocumentMeta("plan_regulation", "T", "ع"), "belongs to a plan"),
    (DocumentMeta("law", "T", "ع", zone_codes=("A",)), "need the plan"),
    (DocumentMeta("law", "T", "ع", plan_name="tiny-plan", zone_codes=("A;DROP",)), "Zone codes"),
    (DocumentMeta("law", "T" * 301, "ع"), "limited to 300"),
])
def test_bad_metadata_is_refused_before_anything_is_written(lib, meta, message):
    with pytest.raises(InvalidInput, match=message):
        lib.add(make_pdf(FR_LAW), "x.pdf", meta, "nadia", {"tiny-plan"})
    assert rows(lib) == 0 and kept_files(lib) == []


def test_a_failed_database_write_removes_the_new_file(lib, monkeypatch):
    def broken(conn):
        raise RuntimeError("disk full")

    monkeypatch.setattr(Library, "_bump", staticmethod(broken))
    with pytest.raises(RuntimeError):
        lib.add(make_pdf(FR_LAW), "x.pdf", LAW_META, "nadia")
    assert rows(lib) == 0 and kept_files(lib) == []


# --- search ---------------------------------------------------------------------------------------------------

@pytest.fixture
def stocked(lib) -> dict[str, Any]:
    reg = lib.add(make_pdf(FR_REG, AR_REG), "reg.pdf", REG_META, "nadia", {"tiny-plan"})
    law = lib.add(make_pdf(FR_LAW), "law.pdf", LAW_META, "nadia")
    form = lib.add(make_image("PNG"), "form.png", DocumentMeta("form", "Formulaire de demande", "مطبوع الطلب"),
                   "nadia")
    return {"reg": reg, "law": law, "form": form}


def found(lib, query: str, **filters) -> list[int]:
    hits, total = lib.search(query, **filters)
    assert total == len(hits)
    return [h.document.id for h in hits]


def test_french_search_ignores_accents_and_case_and_ranks_title_and_frequency(lib, stocked):
    reg, law = stocked["reg"].id, stocked["law"].id
    # "règlement" is in reg's title and body, in law's body only: reg first
    assert found(lib, "reglement") == found(lib, "RÈGLEMENT") == [reg, law]
    assert found(lib, "hauteur douze") == [reg]  # every word must be there
    assert found(lib, "regl haut") == [reg]  # word prefixes
    assert found(lib, "urbanisme") == [law]
    assert found(lib, "hauteur urbanisme") == []
    assert found(lib, "D-2-24-100") == [reg]  # by reference


def test_arabic_search_without_vowels_or_hamza_finds_the_text_written_with_them(lib, stocked):
    reg = stocked["reg"].id
    assert found(lib, "الارتفاع الاقصى") == [reg]  # written الارتفاعَ الأقصى
    assert found(lib, "ارتفاع") == [reg]  # without the article
    assert found(lib, "المساحة الخضراء") == found(lib, "المساحه") == [reg]  # ة / ه
    assert found(lib, "التعمير") == [stocked["law"].id]  # in the title
    hit = lib.search("الاقصى")[0][0]
    assert hit.rank > 0 and hit.terms == ("اقصي",)


def test_browsing_filters_by_kind_and_plan_and_hostile_queries_are_harmless(lib, stocked):
    assert found(lib, "", kind="law") == [stocked["law"].id]
    assert found(lib, "", plan="tiny-plan") == [stocked["reg"].id]
    assert set(found(lib, "")) == {d.id for d in stocked.values()}
    for hostile in ('"', "' OR 1=1 --", "NEAR(a b)", "*", "a:* & !b", "%_", "\x00"):
        lib.search(hostile)  # no error, whatever the backend's query syntax
    with pytest.raises(InvalidInput):
        lib.search("x", kind="poem")


def test_supersession_keeps_the_old_document_and_refuses_loops(lib, stocked):
    reg = stocked["reg"]
    newer = lib.add(make_pdf("Nouveau règlement, hauteur quinze mètres."), "reg2.pdf", REG_META, "nadia",
                    {"tiny-plan"})
    before = lib.revision()
    old = lib.supersede(reg.id, newer.id, "nadia")
    assert old.superseded_by == newer.id and lib.revision() == before + 1
    assert [d.id for d in lib.superseded(newer.id)] == [reg.id]
    assert set(found(lib, "reglement hauteur")) == {newer.id, reg.id}  # superseded ones are still found
    assert found(lib, "reglement hauteur", include_superseded=False) == [newer.id]
    assert [d.id for d in lib.regulations_by_plan()["tiny-plan"]] == [newer.id]
    with pytest.raises(Conflict):
        lib.supersede(newer.id, reg.id, "nadia")
    with pytest.raises(InvalidInput):
        lib.supersede(reg.id, reg.id, "nadia")
    with pytest.raises(NotFound):
        lib.supersede(reg.id, 999, "nadia")
    assert lib.supersede(reg.id, None, "nadia").superseded_by is None


# --- web: staff pages, public pages, files, QR, API -----------------------------------------------------------

def test_staff_add_and_edit_documents_with_csrf_roles_and_audit(app, lib):
    anonymous = app.test_client()
    assert anonymous.get("/admin/library").status_code == 302
    assert anonymous.post("/admin/library", data={}).status_code == 400  # no CSRF token
    client = signed_in(app)
    form = {"csrf_token": token(client, "/admin/library"), "kind": "plan_regulation", "title_fr": "Règlement",
            "title_ar": "نظام", "reference": "R-1", "issued_on": "2024-03-01", "plan_name": "tiny-plan",
            "zone_codes": "A, B"}
    added = client.post("/admin/library", data={**form, "file": (io.BytesIO(make_pdf(FR_REG)), "r.pdf")},
                        content_type="multipart/form-data")
    assert added.status_code == 302, added.get_data(as_text=True)[:500]
    doc = lib.search("")[0][0].document
    assert (doc.title_fr, doc.zone_codes, doc.issued_on) == ("Règlement", ("A", "B"), date(2024, 3, 1))
    refused = client.post("/admin/library", data={**form, "file": (io.BytesIO(b"MZ\x90\x00 exe"), "r.pdf")},
                          content_type="multipart/form-data")
    assert refused.status_code == 400 and "Only PDF, JPEG, PNG and WebP" in refused.get_data(as_text=True)
    no_title = client.post("/admin/library", data={**form, "title_ar": "", "file": (io.BytesIO(make_pdf("x")),
                                                                                      "r.pdf")},
                           content_type="multipart/form-data")
    assert no_title.status_code == 400 and rows(lib) == 1
    edited = client.post(f"/admin/library/{doc.id}", data={**form, "csrf_token": token(client, f"/admin/library/"
                                                                                               f"{doc.id}"),
                                                           "title_fr": "Règlement modifié", "zone_codes": ""})
    assert edited.status_code == 302 and lib.get(doc.id).title_fr == "Règlement modifié"
    bad = client.post(f"/admin/library/{doc.id}", data={**form, "csrf_token": token(client, "/admin/library"),
                                                        "plan_name": "nowhere"})
    assert bad.status_code == 400 and "Unknown plan" in bad.get_data(as_text=True)
    entries = AuditLog(lib.db).search(AuditFilter(action="library."))
    assert [(e.actor, e.action, e.target) for e in entries] == [("nadia", "library.edit", f"document:{doc.id}"),
                                                                ("nadia", "library.add", f"document:{doc.id}")]


def test_public_pages_search_highlight_and_mark_superseded_documents(app, lib, stocked):
    client = app.test_client()
    reg, law = stocked["reg"], stocked["law"]
    page = client.get("/documents?q=reglement").get_data(as_text=True)
    assert page.index(f'data-document="{reg.id}"') < page.index(f'data-document="{law.id}"')
    assert "<mark>règlement</mark>" in page
    arabic = client.get("/documents?q=الاقصى&lang=ar").get_data(as_text=True)
    assert "<mark>الأقصى</mark>" in arabic and 'dir="rtl"' in arabic
    assert f'data-document="{law.id}"' in client.get("/documents?kind=law").get_data(as_text=True)
    assert f'data-document="{reg.id}"' not in client.get("/documents?kind=law").get_data(as_text=True)
    newer = lib.add(make_pdf("Règlement révisé."), "n.pdf", REG_META, "nadia", {"tiny-plan"})
    client_staff = signed_in(app)
    moved = client_staff.post(f"/admin/library/{reg.id}/supersede", data={
        "csrf_token": token(client_staff, f"/admin/library/{reg.id}"), "superseded_by": str(newer.id)})
    assert moved.status_code == 302 and lib.get(reg.id).superseded_by == newer.id
    old_page = client.get(f"/documents/{reg.id}?lang=en").get_data(as_text=True)  # the cookie said ar
    assert "superseded by" in old_page and f'href="/documents/{newer.id}"' in old_page
    assert f'href="/documents/{reg.id}"' in client.get(f"/documents/{newer.id}").get_data(as_text=True)
    assert client.get("/documents/99999").status_code == 404


def test_files_are_served_with_a_fixed_type_nosniff_and_inline(app, stocked):
    client = app.test_client()
    pdf = client.get(f"/documents/{stocked['reg'].id}/file")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf" and pdf.data.startswith(b"%PDF")
    assert pdf.headers["X-Content-Type-Options"] == "nosniff"
    assert pdf.headers["Content-Disposition"].startswith("inline")
    png = client.get(f"/documents/{stocked['form'].id}/file")
    assert png.mimetype == "image/png" and png.data.startswith(b"\x89PNG")
    assert client.get("/documents/424242/file").status_code == 404


def qr_modules(png: bytes, box: int = 10) -> list[list[bool]]:
    image = Image.open(io.BytesIO(png)).convert("L")
    size = image.width // box
    return [[image.getpixel((x * box + box // 2, y * box + box // 2)) < 128 for x in range(size)]
            for y in range(size)]


def test_the_qr_code_encodes_the_stable_url_with_the_public_base(tiny_writable, tiny, stocked, lib):
    from gisportal.web import create_app

    app = create_app({**tiny_writable.settings, "rules_file": tiny.rules_file, "TESTING": True,
                      "public_url": "https://urba.example.ma/"})
    doc_id = stocked["law"].id
    png = app.test_client().get(f"/documents/{doc_id}/qr.png")
    assert png.mimetype == "image/png"
    # the portal's QR codes use a fixed mask (pattern 2): the same modules for the same text
    expected = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=2, mask_pattern=2)
    expected.add_data(f"https://urba.example.ma/documents/{doc_id}")
    expected.make(fit=True)
    assert qr_modules(png.data) == expected.get_matrix()
    svg = app.test_client().get(f"/documents/{doc_id}/qr.svg")
    assert svg.mimetype == "image/svg+xml" and b"<svg" in svg.data
    page = app.test_client().get(f"/documents/{doc_id}").get_data(as_text=True)
    assert f"https://urba.example.ma/documents/{doc_id}" in page and "<svg" in page
    app.extensions["gisportal"].store.close()


def test_api_searches_in_both_languages_and_is_documented(app, stocked):
    client = app.test_client()
    body = client.get("/api/v1/documents", query_string={"q": "reglement"}).get_json()
    assert body["total"] == 2 and [d["id"] for d in body["documents"]] == [stocked["reg"].id, stocked["law"].id]
    first = body["documents"][0]
    assert first["kind"] == "plan_regulation" and first["plan"] == "tiny-plan" and first["zones"] == ["A"]
    assert "<mark>" in first["snippet"] and first["url"].endswith(f"/documents/{stocked['reg'].id}")
    arabic = client.get("/api/v1/documents", query_string={"q": "الارتفاع"}).get_json()
    assert [d["id"] for d in arabic["documents"]] == [stocked["reg"].id]
    assert client.get("/api/v1/documents?kind=form").get_json()["documents"][0]["media_type"] == "image/png"
    assert client.get("/api/v1/documents?kind=poem").status_code == 422
    assert client.get("/api/v1/documents?limit=0").status_code == 422
    assert client.get(f"/api/v1/documents/{stocked['law'].id}").get_json()["reference"] == "12-90"
    assert client.get("/api/v1/documents/4242").status_code == 404
    spec = client.get("/api/v1/openapi.json").get_json()
    assert "/api/v1/documents" in spec["paths"] and "q" in str(spec["paths"]["/api/v1/documents"]["get"])


# --- the notes' links -----------------------------------------------------------------------------------------

def note(client, ref: str) -> dict[str, Any]:
    response = client.get("/api/v1/notes", query_string={"ref": ref, "lang": "fr"})
    assert response.status_code == 200
    return response.get_json()


def test_notes_link_the_regulations_of_their_plan_and_zones(app, lib):
    client = app.test_client()
    assert note(client, "TF-1002/06")["plans"][0]["documents"] == []
    reg = lib.add(make_pdf(FR_REG), "a.pdf", REG_META, "nadia", {"tiny-plan"})  # zone A only
    whole = lib.add(make_pdf("Dispositions générales."), "g.pdf", DocumentMeta(
        "plan_regulation", "Dispositions générales", "أحكام عامة", plan_name="tiny-plan"), "nadia", {"tiny-plan"})
    lib.add(make_pdf(FR_LAW), "l.pdf", LAW_META, "nadia")  # a law: not linked
    in_a = note(client, "TF-1002/06")  # all in zone A
    assert [d["id"] for d in in_a["zones"][0]["documents"]] == [reg.id, whole.id]
    assert in_a["zones"][0]["documents"][0] == {"id": reg.id, "title": REG_META.title_fr, "reference": "D-2-24-100",
                                                "url": f"/documents/{reg.id}", "zones": ["A"]}
    in_b = note(client, "TF-1003/06")  # all in zone B: the plan's general regulation only
    assert [d["id"] for d in in_b["zones"][0]["documents"]] == [whole.id]
    assert [d["id"] for d in in_b["plans"][0]["documents"]] == [reg.id, whole.id]
    html = client.get("/note", query_string={"ref": "TF-1002/06"}).get_data(as_text=True)
    assert f'href="/documents/{reg.id}"' in html


def test_the_library_is_built_once_per_app(app):
    with app.test_request_context():
        first = app_library()
        assert app_library() is first and app.extensions["gisportal_library"] is first
    with app.test_request_context():  # another request: the same library
        assert app_library() is first
    assert first.files_dir == app.extensions["gisportal"].settings.data_dir / "library"


def test_the_notes_cache_follows_changes_made_by_another_process_but_queries_nothing_meanwhile(
        tiny_writable, tiny, app, lib):
    from gisportal.web import create_app

    other = create_app({**tiny_writable.settings, "rules_file": tiny.rules_file, "TESTING": True,
                        "reload_check_seconds": 3600})
    client = other.test_client()
    assert note(client, "TF-1002/06")["zones"][0]["documents"] == []
    reg = lib.add(make_pdf(FR_REG), "a.pdf", REG_META, "nadia", {"tiny-plan"})  # "another process" writes
    assert note(client, "TF-1002/06")["zones"][0]["documents"] == []  # cached: not even the revision is read
    other.extensions["gisportal"].settings.reload_check_seconds = 0
    assert [d["id"] for d in note(client, "TF-1002/06")["zones"][0]["documents"]] == [reg.id]
    other.extensions["gisportal"].store.close()


def test_the_demo_adds_its_plan_regulation_in_both_languages_once(tiny_writable, tiny):
    from gisportal.core.settings import load_settings
    from gisportal.demo.load import load_demo_library
    from gisportal.storage import open_agency

    settings = load_settings({**tiny_writable.settings, "rules_file": tiny.rules_file})
    store = tiny_writable.open_store()
    assert load_demo_library(settings, store) == 2
    assert load_demo_library(settings, store) == 2  # a second run adds nothing
    agency = open_agency(settings, store)
    lib = Library(agency, settings.data_dir / "library", settings.library_max_bytes)
    assert [d.plan_name for d in lib.regulations_by_plan()["tiny-plan"]] == ["tiny-plan"]
    assert found(lib, "coefficient emprise") == found(lib, "معامل استعمال الارض") == [
        lib.regulations_by_plan()["tiny-plan"][0].id]
    agency.close()


def test_text_and_titles_from_files_cannot_inject_markup_and_odd_page_parameters_are_harmless(app, lib):
    # the PDF's text holds markup (escaped for WeasyPrint, so the PDF shows it as text)
    doc = lib.add(make_pdf("Le règlement &lt;script&gt;alert('pdf')&lt;/script&gt; &lt;b&gt;gras&lt;/b&gt;."), "x.pdf",
                  DocumentMeta("circular", "<img src=x onerror=alert(1)> Circulaire", "دورية <b>"), "nadia")
    client = app.test_client()
    page = client.get("/documents?q=reglement").get_data(as_text=True)
    assert f'data-document="{doc.id}"' in page
    assert "<script>alert('pdf')" not in page and "&lt;script&gt;alert(" in page
    assert "<img src=x" not in page and "&lt;img src=x onerror=alert(1)&gt;" in page and "<b>gras" not in page
    api = client.get("/api/v1/documents?q=reglement").get_json()["documents"][0]
    assert "<script>" not in api["snippet"] and "&lt;script&gt;" in api["snippet"]
    for query in ("kind=poem", "page=abc", "page=-4", "plan=%00", "q=%22%27*"):
        assert client.get(f"/documents?{query}").status_code == 200


def test_a_transfer_carries_the_documents_files_and_search_to_a_new_instance(request, backend, lib, stocked,
                                                                              tmp_path):
    from support.instances import new_instance

    from gisportal.cli.transfer import copy_agency
    from gisportal.core.settings import load_settings
    from gisportal.storage import open_agency

    target = new_instance(request, backend, tmp_path / "target")
    settings = load_settings(target.settings)
    agency = open_agency(settings, target.open_store())
    copy_agency(lib.db, agency, lib.files_dir.parent, target.data_dir)
    copied = Library(agency, target.data_dir / "library", settings.library_max_bytes)
    assert found(copied, "reglement") == [stocked["reg"].id, stocked["law"].id]
    assert found(copied, "الاقصى") == [stocked["reg"].id] and copied.revision() == 1
    document = copied.get(stocked["reg"].id)
    assert copied.file_path(document).read_bytes() == lib.file_path(stocked["reg"]).read_bytes()
    agency.close()
