"""Test support taken from ``test_complaints.py``: shared by several test modules."""

from __future__ import annotations

import re
import socket
import time
from email import message_from_bytes

import pytest
from pyproj import Transformer

from support.instances import new_instance
from support.tiny import _create_app

CITIZEN = {"contact_name": "Fatima Zahra Benali", "contact_email": "fatima.benali@example.ma",
           "contact_phone": "+212 6 61 23 45 67", "contact_cin": "BK 987654"}


DESCRIPTION = "Une construction sans autorisation au fond de la parcelle, travaux la nuit."


PLANNER, PASSWORD = "amina.planner", "un-mot-de-passe-long-2026"


class Mailbox:
    """What the local SMTP server received."""

    def __init__(self) -> None:
        self.messages: list = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's hook name)
        self.messages.append(message_from_bytes(envelope.content))
        return "250 OK"

    def wait(self, count: int, timeout: float = 10.0) -> list:
        deadline = time.monotonic() + timeout
        while len(self.messages) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.messages


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def smtp(backend):
    """A real SMTP server on 127.0.0.1 (aiosmtpd), one per backend."""
    from aiosmtpd.controller import Controller

    box = Mailbox()
    box.port = _free_port()
    controller = Controller(box, hostname="127.0.0.1", port=box.port)
    controller.start()
    yield box
    controller.stop()


@pytest.fixture(scope="module")
def site(request, backend, tiny, tiny_template, smtp, tmp_path_factory):
    """A writable copy of the tiny territory, its app (SMTP notifications) and a planner account."""
    from gisportal.core.accounts import Accounts

    instance = new_instance(request, backend, tmp_path_factory.mktemp(f"complaints-{backend}"), template=tiny_template)
    app = _create_app({**instance.settings, "rules_file": tiny.rules_file, "TESTING": True,
                       "notify_sender": "smtp", "smtp_host": "127.0.0.1", "smtp_port": smtp.port,
                       "form_rate_limit": "1000 per hour",
                       "public_url": "https://portail.example.ma",
                       "complaint_attachment_max_bytes": 4096, "complaint_attachments_max_total_bytes": 10000})
    Accounts(app.extensions["gisportal"].agency).create(PLANNER, PASSWORD, "planner", display_name="Amina")
    return app


@pytest.fixture
def client(site):
    return site.test_client()


def tiny_lonlat(x: float, y: float) -> tuple[float, float]:
    """WGS84 (lon, lat) of a point of the tiny territory (relative coordinates)."""
    from support.tiny import X0, Y0

    return Transformer.from_crs("EPSG:26191", "EPSG:4326", always_xy=True).transform(X0 + x, Y0 + y)


def filing(**overrides) -> dict:
    lon, lat = tiny_lonlat(100, 20)  # inside TF-1001/06 (box 90..110, 10..30)
    data = {"category": "illegal_construction", "description": DESCRIPTION, "lon": f"{lon:.7f}",
            "lat": f"{lat:.7f}", **CITIZEN}
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def csrf(client, path: str) -> str:
    page = client.get(path)
    assert page.status_code == 200, page.status_code
    return re.search(r'name="csrf_token"[^>]* value="([^"]+)"', page.get_data(as_text=True)).group(1)


def sign_in(client) -> None:
    response = client.post("/login", data={"username": PLANNER, "password": PASSWORD,
                                           "csrf_token": csrf(client, "/login")})
    assert response.status_code == 303
