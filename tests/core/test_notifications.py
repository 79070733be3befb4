"""The notification senders: e-mail through a real local SMTP server (aiosmtpd), and the log sender."""

from __future__ import annotations

import logging
import socket
from email import message_from_bytes, policy

import pytest
from aiosmtpd.controller import Controller

from gisportal.core.notifications import LogSender, Notification, SmtpSender, mask_address, open_sender
from gisportal.core.settings import load_settings


class _Inbox:
    """Keeps the raw bytes of every message, as they came over the wire."""

    def __init__(self) -> None:
        self.received: list[bytes] = []

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: ANN001, N802 - aiosmtpd's hook name
        self.received.append(envelope.original_content or envelope.content)
        return "250 Message accepted for delivery"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def inbox():
    handler = _Inbox()
    controller = Controller(handler, hostname="127.0.0.1", port=_free_port())
    controller.start()
    yield controller, handler
    controller.stop()


UNSUBSCRIBE = "<http://127.0.0.1:5000/subscribe/unsubscribe/" + "t" * 150 + ">"


def test_smtp_sender_delivers_text_html_and_long_headers_whole(inbox):
    controller, handler = inbox
    sender = open_sender(load_settings({"notify_sender": "smtp", "smtp_host": "127.0.0.1",
                                        "smtp_port": controller.port, "mail_from": "nru@agence.ma"}))
    assert isinstance(sender, SmtpSender)
    sent = sender.send(Notification("amina@example.ma", "Décision sur votre dossier", "Favorable.",
                                    html="<p>Favorable.</p>", topic="file:F-1",
                                    headers={"List-Unsubscribe": UNSUBSCRIBE}))
    assert sent is True and len(handler.received) == 1
    mail = message_from_bytes(handler.received[0], policy=policy.default)
    assert mail["To"] == "amina@example.ma" and mail["From"] == "nru@agence.ma"
    assert mail["Subject"] == "Décision sur votre dossier"
    assert mail["List-Unsubscribe"] == UNSUBSCRIBE  # not folded nor encoded: one-click unsubscribe works
    assert b"List-Unsubscribe: " + UNSUBSCRIBE.encode() + b"\r\n" in handler.received[0]
    assert mail.get_body(("plain",)).get_content().strip() == "Favorable."
    assert mail.get_body(("html",)).get_content().strip() == "<p>Favorable.</p>"


def test_smtp_sender_down_answers_false_and_logs_no_address(caplog):
    sender = SmtpSender("127.0.0.1", _free_port(), "nru@agence.ma", timeout=2)
    with caplog.at_level(logging.INFO, logger="gisportal.core.notifications"):
        assert sender.send(Notification("amina.benali@example.ma", "Sujet", "Texte", topic="t")) is False
    assert "amina.benali" not in caplog.text and "a***@example.ma" in caplog.text


def test_log_sender_keeps_messages_and_masks_the_recipient(caplog):
    sender = open_sender(load_settings({}))
    assert isinstance(sender, LogSender)
    with caplog.at_level(logging.INFO, logger="gisportal.core.notifications"):
        assert sender.send(Notification("omar@example.ma", "Sujet", "Texte", topic="complaint:RC-1"))
    assert sender.sent[0].to == "omar@example.ma"
    assert "omar@" not in caplog.text and "o***@example.ma" in caplog.text and "complaint:RC-1" in caplog.text
    assert mask_address("no-at-sign") == "***"


def test_unknown_sender_is_a_clear_error():
    from gisportal.core.errors import InvalidInput

    with pytest.raises(InvalidInput, match="use log or smtp"):
        open_sender(load_settings({"notify_sender": "pigeon"}))
