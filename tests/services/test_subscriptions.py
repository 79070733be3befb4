"""Subscriptions to a permit file or a parcel, on both backends, with a real SMTP server (aiosmtpd on
127.0.0.1): double opt-in, notifications of decisions and of plan changes, one-click unsubscribe, bad input,
rate limit, a mail server that is down, and the offer on the note verification page.

Tiny territory (conftest): version 2 of tiny-plan has zone A on x 0..100 and B on x 100..200. Publishing a
version 3 whose A/B border moves from x=100 to x=95 changes TF-1001/06 (box x 90..110: half A half B before,
a quarter A after) and leaves TF-1003/06 (x 150..170, all B) and TF-1004/06 (x 250..270, all C) unchanged.
"""

from __future__ import annotations

import logging
import re
from datetime import date
from email.message import Message

import pytest
import sqlalchemy as sa
from support.committees import APPLICANT, csrf, make_app, new_session, record, signed_in, start_smtp

from gisportal.services.subscriptions import subscriptions

ADDRESS, OTHER = "lina.amrani@example.ma", "karim@example.org"


@pytest.fixture(scope="module")
def smtp():
    controller, box = start_smtp()
    yield box
    controller.stop()


@pytest.fixture
def app(tiny, tiny_writable, smtp):
    smtp.messages.clear()
    app = make_app(tiny, tiny_writable, notify_sender="smtp", smtp_host="127.0.0.1", smtp_port=smtp.port,
                   public_url="https://portail.example.ma")
    yield app
    app.extensions["gisportal"].store.close()


def body(message: Message) -> str:
    return message.get_payload(decode=True).decode("utf-8")


def link(message: Message, kind: str) -> str:
    found = re.search(rf"https://portail\.example\.ma(/subscriptions/{kind}/\S+)", body(message))
    assert found, body(message)
    return found.group(1)


def subscribe(client, email: str, kind: str, target: str):
    return client.post("/subscribe", data={"email": email, "kind": kind, "target": target,
                                           "csrf_token": csrf(client, "/subscribe")})


def subscribed(app, client, smtp, email: str, kind: str, target: str) -> None:
    """Subscribe and confirm through the link received."""
    before = len(smtp.messages)
    assert subscribe(client, email, kind, target).status_code == 200
    message = smtp.wait(before + 1)[-1]
    assert message["To"] == email
    assert client.get(link(message, "confirm")).status_code == 200


def rows(app) -> list:
    with app.extensions["gisportal"].agency.read() as conn:
        return conn.execute(sa.select(subscriptions).order_by(subscriptions.c.id)).all()


def test_double_opt_in_then_decisions_are_sent_with_a_one_click_unsubscribe(app, smtp):
    client, staff = app.test_client(), signed_in(app)
    page = subscribe(client, ADDRESS, "file", " 2026/0101 ")
    assert page.status_code == 200 and "Check your inbox" in page.get_data(as_text=True)
    [confirmation] = smtp.wait(1)
    assert confirmation["To"] == ADDRESS and "2026/0101" in body(confirmation)
    session_id = new_session(staff, "2026-03-10")
    # not confirmed yet: the decision is recorded, nothing is sent
    assert record(staff, session_id, file_number="2026/0101", parcel_ref="TF-1001/06", decision="adjourned",
                  conditions="Pièces manquantes", **APPLICANT).status_code == 201
    assert len(smtp.wait(2, timeout=1)) == 1
    confirmed = client.get(link(confirmation, "confirm"))
    assert confirmed.status_code == 200 and "Subscription confirmed" in confirmed.get_data(as_text=True)
    assert rows(app)[0].confirmed_at is not None and rows(app)[0].target == "2026/0101"
    later = new_session(staff, "2026-04-14")
    assert record(staff, later, file_number="2026/0101", decision="favourable",
                  conditions="R+2 au plus").status_code == 201
    notice = smtp.wait(2)[1]
    text = body(notice)
    assert notice["To"] == ADDRESS and "2026/0101" in text and "Avis favorable" in text and "R+2 au plus" in text
    assert "2026-04-14" in text and not any(p in text for p in APPLICANT.values())
    unsubscribe = link(notice, "unsubscribe")
    assert notice["List-Unsubscribe"] == f"<https://portail.example.ma{unsubscribe}>"
    assert notice["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    # one click: a POST without cookie nor CSRF token, as a mail client sends it (RFC 8058)
    assert app.test_client().get(unsubscribe).status_code == 200 and len(rows(app)) == 1  # GET asks only
    left = app.test_client().post(unsubscribe, data={"List-Unsubscribe": "One-Click"})
    assert left.status_code == 200 and "unsubscribed" in left.get_data(as_text=True)
    assert rows(app) == []
    assert app.test_client().post(unsubscribe).status_code == 200  # twice: still fine, nothing to do


def test_parcel_subscribers_hear_of_decisions_on_files_on_their_parcel(app, smtp):
    client, staff = app.test_client(), signed_in(app)
    subscribed(app, client, smtp, ADDRESS, "parcel", "tf 1003/06")  # loosely typed: stored as TF-1003/06
    subscribed(app, client, smtp, OTHER, "parcel", "TF-1001/06")
    assert [r.target for r in rows(app)] == ["TF-1003/06", "TF-1001/06"]
    session_id = new_session(staff, "2026-03-10")
    assert record(staff, session_id, file_number="2026/0300", parcel_ref="TF-1003/06", decision="unfavourable",
                  conditions="Hauteur dépassée (servitude aéronautique).", **APPLICANT).status_code == 201
    messages = smtp.wait(3)
    assert [m["To"] for m in messages[2:]] == [ADDRESS]
    assert "Avis défavorable" in body(messages[2]) and "TF-1003/06" in body(messages[2])


def test_a_plan_change_is_sent_to_the_subscribers_of_the_parcels_it_changes(app, smtp, tiny):
    from support.tiny import _zones

    from gisportal.publishing.publication import publish_zones

    client, staff = app.test_client(), signed_in(app)
    assert record(staff, new_session(staff, "2026-03-10"), file_number="2026/0500", parcel_ref="TF-1001/06",
                  decision="adjourned", conditions="Étude d'impact attendue.", **APPLICANT).status_code == 201
    for address, kind, target in ((ADDRESS, "parcel", "TF-1001/06"), (OTHER, "parcel", "TF-1004/06"),
                                  ("nadia@example.ma", "file", "2026/0500"), (ADDRESS, "file", "2026/0500")):
        subscribed(app, client, smtp, address, kind, target)
    subscribe(client, "pending@example.ma", "parcel", "TF-1001/06")  # never confirmed
    smtp.wait(5)
    store = app.extensions["gisportal"].store
    with app.test_request_context():
        version = publish_zones(store, "tiny-plan", _zones([("A", (0, 0, 95, 100)), ("B", (95, 0, 200, 100)),
                                                            ("C", (200, 0, 300, 100))]),
                                approval_act="Décret v3", approved=date(2026, 6, 1))
    assert version.version == 3
    messages = smtp.wait(7)
    # the parcel's subscriber and the file's (the file is on the parcel); one message per address and parcel
    assert sorted(m["To"] for m in messages[5:]) == sorted([ADDRESS, "nadia@example.ma"])
    text = body(messages[5])
    assert "TF-1001/06" in text and "Décret v3" in text and "2026-06-01" in text
    assert "/subscriptions/unsubscribe/" in text
    # republishing the same content changes nobody's parcel: nothing is sent
    with app.test_request_context():
        publish_zones(store, "tiny-plan", _zones([("A", (0, 0, 95, 100)), ("B", (95, 0, 200, 100)),
                                                  ("C", (200, 0, 300, 100))]),
                      approval_act="Décret v4", approved=date(2026, 7, 1))
    assert len(smtp.wait(8, timeout=1)) == 7


@pytest.mark.parametrize(("data", "status", "text"), [
    ({"email": "not-an-address", "kind": "file", "target": "2026/0101"}, 400, "This is not an e-mail address."),
    ({"email": ADDRESS, "kind": "file", "target": "<script>"}, 400, "This is not a permit file number."),
    ({"email": ADDRESS, "kind": "parcel", "target": "TF-4040/06"}, 404, "No parcel with this reference."),
    ({"email": ADDRESS, "kind": "building", "target": "TF-1001/06"}, 400, "Not a valid choice"),
    ({"email": "", "kind": "parcel", "target": ""}, 400, "Enter your e-mail address."),
])
def test_bad_subscriptions_are_refused_and_nothing_is_kept(app, smtp, data, status, text):
    client = app.test_client()
    response = client.post("/subscribe", data={**data, "csrf_token": csrf(client, "/subscribe")})
    assert response.status_code == status and text in response.get_data(as_text=True)
    assert rows(app) == [] and smtp.wait(1, timeout=0.5) == []


def test_bad_or_forged_links_are_a_clear_400(app, smtp):
    client = app.test_client()
    subscribe(client, ADDRESS, "file", "2026/0101")
    good = link(smtp.wait(1)[0], "confirm")
    forged = good[:-3] + ("AAA" if not good.endswith("AAA") else "BBB")
    for path in (forged, "/subscriptions/confirm/nonsense", "/subscriptions/unsubscribe/nonsense"):
        method = client.post if "unsubscribe" in path else client.get
        response = method(path)
        assert response.status_code == 400 and "This link is not valid." in response.get_data(as_text=True)
    # a confirmation link is not an unsubscribe link (signed for another purpose)
    token = good.rsplit("/", 1)[1]
    assert client.post(f"/subscriptions/unsubscribe/{token}").status_code == 400 and len(rows(app)) == 1
    assert rows(app)[0].confirmed_at is None


def test_subscribing_twice_keeps_one_row_and_says_the_same(app, smtp):
    client = app.test_client()
    first = subscribe(client, ADDRESS, "parcel", "TF-1001/06").get_data(as_text=True)
    second = subscribe(client, ADDRESS.upper().replace("EXAMPLE", "example"), "parcel", "TF-1001/06")
    assert second.status_code == 200 and "Check your inbox" in first and "Check your inbox" in second.get_data(
        as_text=True)
    assert len(rows(app)) in (1, 2)  # the local part's case is kept (RFC 5321): at most one row per address
    assert len(smtp.wait(2)) == 2


def test_the_form_is_rate_limited(tiny, tiny_writable, smtp):
    app = make_app(tiny, tiny_writable, form_rate_limit="2 per hour")
    client = app.test_client()
    answers = [subscribe(client, f"a{i}@example.ma", "file", f"2026/000{i}").status_code for i in range(3)]
    assert answers == [200, 200, 429]
    assert client.get("/subscribe").status_code == 200  # reading the form is not limited
    app.extensions["gisportal"].store.close()


def test_a_mail_server_down_never_loses_the_decision(tiny, tiny_writable, smtp, caplog):
    from support.committees import free_port

    app = make_app(tiny, tiny_writable, notify_sender="smtp", smtp_host="127.0.0.1", smtp_port=free_port(),
                   smtp_timeout_seconds=2)
    caplog.set_level(logging.INFO)
    client, staff = app.test_client(), signed_in(app)
    assert subscribe(client, ADDRESS, "file", "2026/0101").status_code == 200  # the row stays, link can be re-sent
    with app.extensions["gisportal"].agency.write() as conn:
        conn.execute(sa.update(subscriptions).values(confirmed_at=sa.func.now()))
    response = record(staff, new_session(staff, "2026-03-10"), file_number="2026/0101", parcel_ref="TF-1001/06",
                      decision="favourable", **APPLICANT)
    assert response.status_code == 201
    assert "2026/0101" in app.test_client().get("/committees").get_data(as_text=True)
    assert "not sent" in caplog.text and ADDRESS not in caplog.text and "l***@example.ma" in caplog.text
    app.extensions["gisportal"].store.close()


def test_addresses_never_reach_the_logs(app, smtp, caplog):
    caplog.set_level(logging.DEBUG)
    client, staff = app.test_client(), signed_in(app)
    subscribed(app, client, smtp, ADDRESS, "file", "2026/0101")
    record(staff, new_session(staff, "2026-03-10"), file_number="2026/0101", parcel_ref="TF-1001/06",
           decision="favourable", **APPLICANT)
    smtp.wait(2)
    ours = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("gisportal"))
    assert "subscription" in ours and "notification sent to l***@example.ma" in ours
    assert ADDRESS not in ours and "lina.amrani" not in ours


def test_the_verify_page_offers_to_follow_the_parcel(app):
    client = app.test_client()
    pdf = client.get("/api/v1/notes?ref=TF-1003/06&format=pdf&lang=fr")
    assert pdf.status_code == 200
    number = re.search(rb"%NRU-SEAL \{\"n\": ?\"([^\"]+)\"", pdf.data).group(1).decode()
    token = app.extensions["gisportal"].registry.get(number).signature[:16]
    page = client.get(f"/verify/{number}?t={token}").get_data(as_text=True)
    offer = re.search(r'class="gp-subscribe-offer"><a href="([^"]+)"', page)
    assert offer and offer.group(1) == "/subscribe?parcel=TF-1003/06"
    form = client.get(offer.group(1)).get_data(as_text=True)
    assert 'value="TF-1003/06"' in form and re.search(r'value="parcel"[^>]*checked|checked[^>]*value="parcel"', form)


def test_a_failing_publish_listener_never_undoes_the_publication(app, tiny, caplog):
    from support.tiny import _zones

    from gisportal.publishing.publication import PUBLISH_LISTENERS, publish_zones

    def broken(store, previous, version):
        raise RuntimeError("listener bug")

    PUBLISH_LISTENERS.insert(0, broken)
    try:
        store = app.extensions["gisportal"].store
        with app.test_request_context():
            version = publish_zones(store, "tiny-plan", _zones([("A", (0, 0, 300, 100))]),
                                    approval_act="Décret v3", approved=date(2026, 6, 1))
    finally:
        PUBLISH_LISTENERS.remove(broken)
    assert version.version == 3 and max(v.version for v in store.plan_versions()) == 3
    assert "publish listener" in caplog.text


def test_a_publication_from_the_command_line_is_told_too(app, smtp, tiny, tiny_writable, tmp_path, monkeypatch):
    """``gisportal upload`` then ``gisportal publish``: the parcel's subscribers hear of it like from the web."""
    import json

    import geopandas as gpd
    import shapely
    from click.testing import CliRunner
    from support.tiny import X0, Y0

    from gisportal.cli.commands import main

    client = app.test_client()
    subscribed(app, client, smtp, ADDRESS, "parcel", "TF-1001/06")
    before = len(smtp.messages)
    layer = tmp_path / "v3.geojson"
    gpd.GeoDataFrame({"ZONE": ["A", "B", "C"]}, crs="EPSG:26191", geometry=[
        shapely.box(X0, Y0, X0 + 95, Y0 + 100), shapely.box(X0 + 95, Y0, X0 + 200, Y0 + 100),
        shapely.box(X0 + 200, Y0, X0 + 300, Y0 + 100)]).to_crs(4326).to_file(layer, driver="GeoJSON")
    env = {**tiny_writable.env, "GISPORTAL_RULES_FILE": str(tiny.rules_file), "GISPORTAL_NOTIFY_SENDER": "smtp",
           "GISPORTAL_SMTP_HOST": "127.0.0.1", "GISPORTAL_SMTP_PORT": str(smtp.port),
           "GISPORTAL_PUBLIC_URL": "https://portail.example.ma"}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    runner = CliRunner()
    uploaded = runner.invoke(main, ["upload", str(layer), "--plan", "tiny-plan", "--user", "samira",
                                    "--zone-field", "ZONE"])
    assert uploaded.exit_code == 0, uploaded.output
    draft = json.loads(uploaded.output)["draft"]
    published = runner.invoke(main, ["publish", str(draft), "--act", "Décret v3", "--approved", "2026-06-01",
                                     "--user", "samira"])
    assert published.exit_code == 0, published.output
    messages = smtp.wait(before + 1)
    assert [m["To"] for m in messages[before:]] == [ADDRESS]
    text = body(messages[before])
    assert "TF-1001/06" in text and "Décret v3" in text
