"""Agency accounts: planners and administrators who sign in to publish plans.

Passwords are stored only as scrypt hashes (``werkzeug.security``) and never
logged. :meth:`Accounts.authenticate` takes the same time whether the user name
exists or not (an unknown name is checked against a dummy hash) and compares in
constant time. Every change is written with its audit entry in one transaction.
Roles are ordered: a planner can do planner things, an admin can do both.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

import sqlalchemy as sa
from werkzeug.security import check_password_hash, generate_password_hash

from gisportal.core.agencydb import ROLES, AgencyDB, as_utc, users, utcnow
from gisportal.core.audit import AuditLog
from gisportal.core.errors import Conflict, InvalidInput, NotFound

logger = logging.getLogger(__name__)

MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 1024
USERNAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._@-]{1,63}$")
HASH_METHOD = "scrypt"
#: Rank of each role; a user may do what any role of lower or equal rank may do.
ROLE_RANK = {role: rank for rank, role in enumerate(ROLES, start=1)}


@dataclass(frozen=True)
class User:
    """An account as stored, without its password hash."""

    id: int
    username: str
    display_name: str
    role: str
    active: bool
    created_at: datetime
    last_login_at: datetime | None
    failed_logins: int
    session_stamp: str

    def has_role(self, role: str) -> bool:
        """Whether this user's role is ``role`` or above (admin ⊇ planner)."""
        return ROLE_RANK.get(self.role, 0) >= ROLE_RANK[role]

    @property
    def label(self) -> str:
        """The display name, or the user name when there is none."""
        return self.display_name or self.username


def _stamp(password_hash: str, session_version: int) -> str:
    """A short fingerprint of the password hash and session version, kept in the session cookie.

    Changing the password or disabling the user changes it, which ends every session opened before.
    """
    return hashlib.sha256(f"{session_version}:{password_hash}".encode()).hexdigest()[:16]


def _user(row: Any) -> User:
    return User(row.id, row.username, row.display_name or "", row.role, bool(row.active), as_utc(row.created_at),
                as_utc(row.last_login_at), row.failed_logins or 0, _stamp(row.password_hash, row.session_version or 0))


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    """A hash to check unknown user names against, so they cost as much time as known ones."""
    return generate_password_hash("gisportal-dummy-password", method=HASH_METHOD)


def normalize_username(username: str) -> str:
    """User names are compared lower-case, without surrounding spaces."""
    return (username or "").strip().lower()


def check_username(username: str) -> str:
    """The normalized user name, or :class:`InvalidInput` explaining what is allowed."""
    name = normalize_username(username)
    if not USERNAME_PATTERN.match(name):
        raise InvalidInput("A user name has 2 to 64 characters: lower-case letters, digits, '.', '_', '-' or '@', "
                           "starting with a letter or a digit.", field="username")
    return name


def check_password(password: str, username: str | None = None) -> None:
    """Raise :class:`InvalidInput` when ``password`` breaks the policy (at least 10 characters)."""
    if not isinstance(password, str) or len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(f"A password has at least {MIN_PASSWORD_LENGTH} characters.", field="password")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise InvalidInput(f"A password has at most {MAX_PASSWORD_LENGTH} characters.", field="password")
    if username and password.strip().lower() == normalize_username(username):
        raise InvalidInput("The password must not be the user name.", field="password")


def check_role(role: str) -> str:
    """``role`` if it is one of :data:`ROLES`, else :class:`InvalidInput`."""
    if role not in ROLES:
        raise InvalidInput(f"Unknown role '{str(role)[:32]}'. Roles: {', '.join(ROLES)}.", field="role")
    return role


class Accounts:
    """Creating, changing, listing and authenticating users, with an audit entry for each change."""

    def __init__(self, db: AgencyDB, audit: AuditLog | None = None) -> None:
        self.db = db
        self.audit = audit or AuditLog(db)

    # --- reading -------------------------------------------------------------
    def get(self, user_id: int) -> User | None:
        """The user with this id, or ``None``."""
        with self.db.read() as conn:
            row = conn.execute(sa.select(users).where(users.c.id == user_id)).first()
        return _user(row) if row else None

    def find(self, username: str) -> User | None:
        """The user with this name (any case), or ``None``."""
        name = normalize_username(username)
        if "\x00" in name:
            return None
        with self.db.read() as conn:
            row = conn.execute(sa.select(users).where(users.c.username == name)).first()
        return _user(row) if row else None

    def list(self) -> list[User]:
        """Every user, by name."""
        with self.db.read() as conn:
            return [_user(r) for r in conn.execute(sa.select(users).order_by(users.c.username))]

    def count_admins(self) -> int:
        """How many active administrators there are."""
        with self.db.read() as conn:
            return conn.execute(sa.select(sa.func.count()).select_from(users)
                                .where(users.c.role == "admin", users.c.active.is_(True))).scalar_one()

    def require(self, username: str) -> User:
        """The user with this name, or :class:`NotFound`."""
        user = self.find(username)
        if user is None:
            raise NotFound(f"No user '{normalize_username(username)[:64]}'.")
        return user

    # --- changing ------------------------------------------------------------
    def create(self, username: str, password: str, role: str = "planner", display_name: str = "",
               actor: str | None = None, ip: str | None = None) -> User:
        """Add a user (active). Raises :class:`InvalidInput` (policy) or :class:`Conflict` (name taken)."""
        name = check_username(username)
        check_role(role)
        check_password(password, name)
        display = (display_name or "").strip()[:200]
        password_hash = generate_password_hash(password, method=HASH_METHOD)
        try:
            with self.db.write() as conn:
                conn.execute(sa.insert(users).values(username=name, display_name=display, role=role,
                                                     password_hash=password_hash, active=True,
                                                     created_at=utcnow(), failed_logins=0))
                self.audit.record(actor, "user.create", name, {"role": role, "display_name": display}, ip, conn)
        except sa.exc.IntegrityError:
            raise Conflict(f"The user name '{name}' is already taken.", field="username") from None
        logger.info("user %s created (%s)", name, role)
        return self.require(name)

    def set_active(self, username: str, active: bool, actor: str | None = None, ip: str | None = None) -> User:
        """Enable or disable a user; a disabled user cannot sign in and loses open sessions.

        The last active administrator cannot be disabled (nobody could manage accounts any more).
        """
        user = self.require(username)
        if not active and user.active and user.role == "admin" and self.count_admins() <= 1:
            raise Conflict("This is the last active administrator; enable or add another one first.")
        with self.db.write() as conn:
            values: dict[str, Any] = {"active": active, "failed_logins": 0}
            if not active:
                values["session_version"] = users.c.session_version + 1
            conn.execute(sa.update(users).where(users.c.id == user.id).values(**values))
            self.audit.record(actor, "user.enable" if active else "user.disable", user.username, None, ip, conn)
        logger.info("user %s %s", user.username, "enabled" if active else "disabled")
        return self.require(user.username)

    def set_password(self, username: str, new_password: str, actor: str | None = None,
                     ip: str | None = None) -> User:
        """Replace a user's password (an administrator's reset); open sessions of that user end."""
        user = self.require(username)
        check_password(new_password, user.username)
        with self.db.write() as conn:
            conn.execute(sa.update(users).where(users.c.id == user.id).values(
                password_hash=generate_password_hash(new_password, method=HASH_METHOD), failed_logins=0,
                session_version=users.c.session_version + 1))
            self.audit.record(actor, "user.password", user.username, None, ip, conn)
        return self.require(user.username)

    def change_password(self, username: str, old_password: str, new_password: str, ip: str | None = None) -> User:
        """A user changing their own password: the old one must be right."""
        user = self.find(username)
        stored = self._hash(user.id) if user else None
        if user is None or stored is None or not check_password_hash(stored, old_password or ""):
            raise InvalidInput("The current password is not right.", field="old_password")
        if new_password == old_password:
            raise InvalidInput("The new password must differ from the current one.", field="password")
        return self.set_password(user.username, new_password, actor=user.username, ip=ip)

    def end_sessions(self, user_id: int) -> None:
        """Sign-out: every session cookie issued to this user so far stops working (on every device)."""
        with self.db.write() as conn:
            conn.execute(sa.update(users).where(users.c.id == user_id).values(
                session_version=users.c.session_version + 1))

    def _hash(self, user_id: int) -> str | None:
        with self.db.read() as conn:
            return conn.execute(sa.select(users.c.password_hash).where(users.c.id == user_id)).scalar()

    # --- signing in ----------------------------------------------------------
    def authenticate(self, username: str, password: str) -> User | None:
        """The active user with this name and password, else ``None`` (same work either way)."""
        return self.check_login(username, password)[0]

    def check_login(self, username: str, password: str) -> tuple[User | None, str]:
        """``(user, "ok")``, or ``(None, reason)`` with reason ``unknown_user``, ``wrong_password`` or ``disabled``.

        The password is checked (in constant time) even for an unknown name, against a dummy hash. Success
        stamps ``last_login_at`` and resets the failure count; a wrong password increments it. ``disabled``
        is only said of a right password.
        """
        name = normalize_username(username)
        row = None
        if name and "\x00" not in name and len(name) <= 64:
            with self.db.read() as conn:
                row = conn.execute(sa.select(users).where(users.c.username == name)).first()
        candidate = password if isinstance(password, str) and len(password) <= MAX_PASSWORD_LENGTH else ""
        matches = check_password_hash(row.password_hash if row else _dummy_hash(), candidate)
        if row is None:
            return None, "unknown_user"
        with self.db.write() as conn:
            if not matches:
                conn.execute(sa.update(users).where(users.c.id == row.id)
                             .values(failed_logins=users.c.failed_logins + 1))
                return None, "wrong_password"
            if not row.active:
                return None, "disabled"
            conn.execute(sa.update(users).where(users.c.id == row.id).values(last_login_at=utcnow(), failed_logins=0))
        return self.get(row.id), "ok"
