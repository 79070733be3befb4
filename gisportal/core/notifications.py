"""Notifications to citizens (status changes, decisions, plan changes), through a pluggable sender.

A :class:`Notification` is built by the domain (complaints, committees, subscriptions) and handed to the
instance's :class:`Sender`, chosen by name in the settings (``GISPORTAL_NOTIFY_SENDER``):

* ``log`` (default): one log line per message, naming its subject and a masked recipient only, so that
  personal data never reaches the logs;
* ``smtp``: an e-mail through ``GISPORTAL_SMTP_HOST``/``PORT`` (optional STARTTLS and login).

A failure to send is logged and reported (``False``), never raised into the citizen's request: the change
that caused the message is already stored and must not be lost because a mail server is down.
"""

from __future__ import annotations

import email.policy
import logging
import re
import smtplib
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import TYPE_CHECKING

from gisportal.core.errors import InvalidInput

if TYPE_CHECKING:
    from gisportal.core.settings import Settings

logger = logging.getLogger(__name__)
#: Web links in a message's text (what the log sender shows of it: no personal data, the links to act on).
_LINK = re.compile(r"https?://[^\s<>\"']+")


@dataclass(frozen=True)
class Notification:
    """One message to one recipient: plain text, optionally with an HTML alternative."""

    to: str
    subject: str
    text: str
    html: str | None = None
    #: What the message is about, for logs and tests (e.g. ``complaint:RC-2026-000012``); never personal data.
    topic: str = ""
    headers: dict[str, str] = field(default_factory=dict)


def mask_address(address: str) -> str:
    """``amina.b@example.ma`` -> ``a***@example.ma`` (what logs may show of a recipient)."""
    local, _, domain = address.partition("@")
    return f"{local[:1]}***@{domain}" if domain else "***"


class Sender:
    """Base class of notification senders; :meth:`send` answers whether the message left."""

    name = "base"

    def send(self, message: Notification) -> bool:
        """Deliver ``message``; never raises for a delivery failure (logs it and answers ``False``)."""
        raise NotImplementedError


class LogSender(Sender):
    """Writes one line per message to the log (subject, topic and a masked recipient)."""

    name = "log"

    def __init__(self) -> None:
        self.sent: list[Notification] = []  # kept in memory for the process (inspection, tests)

    def send(self, message: Notification) -> bool:
        """Log the message's subject, topic and links (a confirmation link, say) at the WARNING level, so that a
        fresh instance, whose server logs warnings only, still shows what it would have sent."""
        self.sent.append(message)
        links = " ".join(dict.fromkeys(_LINK.findall(message.text)))
        logger.warning("notification not e-mailed (GISPORTAL_NOTIFY_SENDER=log) to %s [%s]: %s%s",
                       mask_address(message.to), message.topic, message.subject, f" — links: {links}" if links else "")
        return True


class SmtpSender(Sender):
    """Sends e-mail through an SMTP server."""

    name = "smtp"

    def __init__(self, host: str, port: int, sender: str, user: str | None = None, password: str | None = None,
                 starttls: bool = False, timeout: float = 10.0) -> None:
        self.host, self.port, self.sender = host, port, sender
        self.user, self.password, self.starttls, self.timeout = user, password, starttls, timeout

    def build(self, message: Notification) -> EmailMessage:
        """The e-mail for ``message`` (text, and HTML alternative when given)."""
        # Lines up to SMTP's 998 characters: long headers (List-Unsubscribe links) stay whole and unencoded,
        # as one-click unsubscribe needs (the default policy folds them at 78 and may RFC 2047-encode them).
        mail = EmailMessage(policy=email.policy.SMTP.clone(max_line_length=998))
        mail["From"] = self.sender
        mail["To"] = message.to
        mail["Subject"] = message.subject
        mail["Date"] = formatdate(localtime=False)
        mail["Message-ID"] = make_msgid(domain=self.sender.partition("@")[2] or None)
        for name, value in message.headers.items():
            mail[name] = value
        mail.set_content(message.text)
        if message.html:
            mail.add_alternative(message.html, subtype="html")
        return mail

    def send(self, message: Notification) -> bool:
        """Send over SMTP; a refused or unreachable server is logged (masked) and answered ``False``."""
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
                if self.starttls:
                    smtp.starttls()
                if self.user:
                    smtp.login(self.user, self.password or "")
                smtp.send_message(self.build(message))
        except (OSError, smtplib.SMTPException) as exc:
            logger.warning("notification to %s [%s] not sent: %s", mask_address(message.to), message.topic,
                           type(exc).__name__)
            return False
        logger.info("notification sent to %s [%s]", mask_address(message.to), message.topic)
        return True


def open_sender(settings: Settings) -> Sender:
    """The sender the settings name (``log`` or ``smtp``)."""

    name = (settings.notify_sender or "log").lower()
    if name == "log":
        return LogSender()
    if name == "smtp":
        return SmtpSender(settings.smtp_host, settings.smtp_port, settings.mail_from, settings.smtp_user,
                          settings.smtp_password, settings.smtp_starttls, settings.smtp_timeout_seconds)
    raise InvalidInput(f"Unknown notification sender {name!r}: use log or smtp (GISPORTAL_NOTIFY_SENDER).")
