"""Access logs that do not keep secrets: access codes, personal codes and link tokens are masked.

Codes are accepted in headers and POST bodies, but links printed on paper and sent by e-mail still carry some
(``?t=``, ``/subscriptions/confirm/<token>``); the web server's access log must not become a list of them.
"""

from __future__ import annotations

import re
from collections.abc import MutableMapping
from typing import TYPE_CHECKING, Any

from gunicorn.glogging import Logger

if TYPE_CHECKING:
    from gunicorn.glogging import _AtomsDict  # the stubs' type of the atoms (type_check_only)

#: Query parameters whose values are secrets.
SECRET_PARAMETERS = ("t", "code", "token", "access_code", "personal_code", "key")
_QUERY_SECRET = re.compile(r"(?P<key>(?:^|[?&;])(?:{})=)[^&;\s]*".format("|".join(SECRET_PARAMETERS)), re.IGNORECASE)
_PATH_SECRET = re.compile(r"(/subscriptions/(?:confirm|unsubscribe)/)[^/?\s]+")
MASK = "***"


def mask(text: str) -> str:
    """``text`` (a request line, a path or a query string) with the secrets in it replaced by ``***``."""
    text = _QUERY_SECRET.sub(lambda m: m.group("key") + MASK, text)
    return _PATH_SECRET.sub(lambda m: m.group(1) + MASK, text)


class MaskingLogger(Logger):
    """gunicorn's logger, masking secrets in the request line, path and query of each access-log line."""

    def atoms(self, resp: Any, req: Any, environ: MutableMapping[str, Any], request_time: Any) -> _AtomsDict:  # noqa: D102
        atoms = super().atoms(resp, req, environ, request_time)
        if isinstance(request_line := atoms.get("r"), str):
            atoms["r"] = mask(request_line)
        if isinstance(query := atoms.get("q"), str):
            atoms["q"] = mask(query)
        if isinstance(path := atoms.get("U"), str):
            atoms["U"] = mask(path)
        return atoms
