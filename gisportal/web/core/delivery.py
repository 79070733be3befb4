"""How responses travel: compressed, cached for long under fingerprinted URLs, and open to other sites' scripts
for the public read-only API (issue #15).

* Text responses are compressed by Flask-Compress (zstd, brotli or gzip, as the browser accepts). Static and
  vendored files are compressed once per version and kept in memory (Flask-Compress's cache), so a page's
  scripts and styles are not compressed again for every visitor.
* ``url_for('static'|'assets.vendor', ...)`` adds ``?v=<content hash>``; a file asked for with its current hash is
  cached by browsers for a year (``immutable``), any other request for it is revalidated.
* ``GET``/``HEAD`` requests to ``/api/v1`` carry CORS headers for the origins in ``GISPORTAL_CORS_ORIGINS``
  (``*`` by default) when they are anonymous (no cookie, no ``Authorization``); never with credentials.
  Staff endpoints never answer CORS.
* An API ``lang`` that the portal does not speak is a 422 naming the languages it does.
"""

from __future__ import annotations

import hashlib
import logging
from collections import OrderedDict
from pathlib import Path
from typing import Any

from flask import Flask, Request, Response, current_app, request
from flask_compress import Compress

from gisportal.core.errors import UnknownLanguage, told
from gisportal.web.core.assets import vendor_dirs

logger = logging.getLogger(__name__)

FINGERPRINTED = ("static", "assets.vendor")
YEAR = 365 * 24 * 3600
#: API paths that are staff-only or write: no CORS for them.
_STAFF_API = ("/api/v1/registry", "/api/v1/me", "/api/v1/drafts")
_PDF_ONLY = ("both",)


class _CompressedFiles:
    """Flask-Compress's cache backend: compressed static files by (algorithm, path, version), at most 256."""

    def __init__(self) -> None:
        self._items: OrderedDict[str, bytes] = OrderedDict()

    def get(self, key: str) -> bytes | None:
        return None if key.endswith(";") else self._items.get(key)

    def set(self, key: str, value: bytes) -> None:
        if key.endswith(";"):  # not a fingerprinted file: never kept
            return
        self._items[key] = value
        self._items.move_to_end(key)
        while len(self._items) > 256:
            self._items.popitem(last=False)


def _cache_key(req: Request) -> str:
    """Fingerprinted files only (their content is fixed by their version); '' for everything else."""
    if req.endpoint in FINGERPRINTED and "v" in req.args:
        return f"{req.path}?v={req.args['v']}"
    return ""


def _file_of(endpoint: str, values: dict[str, Any]) -> Path | None:

    if endpoint == "static":
        folder = current_app.static_folder
        return Path(folder) / values["filename"] if folder else None
    lib = values.get("lib")
    dirs = current_app.extensions.setdefault("gisportal_vendor_dirs", vendor_dirs())
    return dirs[lib] / values["filename"] if lib in dirs else None


def _version(path: Path) -> str | None:
    """A short hash of the file's content (remembered per path and modification time)."""
    try:
        stat = path.stat()
    except OSError:
        return None
    versions = current_app.extensions.setdefault("gisportal_file_versions", {})
    key = (str(path), stat.st_mtime_ns, stat.st_size)
    if key not in versions:
        versions[key] = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
    return versions[key]


def _fingerprint(endpoint: str, values: dict[str, Any]) -> None:
    if endpoint in FINGERPRINTED and "filename" in values and "v" not in values:
        path = _file_of(endpoint, values)
        version = _version(path) if path is not None else None
        if version:
            values["v"] = version


def _prepare_static(response: Response) -> Response:
    """Fingerprinted files: cached a year when asked for by their current hash; read whole (so that Flask-Compress
    compresses them once, from its cache, instead of streaming them through the compressor each time)."""
    if request.endpoint not in FINGERPRINTED or response.status_code != 200 or "Range" in request.headers:
        return response
    wanted = request.args.get("v")
    path = _file_of(request.endpoint, dict(request.view_args or {}))
    if wanted and path is not None and wanted == _version(path):
        response.cache_control.no_cache = None
        response.cache_control.public = True
        response.cache_control.max_age = YEAR
        response.cache_control.immutable = True
    if response.direct_passthrough or response.is_streamed:
        response.direct_passthrough = False
        response.set_data(response.get_data())
    return response


def _check_api_language() -> None:
    if not request.path.startswith("/api/v1") or "lang" not in request.args:
        return
    lang = request.args["lang"]
    languages = list(current_app.extensions["gisportal"].settings.languages)
    pdf = request.path.endswith(".pdf") or request.args.get("format") == "pdf"
    allowed = languages + (list(_PDF_ONLY) if pdf else [])
    if lang not in allowed:
        raise UnknownLanguage(told("Unknown language '%(lang)s': use one of %(languages)s.", lang=lang[:20],
                                   languages=", ".join(languages)), languages=languages)


def cors_headers(allowed: tuple[str, ...] | list[str], origin: str | None, preflight: bool) -> list[tuple[str, str]]:
    """The CORS headers of an anonymous read-only API answer to ``origin`` (a preflight request's too), ``[]`` when
    the origin is not among ``allowed``; a specific origin also needs ``Vary: Origin``."""
    if not origin:
        return []
    if "*" in allowed:
        found = [("Access-Control-Allow-Origin", "*")]
    elif origin in allowed:
        found = [("Access-Control-Allow-Origin", origin)]
    else:
        return []
    if preflight:
        found += [("Access-Control-Allow-Methods", "GET, HEAD"),
                  ("Access-Control-Allow-Headers", "Accept, Accept-Language, Content-Type"),
                  ("Access-Control-Max-Age", "86400")]
    return found


def _cors(response: Response) -> Response:
    """CORS headers on anonymous read-only API answers (and their preflight requests)."""
    if not request.path.startswith("/api/v1") or request.path.startswith(_STAFF_API):
        return response
    origin = request.headers.get("Origin")
    preflight = request.method == "OPTIONS" and request.headers.get("Access-Control-Request-Method") in ("GET", "HEAD")
    if not origin or not (request.method in ("GET", "HEAD") or preflight):
        return response
    if "Authorization" in request.headers or request.cookies:
        return response  # a signed-in or token-bearing request is never shared with another site
    found = cors_headers(current_app.extensions["gisportal"].settings.cors_origins, origin, preflight)
    if found:
        response.headers.pop("Access-Control-Allow-Credentials", None)
        for key, value in found:
            response.headers[key] = value
        if found[0][1] != "*":
            response.vary.add("Origin")
    return response


def init_app(app: Flask) -> None:
    """Compression, fingerprinted static URLs, the API's language check and CORS."""
    app.config.setdefault("COMPRESS_CACHE_BACKEND", _CompressedFiles)
    app.config.setdefault("COMPRESS_CACHE_KEY", _cache_key)
    app.config.setdefault("COMPRESS_MIMETYPES", app.config.get("COMPRESS_MIMETYPES") or [
        "text/html", "text/css", "text/plain", "text/csv", "text/javascript", "application/javascript",
        "application/json", "application/geo+json", "application/problem+json", "image/svg+xml",
        "application/x-protobuf", "application/vnd.mapbox-vector-tile"])
    Compress(app)  # registers its after_request first: it runs after ours (Flask runs them last-in, first-out)
    app.url_defaults(_fingerprint)
    app.after_request(_prepare_static)
    app.after_request(_cors)
    app.before_request(_check_api_language)
