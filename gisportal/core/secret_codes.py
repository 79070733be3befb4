"""Secret codes given to people (a complaint's tracking code, a permit file's personal code): one scheme.

A code is drawn from an alphabet people read aloud and type back without doubt (no 0/O, 1/I) and shown in
groups (``ABCD-EFGH-JKLM``); typed back in any case, with spaces or dashes; stored only as a salted scrypt hash
(werkzeug's ``generate_password_hash``), checked in constant time, an unknown record checked against a dummy
hash so that it costs the same. Personal codes of permit files hashed before this scheme (``salt$sha256``) are
still recognised.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from functools import cache

from werkzeug.security import check_password_hash, generate_password_hash

#: No 0/O, 1/I.
ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
#: werkzeug's scrypt, as for passwords (codes are random, 50 bits and more; the cost guards a stolen database).
METHOD = "scrypt:16384:8:1"


def new_code(length: int, group: int) -> str:
    """A new code of ``length`` characters (5 bits each) shown in groups of ``group``, e.g. ``ABCDE-FGHJK``."""
    raw = "".join(secrets.choice(ALPHABET) for _ in range(length))
    return "-".join(raw[i:i + group] for i in range(0, length, group))


def normalize_code(code: str | None) -> str:
    """A code as typed (any case, spaces, dashes) in its canonical letters."""
    return re.sub(r"[^0-9A-Z]", "", str(code or "").upper())[:64]


def hash_code(code: str) -> str:
    """What is stored of a code: its salted scrypt hash."""
    return generate_password_hash(normalize_code(code), method=METHOD)


@cache
def _dummy_hash() -> str:
    return generate_password_hash("gisportal-dummy-code", method=METHOD)


def _legacy_matches(code: str, stored: str) -> bool:
    """A personal code hashed as ``salt$sha256(salt + code)`` (permit files recorded before this scheme)."""
    salt, _, digest = stored.partition("$")
    candidate = hashlib.sha256((salt + normalize_code(code)).encode()).hexdigest()
    return hmac.compare_digest(candidate, digest)


def code_matches(code: str | None, stored: str | None) -> bool:
    """Whether ``code`` is the one hashed in ``stored``; ``stored`` ``None`` (no such record) never matches, after
    the same work."""
    if stored is None:
        check_password_hash(_dummy_hash(), normalize_code(code))
        return False
    if ":" not in stored.partition("$")[0]:  # no method in front: the former salted SHA-256
        return _legacy_matches(code or "", stored)
    return check_password_hash(stored, normalize_code(code))
