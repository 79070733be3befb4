"""The web layer's layout: one Blueprint per capability, and every URL path as it was before Blueprints.

QR codes and links on issued PDFs, bookmarks and the other tests use paths: ``url_map.txt`` is the app's URL map
(rule and methods) taken before the pages moved into Blueprints; it may only change on purpose.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask

from gisportal.web import create_app

SNAPSHOT = Path(__file__).with_name("url_map.txt")


@pytest.fixture(scope="module")
def bare_app(tmp_path_factory: pytest.TempPathFactory) -> Flask:
    """The portal over an empty embedded data directory: routes do not depend on data or backend."""
    return create_app({"data_dir": tmp_path_factory.mktemp("blueprints"), "storage": "embedded", "TESTING": True})


def test_every_url_path_and_method_is_unchanged(bare_app: Flask) -> None:
    rules = sorted(f"{rule.rule} {','.join(sorted(rule.methods or ()))}" for rule in bare_app.url_map.iter_rules())
    assert rules == SNAPSHOT.read_text().splitlines()


def test_every_endpoint_but_static_belongs_to_a_blueprint(bare_app: Flask) -> None:
    loose = sorted({rule.endpoint for rule in bare_app.url_map.iter_rules()} - {"static"})
    assert [endpoint for endpoint in loose if "." not in endpoint] == []
    assert {endpoint.split(".")[0] for endpoint in loose} <= set(bare_app.blueprints)


def test_one_blueprint_per_capability_with_its_url_prefix(bare_app: Flask) -> None:
    pages = {name: bp.url_prefix for name, bp in bare_app.blueprints.items() if "_api" not in name}
    assert pages["complaints"] == "/complaints" and pages["complaints_admin"] == "/admin/complaints"
    assert pages["committees"] == "/committees" and pages["committees_admin"] == "/admin/committees"
    assert pages["tiles"] == "/tiles" and pages["sites"] == "/sites" and pages["ogc"] == "/ogc"
    for rule in bare_app.url_map.iter_rules():
        prefix = pages.get(rule.endpoint.split(".")[0])
        if prefix:
            assert rule.rule.startswith(prefix), (rule.endpoint, rule.rule)

