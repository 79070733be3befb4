"""Help and contact page and service posters, from the contact file (validated on load), on both backends.

The tests' own contact file (``CONTACT_YAML``) has two phone lines, one office at (35.78, -5.81), one social
account, and four posters: ``library`` and ``help`` (services of this app), ``ghost`` (an endpoint that does not
exist here) and ``one-document`` (an endpoint that needs an argument): only the first two are offered.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from gisportal.services.contact import ContactFileError, load_contact, parse_contact

CONTACT_YAML = """\
phones:
  - label: {fr: Standard, ar: الهاتف الرئيسي, en: Switchboard}
    number: "+212 539 11 22 33"
  - label: {fr: Réclamations, ar: الشكايات}
    number: "0539-44-55-66"
email: accueil@agence.invalid
hours:
  - days: {fr: Du lundi au vendredi, ar: من الاثنين إلى الجمعة, en: Monday to Friday}
    hours: "08:30 – 16:30"
addresses:
  - name: {fr: Siège, ar: المقر, en: Head office}
    address: {fr: "1 Avenue Test, Tanger", ar: "1 شارع الاختبار، طنجة", en: "1 Test Avenue, Tangier"}
    lat: 35.78
    lon: -5.81
social:
  - network: Facebook
    url: https://www.facebook.com/agence.test
posters:
  - id: library
    endpoint: library.index
    title: {fr: Bibliothèque documentaire, ar: الخزانة الوثائقية, en: Document library}
    text: {fr: Règlements et formulaires, ar: الأنظمة والمطبوعات}
  - id: help
    endpoint: contact.help
    title: {fr: Aide et contact, ar: المساعدة والاتصال}
  - id: ghost
    endpoint: no_such_service
    title: {fr: Service absent, ar: خدمة غائبة}
  - id: one-document
    endpoint: library.document
    title: {fr: Un document, ar: وثيقة}
"""


@pytest.fixture
def contact_file(tmp_path: Path) -> Path:
    path = tmp_path / "contact.yaml"
    path.write_text(CONTACT_YAML, encoding="utf-8")
    return path


@pytest.fixture
def app(empty_instance, contact_file):
    from gisportal.web import create_app

    app = create_app({**empty_instance.settings, "TESTING": True, "contact_file": contact_file,
                      "public_url": "https://urba.example.ma"})
    yield app
    app.extensions["gisportal"].store.close()


def test_the_help_page_shows_phones_hours_offices_map_and_social_accounts_in_each_language(app):
    client = app.test_client()
    fr = client.get("/help?lang=fr").get_data(as_text=True)
    assert "Standard" in fr and 'href="tel:+212539112233"' in fr and 'href="tel:0539445566"' in fr
    assert "Du lundi au vendredi" in fr and "08:30 – 16:30" in fr and "1 Avenue Test, Tanger" in fr
    assert 'href="https://www.facebook.com/agence.test"' in fr and "mailto:accueil@agence.invalid" in fr
    assert "35.78" in fr and "-5.81" in fr and "/vendor/leaflet/leaflet.js" in fr  # the office on a local map
    scripts = re.findall(r'<(?:script|link)[^>]+(?:src|href)="([^"]+)"', fr)
    assert scripts and all(url.startswith("/") for url in scripts), scripts  # nothing from a CDN
    ar = client.get("/help?lang=ar").get_data(as_text=True)
    assert 'dir="rtl"' in ar and "الهاتف الرئيسي" in ar and "من الاثنين إلى الجمعة" in ar and "المقر" in ar
    en = client.get("/help?lang=en").get_data(as_text=True)
    assert "Switchboard" in en and "Head office" in en and "Réclamations" in en  # French when no English


def test_posters_are_offered_only_for_the_services_this_instance_has(app):
    page = app.test_client().get("/help?lang=fr").get_data(as_text=True)
    assert re.findall(r'data-poster="([^"]+)"', page) == ["library", "help"]
    client = app.test_client()
    assert client.get("/posters/ghost").status_code == 404
    assert client.get("/posters/one-document").status_code == 404
    assert client.get("/posters/ghost.pdf").status_code == 404


def test_a_poster_is_bilingual_with_a_large_qr_code_to_the_service(app):
    html = app.test_client().get("/posters/library").get_data(as_text=True)
    assert "Bibliothèque documentaire" in html and "الخزانة الوثائقية" in html
    assert "Règlements et formulaires" in html and "الأنظمة والمطبوعات" in html
    assert "https://urba.example.ma/documents" in html and "<svg" in html and "gp-poster-qr" in html


def test_the_poster_pdf_carries_both_titles_and_the_service_url(app, tmp_path):
    response = app.test_client().get("/posters/library.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    pdf = tmp_path / "poster.pdf"
    pdf.write_bytes(response.data)
    text = subprocess.run(["pdftotext", "-enc", "UTF-8", str(pdf), "-"], capture_output=True, text=True,
                          check=True).stdout
    assert "Bibliothèque documentaire" in text and "https://urba.example.ma/documents" in text
    from pypdf import PdfReader

    assert "الخزانة الوثائقية" in PdfReader(pdf).pages[0].extract_text()


@pytest.mark.parametrize("change, message", [
    (("+212 539 11 22 33", "call us"), "phones.0.number"),
    (("lat: 35.78", "lat: 135.78"), "addresses.0.lat"),
    (("https://www.facebook.com/agence.test", "http://www.facebook.com/agence.test"), "social.0.url"),
    (("id: help", "id: library"), "same id"),
    (("id: help", "id: Help Page"), "posters.1.id"),
    (("{fr: Standard, ar: الهاتف الرئيسي, en: Switchboard}", "{fr: Standard}"), "phones.0.label.ar"),
    (("phones:", "phonez:"), "phonez"),
    (("phones:", "phones: ["), "not valid YAML"),
])
def test_a_bad_contact_file_is_refused_naming_the_value(change, message, tmp_path):
    with pytest.raises(ContactFileError, match=re.escape(message)):
        parse_contact(CONTACT_YAML.replace(*change, 1))
    bad = tmp_path / "contact.yaml"
    bad.write_text(CONTACT_YAML.replace(*change, 1), encoding="utf-8")
    with pytest.raises(ContactFileError, match=re.escape(str(bad))):
        load_contact(bad)


def test_the_app_does_not_start_with_a_bad_or_missing_contact_file(empty_instance, tmp_path):
    from gisportal.web import create_app

    bad = tmp_path / "contact.yaml"
    bad.write_text(CONTACT_YAML.replace("lat: 35.78", "lat: north"), encoding="utf-8")
    with pytest.raises(ContactFileError, match="addresses.0.lat"):
        create_app({**empty_instance.settings, "contact_file": bad})
    with pytest.raises(ContactFileError, match="missing"):
        create_app({**empty_instance.settings, "contact_file": tmp_path / "nowhere.yaml"})


def test_the_shipped_demo_contact_file_is_valid():
    from gisportal.core.resources import data_file

    info = load_contact(data_file("contact.yaml"))
    assert info.phones and info.hours and info.addresses and info.social
    assert {"note", "library", "help", "complaints", "committees", "payments"} <= {p.id for p in info.posters}
