"""Payment providers: the interface the portal pays through, and the sandbox that stands in for the bank.

A provider is chosen by name in the settings (``payment_provider``). It
starts a payment (the URL of its hosted payment page), verifies a callback
(signature and fields; :class:`~gisportal.core.errors.CallbackRefused` otherwise)
and reads the return of the person to the portal.

The sandbox behaves like a bank's hosted payment page (served by the same app
under ``/sandbox-pay/``): the portal signs the payment request, the page takes
a test card, then posts a callback signed with HMAC-SHA256 to the portal. The
secret is ``payment_hmac_secret``, or one generated into ``<data_dir>`` on
first use, like the app's secret key.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

from gisportal.core.errors import CallbackRefused, InvalidInput
from gisportal.core.settings import Settings
from gisportal.core.signing import canonical_json

logger = logging.getLogger(__name__)

SECRET_FILE = "payment_hmac_secret"
STATUSES = ("authorised", "declined")
#: Test cards of the sandbox: number -> outcome (any other valid number is authorised).
SANDBOX_CARDS = {"4242424242424242": "authorised", "4000000000000002": "declined"}
REQUEST_FIELDS = ("order", "amount", "currency", "callback", "return")
CALLBACK_FIELDS = ("order", "transaction", "amount", "currency", "status")


@dataclass(frozen=True)
class CallbackData:
    """What a verified callback says happened."""

    provider: str
    order_reference: str
    transaction_id: str
    amount: int
    currency: str
    status: str


class PaymentProvider(ABC):
    """The interface of a payment provider."""

    name: str = ""

    @abstractmethod
    def start_payment(self, reference: str, amount: int, currency: str, callback_url: str, return_url: str) -> str:
        """The URL to send the person to, to pay ``amount`` centimes for order ``reference``."""

    @abstractmethod
    def verify_callback(self, fields: Mapping[str, str]) -> CallbackData:
        """The callback's content once its signature is checked; :class:`CallbackRefused` otherwise."""

    @abstractmethod
    def parse_return(self, args: Mapping[str, str]) -> str:
        """The order reference the person comes back with."""


class SandboxProvider(PaymentProvider):
    """The test provider: a hosted payment page in this app, HMAC-SHA256-signed requests and callbacks."""

    name = "sandbox"

    def __init__(self, secret: str, gateway_url: str) -> None:
        self._secret = secret.encode()
        self.gateway_url = gateway_url

    def sign(self, fields: Mapping[str, str], names: tuple[str, ...]) -> str:
        """HMAC-SHA256 (hex) of the named fields, as canonical JSON."""
        message = canonical_json({name: str(fields.get(name, "")) for name in names})
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()

    def _check(self, fields: Mapping[str, str], names: tuple[str, ...], error: type[Exception]) -> None:
        missing = [name for name in names + ("signature",) if not str(fields.get(name, "")).strip()]
        if missing:
            raise error(f"Missing field(s): {', '.join(missing)}.")
        if not hmac.compare_digest(self.sign(fields, names), str(fields["signature"])):
            raise error("The signature does not match: the message was forged or changed on the way.")

    def start_payment(self, reference: str, amount: int, currency: str, callback_url: str, return_url: str) -> str:
        """The sandbox page's URL with the signed request."""
        fields = {"order": reference, "amount": str(amount), "currency": currency, "callback": callback_url,
                  "return": return_url}
        return f"{self.gateway_url}?{urlencode({**fields, 'signature': self.sign(fields, REQUEST_FIELDS)})}"

    def verify_request(self, fields: Mapping[str, str]) -> dict[str, str]:
        """The gateway's side: a payment request signed by the portal (400 when it is not)."""
        self._check(fields, REQUEST_FIELDS, InvalidInput)
        return {name: str(fields[name]) for name in REQUEST_FIELDS}

    def card_outcome(self, number: str) -> str:
        """``authorised`` or ``declined`` for a test card (400 when the number is not a card number)."""
        digits = "".join(ch for ch in number if not ch.isspace())
        if not (digits.isdigit() and len(digits) == 16 and _luhn_ok(digits)):
            raise InvalidInput("Enter a 16-digit test card number, e.g. 4242 4242 4242 4242.", parameter="card")
        return SANDBOX_CARDS.get(digits, "authorised")

    def callback_fields(self, request: Mapping[str, str], status: str) -> dict[str, str]:
        """The gateway's side: the signed callback for a verified request."""
        fields = {"order": request["order"], "transaction": f"SBX-{secrets.token_hex(8).upper()}",
                  "amount": request["amount"], "currency": request["currency"], "status": status}
        return {**fields, "signature": self.sign(fields, CALLBACK_FIELDS)}

    def verify_callback(self, fields: Mapping[str, str]) -> CallbackData:
        """Signature first, then the shape of every field."""
        self._check(fields, CALLBACK_FIELDS, CallbackRefused)
        amount, status = str(fields["amount"]), str(fields["status"])
        if not amount.isdigit() or len(amount) > 15:
            raise CallbackRefused("The amount is not a whole number of centimes.")
        if status not in STATUSES:
            raise CallbackRefused(f"Unknown payment status '{status[:20]}'.")
        return CallbackData(self.name, str(fields["order"])[:40], str(fields["transaction"])[:64], int(amount),
                            str(fields["currency"])[:3], status)

    def parse_return(self, args: Mapping[str, str]) -> str:
        """The order reference of the return URL."""
        reference = str(args.get("order", "")).strip()
        if not reference or len(reference) > 40:
            raise InvalidInput("The return from the payment page names no order.", parameter="order")
        return reference


def _luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        value = int(ch) * (2 if i % 2 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0


def hmac_secret(settings: Settings) -> str:
    """The callback secret: from the settings, else ``<data_dir>/payment_hmac_secret`` (made on first use)."""
    if settings.payment_hmac_secret:
        return settings.payment_hmac_secret
    path = settings.data_dir / SECRET_FILE
    if not path.exists():
        write_secret_file(path, secrets.token_hex(32), replace=False)  # two workers starting: the first one wins
    return path.read_text().strip()


def write_secret_file(path: Path, secret: str, replace: bool = True) -> None:
    """Write ``secret`` to ``path``, readable by its owner only (0600 from the start), all at once.

    ``replace=False`` leaves a file already there as it is.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")  # made 0600
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(secret)
            handle.flush()
            os.fsync(handle.fileno())
        if replace:
            os.replace(temporary, path)
        else:
            try:
                os.link(temporary, path)
            except FileExistsError:
                pass
    finally:
        Path(temporary).unlink(missing_ok=True)


PROVIDERS: dict[str, type[PaymentProvider]] = {"sandbox": SandboxProvider}


def open_provider(settings: Settings, gateway_url: str) -> PaymentProvider:
    """The provider named in the settings (``gateway_url``: where the sandbox's page is served)."""
    if settings.payment_provider not in PROVIDERS:
        raise InvalidInput(f"Unknown payment provider '{settings.payment_provider}'. "
                           f"Providers: {', '.join(PROVIDERS)}.")
    return SandboxProvider(hmac_secret(settings), gateway_url)
