"""Signing keys and seals: notes anyone can check offline.

The instance holds Ed25519 key pairs under ``<data_dir>/keys/`` (generated on
first use, never in the repository). The newest key signs; older public keys
stay so that notes signed before a rotation remain verifiable. Public keys are
published by the portal at ``/keys``.

A PDF is sealed by appending one PDF comment line after its end::

    %NRU-SEAL {"n": "NRU-2026-000123", "k": "<key id>", "s": "<base64url signature>"}

The signature covers every byte before that line and the number, so changing
any byte of the document, the number or the signature makes verification fail. PDF readers
ignore comments after ``%%EOF``; anyone can verify with the public key and
any Ed25519 tool.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from gisportal.core.errors import GisportalError, told

logger = logging.getLogger(__name__)

SEAL_MARK = b"\n%NRU-SEAL "


class NotAuthentic(GisportalError):
    """A document or number that this portal did not issue, or that was changed."""

    status, code = 422, "not_authentic"


class UnknownNumber(NotAuthentic):
    """No document with this number *and* this QR token: an unknown number and a wrong token answer alike (404),
    so numbers cannot be probed without the token."""

    status, code = 404, "not_found"


def b64(data: bytes) -> str:
    """URL-safe base64 without padding."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(text: str) -> bytes:
    """Inverse of :func:`b64`; :class:`NotAuthentic` on garbage."""
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (ValueError, TypeError):
        raise NotAuthentic(told("The signature is not readable.")) from None


def key_id(public: Ed25519PublicKey) -> str:
    """Short stable id of a public key: 16 hex digits of its SHA-256."""
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


@dataclass(frozen=True)
class Seal:
    """What a sealed document says about itself."""

    number: str
    key_id: str
    signature: str


class KeyRing:
    """The instance's signing keys: the newest signs, all verify."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self._public: dict[str, Ed25519PublicKey] = {}
        self._current: tuple[str, Ed25519PrivateKey] | None = None
        self._lock = threading.RLock()  # threads signing at once make one key on first use, not one each
        self._load()

    def _load(self) -> None:
        found: dict[str, Ed25519PublicKey] = {}  # swapped in whole: a thread verifying meanwhile sees every key
        newest: tuple[float, str, Path] | None = None
        for path in sorted(self.directory.glob("*.pub.pem")):
            public = serialization.load_pem_public_key(path.read_bytes())
            if isinstance(public, Ed25519PublicKey):
                kid = key_id(public)
                found[kid] = public
                private = path.with_name(path.name.replace(".pub.pem", ".key.pem"))
                if private.exists() and (newest is None or path.stat().st_mtime_ns > newest[0]):
                    newest = (path.stat().st_mtime_ns, kid, private)
        self._public = found
        if newest is not None:
            key = serialization.load_pem_private_key(newest[2].read_bytes(), password=None)
            assert isinstance(key, Ed25519PrivateKey)
            self._current = (newest[1], key)

    def rotate(self) -> str:
        """Generate a new signing key; old public keys stay for verification. Returns its id.

        The private key is written first, the public key last and atomically (renamed into place): a reader
        (``_load``, in this or another process) sees a key pair whole or not at all."""
        with self._lock:
            self.directory.mkdir(parents=True, exist_ok=True)
            private = Ed25519PrivateKey.generate()
            kid = key_id(private.public_key())
            key_path = self.directory / f"{kid}.key.pem"
            fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                   serialization.NoEncryption()))
            partial = self.directory / f".{kid}.pub.pem.{os.getpid()}.partial"
            partial.write_bytes(private.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
            os.replace(partial, self.directory / f"{kid}.pub.pem")
            logger.info("new signing key %s", kid)
            self._load()
            self._current = (kid, private)
            return kid

    def current(self) -> tuple[str, Ed25519PrivateKey]:
        """The signing key, generated on first use (once, whatever the number of threads asking)."""
        if self._current is None:
            with self._lock:
                if self._current is None:
                    self.rotate()
        assert self._current is not None
        return self._current

    def public_keys(self) -> dict[str, str]:
        """Key id -> PEM of every public key (published at ``/keys``)."""
        self.current()
        return {kid: key.public_bytes(serialization.Encoding.PEM,
                                      serialization.PublicFormat.SubjectPublicKeyInfo).decode()
                for kid, key in sorted(self._public.items())}

    def sign(self, data: bytes) -> tuple[str, str]:
        """``(key id, base64url signature)`` of ``data``."""
        kid, key = self.current()
        return kid, b64(key.sign(data))

    def verify(self, data: bytes, kid: str, signature: str) -> None:
        """Raise :class:`NotAuthentic` unless ``signature`` is a valid signature of ``data`` by key ``kid``."""
        public = self._public.get(kid)
        if public is None:
            self._load()  # a key rotated by another process
            public = self._public.get(kid)
        if public is None:
            raise NotAuthentic(told("The document was signed with a key this portal does not know."), key_id=kid)
        try:
            public.verify(unb64(signature), data)
        except InvalidSignature:
            raise NotAuthentic(told("The signature does not match the document: it was changed after issue.")) from None


def canonical_json(data: object) -> bytes:
    """The bytes that are signed for a JSON document: sorted keys, no spaces, UTF-8."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _sealed_bytes(body: bytes, number: str) -> bytes:
    """What a seal signs: the document and the number it claims."""
    return body + SEAL_MARK + number.encode()


def seal_pdf(pdf: bytes, number: str, keyring: KeyRing) -> bytes:
    """Append the seal line to ``pdf``."""
    kid, signature = keyring.sign(_sealed_bytes(pdf, number))
    line = json.dumps({"n": number, "k": kid, "s": signature}, separators=(",", ":")).encode()
    return pdf + SEAL_MARK + line + b"\n"


def read_seal(document: bytes) -> tuple[bytes, Seal]:
    """Split a sealed PDF into the signed bytes and its seal; :class:`NotAuthentic` if there is none."""
    if not document.startswith(b"%PDF-"):
        raise NotAuthentic(told("This file is not a PDF."))
    at = document.rfind(SEAL_MARK)
    if at < 0:
        raise NotAuthentic(told("This PDF carries no seal of this portal."))
    try:
        raw = json.loads(document[at + len(SEAL_MARK):].strip())
        seal = Seal(str(raw["n"]), str(raw["k"]), str(raw["s"]))
    except (ValueError, KeyError, TypeError):
        raise NotAuthentic(told("The seal of this PDF is damaged.")) from None
    return document[:at], seal


def verify_pdf(document: bytes, keyring: KeyRing) -> Seal:
    """Check a sealed PDF offline; returns its seal (number, key) or raises :class:`NotAuthentic`."""
    body, seal = read_seal(document)
    keyring.verify(_sealed_bytes(body, seal.number), seal.key_id, seal.signature)
    return seal
