"""Issued notes (issue #3): PDF in French/Arabic/both, seal, QR verification, registry, rotation, as-of."""

from __future__ import annotations

import re
import shutil
import subprocess
from datetime import date, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from support.pdf import pdf_text

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"




@pytest.fixture
def doc_app(tiny, tiny_writable):
    from gisportal.web import create_app

    return create_app({**tiny_writable.settings, "rules_file": tiny.rules_file, "TESTING": True})


@pytest.fixture
def doc_client(doc_app):
    return doc_app.test_client()


def qr(client, number: str) -> str:
    """The verification token the note's QR code carries (issue #14: needed to see a note by its number)."""
    return client.application.extensions["gisportal"].registry.get(number).signature[:16]


def get_pdf(client, ref: str, lang: str, **extra: str):
    query = "&".join(f"{k}={v}" for k, v in {"ref": ref, "format": "pdf", "lang": lang, **extra}.items())
    response = client.get(f"/api/v1/notes?{query}")
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "application/pdf"
    return response


def test_french_pdf_states_parcel_zones_shares(doc_client, tmp_path):
    response = get_pdf(doc_client, "TF-1001/06", "fr")
    number = response.headers["X-Note-Number"]
    assert re.fullmatch(rf"NRU-{date.today().year}-\d{{6}}", number)
    text = pdf_text(response.data, tmp_path)
    assert "TF-1001/06" in text and number in text
    # Half in A, half in B: both codes with 50 % shares and 200 m² each.
    assert re.search(r"\bA\b.*50 %", text) and re.search(r"\bB\b.*50 %", text)
    assert "200 m²" in text and "400 m²" in text
    assert "Décret v2" in text  # the approval act of the version in force
    assert "EPSG:26191" in text  # the map extract's coordinate frame


def test_arabic_pdf_has_shaped_text_in_logical_order(doc_client, tmp_path):
    text = pdf_text(get_pdf(doc_client, "TF-1001/06", "ar").data, tmp_path)
    # Labels from the data and the interface, read back in logical (reading) order. (pdftotext splits the
    # lam-alef ligature oddly, so the words checked here avoid it.)
    assert "المنطقة A" in text and "المنطقة B" in text
    assert "تصميم التهيئة" in text
    assert "مذكرة المعلومات التعميرية" in text
    assert "TF-1001/06" in text and "% 50" in text


def test_bilingual_pdf_holds_both_languages(doc_client, tmp_path):
    response = get_pdf(doc_client, "TF-1001/06", "both")
    text = pdf_text(response.data, tmp_path)
    assert "Plan d'aménagement de test" in text and "تصميم التهيئة" in text
    assert text.index("Plan d'aménagement de test") < text.index("تصميم التهيئة")  # French pages first


def test_pdf_page_rendered_to_png_artifact(doc_client, tmp_path):
    assert shutil.which("pdftoppm"), "pdftoppm missing: `make test` installs poppler-utils"
    pdf = tmp_path / "note.pdf"
    pdf.write_bytes(get_pdf(doc_client, "TF-1007/06", "both").data)
    subprocess.run(["pdftoppm", "-r", "70", "-png", "-f", "1", "-l", "1", str(pdf), str(tmp_path / "note-page")],
                   check=True)
    page, = tmp_path.glob("note-page*.png")  # this run's page, never one an earlier run left
    assert page.stat().st_size > 20_000  # a real page with a map, not a blank sheet
    ARTIFACTS.mkdir(exist_ok=True)
    shutil.copyfile(page, ARTIFACTS / "note-page-1.png")  # kept to be looked at


def test_genuine_pdf_verifies_and_tampering_is_refused(doc_app, doc_client, tmp_path):
    from gisportal.core.signing import NotAuthentic, verify_pdf

    keyring = doc_app.extensions["gisportal"].keyring
    pdf = get_pdf(doc_client, "TF-1002/06", "fr").data
    number = verify_pdf(pdf, keyring).number
    middle = len(pdf) // 2
    one_byte = pdf[:middle] + bytes([pdf[middle] ^ 0x01]) + pdf[middle + 1:]
    other_number = pdf.replace(number.encode(), b"NRU-2000-999999")
    no_seal = pdf[: pdf.rfind(b"\n%NRU-SEAL ")]
    for forged in (one_byte, other_number, no_seal, b"not a pdf at all"):
        with pytest.raises(NotAuthentic):
            verify_pdf(forged, keyring)


def test_cli_note_pdf_and_verify(tiny, tiny_writable, tmp_path, monkeypatch):
    from gisportal.cli.commands import main

    for name, value in tiny_writable.env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("GISPORTAL_RULES_FILE", str(tiny.rules_file))
    runner = CliRunner()
    out = tmp_path / "n.pdf"
    result = runner.invoke(main, ["note", "--parcel", "TF-1003/06", "--format", "pdf", "--lang", "ar", "-o", str(out)])
    assert result.exit_code == 0, result.output
    ok = runner.invoke(main, ["verify", str(out)])
    assert ok.exit_code == 0 and re.fullmatch(r"NRU-\d{4}-\d{6}\s*", ok.output)
    data = out.read_bytes()
    (tmp_path / "bad.pdf").write_bytes(data.replace(b"TF-1003/06", b"TF-9003/06", 1) if b"TF-1003/06" in data
                                       else data[:-200] + b"x" + data[-199:])
    bad = runner.invoke(main, ["verify", str(tmp_path / "bad.pdf")])
    assert bad.exit_code != 0 and "NOT AUTHENTIC" in bad.output


def test_verify_page_authentic_forged_and_unknown(doc_client):
    response = get_pdf(doc_client, "TF-1001/06", "fr")
    number = response.headers["X-Note-Number"]
    issued = doc_client.get(f"/api/v1/verify/{number}?t={qr(doc_client, number)}").get_json()
    assert issued["authentic"] is True and issued["parcel_ref"] == "TF-1001/06" and issued["current"] is True
    assert issued["plan_versions"][0]["version"] == 2
    page = doc_client.get(f"/verify/{number}?lang=en&t={qr(doc_client, number)}")
    assert page.status_code == 200 and b"gp-authentic" in page.data
    # without the QR code's token, nothing of the note is shown (numbers are sequential)
    bare = doc_client.get(f"/verify/{number}?lang=en")
    assert bare.status_code == 422 and b"TF-1001" not in bare.data and b"gp-not-authentic" in bare.data
    assert doc_client.get(f"/api/v1/verify/{number}").status_code == 422
    forged = doc_client.get(f"/verify/{number}?t=AAAAAAAAAAAAAAAA&lang=en")
    assert forged.status_code == 404 and b"gp-not-authentic" in forged.data  # like an unknown number (issue #14)
    unknown = doc_client.get("/verify/NRU-1999-000001?t=AAAAAAAAAAAAAAAA")
    assert unknown.status_code == 404 and b"gp-not-authentic" in unknown.data
    assert doc_client.get("/api/v1/verify/%3Cscript%3E").status_code == 422


def test_a_wrong_token_answers_exactly_like_an_unknown_number(doc_client):
    """Issue #14: without the QR's token nobody can tell whether a number (note or site note) was issued."""
    import re as regex

    number = get_pdf(doc_client, "TF-1001/06", "fr").headers["X-Note-Number"]
    site = doc_client.post("/api/v1/sites/notes", json={"refs": ["TF-1001/06", "TF-1007/06"], "format": "pdf"})
    site_number = site.headers["X-Note-Number"]
    year = number.split("-")[1]
    unknown = f"NRU-{year}-999999"

    def shape(answer) -> tuple:  # the answer with the number, the form's CSRF token and any nonce taken out
        body = regex.sub(r"NRU-\d{4}-\d+", "N", answer.get_data(as_text=True))
        return answer.status_code, regex.sub(r'(name="csrf_token"[^>]*value|nonce)="[^"]*"', "", body)

    for known in (number, site_number):
        for path in ("/verify/{}?lang=en&t=AAAAAAAAAAAAAAAA", "/api/v1/verify/{}?t=AAAAAAAAAAAAAAAA",
                     "/api/v1/situation-plan?site={}&t=AAAAAAAAAAAAAAAA"):
            wrong, nothing = doc_client.get(path.format(known)), doc_client.get(path.format(unknown))
            assert wrong.status_code == 404, (path, wrong.status_code)
            if "situation-plan" in path and known == number:
                continue  # a parcel note is no site note: the situation plan answers 404 for it anyway
            assert shape(wrong) == shape(nothing), path
        assert doc_client.get(f"/verify/{known}?lang=en&t={qr(doc_client, known)}").status_code == 200
    body = doc_client.get(f"/api/v1/verify/{number}?t=AAAAAAAAAAAAAAAA").get_json()
    assert body["error"] == "not_found" and "with this verification code" in body["message"]
    # no token at all: the same 422 whether the number exists or not
    assert shape(doc_client.get(f"/verify/{number}?lang=en")) == shape(doc_client.get(f"/verify/{unknown}?lang=en"))


def test_verify_by_upload(doc_client):
    import io

    pdf = get_pdf(doc_client, "TF-1001/06", "fr").data
    token = re.search(r'name="csrf_token" value="([^"]+)"', doc_client.get("/verify").get_data(as_text=True)).group(1)
    ok = doc_client.post("/verify", data={"document": (io.BytesIO(pdf), "n.pdf"), "csrf_token": token},
                         content_type="multipart/form-data")
    assert ok.status_code == 200 and b"gp-authentic" in ok.data
    bad = doc_client.post("/verify", data={"document": (io.BytesIO(pdf[:-300] + pdf[-299:]), "n.pdf"),
                                           "csrf_token": token}, content_type="multipart/form-data")
    assert bad.status_code == 422 and b"gp-not-authentic" in bad.data
    empty = doc_client.post("/verify", data={"csrf_token": token}, content_type="multipart/form-data")
    assert empty.status_code == 400 and b"gp-not-authentic" in empty.data
    no_token = doc_client.post("/verify", data={"document": (io.BytesIO(pdf), "n.pdf")},
                               content_type="multipart/form-data")
    assert no_token.status_code == 400 and b"gp-authentic" not in no_token.data


def test_registry_reuses_unchanged_notes_and_flags_outdated_ones(doc_app, doc_client, tiny):
    import geopandas as gpd

    from gisportal.storage.base import NewPlanVersion

    first = get_pdf(doc_client, "TF-1001/06", "fr")
    again = get_pdf(doc_client, "TF-1001/06", "fr")
    assert first.headers["X-Note-Number"] == again.headers["X-Note-Number"]
    assert first.data == again.data  # the stored PDF is reused
    other_lang = get_pdf(doc_client, "TF-1001/06", "ar")
    assert other_lang.headers["X-Note-Number"] != first.headers["X-Note-Number"]

    store = doc_app.extensions["gisportal"].store
    zones = gpd.GeoDataFrame({"code": ["B"], "label_fr": ["Zone B"], "label_ar": ["ب"]},
                             geometry=[tiny.box(0, 0, 300, 100)], crs=tiny.crs)
    today = date.today()
    store.publish_plan_version(NewPlanVersion("tiny-plan", "Plan", "خطة", "Décret v3", today, today), zones)
    number = first.headers["X-Note-Number"]
    state = doc_client.get(f"/api/v1/verify/{number}?t={qr(doc_client, number)}").get_json()
    assert state["authentic"] is True and state["current"] is False and state["changed_plans"] == ["tiny-plan"]
    page = doc_client.get(f"/verify/{number}?lang=en&t={qr(doc_client, number)}")
    assert b"gp-outdated" in page.data and b"/note?ref=TF-1001" in page.data
    renewed = get_pdf(doc_client, "TF-1001/06", "fr")
    assert renewed.headers["X-Note-Number"] != number

    registry = doc_app.extensions["gisportal"].registry  # an agency table, in the instance's agency database
    assert registry.db.dialect == {"embedded": "sqlite", "postgis": "postgresql"}[tiny.backend]
    listed = [n.number for n in registry.search("TF-1001")]
    assert number in listed and renewed.headers["X-Note-Number"] in listed


def test_registry_api_is_staff_only(tiny, tiny_writable):
    from gisportal.web import create_app

    app = create_app({**tiny_writable.settings, "rules_file": tiny.rules_file, "staff_token": "s3cret"})
    client = app.test_client()
    get_pdf(client, "TF-1006/06", "fr")
    assert client.get("/api/v1/registry").status_code == 403
    assert client.get("/api/v1/registry", headers={"Authorization": "Bearer nope"}).status_code == 403
    listed = client.get("/api/v1/registry?q=1006", headers={"Authorization": "Bearer s3cret"}).get_json()
    assert [n["parcel_ref"] for n in listed["notes"]] == ["TF-1006/06"]


def test_key_rotation_keeps_old_notes_verifiable(doc_app, doc_client):
    from gisportal.core.signing import verify_pdf

    keyring = doc_app.extensions["gisportal"].keyring
    old = get_pdf(doc_client, "TF-1004/06", "fr").data
    old_key = verify_pdf(old, keyring).key_id
    new_key = keyring.rotate()
    assert new_key != old_key
    assert verify_pdf(old, keyring).key_id == old_key
    new = get_pdf(doc_client, "TF-1005/06", "fr").data
    assert verify_pdf(new, keyring).key_id == new_key
    keys = doc_client.get("/keys").get_json()["keys"]
    assert {old_key, new_key} <= set(keys)
    assert doc_client.get(f"/keys/{old_key}.pem").data.startswith(b"-----BEGIN PUBLIC KEY-----")


def test_note_as_of_a_past_date_uses_the_old_version(doc_client, tiny, tmp_path):
    before_v2 = (tiny.v2_from - timedelta(days=30)).isoformat()
    data = doc_client.get(f"/api/v1/notes?ref=TF-1001/06&as_of={before_v2}").get_json()
    assert data["historical"] is True
    assert [(z["code"], z["share"]) for z in data["zones"]] == [("B", 1.0)]
    page = doc_client.get(f"/note?ref=TF-1001/06&as_of={before_v2}&lang=en")
    assert page.status_code == 200 and b"gp-banner" in page.data
    response = get_pdf(doc_client, "TF-1001/06", "fr", as_of=before_v2)
    number = response.headers["X-Note-Number"]
    state = doc_client.get(f"/api/v1/verify/{number}?t={qr(doc_client, number)}").get_json()
    assert state["historical"] is True and state["current"] is False
    assert "Décret v1" in pdf_text(response.data, tmp_path)
    assert doc_client.get("/note?ref=TF-1001/06&as_of=2019-13-45").status_code == 400


def test_pdf_bad_input_is_4xx(doc_client):
    assert doc_client.get("/api/v1/notes?ref=TF-1001/06&format=pdf&lang=de").status_code == 422  # names the languages
    assert doc_client.get("/api/v1/notes?ref=NOPE&format=pdf&lang=fr").status_code == 404
    assert doc_client.get("/note.pdf?ref=TF-1001/06&lang=xx").status_code == 400


#: The registry file of embedded instances before issue #13 (``registry.sqlite``), as that code made it.
OLD_REGISTRY_SCHEMA = """
CREATE TABLE issued_notes (
    number TEXT PRIMARY KEY, year INTEGER NOT NULL, seq INTEGER NOT NULL,
    parcel_ref TEXT NOT NULL, lang TEXT NOT NULL, as_of TEXT NOT NULL, historical INTEGER NOT NULL,
    plan_versions TEXT NOT NULL, content_hash TEXT NOT NULL, payload TEXT NOT NULL,
    key_id TEXT NOT NULL, signature TEXT NOT NULL, issued_at TEXT NOT NULL,
    pdf BLOB, UNIQUE (year, seq));
CREATE INDEX issued_notes_hash ON issued_notes (content_hash);
CREATE INDEX issued_notes_ref ON issued_notes (parcel_ref);
"""


@pytest.mark.backends("embedded")
def test_an_old_registry_file_moves_into_the_agency_database_unchanged(empty_instance):
    """Notes issued before the registry became an agency table keep their numbers, content, seals and PDF; the
    numbering goes on after them; the old file is kept aside, and opening again moves nothing twice."""
    import json
    import sqlite3

    from gisportal.core.settings import load_settings
    from gisportal.core.signing import KeyRing
    from gisportal.note.issuing import check_number, content_hash, signed_bytes
    from gisportal.note.registry import open_registry

    data = empty_instance.data_dir
    keys = KeyRing(data / "keys")
    old = sqlite3.connect(data / "registry.sqlite")
    old.executescript(OLD_REGISTRY_SCHEMA)
    sent = []
    for seq, (ref, at) in enumerate([("TF-1001/06", "2026-01-05T08:00:00+00:00"),
                                     ("TF-12 «عين» _%", "2026-02-01T09:30:15+00:00")], start=1):
        payload = {"parcel": {"ref": ref}, "lang": "ar", "as_of": f"2026-01-0{seq}", "historical": seq == 2,
                   "plans": [{"name": "p", "version": seq}], "text": "زنقة é"}
        number = f"NRU-2026-{seq:06d}"
        kid, signature = keys.sign(signed_bytes(payload, number, at))
        old.execute("INSERT INTO issued_notes VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    (number, 2026, seq, ref, "ar", payload["as_of"], int(seq == 2), json.dumps(payload["plans"]),
                     content_hash(payload), json.dumps(payload, ensure_ascii=False), kid, signature, at,
                     b"%PDF-1" if seq == 1 else None))
        sent.append((number, ref, payload, signature, at))
    old.commit()
    old.close()

    settings = load_settings(empty_instance.settings)
    registry = open_registry(settings, empty_instance.open_store())
    for number, ref, payload, signature, at in sent:
        issued = check_number(registry, keys, number, signature[:16])  # the seal still verifies
        assert (issued.parcel_ref, issued.payload, issued.signature, issued.issued_at.isoformat()) == (
            ref, payload, signature, at)
        assert issued.as_of == date.fromisoformat(payload["as_of"]) and issued.historical is payload["historical"]
    assert registry.pdf("NRU-2026-000001") == b"%PDF-1" and registry.pdf("NRU-2026-000002") is None
    assert registry.find(content_hash(sent[1][2])).number == "NRU-2026-000002"
    assert [n.number for n in registry.search("_%")] == ["NRU-2026-000002"]
    assert not (data / "registry.sqlite").exists() and (data / "registry.sqlite.migrated").is_file()

    third = {"parcel": {"ref": "TF-9"}, "lang": "fr", "as_of": "2026-03-01", "historical": False, "plans": []}
    issued = registry.issue(third, content_hash(third), lambda n, at: keys.sign(signed_bytes(third, n, at)))
    assert issued.number.endswith("-000003") or not issued.number.startswith("NRU-2026-")  # a new year starts at 1
    again = open_registry(settings, empty_instance.open_store())
    assert len(again.search("", 10)) == 3
