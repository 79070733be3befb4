"""What the web modules share between requests: the :class:`Portal` of the current app and small helpers.

Apart from :mod:`gisportal.web` (which builds the app) so that the web modules import it without importing
the app factory, which imports them all.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any

import orjson
from flask import Response, current_app, request

from gisportal.core.agencydb import AgencyDB
from gisportal.core.notifications import Sender
from gisportal.core.settings import Settings
from gisportal.core.signing import KeyRing
from gisportal.note.registry import NoteRegistry
from gisportal.storage.base import Store
from gisportal.zoning.rules import RulesCatalogue
from gisportal.zoning.rulesbook import RulesBook

if TYPE_CHECKING:
    from gisportal.web.zoning.maps import RenderedMap


@dataclass
class Portal:
    """What the web layer shares between requests: settings, store, rules catalogue, registry, keys, agency tables."""

    settings: Settings
    store: Store
    catalogue: RulesCatalogue
    registry: NoteRegistry
    keyring: KeyRing
    agency: AgencyDB  # accounts, audit log, drafts (gisportal.core.agencydb)
    rules: RulesBook  # the catalogue's versions; ``catalogue`` is the one in force today
    sender: Sender  # notifications to citizens (gisportal.core.notifications)
    map_cache: dict[tuple[Any, ...], RenderedMap | list[str]] = field(default_factory=dict)  # maps, search examples
    _last_check: float = field(default=0.0)

    def refresh(self) -> None:
        """Pick up data and rules another process published. The store is asked on every request but for static
        files (a cheap question: the file's stamp, or one primary-key read on the PostgreSQL primary), so that
        once a publication has answered no instance serves the old version; the rules catalogue every
        ``reload_check_seconds``."""
        if self.store.refresh():
            self.map_cache.clear()
        now = time.monotonic()
        if now - self._last_check >= self.settings.reload_check_seconds:
            self._last_check = now
            if self.rules is not None:
                self.rules.refresh()
                current = self.rules.current()
                if current is not self.catalogue:
                    self.catalogue = current
                    self.map_cache.clear()

    def catalogue_for(self, as_of: date | None) -> RulesCatalogue:
        """The rules catalogue in force on ``as_of`` (today's when ``None``)."""
        return self.rules.catalogue_for(as_of) if (self.rules is not None and as_of) else self.catalogue


def refresh_portal() -> None:
    """The app's first before-request hook: :meth:`Portal.refresh`, except for static files."""
    if request.endpoint != "static":
        portal().refresh()


def has_cookie(req: Any, name: str) -> bool:
    """Whether request ``req`` carries cookie ``name`` (cookies are not parsed when it carries none)."""
    return "HTTP_COOKIE" in req.environ and name in req.cookies


def portal() -> Portal:
    """The current app's :class:`Portal`."""
    return current_app.extensions["gisportal"]


def public_base_of(settings: Settings) -> str:
    """The base of absolute URLs (QR codes, printed links, e-mails, API links): the ``public_url`` setting, else
    ``http://`` and the first trusted host (``localhost`` by default). Never the request's ``Host``."""
    if settings.public_url:
        return settings.public_url.rstrip("/")
    host = settings.trusted_hosts[0] if settings.trusted_hosts else "localhost"
    return f"http://{host.lstrip('.')}"


def public_base() -> str:
    """:func:`public_base_of` the current app's settings."""
    return public_base_of(portal().settings)


def json_response(data: Any, status: int = 200) -> Response:
    """A JSON response serialised with orjson."""
    return current_app.response_class(orjson.dumps(data, option=orjson.OPT_SERIALIZE_NUMPY), status=status,
                                      mimetype="application/json")
