"""The validation every import runs before it publishes: the CLI's ``import-plan``/``import-overlays`` check a
file exactly as an upload (web or API) is checked (:func:`gisportal.publishing.validation.validate_upload`, with the
instance's rules catalogue, CRS and territory), and stop on a blocking finding.

An operator may publish a layer with blocking findings anyway, explicitly (``--accept-blocking``): the version
then records it in its origin (``…;blocking-accepted=zone_overlap:11,…``), which ``/admin/versions`` and the
API's ``/plans`` show.
"""

from __future__ import annotations

import getpass
import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gisportal.core.audit import AuditLog
from gisportal.core.errors import GisportalError
from gisportal.publishing.uploads import LOCAL_FILE_LIMITS, open_upload
from gisportal.publishing.validation import BLOCKING, ValidationReport, instance_context, validate_upload
from gisportal.storage import open_agency
from gisportal.storage.base import Store

logger = logging.getLogger(__name__)

#: What an origin says when blocking findings were accepted (followed by ``code:count,…``).
ACCEPTED_MARK = "blocking-accepted="


class ImportBlocked(GisportalError):
    """A file an import refuses: its validation found problems that block publication."""

    status, code = 422, "import_blocked"


@dataclass(frozen=True)
class ImportCheck:
    """A file's validation before an import, and the origin the published version records."""

    report: ValidationReport
    origin: str
    accepted: dict[str, int]


def blocking_counts(report: ValidationReport) -> dict[str, int]:
    """Blocking findings per code."""
    return {code: n for (code, severity), n in sorted(report.kept.items()) if severity == BLOCKING and n}


def check_import(path: Path, *, command: str, kind: str, settings: Any, store: Store, layer: str | None = None,
                 zone_field: str | None = None, crs: str | None = None, encoding: str | None = None,
                 accept_blocking: bool = False) -> ImportCheck:
    """Validate ``path`` as an upload of ``kind`` would be; raise :class:`ImportBlocked` (with the report) on a
    blocking finding unless ``accept_blocking``. Returns the report and the origin to record with the version."""
    context = instance_context(settings, store)
    with open_upload(Path(path), limits=LOCAL_FILE_LIMITS) as intake:
        report = validate_upload(intake, layer=layer, zone_field=zone_field, crs=crs, encoding=encoding, kind=kind,
                                 **context)
    accepted = blocking_counts(report) if report.blocking else {}
    if accepted and not accept_blocking:
        listed = ", ".join(f"{n} {code}" for code, n in accepted.items())
        raise ImportBlocked(f"{report.source}: {listed} block publication; nothing was imported. Fix the file "
                            "(see the report), or publish it as it is with --accept-blocking (recorded with the "
                            "version).", report=report.to_dict(), blocking=accepted)
    stamp = datetime.now(UTC).isoformat(timespec="seconds")
    origin = f"cli:{command}:{Path(path).name}:{stamp}:{uuid.uuid4().hex[:8]}"
    if accepted:
        origin += ";" + ACCEPTED_MARK + ",".join(f"{code}:{n}" for code, n in accepted.items())
        logger.warning("%s: publishing with blocking findings accepted by the operator: %s", report.source, accepted)
    return ImportCheck(report, origin, accepted)


def record_acceptance(settings: Any, store: Store, check: ImportCheck, *, command: str, plan: str,
                      version: int) -> None:
    """Write the operator's acceptance of blocking findings to the audit log (``import_blocking_accepted``), with
    the file, the plan version it went into, the findings accepted and the origin; nothing when none were."""
    if not check.accepted:
        return
    db = open_agency(settings, store)
    try:
        AuditLog(db).record(f"cli:{getpass.getuser()}", "import_blocking_accepted", f"plan:{plan}",
                            {"command": command, "file": check.report.source, "version": version,
                             "blocking": check.accepted, "origin": check.origin})
    finally:
        db.close()
