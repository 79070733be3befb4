"""The rules catalogue: what each zone code allows, in one machine-readable table.

The catalogue is a human-editable YAML file (``data/rules.yaml``). It is
validated on load; a bad value is a :class:`~gisportal.core.errors.RulesCatalogueError`
naming the file, the zone and the field. The same table writes the note's text
and computes buildable area (see :mod:`gisportal.note.build`).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic_core import ErrorDetails

from gisportal.core.errors import RulesCatalogueError
from gisportal.core.yamlfiles import read_yaml

logger = logging.getLogger(__name__)


class Text(BaseModel):
    """A text in the portal's languages (French and Arabic required)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    fr: str = Field(min_length=1)
    ar: str = Field(min_length=1)
    en: str | None = None

    def get(self, lang: str) -> str:
        """The text in ``lang``, falling back to French."""
        return getattr(self, lang, None) or self.fr


class Setbacks(BaseModel):
    """Minimum distances of a building from the lot lines, in metres."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    front_m: float | None = Field(None, ge=0, le=100)
    side_m: float | None = Field(None, ge=0, le=100)
    rear_m: float | None = Field(None, ge=0, le=100)


class ZoneRules(BaseModel):
    """The rules of one zone code."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    label: Text
    color: str = Field("#999999", pattern=r"^#[0-9a-fA-F]{6}$")
    allowed_uses: tuple[str, ...] = ()
    forbidden_uses: tuple[str, ...] = ()
    cos: float | None = Field(None, ge=0, le=20, description="Floor-area ratio (COS/CUS)")
    ces: float | None = Field(None, ge=0, le=1, description="Footprint ratio (CES), 0 to 1")
    max_height_m: float | None = Field(None, gt=0, le=500)
    max_floors: int | None = Field(None, ge=0, le=100, description="n in R+n")
    setbacks: Setbacks = Setbacks()
    min_lot_area_m2: float | None = Field(None, gt=0)
    min_frontage_m: float | None = Field(None, gt=0)
    parking: Text | None = None
    provisions: Text | None = None

    @model_validator(mode="after")
    def _coherent(self) -> ZoneRules:
        both = set(self.allowed_uses) & set(self.forbidden_uses)
        if both:
            raise ValueError(f"uses both allowed and forbidden: {', '.join(sorted(both))}")
        if self.cos is not None and self.ces is not None and self.cos < self.ces:
            raise ValueError(f"COS ({self.cos}) is smaller than CES ({self.ces})")
        return self

    @property
    def floors_label(self) -> str | None:
        """Floors as written on plans: ``R+3``, or ``R`` for a ground floor only."""
        if self.max_floors is None:
            return None
        return "R" if self.max_floors == 0 else f"R+{self.max_floors}"


class RulesCatalogue(BaseModel):
    """Uses vocabulary and rules by zone code."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    uses: dict[str, Text] = {}
    zones: dict[str, ZoneRules] = {}

    def rules_for(self, code: str) -> ZoneRules | None:
        """Rules of ``code``, or ``None`` when the catalogue does not define them yet."""
        return self.zones.get(code)

    def use_label(self, key: str, lang: str) -> str:
        """Label of a use in ``lang`` (the key itself when the use is not in the vocabulary)."""
        text = self.uses.get(key)
        return text.get(lang) if text else key


def _describe(error: ErrorDetails) -> tuple[str | None, str]:
    loc = [str(part) for part in error["loc"]]
    zone = loc[1] if len(loc) > 1 and loc[0] == "zones" else None
    field = ".".join(loc[2:]) if zone else ".".join(loc)
    return zone, f"{field or '(zone)'}: {error['msg']}"


def parse_catalogue(raw: Any, source: str) -> RulesCatalogue:
    """Validate a parsed YAML document; errors name ``source``, the zone and the field."""
    if not isinstance(raw, dict):
        raise RulesCatalogueError(f"{source}: the catalogue must be a mapping with 'uses' and 'zones'",
                                  file=source)
    try:
        catalogue = RulesCatalogue.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        zone, what = _describe(first)
        where = f"zone {zone}, " if zone else ""
        raise RulesCatalogueError(f"{source}: {where}{what}", file=source, zone=zone,
                                  problems=[" ".join(filter(None, _describe(e))) for e in exc.errors()]) from None
    for code, rules in catalogue.zones.items():
        for field_name in ("allowed_uses", "forbidden_uses"):
            unknown = [u for u in getattr(rules, field_name) if u not in catalogue.uses]
            if unknown and catalogue.uses:
                raise RulesCatalogueError(f"{source}: zone {code}, {field_name}: unknown use(s) {', '.join(unknown)}",
                                          file=source, zone=code, field=field_name)
    return catalogue


def load_catalogue(path: Path) -> RulesCatalogue:
    """Read and validate the rules catalogue at ``path``."""
    catalogue = parse_catalogue(read_yaml(path, RulesCatalogueError, "rules catalogue"), str(path))
    logger.info("rules catalogue %s: %d zone codes", path, len(catalogue.zones))
    return catalogue
