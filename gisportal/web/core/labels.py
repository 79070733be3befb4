"""Words people read for the codes the data stores (statuses, kinds of layer), in the page's language.

The tables keep stable English codes (``in_force``, ``draft``, ``zones``); pages show these labels instead.
"""

from __future__ import annotations

import json
import re

from babel.numbers import format_decimal
from babel.units import format_unit
from flask import Flask, current_app
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

PLAN_STATUS = {"in_force": _l("In force"), "superseded": _l("Superseded"), "lapsed": _l("Lapsed"),
               "future": _l("Not yet in force")}
DRAFT_STATUS = {"draft": _l("Draft"), "published": _l("Published"), "discarded": _l("Discarded")}
LAYER_KIND = {"zones": _l("Zones"), "overlays": _l("Servitudes")}


def plan_status_label(code: str) -> str:
    """A plan version's status in words (the code itself when unknown)."""
    return str(PLAN_STATUS.get(code, code))


def draft_status_label(code: str) -> str:
    """A draft's status in words."""
    return str(DRAFT_STATUS.get(code, code))


def layer_kind_label(code: str) -> str:
    """What a planners' layer holds, in words."""
    return str(LAYER_KIND.get(code, code))


def file_size(size: int | float | None) -> str:
    """A file's size in kilobytes or megabytes, written the way the page's language writes it (Babel)."""
    if size is None:
        return "—"
    unit, value = ("digital-megabyte", size / 1024 ** 2) if size >= 1024 ** 2 else ("digital-kilobyte", size / 1024)
    return format_unit(value, unit, length="short", format="#,##0.#", locale=get_locale())


def square_metres(value: float | None, fmt: str = "#,##0.##") -> str:
    """An area with its unit as the page's language writes it (CLDR through Babel): 1 234,5 m², 1,234.5 م²."""
    if value is None:
        return "—"
    return format_unit(value, "area-square-meter", length="short", format=fmt, locale=get_locale())


def metres(value: float | None, fmt: str = "#,##0.##") -> str:
    """A length with its unit as the page's language writes it: 12 m, 12 متر."""
    if value is None:
        return "—"
    return format_unit(value, "length-meter", length="short", format=fmt, locale=get_locale())


_FLOORS = re.compile(r"^\s*R\s*(?:\+\s*(\d+))?\s*$")


def floors(value: int | str | None) -> str:
    """Floors above the ground floor, R+n, as the page's language writes it (its catalogue; the number by Babel);
    ``value`` is n or a label such as ``R+3``; another text is shown as it is."""
    if value is None or value == "":
        return ""
    if isinstance(value, int):
        count = value
    else:
        found = _FLOORS.match(value)
        if found is None:
            return value
        count = int(found.group(1) or 0)
    if count == 0:
        return _("R (ground floor only)")
    return _("R+%(floors)s", floors=format_decimal(count, locale=get_locale()))


def approval_act_in(act: str | None, lang: str) -> str:
    """A plan's approval act in ``lang`` when the instance has its text in that language (store metadata
    ``approval_acts_<lang>``: a JSON object, act as recorded -> its text), else as recorded."""
    if not act or lang == "fr":
        return act or ""
    raw = current_app.extensions["gisportal"].store.meta().get(f"approval_acts_{lang}")
    try:
        return (json.loads(raw) if raw else {}).get(act, act)
    except ValueError:
        return act


def init_app(app: Flask) -> None:
    """Make the labels available to every template."""
    app.jinja_env.filters["filesize"] = file_size
    app.jinja_env.filters.update(m2=square_metres, metres=metres, floors=floors)
    app.jinja_env.globals["approval_act_in"] = approval_act_in
    app.jinja_env.globals.update(plan_status_label=plan_status_label, draft_status_label=draft_status_label,
                                 layer_kind_label=layer_kind_label)
