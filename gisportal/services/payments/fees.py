"""The fee schedule: what each service of the agency costs, versioned by effective date, and quotes.

The schedule delivered with the portal is ``data/fees.yaml``, validated on load
(a bad value is a :class:`~gisportal.core.errors.FeeScheduleError` naming the file,
the service and the field). Staff publish later versions, each in force from a
date that is never in the past; stored versions are never edited. A quote uses
the version in force on its date.

Every amount is an integer number of centimes of dirham (MAD): no floats. Floor
areas are decimals with at most two digits; a band's amount is rounded half up
to the centime, VAT likewise, once, on the subtotal.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Literal

import sqlalchemy as sa
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from gisportal.core.agencydb import _ID, _TIME, AgencyDB, as_utc, inserted_id, metadata, utcnow
from gisportal.core.errors import FeeScheduleError, InvalidInput
from gisportal.core.yamlfiles import read_yaml
from gisportal.zoning.rules import Text

logger = logging.getLogger(__name__)

CURRENCY = "MAD"
MAX_FLOOR_AREA_M2 = Decimal("1000000")

fee_schedules = sa.Table(
    "gp_fee_schedules", metadata,
    sa.Column("id", _ID, primary_key=True),
    sa.Column("effective_from", sa.Date, nullable=False),
    sa.Column("created_at", _TIME, nullable=False),
    sa.Column("created_by", sa.Text, nullable=False),
    sa.Column("note", sa.Text, nullable=False, server_default=""),
    sa.Column("document", sa.Text, nullable=False),
)


class Band(BaseModel):
    """A floor-area band: the rate per m² applies to the part of the area up to ``up_to_m2`` (none: the rest)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    up_to_m2: int | None = Field(None, gt=0)
    rate_per_m2: int = Field(ge=0, description="centimes per m²")


class ProjectType(BaseModel):
    """Rates of one project type (housing, commercial...)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    label: Text
    minimum: int = Field(0, ge=0, description="centimes")
    bands: tuple[Band, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _ordered(self) -> ProjectType:
        limits = [b.up_to_m2 for b in self.bands]
        if limits[-1] is not None:
            raise ValueError("the last band must have no up_to_m2 (it covers the rest of the area)")
        if any(x is None for x in limits[:-1]) or limits[:-1] != sorted({x for x in limits[:-1] if x is not None}):
            raise ValueError("bands must have increasing up_to_m2 limits")
        return self


class SheetFormat(BaseModel):
    """The price of one sheet of a format."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    label: Text
    amount: int = Field(ge=0, description="centimes per sheet")


class Service(BaseModel):
    """One service: flat, by floor area and project type, or per sheet."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    label: Text
    kind: Literal["flat", "floor_area", "per_sheet"]
    amount: int | None = Field(None, ge=0, description="centimes (flat services)")
    project_types: dict[str, ProjectType] = {}
    formats: dict[str, SheetFormat] = {}
    max_sheets: int = Field(100, ge=1, le=10000)
    vat_percent: int = Field(0, ge=0, le=100)
    stamp_duty: int = Field(0, ge=0, description="centimes, added once per order")

    @model_validator(mode="after")
    def _complete(self) -> Service:
        needs = {"flat": ("amount", self.amount is not None), "floor_area": ("project_types", bool(self.project_types)),
                 "per_sheet": ("formats", bool(self.formats))}
        name, present = needs[self.kind]
        if not present:
            raise ValueError(f"a {self.kind} service needs '{name}'")
        return self


class FeeSchedule(BaseModel):
    """Every service and its fees."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    currency: Literal["MAD"] = "MAD"
    services: dict[str, Service] = Field(min_length=1)


def parse_schedule(raw: Any, source: str) -> FeeSchedule:
    """Validate a parsed YAML document; errors name ``source``, the service and the field."""
    if not isinstance(raw, dict):
        raise FeeScheduleError(f"{source}: the fee schedule must be a mapping with 'currency' and 'services'",
                               file=source)
    try:
        return FeeSchedule.model_validate(raw)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            loc = [str(part) for part in error["loc"]]
            service = loc[1] if len(loc) > 1 and loc[0] == "services" else None
            where = ".".join(loc[2:] if service else loc) or "(service)"
            problems.append((service, f"{where}: {error['msg']}"))
        service, what = problems[0]
        prefix = f"service {service}, " if service else ""
        raise FeeScheduleError(f"{source}: {prefix}{what}", file=source, service=service,
                               problems=[f"{s or ''} {w}".strip() for s, w in problems]) from None


def load_schedule(path: Path) -> FeeSchedule:
    """Read and validate the fee schedule file at ``path``."""
    return parse_schedule(read_yaml(path, FeeScheduleError, "fee schedule"), str(path))


def to_yaml(schedule: FeeSchedule) -> str:
    """The schedule as the YAML text staff edit."""
    return yaml.safe_dump(schedule.model_dump(mode="json", exclude_none=True), allow_unicode=True, sort_keys=False)


# --------------------------------------------------------------------------- quotes

@dataclass(frozen=True)
class QuoteRequest:
    """What a person asks for: a service and its parameters (strings from a form or query are parsed here)."""

    service: str
    project_type: str | None = None
    floor_area_m2: Decimal | None = None
    format: str | None = None
    sheets: int | None = None

    @classmethod
    def from_mapping(cls, args: Any) -> QuoteRequest:
        """Parse request arguments; a number that is not one is a 400 naming the parameter."""
        def text(name: str) -> str | None:
            value = args.get(name)
            return str(value).strip()[:64] or None if value is not None else None

        area, sheets = text("floor_area_m2"), text("sheets")
        try:
            parsed_area = Decimal(area.replace(",", ".")) if area else None
            if parsed_area is not None and not parsed_area.is_finite():
                raise InvalidOperation
        except InvalidOperation:
            raise InvalidInput(f"floor_area_m2 '{area}' is not a number of square metres.",
                               parameter="floor_area_m2") from None
        if sheets is not None and not sheets.isdigit():
            raise InvalidInput(f"sheets '{sheets}' is not a whole number of sheets.", parameter="sheets")
        return cls(text("service") or "", text("project_type"), parsed_area, text("format"),
                   int(sheets) if sheets else None)

    def params(self) -> dict[str, Any]:
        """The parameters as JSON-ready values (what an order freezes)."""
        values = {"project_type": self.project_type, "format": self.format, "sheets": self.sheets,
                  "floor_area_m2": str(self.floor_area_m2) if self.floor_area_m2 is not None else None}
        return {k: v for k, v in values.items() if v is not None}


@dataclass(frozen=True)
class QuoteLine:
    """One line of a quote: label in every language, quantity, unit price and amount (centimes)."""

    label: dict[str, str]
    quantity: str
    unit_amount: int
    amount: int

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"label": self.label, "quantity": self.quantity, "unit_amount": self.unit_amount,
                "amount": self.amount}


@dataclass(frozen=True)
class Quote:
    """What a request costs under one schedule version."""

    service: str
    label: dict[str, str]
    params: dict[str, Any]
    lines: list[QuoteLine]
    subtotal: int
    vat_percent: int
    vat: int
    stamp_duty: int
    total: int
    schedule_version: int
    effective_from: date | None
    currency: str = CURRENCY
    quoted_on: date = field(default_factory=date.today)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (what an order stores, frozen)."""
        return {"service": self.service, "label": self.label, "params": self.params, "currency": self.currency,
                "lines": [line.to_dict() for line in self.lines], "subtotal": self.subtotal,
                "vat_percent": self.vat_percent, "vat": self.vat, "stamp_duty": self.stamp_duty,
                "total": self.total, "schedule_version": self.schedule_version,
                "effective_from": self.effective_from.isoformat() if self.effective_from else None,
                "quoted_on": self.quoted_on.isoformat()}


def _labels(text: Text) -> dict[str, str]:
    return {"fr": text.fr, "ar": text.ar, "en": text.en or text.fr}


def _round(value: Decimal) -> int:
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _floor_area_lines(kind: ProjectType, area: Decimal) -> list[QuoteLine]:
    lines, lower = [], Decimal(0)
    names = _labels(kind.label)
    for band in kind.bands:
        upper = Decimal(band.up_to_m2) if band.up_to_m2 is not None else None
        part = (min(area, upper) if upper is not None else area) - lower
        if part <= 0:
            break
        if upper is not None:
            label = {"fr": f"{names['fr']} : tranche de {lower:f} à {upper:f} m²",
                     "ar": f"{names['ar']}: شريحة من {lower:f} إلى {upper:f} م²",
                     "en": f"{names['en']}: band from {lower:f} to {upper:f} m²"}
        else:
            label = {"fr": f"{names['fr']} : tranche au-delà de {lower:f} m²",
                     "ar": f"{names['ar']}: شريحة ما فوق {lower:f} م²",
                     "en": f"{names['en']}: band above {lower:f} m²"}
        lines.append(QuoteLine(label, f"{part:f}", band.rate_per_m2, _round(part * band.rate_per_m2)))
        if upper is None:
            break
        lower = upper
    subtotal = sum(line.amount for line in lines)
    if subtotal < kind.minimum:
        lines.append(QuoteLine({"fr": "Complément au minimum de perception", "ar": "تكملة الحد الأدنى للاستخلاص",
                                "en": "Top-up to the minimum fee"}, "1", kind.minimum - subtotal,
                               kind.minimum - subtotal))
    return lines


def _lines(service: Service, request: QuoteRequest) -> list[QuoteLine]:
    if service.kind == "flat":
        assert service.amount is not None
        return [QuoteLine(_labels(service.label), "1", service.amount, service.amount)]
    if service.kind == "floor_area":
        kind = service.project_types.get(request.project_type or "")
        if kind is None:
            raise InvalidInput(f"project_type must be one of: {', '.join(service.project_types)}.",
                               parameter="project_type")
        area = request.floor_area_m2
        if area is None or area <= 0 or area > MAX_FLOOR_AREA_M2:
            raise InvalidInput("floor_area_m2 must be a floor area above 0 and up to 1,000,000 m².",
                               parameter="floor_area_m2")
        if area != area.quantize(Decimal("0.01")):
            raise InvalidInput("floor_area_m2 has at most two decimals.", parameter="floor_area_m2")
        return _floor_area_lines(kind, area)
    sheet = service.formats.get(request.format or "")
    if sheet is None:
        raise InvalidInput(f"format must be one of: {', '.join(service.formats)}.", parameter="format")
    count = request.sheets if request.sheets is not None else 1
    if not 1 <= count <= service.max_sheets:
        raise InvalidInput(f"sheets must be between 1 and {service.max_sheets}.", parameter="sheets")
    label = {lang: f"{text} — {sheet.label.get(lang)}" for lang, text in _labels(service.label).items()}
    return [QuoteLine(label, str(count), sheet.amount, sheet.amount * count)]


def compute_quote(schedule: FeeSchedule, request: QuoteRequest, version: int = 0,
                  effective_from: date | None = None, quoted_on: date | None = None) -> Quote:
    """The quote of ``request`` under ``schedule`` (a 400 naming the parameter when the request is incomplete)."""
    service = schedule.services.get(request.service)
    if service is None:
        raise InvalidInput(f"Unknown service '{request.service[:64]}'. Services: {', '.join(schedule.services)}.",
                           parameter="service")
    lines = _lines(service, request)
    subtotal = sum(line.amount for line in lines)
    vat = (subtotal * service.vat_percent + 50) // 100  # half up, exact on integers
    relevant = {"flat": (), "floor_area": ("project_type", "floor_area_m2"), "per_sheet": ("format", "sheets")}
    params = {k: v for k, v in request.params().items() if k in relevant[service.kind]}
    if service.kind == "per_sheet":
        params.setdefault("sheets", 1)
    return Quote(request.service, _labels(service.label), params, lines, subtotal, service.vat_percent, vat,
                 service.stamp_duty, subtotal + vat + service.stamp_duty, version, effective_from,
                 schedule.currency, quoted_on or date.today())


# --------------------------------------------------------------------------- versions

@dataclass(frozen=True)
class ScheduleVersion:
    """One version of the schedule (id 0: the file delivered with the portal)."""

    id: int
    effective_from: date | None
    created_at: datetime | None
    created_by: str
    note: str
    schedule: FeeSchedule


class FeeBook:
    """The schedule's versions: the file first, then those staff published, each in force from its date."""

    def __init__(self, db: AgencyDB | None, initial: FeeSchedule) -> None:
        self.db = db
        self.initial = ScheduleVersion(0, None, None, "data/fees.yaml", "", initial)
        self._cache: tuple[Any, list[ScheduleVersion]] = (None, [self.initial])

    def versions(self) -> list[ScheduleVersion]:
        """Every version, oldest first (the file's first); parsed again only when another one was published."""
        if self.db is None:
            return [self.initial]
        with self.db.read() as conn:
            stamp = tuple(conn.execute(sa.select(sa.func.count(), sa.func.max(fee_schedules.c.id))).one())
            if stamp == self._cache[0]:
                return list(self._cache[1])
            rows = conn.execute(sa.select(fee_schedules).order_by(fee_schedules.c.effective_from,
                                                                  fee_schedules.c.id)).all()
        versions = [self.initial] + [ScheduleVersion(r.id, r.effective_from, as_utc(r.created_at), r.created_by,
                                                     r.note, parse_schedule(yaml.safe_load(r.document),
                                                                            f"version {r.id}")) for r in rows]
        self._cache = (stamp, versions)
        return list(versions)

    def in_force(self, day: date | None = None) -> ScheduleVersion:
        """The version in force on ``day`` (today by default)."""
        day = day or date.today()
        found = [v for v in self.versions()[1:] if v.effective_from is not None and v.effective_from <= day]
        return found[-1] if found else self.initial

    def quote(self, request: QuoteRequest, day: date | None = None) -> Quote:
        """The quote of ``request`` with the version in force on ``day``."""
        version = self.in_force(day)
        return compute_quote(version.schedule, request, version.id, version.effective_from, day or date.today())

    def publish(self, text: str, *, user: str, effective_from: date, note: str = "", audit: Any = None,
                ip: str | None = None) -> ScheduleVersion:
        """Validate a whole schedule (YAML text) and store it as a new version from ``effective_from``.

        A date in the past is refused: history is never rewritten, and orders keep their frozen quotes anyway.
        """
        if self.db is None:
            raise InvalidInput("This instance has no agency database to keep fee schedules in.")
        if effective_from < date.today():
            raise InvalidInput("A new fee schedule takes effect today or later, never in the past.",
                               parameter="effective_from")
        try:
            raw = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise InvalidInput(f"The schedule is not valid YAML: {str(exc)[:300]}") from None
        try:
            schedule = parse_schedule(raw, "schedule")
        except FeeScheduleError as exc:
            raise InvalidInput(exc.message, **{k: v for k, v in exc.details.items() if k != "file"}) from None
        with self.db.write() as conn:
            new_id = inserted_id(conn.execute(sa.insert(fee_schedules).values(
                effective_from=effective_from, created_at=utcnow(), created_by=user, note=note[:500],
                document=to_yaml(schedule))))
            if audit is not None:
                audit.record(user, "fees.publish", f"fees:{new_id}", {"services": len(schedule.services),
                             "effective_from": effective_from.isoformat()}, ip, conn=conn)
        logger.info("fee schedule version %s from %s by %s", new_id, effective_from, user)
        return next(v for v in self.versions() if v.id == new_id)
