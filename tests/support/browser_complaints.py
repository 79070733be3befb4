"""Test support taken from ``test_browser_complaints.py``: shared by several test modules."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest

from support.browser import ARTIFACTS, _api, _recording_session, _serving, browser_chromium  # noqa: F401 (fixture)
from support.tiny import TINY_RULES_YAML, build_tiny_store

PLANNER, PASSWORD = "amina.planner", "un-mot-de-passe-long-2026"


@pytest.fixture(scope="module")
def complaints_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The tiny territory in a temporary directory and the real app served on 127.0.0.1."""
    from gisportal.core.settings import load_settings
    from gisportal.storage import open_store
    from gisportal.web import create_app

    data_dir = tmp_path_factory.mktemp("complaints-browser")
    rules = data_dir / "rules.yaml"
    rules.write_text(TINY_RULES_YAML, encoding="utf-8")
    build_tiny_store(open_store(load_settings({"data_dir": data_dir, "storage": "embedded"})), date.today())
    app = create_app({"data_dir": data_dir, "storage": "embedded", "basemap_url": None, "rules_file": rules,
                      "languages": ["fr", "ar", "en"], "default_language": "fr"})
    from gisportal.core.accounts import Accounts

    Accounts(app.extensions["gisportal"].agency).create(PLANNER, PASSWORD, "planner", display_name="Amina")
    with _serving(app) as base_url:
        yield {"app": app, "base_url": base_url, "dir": tmp_path_factory.mktemp("complaint-files")}
