"""Moving an instance between backends without loss: plans with their history, parcels, issued notes, and the
agency's own tables (accounts, audit log, drafts, rules versions, citizen services) with their files.

``copy_instance`` replays every plan version in order (approval acts, dates,
publication times, zones and servitudes), then the parcels, the instance
facts and the registry of issued notes, through the ordinary store and
registry APIs. ``copy_agency`` copies every agency table row for row (ids
kept, in one transaction) and the files the rows point to. The target must be empty.
"""

from __future__ import annotations

import hmac
import importlib
import logging
import shutil
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import sqlalchemy as sa

from gisportal.core.agencydb import TABLE_MODULES, AgencyDB, as_utc, load_table_modules, metadata
from gisportal.core.errors import InvalidInput
from gisportal.note.registry import NoteRegistry
from gisportal.services.payments.providers import SECRET_FILE, write_secret_file
from gisportal.storage.base import NewPlanVersion, Store

logger = logging.getLogger(__name__)

_INTERNAL_META = {"generation", "instance", "plans_generation", "parcels_generation", "crs"}


@dataclass(frozen=True)
class TransferReport:
    """What was copied."""

    plan_versions: int
    zones: int
    overlays: int
    parcels: int
    issued_notes: int


def copy_instance(source: Store, target: Store, source_registry: NoteRegistry | None = None,
                  target_registry: NoteRegistry | None = None) -> TransferReport:
    """Copy everything from ``source`` into the empty ``target``."""
    if target.plan_versions() or target.counts().get("parcels"):
        raise InvalidInput("The target already holds data; import into an empty store.")
    if source_registry is not None and target_registry is not None and target_registry.search("", 1):
        raise InvalidInput("The target's registry already holds issued notes; import into an empty instance.")
    plans = {p.id: p for p in source.plans()}
    zones = overlays = 0
    for version in sorted(source.plan_versions(), key=lambda v: (v.plan_id, v.version)):
        plan = plans[version.plan_id]
        zone_frame = source.features("zones", [version.id], None)
        overlay_frame = source.features("overlays", [version.id], None)
        new = NewPlanVersion(plan.name, plan.title_fr, plan.title_ar, version.approval_act, version.approval_date,
                             version.effective_from, version.published_at, version.origin)
        target.publish_plan_version(new, zone_frame.drop(columns=["version_id"], errors="ignore"),
                                    overlay_frame.drop(columns=["version_id"], errors="ignore"))
        zones += len(zone_frame)
        overlays += len(overlay_frame)
    parcels = source.features("parcels", None, None)
    if len(parcels):
        target.put_parcels(parcels)
    facts = {k: v for k, v in source.meta().items() if k not in _INTERNAL_META}
    if facts:
        target.set_meta(facts)
    notes = 0
    if source_registry is not None and target_registry is not None:
        notes = target_registry.copy_from(source_registry)
    report = TransferReport(len(source.plan_versions()), zones, overlays, len(parcels), notes)
    logger.info("instance copied: %s", report)
    return report


#: Entries of a data directory that are not agency files: the store, registry and agency databases (copied
#: through their APIs), the keys and secrets (:func:`carry_keys`: payment secret, the app's secret key) and the
#: tile caches (rebuilt from the store).
_NOT_AGENCY_FILES = {"gisportal.gpkg", "registry.sqlite", "agency.sqlite", "keys", "tiles", "secret_key"}
#: Rows copied per round trip.
_CHUNK = 2000


def agency_tables() -> list[sa.Table]:
    """Every agency table to carry over, parents before children.

    A table made with ``info={"transfer": "skip"}`` holds state each instance keeps for itself (e.g. a cache
    version seeded by the schema) and is left out.
    """
    load_table_modules()
    return [t for t in metadata.sorted_tables if t.info.get("transfer") != "skip"]


def _rows_in(db: AgencyDB) -> dict[str, int]:
    with db.read() as conn:
        inspector = sa.inspect(conn)
        present = set(inspector.get_table_names())
        return {t.name: conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one()
                for t in agency_tables() if t.name in present}


def check_agency_empty(target: AgencyDB) -> None:
    """Refuse a target whose agency tables already hold rows (accounts, audit log, services...)."""
    held = {name: n for name, n in _rows_in(target).items() if n}
    if held:
        listed = ", ".join(f"{name} ({n})" for name, n in sorted(held.items()))
        raise InvalidInput(f"The target's agency tables already hold data: {listed}; import into an empty instance.")


def _moved(value: object, source_dir: str, target_dir: str) -> object:
    """A value as the target stores it: an absolute file path under the source data directory moved under the
    target's; a time read back naive from SQLite (UTC there) made explicit, else PostgreSQL would take it as the
    session's local time."""
    if isinstance(value, str) and value.startswith(source_dir + "/"):
        return target_dir + value[len(source_dir):]
    if isinstance(value, datetime):
        return as_utc(value)
    return value


def copy_agency(source: AgencyDB, target: AgencyDB, source_dir: Path, target_dir: Path) -> int:
    """Copy every agency table (rows and ids) and the agency's files; answer how many rows were copied.

    All rows go in one transaction (nothing half-copied); the files (drafts, attachments, documents...) are
    copied before it and removed again if it fails. Absolute paths stored in rows are moved to the target.
    """
    check_agency_empty(target)
    src, dst = str(Path(source_dir).resolve()), str(Path(target_dir).resolve())
    copied_files: list[Path] = []
    if src != dst and Path(src).is_dir():
        for entry in sorted(Path(src).iterdir()):
            if entry.is_dir() and entry.name not in _NOT_AGENCY_FILES and not (Path(dst) / entry.name).exists():
                shutil.copytree(entry, Path(dst) / entry.name)
                copied_files.append(Path(dst) / entry.name)
    total = 0
    try:
        present = set(_rows_in(source))
        with source.read() as reader, target.write() as writer:
            for table in agency_tables():
                if table.name not in present:
                    continue
                result = reader.execute(sa.select(table).order_by(*table.primary_key.columns))
                while chunk := result.fetchmany(_CHUNK):
                    rows = [{k: _moved(v, src, dst) for k, v in row._mapping.items()} for row in chunk]
                    writer.execute(sa.insert(table), rows)
                    total += len(rows)
                if target.dialect == "postgresql" and "id" in table.c:
                    writer.execute(sa.text(
                        f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                        f"GREATEST((SELECT max(id) FROM {table.name}), 1)) "
                        f"WHERE pg_get_serial_sequence('{table.name}', 'id') IS NOT NULL"))
    except Exception:
        for path in copied_files:
            shutil.rmtree(path, ignore_errors=True)
        raise
    _after_transfer(target)
    logger.info("agency tables copied: %d rows, %d file areas", total, len(copied_files))
    return total


def _after_transfer(target: AgencyDB) -> None:
    """Let each service rebuild what it derives from its rows (search indexes...): ``after_transfer(db)``."""

    for name in TABLE_MODULES:
        hook = getattr(importlib.import_module(name), "after_transfer", None)
        if hook is not None:
            hook(target)


#: The generated secrets a data directory holds besides the keys: file name, the setting that takes its place
#: when set, and what is refused after a move if the secret is not the same.
SECRET_FILES = (
    (SECRET_FILE, "GISPORTAL_PAYMENT_HMAC_SECRET", "callbacks of payments started before the move"),
    ("secret_key", "GISPORTAL_SECRET_KEY",
     "links sent before the move (subscription confirmations, unsubscriptions) and everyone's sign-in"),
)


def carry_keys(source_dir: Path, target_dir: Path, target_hmac_secret: str | None = None,
               target_secret_key: str | None = None) -> None:
    """Carry the note-signing keys and the generated secrets (payment HMAC secret, the app's secret key) from
    one data directory to another.

    Notes and receipts signed before the move verify after it (the keys), payments started before it are
    confirmed after it (the provider signs their callbacks with the secret the portal signed the request
    with), and links sent by e-mail before it (signed with the app's secret key) still work. Each secret is
    copied as a file of its own, readable by its owner only, and never shown. A secret set in the target's
    settings (``target_hmac_secret``: ``GISPORTAL_PAYMENT_HMAC_SECRET``; ``target_secret_key``:
    ``GISPORTAL_SECRET_KEY``) wins: that file is not carried then. Call it once the rows are copied: a refused
    import leaves the target as it was.
    """
    source_dir, target_dir = Path(source_dir), Path(target_dir)
    if source_dir.resolve() == target_dir.resolve():
        return
    if (source_dir / "keys").exists():
        shutil.copytree(source_dir / "keys", target_dir / "keys", dirs_exist_ok=True)
    configured = {SECRET_FILE: target_hmac_secret, "secret_key": target_secret_key}
    for name, setting, refused in SECRET_FILES:
        secret_file = source_dir / name
        secret = secret_file.read_text(encoding="utf-8").strip() if secret_file.is_file() else ""
        if not secret:
            continue
        if wanted := configured[name]:
            if not hmac.compare_digest(secret.encode(), wanted.encode()):
                logger.warning("%s not carried: %s is set on the target and differs from the source's; %s will "
                               "be refused", name, setting, refused)
            continue
        write_secret_file(target_dir / name, secret)
        logger.info("%s carried", name)
