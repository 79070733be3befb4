"""Issue #15 without a browser: compressed answers, fingerprinted static files, CORS on the public API, unknown
languages, search examples from the instance's own data, translated verdicts, plurals and sizes, the log sender
showing the links to act on, and a paid order's return page without the browser's session.
"""

from __future__ import annotations

import logging
import re

import pytest
from flask_babel import force_locale, ngettext
from support.payments import pay  # noqa: F401 (fixture: the tiny portal with the sandbox provider)

from gisportal.core.notifications import Notification, open_sender
from gisportal.core.settings import load_settings
from gisportal.web.core.labels import file_size
from gisportal.zoning.examples import search_examples

pytestmark = pytest.mark.backends("embedded")


def test_pages_and_api_answers_are_compressed_and_static_files_cached_by_version(tiny_client):
    page = tiny_client.get("/", headers={"Accept-Encoding": "br, gzip"})
    assert page.status_code == 200 and page.headers["Content-Encoding"] == "br"
    plain = tiny_client.get("/").get_data(as_text=True)
    assert len(page.data) * 3 < len(plain.encode())  # brotli shrinks the page at least threefold
    json_answer = tiny_client.get("/api/v1/notes?ref=TF-1001/06", headers={"Accept-Encoding": "gzip"})
    assert json_answer.headers["Content-Encoding"] == "gzip"
    urls = re.findall(r'(?:src|href)="(/(?:static|vendor)/[^"?]+)\?v=([0-9a-f]{12})"', plain)
    paths = {u for u, _ in urls}
    assert {"/static/css/portal.css", "/static/js/portal.js", "/vendor/leaflet/leaflet.js"} <= paths
    for url, version in urls:
        fresh = tiny_client.get(f"{url}?v={version}", headers={"Accept-Encoding": "gzip"})
        assert fresh.status_code == 200, url
        cache = fresh.headers["Cache-Control"]
        assert "immutable" in cache and "max-age=31536000" in cache and "no-cache" not in cache, (url, cache)
        if url.endswith((".js", ".css")):
            assert fresh.headers["Content-Encoding"] == "gzip", url
            again = tiny_client.get(f"{url}?v={version}", headers={"Accept-Encoding": "gzip"})
            assert again.data == fresh.data  # the compressed copy is kept, byte for byte
    stale = tiny_client.get("/static/css/portal.css?v=000000000000")
    assert "immutable" not in stale.headers.get("Cache-Control", "")


def test_an_unknown_language_is_a_422_naming_the_languages(tiny_client):
    answer = tiny_client.get("/api/v1/notes?ref=TF-1001/06&lang=de")
    assert answer.status_code == 422
    body = answer.get_json()
    assert body["error"] == "unknown_language" and body["languages"] == ["fr", "ar", "en"]
    assert "fr, ar, en" in body["message"] and "'de'" in body["message"]
    assert tiny_client.get("/api/v1/notes?ref=TF-1001/06&lang=ar").status_code == 200
    assert tiny_client.get("/api/v1/search?q=TF&lang=both").status_code == 422  # both: PDFs only


def test_public_read_only_api_answers_cors_for_anonymous_gets_only(tiny_client, tiny):
    origin = {"Origin": "https://investisseur.example"}
    anonymous = tiny_client.get("/api/v1/notes?ref=TF-1001/06", headers=origin)
    assert anonymous.headers["Access-Control-Allow-Origin"] == "*"
    assert "Access-Control-Allow-Credentials" not in anonymous.headers
    preflight = tiny_client.options("/api/v1/search", headers={**origin, "Access-Control-Request-Method": "GET"})
    assert preflight.headers["Access-Control-Allow-Origin"] == "*"
    assert preflight.headers["Access-Control-Allow-Methods"] == "GET, HEAD"
    # a write, a staff endpoint, a signed-in browser or a token: no CORS
    assert "Access-Control-Allow-Origin" not in tiny_client.options(
        "/api/v1/orders", headers={**origin, "Access-Control-Request-Method": "POST"}).headers
    assert "Access-Control-Allow-Origin" not in tiny_client.get("/api/v1/registry", headers=origin).headers
    assert "Access-Control-Allow-Origin" not in tiny_client.get(
        "/api/v1/plans", headers={**origin, "Authorization": "Bearer x"}).headers
    tiny_client.set_cookie("session", "x")
    assert "Access-Control-Allow-Origin" not in tiny_client.get("/api/v1/plans", headers=origin).headers

    from support.tiny import _create_app

    listed = _create_app({**tiny.settings, "rules_file": tiny.rules_file, "TESTING": True,
                          "cors_origins": "https://investisseur.example"}).test_client()
    mine = listed.get("/api/v1/plans", headers=origin)
    assert mine.headers["Access-Control-Allow-Origin"] == "https://investisseur.example"
    assert "Origin" in mine.headers["Vary"]
    assert "Access-Control-Allow-Origin" not in listed.get("/api/v1/plans",
                                                           headers={"Origin": "https://autre.example"}).headers


def test_search_examples_come_from_the_instance_and_are_found(tiny, tiny_client):
    store = tiny.open_store()
    try:
        examples = search_examples(store)
    finally:
        store.close()
    assert len(examples) == 3
    ref, quarter, point = examples
    assert ref in tiny.parcels and quarter == tiny.parcels[ref][2]
    for text, kind in ((ref, "parcel"), (quarter, "quarter"), (point, "coordinates")):
        found = tiny_client.get("/api/v1/search", query_string={"q": text}).get_json()["suggestions"]
        assert found and found[0]["kind"] == kind, (text, found)
    page = tiny_client.get("/?lang=fr").get_data(as_text=True)
    assert f'<bdi class="gp-example">{ref}</bdi>' in page and "TF-104523/06" not in page
    for form in ("/sites", "/complaints/new"):  # the reference fields' examples are this instance's too
        html = tiny_client.get(f"{form}?lang=fr").get_data(as_text=True)
        assert f'placeholder="{ref}"' in html and "TF-104523" not in html, form


def test_plurals_sizes_and_verdicts_are_in_the_page_language(tiny_app, tiny_client):
    with tiny_app.test_request_context("/"), force_locale("fr"):
        assert ngettext("%(num)d decision recorded", "%(num)d decisions recorded", 4) == "4 décisions enregistrées"
        assert ngettext("%(num)d document", "%(num)d documents", 1) == "1 document"
        assert file_size(109_158) == "106,6\u202fko"  # a narrow no-break space, as CLDR writes French
    with tiny_app.test_request_context("/"), force_locale("ar"):
        assert "KB" not in file_size(109_158) and "106.6" in file_size(109_158)
    altered = tiny_client.get("/verify/NRU-2026-999999?lang=ar&t=AAAAAAAAAAAAAAAA").get_data(as_text=True)
    assert "لم تُصدر هذه البوابة أي مذكرة" in altered and "was issued" not in altered


def test_the_log_sender_shows_the_links_at_the_warning_level_without_the_address(caplog):
    sender = open_sender(load_settings({}))
    text = "Confirmez : https://nru.example.ma/subscriptions/confirm/abc.def-1 (valable 7 jours)."
    with caplog.at_level(logging.WARNING):
        assert sender.send(Notification("omar@example.ma", "Confirmez", text, topic="subscription"))
    record = next(r for r in caplog.records if r.name == "gisportal.core.notifications")
    assert record.levelno == logging.WARNING
    assert "https://nru.example.ma/subscriptions/confirm/abc.def-1" in record.getMessage()
    assert "omar@" not in record.getMessage() and "o***@example.ma" in record.getMessage()


def test_a_paid_order_answers_already_paid_with_its_receipt_without_the_session(pay):
    from support.payments import _order, _sandbox, _status

    order = _order(pay.client)
    pay.client.post("/payments/callback/sandbox", data=_sandbox(pay.client, order))
    receipt = _status(pay.client, order)["payments"][0]["receipt_number"]
    stranger = pay.app.test_client()  # another browser: no session, no access code
    page = stranger.get(f"/payments/return/sandbox?order={order['reference']}&lang=fr")
    html = page.get_data(as_text=True)
    # the receipt's number, not a link: its page needs the QR code's token, which the order's own page links with
    assert page.status_code == 200 and "déjà payée" in html and f">{receipt}</bdi>" in html
    assert f"/verify/{receipt}" not in html
    assert order["access_token"] not in html
    # numbers are sequential: without the QR code's token a stranger is told to bring it, and sees nothing of it
    shown = stranger.get(f"/verify/{receipt}")
    assert shown.status_code == 422 and "gp-verified-amount" not in shown.get_data(as_text=True)
    # the way forward: the page asks for the order's access code and opens the order, whose page links the receipt
    assert f'action="/payments/orders/{order["reference"]}"' in html and 'name="t"' in html
    opened = stranger.get(f"/payments/orders/{order['reference']}", query_string={"t": order["access_token"]})
    assert opened.status_code == 200 and "gp-receipt-link" in opened.get_data(as_text=True)
    assert stranger.get(f"/payments/orders/{order['reference']}", query_string={"t": "wrong"}).status_code == 404


def test_the_404_page_speaks_the_page_language_and_the_api_keeps_english(tiny_client):
    page = tiny_client.get("/no-such-page?lang=ar")
    assert page.status_code == 404 and "هذه الصفحة غير موجودة" in page.get_data(as_text=True)
    assert "requested URL" not in page.get_data(as_text=True)
    french = tiny_client.get("/no-such-page?lang=fr").get_data(as_text=True)
    assert "Cette page n'existe pas" in french or "Cette page n&#39;existe pas" in french
    api = tiny_client.get("/api/v1/nothing?lang=ar")
    assert api.status_code == 404 and "requested URL" in api.get_json()["message"]


@pytest.mark.backends("embedded", "postgis")
def test_quarters_are_found_by_their_arabic_names(tiny_writable, tiny_rules_file):
    import json

    from support.tiny import _create_app

    from gisportal.zoning.quarter_names import META_KEY, arabic_names

    store = tiny_writable.open_store()
    try:
        store.set_meta({META_KEY: json.dumps(arabic_names({"Marshan", "Iberia", "Souani"}), ensure_ascii=False)})
    finally:
        store.close()
    client = _create_app({**tiny_writable.settings, "rules_file": tiny_rules_file, "TESTING": True}).test_client()
    latin = client.get("/api/v1/search", query_string={"q": "Marshan"}).get_json()["suggestions"][0]
    for typed in ("مرشان", "مرش", "ايبيريا"):  # whole, its start, without the hamza
        found = client.get("/api/v1/search", query_string={"q": typed}).get_json()["suggestions"]
        assert found and found[0]["kind"] == "quarter", (typed, found)
    found = client.get("/api/v1/search", query_string={"q": "مرشان"}).get_json()["suggestions"][0]
    assert found["label"] == "مرشان (Marshan)" and (found["lon"], found["lat"]) == (latin["lon"], latin["lat"])
    assert client.get("/api/v1/search", query_string={"q": "الرباط"}).get_json()["suggestions"] == []


@pytest.mark.backends("embedded", "postgis")
def test_streets_are_found_by_their_arabic_names_as_citizens_type_them(tiny_writable, tiny_rules_file):
    """شارع or زنقة, vowel marks, alef with or without hamza, Arabic-Indic digits: the same street (both backends)."""
    import json

    from support.tiny import _create_app

    from gisportal.zoning.quarter_names import STREETS_META_KEY, arabic_street_names

    names = arabic_street_names({"Rue Ibn Battouta", "Avenue Pasteur", "Rue Al Farabi"})
    assert names == {"زنقة ابن بطوطة": "Rue Ibn Battouta", "شارع باستور": "Avenue Pasteur",
                     "زنقة الفارابي": "Rue Al Farabi"}
    store = tiny_writable.open_store()
    try:
        store.set_meta({STREETS_META_KEY: json.dumps(names, ensure_ascii=False)})
    finally:
        store.close()
    client = _create_app({**tiny_writable.settings, "rules_file": tiny_rules_file, "TESTING": True}).test_client()

    def first(typed: str) -> dict:
        found = client.get("/api/v1/search", query_string={"q": typed}).get_json()["suggestions"]
        assert found, typed
        return found[0]

    latin = first("Rue Ibn Battouta")
    assert latin["kind"] == "street"
    for typed in ("زنقة ابن بطوطة", "شارع ابن بطوطة", "ابن بطوطة", "بطوطة", "زَنْقَة اِبْن بَطُّوطَة", "شارع إبن بطوطه"):
        found = first(typed)
        assert (found["kind"], found["label"]) == ("street", "زنقة ابن بطوطة (Rue Ibn Battouta)"), (typed, found)
        assert (found["lon"], found["lat"]) == (latin["lon"], latin["lat"])
    assert first("شارع باستور")["label"] == "شارع باستور (Avenue Pasteur)"
    assert first("شار")["label"] == "شارع باستور (Avenue Pasteur)"  # as people type, the kind word first
    assert first("زنق")["label"].startswith("زنقة ")
    assert first("زنقة الفارابى")["label"] == "زنقة الفارابي (Rue Al Farabi)"  # alef maqsura for ya
    # a house number first: that very parcel first, in Latin or Arabic-Indic digits
    for typed in ("5 شارع ابن بطوطة", "٥ زنقة ابن بطوطة"):
        assert first(typed)["ref"] == "TF-1005/06", typed
    assert first("3 شارع ابن بطوطة")["ref"] == "TF-1002/06"
    assert client.get("/api/v1/search", query_string={"q": "شارع الرباط"}).get_json()["suggestions"] == []


def test_the_arabic_note_shows_the_arabic_text_of_the_approval_act_when_the_data_has_it(tiny_writable,
                                                                                       tiny_rules_file):
    import json

    from support.tiny import _create_app

    store = tiny_writable.open_store()
    try:
        store.set_meta({"approval_acts_ar": json.dumps({"Décret v2": "المرسوم الثاني"}, ensure_ascii=False)})
    finally:
        store.close()
    client = _create_app({**tiny_writable.settings, "rules_file": tiny_rules_file, "TESTING": True}).test_client()
    arabic = client.get("/note?ref=TF-1001/06&lang=ar").get_data(as_text=True)
    assert "<td>المرسوم الثاني</td>" in arabic and "<td>Décret v2</td>" not in arabic
    assert "<td>Décret v2</td>" in client.get("/note?ref=TF-1001/06&lang=fr").get_data(as_text=True)


@pytest.mark.backends("embedded", "postgis")
def test_the_names_command_sets_arabic_names_from_a_file_all_or_nothing(tiny_writable, tiny_rules_file, tmp_path,
                                                                         monkeypatch):
    """``gisportal names``: a CSV with a bad row changes nothing and says where; YAML and CSV then set quarters,
    streets and approval acts, which search and the Arabic note use."""
    import json

    from click.testing import CliRunner
    from support.tiny import _create_app

    from gisportal.cli.commands import main

    for name, value in tiny_writable.env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("GISPORTAL_RULES_FILE", str(tiny_rules_file))
    before = tiny_writable.open_store().meta()
    bad = tmp_path / "noms.csv"
    bad.write_text("kind;name;arabic\nquarter;Marshan;مرشان\nstreet;Rue Inconnue;زنقة مجهولة\n"
                   "street;Rue Ibn Battouta;Ibn Battouta\nquarter;Iberia;مرشان\nroad;Avenue Pasteur;شارع باستور\n"
                   "approval_act;Décret v9;المرسوم التاسع\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["names", str(bad), "--format", "json"])
    assert result.exit_code == 2, result.output
    report = json.loads(result.output)
    assert not report["written"] and report["rows"] == 5
    assert {(p["where"], p["column"]) for p in report["problems"]} == {
        ("line 3", "name"), ("line 4", "arabic"), ("line 5", "arabic"), ("line 6", "kind"), ("line 7", "name")}
    assert tiny_writable.open_store().meta() == before  # nothing written

    good = tmp_path / "noms.yaml"
    good.write_text("quarters:\n  Marshan: مرشان\n  Iberia: إيبيريا\nstreets:\n  Rue Ibn Battouta: زنقة ابن بطوطة\n"
                    "approval_acts:\n  Décret v2: المرسوم الثاني\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["names", str(good)])
    assert result.exit_code == 0 and "4 names set (2 quarters, 1 streets, 1 approval acts); 0 problem(s)" in \
        result.output, result.output
    more = tmp_path / "more.csv"  # added to what is held; a name given again gets its new Arabic text
    more.write_text("kind,name,arabic\nstreet,Avenue Pasteur,شارع باستور\nquarter,Iberia,ايبيريا\n", encoding="utf-8")
    assert CliRunner().invoke(main, ["names", str(more)]).exit_code == 0
    meta = tiny_writable.open_store().meta()
    assert json.loads(meta["quarters_ar"]) == {"مرشان": "Marshan", "ايبيريا": "Iberia"}
    assert json.loads(meta["streets_ar"]) == {"زنقة ابن بطوطة": "Rue Ibn Battouta", "شارع باستور": "Avenue Pasteur"}
    assert json.loads(meta["approval_acts_ar"]) == {"Décret v2": "المرسوم الثاني"}
    client = _create_app({**tiny_writable.settings, "rules_file": tiny_rules_file, "TESTING": True}).test_client()
    found = client.get("/api/v1/search", query_string={"q": "شارع ابن بطوطة"}).get_json()["suggestions"]
    assert found[0]["label"] == "زنقة ابن بطوطة (Rue Ibn Battouta)"
    assert "<td>المرسوم الثاني</td>" in client.get("/note?ref=TF-1001/06&lang=ar").get_data(as_text=True)


def test_units_and_floors_are_written_in_the_page_language_on_the_note_and_its_pdf(tiny_client, tmp_path):
    """م² and متر on the Arabic note (page and PDF), m² and m on the French one, numbers by Babel, R+n in words
    of the catalogue; no Latin unit left on the Arabic page."""
    from support.pdf import pdf_text

    arabic = tiny_client.get("/note?ref=TF-1001/06&lang=ar").get_data(as_text=True)
    french = tiny_client.get("/note?ref=TF-1001/06&lang=fr").get_data(as_text=True)
    assert "400 م²" in arabic and "m²" not in arabic  # TF-1001/06 is 20 m x 20 m
    assert "12 متر" in arabic and re.search(r"\d\s?m\b", re.sub(r"<[^>]+>", " ", arabic)) is None
    assert "سفلي + 3" in arabic and "R+3" not in arabic
    assert "400\u202fm²" in french and "12\u202fm" in french and "R+3" in french
    pdf = tiny_client.get("/api/v1/notes", query_string={"ref": "TF-1001/06", "format": "pdf", "lang": "ar"})
    assert pdf.status_code == 200, pdf.get_data(as_text=True)[:300]
    text = pdf_text(pdf.get_data(), tmp_path)
    assert "م²" in text and "متر" in text and "m²" not in text, text[:2000]
