"""The rules catalogue over time: versions edited by planners, each in force from a date.

The file ``data/rules.yaml`` is the starting catalogue. Every edit (web form,
YAML or CSV import) is validated whole and stored as a new version with the
date it takes effect; nothing is overwritten. A note applies the catalogue in
force on its date, like the plan versions, so a note as of a past date states
the rules of that date.
"""

from __future__ import annotations

import csv
import io
import logging
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
import yaml

from gisportal.core.agencydb import AgencyDB, as_utc, inserted_id, rules_catalogues, utcnow
from gisportal.core.csvsafe import plain_cell, safe_cell
from gisportal.core.errors import InvalidInput, RulesCatalogueError
from gisportal.zoning.rules import RulesCatalogue, ZoneRules, parse_catalogue

logger = logging.getLogger(__name__)

#: Columns of the CSV form of the catalogue (one row per zone code).
CSV_COLUMNS = ["code", "label_fr", "label_ar", "label_en", "color", "allowed_uses", "forbidden_uses", "cos", "ces",
               "max_height_m", "max_floors", "front_m", "side_m", "rear_m", "min_lot_area_m2", "min_frontage_m",
               "parking_fr", "parking_ar", "provisions_fr", "provisions_ar"]


@dataclass(frozen=True)
class CatalogueVersion:
    """One stored version of the catalogue."""

    id: int
    effective_from: date
    created_at: datetime
    created_by: str
    source: str
    note: str
    catalogue: RulesCatalogue


def to_document(catalogue: RulesCatalogue) -> dict[str, Any]:
    """The catalogue as the YAML document planners edit."""
    return catalogue.model_dump(mode="json", exclude_none=True, exclude_defaults=False)


def to_yaml(catalogue: RulesCatalogue) -> str:
    """The catalogue as YAML text."""
    return yaml.safe_dump(to_document(catalogue), allow_unicode=True, sort_keys=False)


def _number(value: str, cast: type) -> Any:
    value = (value or "").strip()
    return None if value == "" else cast(value.replace(",", "."))


def to_csv(catalogue: RulesCatalogue) -> str:
    """The zones of the catalogue as CSV (uses as space-separated codes)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, CSV_COLUMNS)
    writer.writeheader()
    for code, r in catalogue.zones.items():
        writer.writerow({key: safe_cell(value) for key, value in {  # labels and texts are planners' input
            "code": code, "label_fr": r.label.fr, "label_ar": r.label.ar, "label_en": r.label.en or "",
            "color": r.color, "allowed_uses": " ".join(r.allowed_uses), "forbidden_uses": " ".join(r.forbidden_uses),
            "cos": r.cos, "ces": r.ces, "max_height_m": r.max_height_m, "max_floors": r.max_floors,
            "front_m": r.setbacks.front_m, "side_m": r.setbacks.side_m, "rear_m": r.setbacks.rear_m,
            "min_lot_area_m2": r.min_lot_area_m2, "min_frontage_m": r.min_frontage_m,
            "parking_fr": r.parking.fr if r.parking else "", "parking_ar": r.parking.ar if r.parking else "",
            "provisions_fr": r.provisions.fr if r.provisions else "",
            "provisions_ar": r.provisions.ar if r.provisions else ""}.items()})
    return out.getvalue()


def zone_from_row(row: dict[str, str]) -> dict[str, Any]:
    """One zone's rules document from a CSV row or a web form (strings in, typed values out; the ``'`` that our
    export puts before a formula-like text is taken away)."""
    row = {key: plain_cell(value) if isinstance(value, str) else value for key, value in row.items()}
    try:
        zone: dict[str, Any] = {
            "label": {"fr": row.get("label_fr", "").strip(), "ar": row.get("label_ar", "").strip(),
                      **({"en": row["label_en"].strip()} if (row.get("label_en") or "").strip() else {})},
            "color": (row.get("color") or "#999999").strip(),
            "allowed_uses": (row.get("allowed_uses") or "").split(),
            "forbidden_uses": (row.get("forbidden_uses") or "").split(),
            "cos": _number(row.get("cos", ""), float), "ces": _number(row.get("ces", ""), float),
            "max_height_m": _number(row.get("max_height_m", ""), float),
            "max_floors": _number(row.get("max_floors", ""), int),
            "setbacks": {k: _number(row.get(k, ""), float) for k in ("front_m", "side_m", "rear_m")},
            "min_lot_area_m2": _number(row.get("min_lot_area_m2", ""), float),
            "min_frontage_m": _number(row.get("min_frontage_m", ""), float),
        }
    except ValueError as exc:
        raise InvalidInput(f"Zone {row.get('code', '?')}: a number is not written as a number ({exc}).",
                           zone=row.get("code")) from None
    for key in ("parking", "provisions"):
        fr, ar = (row.get(f"{key}_fr") or "").strip(), (row.get(f"{key}_ar") or "").strip()
        if fr or ar:
            zone[key] = {"fr": fr or ar, "ar": ar or fr}
    return zone


def from_csv(text: str, base: RulesCatalogue) -> dict[str, Any]:
    """A catalogue document from CSV rows (the uses vocabulary is kept from ``base``)."""
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames or "code" not in reader.fieldnames:
        raise InvalidInput(f"The CSV needs a header with at least: {', '.join(CSV_COLUMNS[:3])}.")
    zones = {}
    for row in reader:
        code = (row.get("code") or "").strip()
        if code:
            zones[code] = zone_from_row(row)
    return {"uses": {k: v.model_dump(exclude_none=True) for k, v in base.uses.items()}, "zones": zones}


class RulesBook:
    """The catalogue versions of an instance, with the file's catalogue as the first one."""

    def __init__(self, db: AgencyDB | None, initial: RulesCatalogue) -> None:
        self.db, self.initial = db, initial
        self._versions: list[CatalogueVersion] = []
        self._count = -1
        self.refresh()

    def refresh(self) -> bool:
        """Reload the versions when another process added one."""
        if self.db is None:
            return False
        with self.db.read() as conn:
            count = conn.execute(sa.select(sa.func.count()).select_from(rules_catalogues)).scalar_one()
            if count == self._count:
                return False
            rows = conn.execute(sa.select(rules_catalogues).order_by(rules_catalogues.c.effective_from,
                                                                     rules_catalogues.c.id)).all()
        self._versions = [CatalogueVersion(r.id, r.effective_from, as_utc(r.created_at), r.created_by, r.source,
                                           r.note, parse_catalogue(yaml.safe_load(r.document), f"version {r.id}"))
                          for r in rows]
        self._count = count
        return True

    def versions(self) -> list[CatalogueVersion]:
        """Stored versions, oldest first."""
        return list(self._versions)

    def catalogue_for(self, as_of: date | None = None) -> RulesCatalogue:
        """The catalogue in force on ``as_of`` (today by default)."""
        day = as_of or date.today()
        found = [v for v in self._versions if v.effective_from <= day]
        return found[-1].catalogue if found else self.initial

    def current(self) -> RulesCatalogue:
        """The catalogue in force today."""
        return self.catalogue_for(None)

    def save(self, document: dict[str, Any], *, user: str, source: str, effective_from: date | None = None,
             note: str = "", audit: Any = None, ip: str | None = None) -> CatalogueVersion:
        """Validate a whole catalogue and store it as a new version (a bad value is a 422 naming zone and field)."""
        if self.db is None:
            raise InvalidInput("This instance has no agency database to keep rules versions in.")
        try:
            catalogue = parse_catalogue(document, source)
        except RulesCatalogueError as exc:
            raise InvalidInput(exc.message, **{k: v for k, v in exc.details.items() if k != "file"}) from None
        with self.db.write() as conn:
            new_id = inserted_id(conn.execute(sa.insert(rules_catalogues).values(
                effective_from=effective_from or date.today(), created_at=utcnow(), created_by=user, source=source,
                note=note[:500], document=yaml.safe_dump(to_document(catalogue), allow_unicode=True))
            ))
            if audit is not None:
                audit.record(user, "rules.save", f"rules:{new_id}", {"source": source, "zones": len(catalogue.zones),
                             "effective_from": (effective_from or date.today()).isoformat()}, ip, conn=conn)
        self.refresh()
        return next(v for v in self._versions if v.id == new_id)

    def with_zone(self, code: str, rules: dict[str, Any]) -> dict[str, Any]:
        """The current catalogue's document with one zone's rules replaced (or added)."""
        code = code.strip()
        if not code or len(code) > 20:
            raise InvalidInput("A zone code has 1 to 20 characters.", parameter="code")
        document = to_document(self.current())
        document["zones"][code] = rules
        return document

    @staticmethod
    def rules_of(catalogue: RulesCatalogue, code: str) -> ZoneRules | None:
        """Rules of a code in a catalogue."""
        return catalogue.rules_for(code)
