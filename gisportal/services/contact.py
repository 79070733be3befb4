"""The agency's help and contact details and its service posters, from configuration (``contact_file``).

The file (YAML, see ``data/contact.yaml``) gives phone lines with labels, opening hours, addresses with
their coordinates (WGS84), social accounts, and the posters to print: one per service, naming the site's
endpoint the poster's QR code leads to. Every text is given in French and Arabic (English optional, French
used when missing). The file is validated on load: a bad value is a :class:`ContactFileError` naming it.
"""

from __future__ import annotations

import logging
import re
from functools import lru_cache
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from gisportal.core.contact_details import is_phone_number
from gisportal.core.errors import GisportalError

logger = logging.getLogger(__name__)

_IDENTIFIER = re.compile(r"^[a-z][a-z0-9_\-]{0,39}$")


class ContactFileError(GisportalError):
    """The help and contact configuration holds a bad value (names the file and the value)."""

    status, code = 500, "contact_file_error"


class Texts(BaseModel):
    """One text in French and Arabic (English optional)."""

    model_config = ConfigDict(extra="forbid")

    fr: str = Field(min_length=1, max_length=500)
    ar: str = Field(min_length=1, max_length=500)
    en: str | None = Field(None, max_length=500)

    def get(self, lang: str) -> str:
        """The text in ``lang`` (French when there is none)."""
        return {"ar": self.ar, "en": self.en or self.fr}.get(lang, self.fr)


class Phone(BaseModel):
    """A phone line: what it is for, and its number."""

    model_config = ConfigDict(extra="forbid")

    label: Texts
    number: str

    @field_validator("number")
    @classmethod
    def _number(cls, value: str) -> str:
        if not is_phone_number(value):
            raise ValueError(f"'{value}' is not a phone number (digits, spaces, dots, dashes, an optional +)")
        return value.strip()

    @property
    def dial(self) -> str:
        """The number for a ``tel:`` link (digits and ``+`` only)."""
        return re.sub(r"[^0-9+]", "", self.number)


class Hours(BaseModel):
    """Opening hours: which days, and when."""

    model_config = ConfigDict(extra="forbid")

    days: Texts
    hours: str = Field(min_length=1, max_length=60)


class Address(BaseModel):
    """An office of the agency, with its place on the map."""

    model_config = ConfigDict(extra="forbid")

    name: Texts
    address: Texts
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)


class Social(BaseModel):
    """An account of the agency on a social network."""

    model_config = ConfigDict(extra="forbid")

    network: str = Field(min_length=1, max_length=40)
    url: str
    label: Texts | None = None

    @field_validator("url")
    @classmethod
    def _https(cls, value: str) -> str:
        if not re.match(r"^https://[^\s/]+\.[^\s]+$", value):
            raise ValueError(f"'{value}' is not an https:// address")
        return value


class Poster(BaseModel):
    """A printable poster for one service: its title and the site endpoint its QR code opens."""

    model_config = ConfigDict(extra="forbid")

    id: str
    endpoint: str = Field(min_length=1, max_length=80)
    title: Texts
    text: Texts | None = None

    @field_validator("id")
    @classmethod
    def _identifier(cls, value: str) -> str:
        if not _IDENTIFIER.match(value):
            raise ValueError(f"'{value}' is not a poster id (lower-case letters, digits, - and _)")
        return value


class ContactInfo(BaseModel):
    """Everything the help page and the posters show."""

    model_config = ConfigDict(extra="forbid")

    phones: list[Phone] = Field(default_factory=list)
    email: str | None = Field(None, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    hours: list[Hours] = Field(default_factory=list)
    addresses: list[Address] = Field(default_factory=list)
    social: list[Social] = Field(default_factory=list)
    posters: list[Poster] = Field(default_factory=list)

    @field_validator("posters")
    @classmethod
    def _unique_posters(cls, value: list[Poster]) -> list[Poster]:
        ids = [p.id for p in value]
        if len(ids) != len(set(ids)):
            raise ValueError("two posters have the same id")
        return value

    def poster(self, poster_id: str) -> Poster | None:
        """The poster with this id, if any."""
        return next((p for p in self.posters if p.id == poster_id), None)


def parse_contact(text: str, source: str = "contact file") -> ContactInfo:
    """Contact information from YAML text, or :class:`ContactFileError` naming the bad value."""
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise ContactFileError(f"{source}: not valid YAML ({exc})") from None
    if not isinstance(data, dict):
        raise ContactFileError(f"{source}: expected a mapping of phones, hours, addresses, social, posters")
    try:
        return ContactInfo.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ContactFileError(f"{source}: {problems}") from None


def load_contact(path: Path) -> ContactInfo:
    """The contact information in ``path`` (read again when the file changes)."""
    path = Path(path)
    try:
        stamp = path.stat().st_mtime_ns
    except OSError:
        raise ContactFileError(f"{path}: the help and contact file is missing") from None
    return _load(path, stamp)


@lru_cache(maxsize=4)
def _load(path: Path, stamp: int) -> ContactInfo:
    logger.info("loading help and contact information from %s", path)
    return parse_contact(path.read_text(encoding="utf-8"), str(path))
