"""How ``gisportal serve`` runs a WSGI app: gunicorn, with the settings a public service needs.

Shared with the benchmarks' peer (``benchmarks/trivial_app.py``), so that both are served the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gunicorn.app.base import BaseApplication


class Server(BaseApplication):
    """gunicorn serving the app ``factory`` builds (once, in the master: the workers share its data)."""

    def __init__(self, factory: Callable[[], Any], host: str, port: int, workers: int, threads: int) -> None:
        self.factory, self.options = factory, {
            "bind": f"{host}:{port}", "workers": workers, "preload_app": True,
            "accesslog": "-", "logger_class": "gisportal.core.accesslog.MaskingLogger",  # no access codes in the log
            # threads: a slow client holds one thread, not a whole worker; timeouts bound what it can hold
            "worker_class": "gthread", "threads": threads, "timeout": 60, "keepalive": 5,
            "limit_request_line": 8190, "limit_request_fields": 100,
        }
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        return self.factory()
