"""Domain errors. Each carries the HTTP status the web layer answers with.

Domain code raises these; one handler in :mod:`gisportal.web.core.errors` maps them
to responses (JSON for the API, a page for the site), and the CLI prints them.
"""

from __future__ import annotations

from typing import Any


class Told(str):
    """A message (in English) that remembers the template and values it was made from, so that the web layer can
    tell it again in the reader's language (the template is the message id of the catalogues)."""

    template: str
    params: dict[str, Any]

    def __new__(cls, template: str, **params: Any) -> Told:
        told_message = super().__new__(cls, template % params if params else template)
        told_message.template, told_message.params = template, params
        return told_message


def told(template: str, **params: Any) -> Told:
    """A message from an English ``template`` with ``%(name)s`` placeholders (extracted for translation)."""
    return Told(template, **params)


class GisportalError(Exception):
    """Base class: a failure a person can understand and act upon."""

    status: int = 500
    code: str = "error"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form: ``{"error": code, "message": ..., **details}``."""
        return {"error": self.code, "message": self.message, **self.details}


class InvalidInput(GisportalError):
    """A request or a command argument that cannot be understood."""

    status, code = 400, "invalid_input"


class UnknownCRS(InvalidInput):
    """A coordinate reference system that PROJ does not know."""

    code = "unknown_crs"


class NotFound(GisportalError):
    """Something asked for by reference that does not exist."""

    status, code = 404, "not_found"


class NoParcelHere(NotFound):
    """A point that falls on no parcel (it may still fall in zones)."""

    code = "no_parcel_here"


class StaffOnly(GisportalError):
    """A staff-only action attempted without valid staff credentials."""

    status, code = 403, "staff_only"


class LoginRequired(GisportalError):
    """A page or call for signed-in agency staff, made without signing in."""

    status, code = 401, "login_required"


class NotAllowed(GisportalError):
    """A signed-in user whose role does not allow the action."""

    status, code = 403, "not_allowed"


class Conflict(GisportalError):
    """A change that clashes with what is stored (e.g. a user name already taken)."""

    status, code = 409, "conflict"


class FileTooLarge(GisportalError):
    """An uploaded file (or all of a submission's files) above the size allowed."""

    status, code = 413, "file_too_large"


class OutsideTerritory(GisportalError):
    """Valid coordinates that fall outside the agency's territory."""

    status, code = 422, "outside_territory"


class DataFileError(GisportalError):
    """A data file that cannot be read or does not hold what is needed."""

    status, code = 422, "data_file_error"


class RecordsInvalid(GisportalError):
    """Rows (a form or an imported file) with problems: nothing is stored; ``findings`` lists them."""

    status, code = 422, "records_invalid"


class RulesCatalogueError(GisportalError):
    """The rules catalogue file holds a bad value (names file, zone and field)."""

    status, code = 500, "rules_catalogue_error"


class StoreUnavailable(GisportalError):
    """The storage backend cannot be reached right now."""

    status, code = 503, "store_unavailable"


class FeeScheduleError(GisportalError):
    """The fee schedule file holds a bad value (names file, service and field)."""

    status, code = 500, "fee_schedule_error"


class PaymentRequired(GisportalError):
    """A document that is released only once its order is paid."""

    status, code = 402, "payment_required"


class CallbackRefused(GisportalError):
    """A payment callback whose signature, order, amount or currency does not check out."""

    status, code = 400, "callback_refused"


#: One table from error class to HTTP status, for documentation and the handler.
STATUS_BY_ERROR: dict[type[GisportalError], int] = {
    cls: cls.status
    for cls in (
        GisportalError, InvalidInput, UnknownCRS, NotFound, NoParcelHere, StaffOnly, LoginRequired, NotAllowed,
        Conflict, FileTooLarge, OutsideTerritory, DataFileError, RulesCatalogueError, StoreUnavailable,
        FeeScheduleError, PaymentRequired, CallbackRefused,
    )
}


class UnknownLanguage(GisportalError):
    """A ``lang`` the portal does not speak (the message names those it does)."""

    status, code = 422, "unknown_language"
