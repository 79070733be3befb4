"""The audit log: who did what, when, from where. Append-only.

:meth:`AuditLog.record` is the only way in; there is no update nor delete here,
and the database refuses them anyway (see :mod:`gisportal.core.agencydb`). Details
never hold secrets: keys that look like one (password, token, secret...) are
masked before anything is written.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from gisportal.core.agencydb import AgencyDB, as_utc, audit_log, inserted_id, utcnow

logger = logging.getLogger(__name__)

#: Detail keys whose values are never stored (any key containing one of these words).
SECRET_WORDS = ("password", "passwd", "secret", "token", "csrf")
MASK = "***"
MAX_TEXT = 500


@dataclass(frozen=True)
class AuditEntry:
    """One line of the audit log."""

    id: int
    at: datetime
    actor: str | None
    action: str
    target: str | None
    details: dict[str, Any]
    ip: str | None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"id": self.id, "at": self.at.isoformat(), "actor": self.actor, "action": self.action,
                "target": self.target, "details": self.details, "ip": self.ip}


def scrub(details: dict[str, Any] | None) -> dict[str, Any]:
    """``details`` with every secret-looking value masked (recursively) and long texts cut."""
    def clean(value: Any) -> Any:
        if isinstance(value, dict):
            return {str(k): (MASK if any(w in str(k).lower() for w in SECRET_WORDS) else clean(v))
                    for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [clean(v) for v in value]
        if isinstance(value, str) and len(value) > MAX_TEXT:
            return value[:MAX_TEXT] + "…"
        return value

    return clean(dict(details or {}))


def _short(value: str | None) -> str | None:
    return None if value is None else str(value).replace("\x00", "")[:MAX_TEXT]


@dataclass(frozen=True)
class AuditFilter:
    """What to look for: any of actor, action (exact, or a prefix ending in ``.``), a date range."""

    actor: str | None = None
    action: str | None = None
    since: date | None = None
    until: date | None = None

    def where(self) -> list[Any]:
        """SQL conditions for the filter."""
        conditions: list[Any] = []
        if self.actor:
            conditions.append(audit_log.c.actor == _short(self.actor))
        if self.action:
            action = _short(self.action) or ""
            conditions.append(audit_log.c.action.startswith(action, autoescape=True) if action.endswith(".")
                              else audit_log.c.action == action)
        if self.since:
            conditions.append(audit_log.c.at >= datetime.combine(self.since, time(), UTC))
        if self.until:  # the whole day of ``until``
            conditions.append(audit_log.c.at < datetime.combine(self.until + timedelta(days=1), time(),
                                                                UTC))
        return conditions


class AuditLog:
    """Recording and reading the audit log of the agency tables."""

    def __init__(self, db: AgencyDB) -> None:
        self.db = db

    def record(self, actor: str | None, action: str, target: str | None = None,
               details: dict[str, Any] | None = None, ip: str | None = None,
               conn: Connection | None = None) -> AuditEntry:
        """Append one entry (in ``conn``'s transaction when given, so it lands with the change it records)."""
        row: dict[str, Any] = {"at": utcnow(), "actor": _short(actor), "action": _short(action) or "unknown",
               "target": _short(target), "details": json.dumps(scrub(details), ensure_ascii=False, default=str),
               "ip": _short(ip)}
        if conn is None:
            with self.db.write() as own:
                new_id = inserted_id(own.execute(sa.insert(audit_log).values(**row)))
        else:
            new_id = inserted_id(conn.execute(sa.insert(audit_log).values(**row)))
        logger.info("audit: %s %s %s", row["actor"], row["action"], row["target"] or "")
        return AuditEntry(new_id, row["at"], row["actor"], row["action"], row["target"],
                          json.loads(row["details"]), row["ip"])

    def search(self, where: AuditFilter | None = None, limit: int = 50, offset: int = 0) -> list[AuditEntry]:
        """Entries matching ``where``, newest first."""
        query = (sa.select(audit_log).where(*(where or AuditFilter()).where())
                 .order_by(audit_log.c.at.desc(), audit_log.c.id.desc())
                 .limit(max(1, min(limit, 1000))).offset(max(0, offset)))
        with self.db.read() as conn:
            rows = conn.execute(query).all()
        return [AuditEntry(r.id, as_utc(r.at), r.actor, r.action, r.target, json.loads(r.details or "{}"), r.ip)
                for r in rows]

    def count(self, where: AuditFilter | None = None) -> int:
        """How many entries match ``where``."""
        query = sa.select(sa.func.count()).select_from(audit_log).where(*(where or AuditFilter()).where())
        with self.db.read() as conn:
            return conn.execute(query).scalar_one()

    def actions(self) -> list[str]:
        """The distinct actions recorded so far (for a filter's choices)."""
        with self.db.read() as conn:
            return list(conn.execute(sa.select(audit_log.c.action).distinct().order_by(audit_log.c.action)).scalars())
