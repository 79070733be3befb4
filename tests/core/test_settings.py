"""Typed settings from GISPORTAL_* variables, domain errors' statuses, the app factory and live reload."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pytest
import shapely

from gisportal.core import errors
from gisportal.core.resources import data_file
from gisportal.core.settings import Settings, load_settings


def test_defaults(tmp_path):
    from gisportal.storage import open_store
    from gisportal.storage.embedded.store import EmbeddedStore

    settings = Settings()
    assert settings.data_dir == Path.cwd() / "instance"  # made absolute once, when the settings load
    assert isinstance(open_store(load_settings({"data_dir": tmp_path})), EmbeddedStore)  # the default backend
    assert settings.languages == ["fr", "ar", "en"] and settings.default_language == "fr"
    assert settings.rules_file == data_file("rules.yaml") and settings.rules_file.is_file()
    assert settings.store_path == Path.cwd() / "instance" / "gisportal.gpkg"
    assert settings.basemap_url is None  # no tiles from the internet unless configured


def test_backend_choice(monkeypatch, empty_instance):
    """A database URL selects PostGIS; GISPORTAL_STORAGE names the backend; postgis without a URL is refused."""
    from gisportal.core.errors import InvalidInput
    from gisportal.storage import backend_name, open_store
    from gisportal.storage.embedded.store import EmbeddedStore
    from gisportal.storage.postgis.store import PostgisStore

    assert backend_name(load_settings({"database_url": "postgresql://u@h/db"})) == "postgis"
    assert backend_name(load_settings({"database_url": "postgresql://u@h/db", "storage": "embedded"})) == "embedded"
    with pytest.raises(InvalidInput, match="GISPORTAL_DATABASE_URL"):
        open_store(load_settings({"storage": "postgis"}))
    for name, value in empty_instance.env.items():
        monkeypatch.setenv(name, value)
    store = open_store(load_settings())
    assert isinstance(store, {"embedded": EmbeddedStore, "postgis": PostgisStore}[empty_instance.backend])
    store.close()


def test_environment_variables(monkeypatch, tmp_path):
    monkeypatch.setenv("GISPORTAL_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("GISPORTAL_LANGUAGES", "ar, fr")
    monkeypatch.setenv("GISPORTAL_CRS", "EPSG:26191")
    monkeypatch.setenv("GISPORTAL_MAX_FEATURES_PER_REQUEST", "50")
    settings = load_settings()
    assert settings.data_dir == tmp_path and settings.store_path == tmp_path / "gisportal.gpkg"
    assert settings.languages == ["ar", "fr"] and settings.crs == "EPSG:26191"
    assert settings.max_features_per_request == 50
    assert load_settings({"data_dir": tmp_path / "other"}).data_dir == tmp_path / "other"  # overrides win


@pytest.mark.parametrize(("value", "expected"), [("fr", ["fr"]), ("fr,ar", ["fr", "ar"]), (" ar , en ", ["ar", "en"]),
                                                 ('["fr", "en"]', ["fr", "en"])])
def test_languages_variable(monkeypatch, value, expected):
    monkeypatch.setenv("GISPORTAL_LANGUAGES", value)
    assert load_settings().languages == expected


def test_bad_setting_is_refused(monkeypatch):
    from pydantic import ValidationError

    monkeypatch.setenv("GISPORTAL_MAX_FEATURES_PER_REQUEST", "0")
    with pytest.raises(ValidationError):
        load_settings()


@pytest.mark.parametrize(("cls", "status"), [
    (errors.InvalidInput, 400), (errors.UnknownCRS, 400), (errors.NotFound, 404), (errors.NoParcelHere, 404),
    (errors.OutsideTerritory, 422), (errors.DataFileError, 422), (errors.RulesCatalogueError, 500),
    (errors.StoreUnavailable, 503),
])
def test_error_statuses(cls, status):
    assert cls.status == status and errors.STATUS_BY_ERROR[cls] == status
    error = cls("Something precise.", parameter="x")
    assert error.to_dict() == {"error": cls.code, "message": "Something precise.", "parameter": "x"}


def test_create_app_takes_settings_and_flask_config(tiny):
    from gisportal.web import create_app

    app = create_app({**tiny.settings, "rules_file": tiny.rules_file, "languages": ["fr", "ar"],
                      "TESTING": True, "JSON_SORT_KEYS": True})
    portal = app.extensions["gisportal"]
    assert app.config["TESTING"] is True
    assert portal.settings.data_dir == tiny.data_dir and portal.settings.languages == ["fr", "ar"]
    assert portal.store.counts()["parcels"] == 7
    assert set(portal.catalogue.zones) == {"A", "B"}
    assert app.secret_key and (tiny.data_dir / "secret_key").exists()
    # English is not offered by this instance: ?lang=en falls back to the default.
    page = app.test_client().get("/plans?lang=en").get_data(as_text=True)
    assert 'lang="fr"' in page


def test_portal_picks_up_data_published_by_another_process(tiny, tiny_writable):
    """The web app sees an import made by another store instance (e.g. the CLI) without a restart."""
    from gisportal.web import create_app

    app = create_app({**tiny_writable.settings, "rules_file": tiny.rules_file, "reload_check_seconds": 0,
                      "TESTING": True})
    client = app.test_client()
    assert client.get("/api/v1/notes?ref=TF-5000/06").status_code == 404
    other = tiny_writable.open_store()
    other.put_parcels(gpd.GeoDataFrame({"ref": ["TF-5000/06"], "address": [None], "quarter": [None]},
                                       geometry=[tiny.box(120, 40, 130, 50)], crs="EPSG:26191"))
    data = client.get("/api/v1/notes?ref=TF-5000/06").get_json()
    assert data["parcel"]["area_m2"] == 100.0 and data["zones"][0]["code"] == "B"
    x, y = tiny.x0 + 125, tiny.y0 + 45
    assert client.get(f"/api/v1/notes?x={x}&y={y}").get_json()["parcel"]["ref"] == "TF-5000/06"
    assert shapely.Point(x, y).within(tiny.box(120, 40, 130, 50))


def test_relative_data_dir_is_made_absolute_once(monkeypatch, tmp_path):
    """A relative GISPORTAL_DATA_DIR is resolved against the working directory when the settings load, so a later
    change of directory (or Flask resolving paths against the package) does not move the instance."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GISPORTAL_DATA_DIR", "inst/../here")
    settings = load_settings()
    monkeypatch.chdir("/")
    assert settings.data_dir == tmp_path / "here" and settings.store_path == tmp_path / "here" / "gisportal.gpkg"
