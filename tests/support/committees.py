"""Helpers of the committees and subscriptions tests: a real local SMTP server (aiosmtpd), the portal over a
writable copy of the tiny territory, a signed-in staff client, CSRF tokens, forms posted as a person would.
"""

from __future__ import annotations

import re
import socket
import time
from email import message_from_bytes, policy
from email.message import Message

from flask.testing import FlaskClient

STAFF, PASSWORD = "samira.staff", "un-mot-de-passe-long-2026"
#: The applicant of the tests: personal data that must never show outside staff pages and the database.
APPLICANT = {"applicant_name": "Khadija Berrada", "applicant_cin": "BK765432", "applicant_phone": "0661987654"}


class Mailbox:
    """What the local SMTP server received (aiosmtpd handler)."""

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.port = 0

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's hook name)
        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))  # headers decoded
        return "250 OK"

    def wait(self, count: int, timeout: float = 10.0) -> list[Message]:
        deadline = time.monotonic() + timeout
        while len(self.messages) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.messages

    def to(self, address: str) -> list[Message]:
        return [m for m in self.messages if m["To"] == address]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_smtp():
    """A started aiosmtpd controller and its mailbox."""
    from aiosmtpd.controller import Controller

    box = Mailbox()
    box.port = free_port()
    controller = Controller(box, hostname="127.0.0.1", port=box.port)
    controller.start()
    return controller, box


def make_app(tiny, instance, **settings):
    """The portal over ``instance`` (a writable tiny territory) with a staff account."""
    from gisportal.core.accounts import Accounts
    from support.tiny import _create_app

    app = _create_app({**instance.settings, "rules_file": tiny.rules_file, "TESTING": True,
                       "default_language": "en", "form_rate_limit": "1000 per hour",
                       "lookup_rate_limit": "1000 per hour", **settings})
    Accounts(app.extensions["gisportal"].agency).create(STAFF, PASSWORD, "planner", display_name="Samira")
    return app


def csrf(client: FlaskClient, path: str) -> str:
    page = client.get(path)
    assert page.status_code == 200, (path, page.status_code)
    found = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.get_data(as_text=True))
    assert found, f"no CSRF token on {path}"
    return found.group(1)


def signed_in(app) -> FlaskClient:
    client = app.test_client()
    response = client.post("/login", data={"username": STAFF, "password": PASSWORD,
                                           "csrf_token": csrf(client, "/login")})
    assert response.status_code in (302, 303), response.status_code
    return client


def new_session(client: FlaskClient, held_on: str, kind: str = "small_projects") -> int:
    response = client.post("/admin/committees", data={"held_on": held_on, "kind": kind, "title": "",
                                                      "csrf_token": csrf(client, "/admin/committees")})
    assert response.status_code == 303, response.get_data(as_text=True)[:3000]
    return int(response.headers["Location"].rstrip("/").rsplit("/", 1)[1])


def record(client: FlaskClient, session_id: int, **fields):
    """Post the decision form; answers the response."""
    path = f"/admin/committees/sessions/{session_id}"
    data = {"file_number": "", "parcel_ref": "", "project_type": "housing", "decision": "favourable",
            "conditions": "", "applicant_reference": "", "applicant_name": "", "applicant_cin": "",
            "applicant_phone": "", **fields, "csrf_token": csrf(client, path)}
    return client.post(path, data=data)


def personal_code(html: str, number: str) -> str:
    found = re.search(rf'<td dir="ltr">{re.escape(number)}</td><td dir="ltr" class="gp-code">([A-Z0-9-]+)</td>', html)
    assert found, "no personal code shown"
    return found.group(1)
