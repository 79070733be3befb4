"""The rules catalogue: validation names the file, the zone and the field; R+n labels."""

from __future__ import annotations

from pathlib import Path

import pytest

from gisportal.core.errors import RulesCatalogueError
from gisportal.core.resources import data_file
from gisportal.zoning.rules import ZoneRules, load_catalogue

HEADER = """\
uses:
  housing: {fr: Habitation, ar: السكن}
  industry: {fr: Industrie, ar: الصناعة}
zones:
"""

GOOD_ZONE = """\
  GOOD:
    label: {fr: Bonne, ar: جيدة}
    cos: 1.0
    ces: 0.5
"""


def write(tmp_path: Path, body: str, name: str = "rules.yaml") -> Path:
    path = tmp_path / name
    path.write_text(HEADER + GOOD_ZONE + body, encoding="utf-8")
    return path


def test_project_catalogue_loads():
    catalogue = load_catalogue(data_file("rules.yaml"))
    assert catalogue.zones, "data/rules.yaml defines no zone"
    for code, rules in catalogue.zones.items():
        assert rules.label.fr and rules.label.ar, code
        assert set(rules.allowed_uses + rules.forbidden_uses) <= set(catalogue.uses), code


def test_good_catalogue(tmp_path):
    catalogue = load_catalogue(write(tmp_path, """\
  V1:
    label: {fr: Villas, ar: فيلات, en: Villas}
    allowed_uses: [housing]
    forbidden_uses: [industry]
    cos: 0.5
    ces: 0.25
    max_floors: 1
"""))
    rules = catalogue.rules_for("V1")
    assert (rules.cos, rules.ces, rules.floors_label) == (0.5, 0.25, "R+1")
    assert catalogue.rules_for("NOPE") is None
    assert catalogue.use_label("housing", "ar") == "السكن"
    assert catalogue.use_label("housing", "en") == "Habitation"  # no English: French
    assert rules.label.get("en") == "Villas"


@pytest.mark.parametrize(("floors", "label"), [(0, "R"), (1, "R+1"), (4, "R+4"), (None, None)])
def test_floors_label(floors, label):
    rules = ZoneRules.model_validate({"label": {"fr": "Z", "ar": "ز"}, "max_floors": floors})
    assert rules.floors_label == label


@pytest.mark.parametrize(("body", "zone", "field_words"), [
    ("  BAD:\n    label: {fr: X, ar: س}\n    ces: 1.5\n", "BAD", ["ces"]),
    ("  BAD:\n    label: {fr: X, ar: س}\n    ces: 0.8\n    cos: 0.5\n", "BAD", ["cos", "ces"]),
    ("  BAD:\n    label: {fr: X, ar: س}\n    allowed_uses: [housing, flying]\n", "BAD", ["allowed_uses", "flying"]),
    ("  BAD:\n    label: {fr: X, ar: س}\n    forbidden_uses: [teleport]\n", "BAD", ["forbidden_uses", "teleport"]),
    ("  BAD:\n    label: {fr: X, ar: س}\n    allowed_uses: [housing]\n    forbidden_uses: [housing]\n", "BAD",
     ["allowed", "forbidden", "housing"]),
    ("  BAD:\n    label: {fr: X}\n", "BAD", ["label.ar"]),
    ("  BAD:\n    label: {fr: X, ar: س}\n    max_floors: -1\n", "BAD", ["max_floors"]),
    ("  BAD:\n    label: {fr: X, ar: س}\n    color: red\n", "BAD", ["color"]),
    ("  BAD:\n    label: {fr: X, ar: س}\n    cos: lots\n", "BAD", ["cos"]),
    ("  BAD:\n    label: {fr: X, ar: س}\n    heigth_m: 12\n", "BAD", ["heigth_m"]),
], ids=["ces-above-1", "cos-below-ces", "unknown-allowed-use", "unknown-forbidden-use", "allowed-and-forbidden",
        "missing-ar-label", "negative-floors", "bad-colour", "cos-not-a-number", "misspelt-field"])
def test_bad_values_name_file_zone_and_field(tmp_path, body, zone, field_words):
    path = write(tmp_path, body, name="bad-rules.yaml")
    with pytest.raises(RulesCatalogueError) as caught:
        load_catalogue(path)
    message = caught.value.message
    assert str(path) in message
    assert f"zone {zone}" in message
    for word in field_words:
        assert word.lower() in message.lower(), (word, message)
    assert caught.value.status == 500 and caught.value.details["file"] == str(path)
    assert caught.value.details.get("zone") == zone


def test_not_yaml(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("zones: {A: [unclosed\n  - : :\n", encoding="utf-8")
    with pytest.raises(RulesCatalogueError) as caught:
        load_catalogue(path)
    assert str(path) in caught.value.message and "YAML" in caught.value.message


def test_not_a_mapping(tmp_path):
    path = tmp_path / "list.yaml"
    path.write_text("- A\n- B\n", encoding="utf-8")
    with pytest.raises(RulesCatalogueError) as caught:
        load_catalogue(path)
    assert str(path) in caught.value.message and "mapping" in caught.value.message


def test_missing_file(tmp_path):
    with pytest.raises(RulesCatalogueError) as caught:
        load_catalogue(tmp_path / "absent.yaml")
    assert "absent.yaml" in caught.value.message


def test_app_refuses_a_bad_catalogue(tmp_path):
    from gisportal.web import create_app

    bad = write(tmp_path, "  BAD:\n    label: {fr: X, ar: س}\n    ces: 1.5\n")
    with pytest.raises(RulesCatalogueError) as caught:
        create_app({"data_dir": tmp_path / "data", "rules_file": bad, "TESTING": True})
    assert "zone BAD" in caught.value.message and "ces" in caught.value.message
