"""Upload drafts: an uploaded layer, validated and mapped, waiting to be published or discarded.

The workflow a planner follows, the same from the web, the API or the CLI:
upload (safe intake) -> validation report -> draft saved with its field
mapping -> impact preview -> publish as a new dated version (or discard).
Nothing reaches the published data before :meth:`Drafts.publish`, which is
one all-or-nothing store write; a draft with a blocking finding cannot be
published. Every step is written to the audit log.
"""

from __future__ import annotations

import json
import logging
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import IO, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import sqlalchemy as sa

from gisportal.core.agencydb import AgencyDB, as_utc, drafts, inserted_id, utcnow
from gisportal.core.audit import AuditLog
from gisportal.core.errors import GisportalError, InvalidInput, NotFound
from gisportal.core.vector_child import ReadLimits
from gisportal.core.vectors import read_vector_layer
from gisportal.publishing.impact import ImpactReport, preview_impact
from gisportal.publishing.imports import ImportReport, clean_polygons
from gisportal.publishing.publication import (
    OVERLAY_COLUMNS,
    ZONE_COLUMNS,
    deferred_announcements,
    publish_overlays,
    publish_zones,
)
from gisportal.publishing.uploads import open_upload
from gisportal.publishing.validation import validate_upload
from gisportal.storage.base import Store
from gisportal.zoning.plans import PlanVersion
from gisportal.zoning.rules import RulesCatalogue

logger = logging.getLogger(__name__)

KINDS = ("zones", "overlays")

#: Field mappings of common published schemas (French CNIG PLU standard).
PRESETS: dict[str, dict[str, str]] = {
    "cnig_zone_urba": {"kind": "zones", "zone_field": "LIBELLE", "label_field": "LIBELONG"},
    "cnig_prescription_surf": {"kind": "overlays", "kind_field": "TYPEPSC", "label_field": "LIBELLE"},
}
#: CNIG prescription type codes -> the portal's servitude kinds.
CNIG_PRESCRIPTIONS = {"01": "green_space", "05": "reserved_facility", "07": "heritage", "15": "road_widening",
                      "16": "non_aedificandi", "19": "flood_risk"}


class DraftBlocked(GisportalError):
    """A draft that cannot be published (blocking findings, or already published)."""

    status, code = 409, "draft_blocked"


@dataclass(frozen=True)
class Draft:
    """One uploaded layer waiting for publication."""

    id: int
    plan_name: str
    kind: str
    status: str
    uploaded_by: str
    created_at: datetime
    file_path: str
    mapping: dict[str, Any]
    report: dict[str, Any]
    published_version_id: int | None
    approval_act: str | None
    effective_from: date | None

    @property
    def blocking(self) -> bool:
        """True when the validation report has a blocking finding (or the layer could not be read)."""
        return bool(self.report.get("blocking")) or not self.file_path

    @property
    def origin(self) -> str:
        """What the version it publishes records as its origin (unique to this draft)."""
        return f"draft:{self.id}:{self.created_at.isoformat()}"


def _draft(row: Any) -> Draft:
    return Draft(row.id, row.plan_name, row.kind, row.status, row.uploaded_by, as_utc(row.created_at),
                 row.file_path, json.loads(row.mapping or "{}"), json.loads(row.report or "{}"),
                 row.published_version_id, row.approval_act, row.effective_from)


def _text(values: Any) -> np.ndarray:
    if isinstance(getattr(values, "dtype", None), pd.StringDtype):
        # The same values as iterating (missing ones as the dtype's NA) in one conversion: iterating an
        # Arrow-backed column boxes value by value (about 2.5 µs each, 0.25 s per 100,000 features).
        values = values.to_numpy(dtype=object, na_value=values.dtype.na_value)
    return np.array(["" if v is None or (isinstance(v, float) and np.isnan(v)) else str(v).strip() for v in values],
                    dtype=object)


class Drafts:
    """Creating, previewing, publishing and discarding drafts."""

    def __init__(self, db: AgencyDB, audit: AuditLog, store: Store, catalogue: RulesCatalogue,
                 directory: Path, min_area_m2: float = 1.0, limits: ReadLimits | None = None) -> None:
        self.db, self.audit, self.store, self.catalogue = db, audit, store, catalogue
        self.directory = Path(directory)
        self.limits = limits  # reading an upload (GISPORTAL_UPLOAD_*); the defaults when None
        self.min_area_m2 = min_area_m2  # overlaps and gaps below it are warnings (GISPORTAL_OVERLAP_TOLERANCE_M2)

    # --- creating --------------------------------------------------------
    def create(self, source: bytes | str | Path | IO[bytes], filename: str | None, *, plan_name: str, kind: str,
               user: str, layer: str | None = None, zone_field: str | None = None, label_field: str | None = None,
               label_ar_field: str | None = None, kind_field: str | None = None, kind_value: str | None = None,
               crs: str | None = None, encoding: str | None = None, ip: str | None = None) -> Draft:
        """Take an upload, validate it, and keep it as a draft (with its report, even when it blocks)."""
        plan_name = (plan_name or "").strip()
        if not plan_name:
            raise InvalidInput("Name the plan this layer belongs to.", parameter="plan_name")
        if kind not in KINDS:
            raise InvalidInput(f"kind must be one of {', '.join(KINDS)}.", parameter="kind")
        if kind == "zones" and not zone_field:
            raise InvalidInput("Choose the field that holds the zone codes.", parameter="zone_field")
        if kind == "overlays" and not (kind_field or kind_value):
            raise InvalidInput("Choose the field holding the servitude kind, or one kind for all features.",
                               parameter="kind_field")
        mapping = {k: v for k, v in dict(layer=layer, zone_field=zone_field, label_field=label_field,
                                         label_ar_field=label_ar_field, kind_field=kind_field, kind_value=kind_value,
                                         crs=crs, encoding=encoding).items() if v}
        with open_upload(source, filename=filename) as intake:
            chosen = intake.layer(layer)
            report = validate_upload(intake, chosen.name if layer else None, zone_field=zone_field, crs=crs,
                                     encoding=encoding, catalogue=self.catalogue, territory=self.store.extent(),
                                     instance_crs=self.store.crs or None, min_area_m2=self.min_area_m2,
                                     kind=kind, limits=self.limits).to_dict()
            file_path = ""
            if not report["blocking"]:
                frame = self._mapped(chosen.path, chosen.layer, report, mapping, kind)
                self.directory.mkdir(parents=True, exist_ok=True)
                target = self.directory / f"draft-{uuid.uuid4().hex}.gpkg"
                pyogrio.write_dataframe(frame, target, layer=kind, driver="GPKG", promote_to_multi=True)
                file_path = str(target)
        with self.db.write() as conn:
            new_id = inserted_id(conn.execute(sa.insert(drafts).values(
                plan_name=plan_name, kind=kind, status="draft", uploaded_by=user, created_at=utcnow(),
                file_path=file_path, mapping=json.dumps(mapping), report=json.dumps(report, default=str)),
            ))
            self.audit.record(user, "upload", f"draft:{new_id}", {"plan": plan_name, "kind": kind,
                              "file": filename, "blocking": report["blocking"], "counts": report["counts"]},
                              ip, conn=conn)
        return self.get(new_id)

    def _mapped(self, path: Path, layer: str | None, report: dict, mapping: dict, kind: str) -> gpd.GeoDataFrame:
        frame = read_vector_layer(path, layer=layer, crs=report.get("crs_used"),
                                  encoding=report.get("encoding_used") if path.suffix.lower() == ".shp" else None,
                                  limits=self.limits)
        if report.get("crs_used"):
            frame = frame.set_crs(report["crs_used"], allow_override=True)
        ids = np.arange(1, len(frame) + 1)
        label = _text(frame[mapping["label_field"]]) if mapping.get("label_field") else np.full(len(frame), "")
        label_ar = _text(frame[mapping["label_ar_field"]]) if mapping.get("label_ar_field") else label
        if kind == "zones":
            codes = _text(frame[mapping["zone_field"]])
            frame = frame.assign(code=codes, label_fr=label, label_ar=label_ar)[codes != ""]
            ids = ids[codes != ""]
            columns = ZONE_COLUMNS
        else:
            kinds = (np.full(len(frame), mapping["kind_value"], dtype=object) if mapping.get("kind_value")
                     else np.array([CNIG_PRESCRIPTIONS.get(k, k) for k in _text(frame[mapping["kind_field"]])],
                                   dtype=object))
            frame = frame.assign(kind=kinds, label_fr=label, label_ar=label_ar, provision_fr="", provision_ar="",
                                 max_height_m=np.nan)[kinds != ""]
            ids = ids[kinds != ""]
            columns = OVERLAY_COLUMNS
        frame = clean_polygons(frame.reset_index(drop=True), ImportReport(path.name), ids)
        if self.store.crs:
            frame = frame.to_crs(self.store.crs)
        return frame[columns]

    # --- reading ---------------------------------------------------------
    def get(self, draft_id: int) -> Draft:
        """The draft, or a 404."""
        with self.db.read() as conn:
            row = conn.execute(sa.select(drafts).where(drafts.c.id == int(draft_id))).first()
        if row is None:
            raise NotFound(f"No draft number {draft_id}.", draft=draft_id)
        return _draft(row)

    def list(self, status: str | None = None, limit: int = 100) -> list[Draft]:
        """Drafts, newest first."""
        query = sa.select(drafts).order_by(drafts.c.id.desc()).limit(limit)
        if status:
            query = query.where(drafts.c.status == status)
        with self.db.read() as conn:
            return [_draft(r) for r in conn.execute(query).all()]

    def last_mapping(self, plan_name: str, kind: str) -> dict[str, Any]:
        """The field mapping used for the plan's last draft of this kind (remembered per plan)."""
        query = (sa.select(drafts.c.mapping).where(drafts.c.plan_name == plan_name, drafts.c.kind == kind)
                 .order_by(drafts.c.id.desc()).limit(1))
        with self.db.read() as conn:
            value = conn.execute(query).scalar()
        return json.loads(value) if value else {}

    def frame(self, draft: Draft) -> gpd.GeoDataFrame:
        """The draft's features (instance CRS)."""
        if not draft.file_path or not Path(draft.file_path).exists():
            raise DraftBlocked("This draft has no usable features: fix the blocking findings and upload again.")
        return pyogrio.read_dataframe(draft.file_path, layer=draft.kind)

    def impact(self, draft: Draft) -> ImpactReport:
        """Which parcels would change if the draft were published."""
        return preview_impact(self.store, draft.plan_name, self.frame(draft), draft.kind)

    # --- deciding --------------------------------------------------------
    def publish(self, draft_id: int, *, approval_act: str, approved: date, effective: date | None, user: str,
                ip: str | None = None) -> PlanVersion:
        """Publish the draft as a new version of its plan; the previous version is kept (superseded)."""
        draft = self.get(draft_id)
        if draft.status != "draft":
            raise DraftBlocked(f"Draft {draft.id} is already {draft.status}.")
        if draft.blocking:
            raise DraftBlocked("This draft has blocking findings; it cannot be published.")
        frame = self.frame(draft)
        publish = publish_zones if draft.kind == "zones" else publish_overlays
        with deferred_announcements(), self.db.write() as conn:
            # One publication of a plan at a time: lock the plan's drafts (SQLite: the file) until this one is
            # recorded; then the draft is checked afresh (never published twice) and published over the plan's
            # latest version as it is now (a concurrent publication is not undone).
            conn.execute(sa.update(drafts).where(drafts.c.plan_name == draft.plan_name)
                         .values(status=drafts.c.status))
            status = conn.execute(sa.select(drafts.c.status).where(drafts.c.id == draft.id)).scalar_one()
            if status != "draft":
                raise DraftBlocked(f"Draft {draft.id} is already {status}.")
            self.store.refresh()
            origin = draft.origin
            version = next((v for v in self.store.plan_versions() if v.origin == origin), None)
            if version is not None:  # published before, its mark lost (a failure between the two commits)
                logger.warning("draft %s was published as %s version %s already: marking it", draft.id,
                               draft.plan_name, version.version)
            else:
                version = publish(self.store, draft.plan_name, frame, approval_act=approval_act, approved=approved,
                                  effective=effective, origin=origin)
            conn.execute(sa.update(drafts).where(drafts.c.id == draft.id).values(
                status="published", published_version_id=version.id, approval_act=approval_act,
                effective_from=version.effective_from))
            self.audit.record(user, "publish", f"plan:{draft.plan_name}",
                              {"draft": draft.id, "version": version.version, "approval_act": approval_act,
                               "effective_from": version.effective_from.isoformat()}, ip, conn=conn)
        return version

    def discard(self, draft_id: int, *, user: str, ip: str | None = None) -> Draft:
        """Set a draft aside (it stays listed, its file is removed)."""
        draft = self.get(draft_id)
        if draft.status != "draft":
            raise DraftBlocked(f"Draft {draft.id} is already {draft.status}.")
        with self.db.write() as conn:
            if not conn.execute(sa.update(drafts).where(drafts.c.id == draft.id, drafts.c.status == "draft")
                                .values(status="discarded")).rowcount:  # published meanwhile
                raise DraftBlocked(f"Draft {draft.id} is no longer a draft.")
            self.audit.record(user, "discard", f"draft:{draft.id}", {"plan": draft.plan_name}, ip, conn=conn)
        if draft.file_path:
            Path(draft.file_path).unlink(missing_ok=True)
        return self.get(draft.id)
