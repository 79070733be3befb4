"""Languages: French, Arabic (right-to-left) and English, switchable on every page.

The language comes from ``?lang=``, then the ``lang`` cookie, then the
browser's preferences, then the instance default.
"""

from __future__ import annotations

import logging
from functools import lru_cache
from typing import Any
from urllib.parse import urlencode

from babel import Locale
from flask import Blueprint, Flask, Response, current_app, redirect, request
from flask.typing import ResponseReturnValue
from flask_babel import Babel, get_locale
from werkzeug.datastructures import LanguageAccept
from werkzeug.http import parse_accept_header

from gisportal.core.resources import resource_dir
from gisportal.core.settings import Settings
from gisportal.web.core.context import has_cookie
from gisportal.web.core.security import safe_redirect_target

logger = logging.getLogger(__name__)

RTL_LANGUAGES = {"ar", "he", "fa", "ur"}
LANGUAGE_NAMES = {"fr": "Français", "ar": "العربية", "en": "English"}
COOKIE = "lang"


def _languages() -> list[str]:
    return current_app.extensions["gisportal"].settings.languages


#: Regional formats used for a language (Moroccan Arabic months, separators and 24-hour time).
FORMAT_LOCALES = {"ar": "ar_MA"}


def format_locale(lang: str) -> str:
    """The Babel locale that formats numbers and dates for ``lang``."""
    return FORMAT_LOCALES.get(lang, lang)


@lru_cache(maxsize=32)
def _locale(lang: str) -> Locale:
    """The (cached) Babel locale for a language: parsing locale data on every request is costly."""
    return Locale.parse(format_locale(lang))


@lru_cache(maxsize=256)
def _preferred(accept_language: str, languages: tuple[str, ...]) -> str | None:
    """The best of ``languages`` for an ``Accept-Language`` header (cached: browsers send a few distinct ones)."""
    return parse_accept_header(accept_language, LanguageAccept).best_match(languages)


def language_for(settings: Settings, req: Any) -> str:
    """The language request ``req`` (a Werkzeug request) asks for: ``?lang=``, the cookie, the browser's
    preferences (``Accept-Language``), else the instance default."""
    languages = settings.languages
    # ``in`` before reading: a missing key in Werkzeug's dicts raises (and builds) a BadRequestKeyError.
    for candidate in (req.args["lang"] if "lang" in req.args else None,
                      req.cookies[COOKIE] if has_cookie(req, COOKIE) else None):
        if candidate in languages:
            return candidate
    header = req.environ.get("HTTP_ACCEPT_LANGUAGE")
    chosen = _preferred(header, tuple(languages)) if header else None
    return chosen or settings.default_language


def select_language() -> Locale:
    """Flask-Babel locale selector (a regional locale; translations fall back to the language)."""
    return _locale(language_for(current_app.extensions["gisportal"].settings, request))


def current_language() -> str:
    """The language of the current request (``fr``, ``ar``, ``en``...)."""
    locale = get_locale()
    return locale.language if locale else "fr"


def requested_language() -> str:
    """The language the request asks for (``?lang=``, the cookie, the browser's preferences, the default).

    What Flask-Babel selects for the request, without setting up Flask-Babel's per-request state (a few
    microseconds): for answers that translate nothing, such as the note's JSON. Unlike :func:`current_language`,
    it does not follow ``force_locale``.
    """
    return language_for(current_app.extensions["gisportal"].settings, request)


def text_direction(lang: str | None = None) -> str:
    """``rtl`` for right-to-left languages, ``ltr`` otherwise."""
    return "rtl" if (lang or current_language()) in RTL_LANGUAGES else "ltr"


def _context() -> dict[str, Any]:
    lang = current_language()
    settings = current_app.extensions["gisportal"].settings
    meta = current_app.extensions["gisportal"].store.meta()
    return {
        "lang": lang,
        "dir": text_direction(lang),
        "languages": [(code, LANGUAGE_NAMES.get(code, code)) for code in settings.languages],
        "agency_name": getattr(settings, f"agency_name_{lang}", None) or settings.agency_name_fr,
        "territory_name": meta.get(f"territory_{lang}") or meta.get("territory_fr", ""),
        "lang_url": _lang_url,
    }


def _lang_url(code: str) -> str:
    """The current page in another language."""
    args = request.args.to_dict()
    args["lang"] = code
    return f"{request.path}?{urlencode(args)}"


def _remember(response: Response) -> Response:
    args = request.args
    chosen = args["lang"] if "lang" in args else None
    if chosen and chosen in _languages() and request.cookies.get(COOKIE) != chosen:
        response.set_cookie(COOKIE, chosen, max_age=365 * 24 * 3600, samesite="Lax")
    return response


def init_app(app: Flask) -> None:
    """Attach Flask-Babel and the template context (the language switch is :data:`bp`)."""
    Babel(app, locale_selector=select_language,
          default_locale=app.extensions["gisportal"].settings.default_language,
          default_translation_directories=str(resource_dir("translations")))
    app.context_processor(_context)
    app.after_request(_remember)


#: The language switch.
bp = Blueprint("i18n", __name__)


@bp.get("/lang/<code>")
def switch_language(code: str) -> ResponseReturnValue:
    """Remember the chosen language in a cookie and go back to the page (a path on this site only)."""
    response = redirect(safe_redirect_target(request.args.get("next"), "/"))
    if code in _languages():
        response.set_cookie(COOKIE, code, max_age=365 * 24 * 3600, samesite="Lax")
    return response
