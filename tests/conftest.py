"""Fixtures for every test: the storage backends (``[embedded]``/``[postgis]``/``[replicated]``), the tiny territory
of ``support/tiny.py`` and the demo district on each; what several modules share lives in ``tests/support/``."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from support.browser import browser_chromium  # noqa: F401 (the session's chromium, for every browser test)
from support.instances import BACKENDS, Instance, PgDatabases, ReplicatedDatabases, new_instance
from support.tiny import (
    TINY_CRS,
    TINY_PARCELS,
    TINY_RULES_YAML,
    X0,
    Y0,
    _create_app,
    box,
    build_tiny_store,
    clear_gisportal_env,
    copy_demo,
)
from support.workers import built_once


def pytest_configure(config: pytest.Config) -> None:
    # GDAL lists the embedded store's FTS5 search table as an attribute table with untyped fields.
    config.addinivalue_line("filterwarnings", "ignore:Field format '' not supported:RuntimeWarning")
    config.addinivalue_line("markers", "backends(*names): run the test on these storage backends only "
                                       "(default: embedded and postgis)")


# --- backends ----------------------------------------------------------------
#
# Every test that asks (directly or through a fixture such as ``tiny``, ``tiny_writable``, ``empty_instance``
# or ``client``) for the ``backend`` fixture runs once per storage backend: ids end in [embedded] / [postgis].
# ``@pytest.mark.backends("embedded")`` keeps a test on the listed backends (e.g. tests of the file format).


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "backend" in metafunc.fixturenames:
        marker = metafunc.definition.get_closest_marker("backends")
        names = list(marker.args) if marker else list(BACKENDS)
        metafunc.parametrize("backend", names, indirect=True, scope="session")


@pytest.fixture(scope="session")
def backend(request: pytest.FixtureRequest) -> str:
    """The storage backend of this run of the test: ``embedded`` or ``postgis``."""
    return request.param


@pytest.fixture(scope="session")
def pg_cluster():
    """The session's PostgreSQL 15 + PostGIS cluster (fails, never skips, when PostgreSQL is missing)."""
    from support.pgcluster import PgCluster

    try:
        cluster = PgCluster()
    except RuntimeError as exc:
        pytest.fail(f"the PostGIS half of the suite needs a PostgreSQL cluster: {exc}", pytrace=False)
    yield cluster
    cluster.destroy()


@pytest.fixture(scope="session")
def pg(pg_cluster) -> PgDatabases:
    """Databases on the session's cluster (templates and clones)."""
    return PgDatabases(pg_cluster)


@pytest.fixture(scope="session")
def pg_replicated() -> ReplicatedDatabases:
    """A primary, its streaming replica and a PgBouncer in front of each (the ``replicated`` backend)."""
    try:
        databases = ReplicatedDatabases()
    except RuntimeError as exc:
        pytest.fail(f"the replicated backend needs PostgreSQL and PgBouncer: {exc}", pytrace=False)
    yield databases
    databases.destroy()


@pytest.fixture
def empty_instance(request: pytest.FixtureRequest, backend: str, tmp_path: Path) -> Instance:
    """An instance with nothing stored yet (PostGIS: a new database, schema made by the app on first open)."""
    return new_instance(request, backend, tmp_path / "data")




@pytest.fixture(autouse=True)
def _no_gisportal_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests start from a clean environment: no GISPORTAL_* variable leaks in."""
    clear_gisportal_env(monkeypatch)




@pytest.fixture(scope="session")
def tiny_rules_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tests' own rules catalogue (zones A and B; C deliberately missing)."""
    path = tmp_path_factory.mktemp("rules") / "rules.yaml"
    path.write_text(TINY_RULES_YAML, encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def tiny_today() -> date:
    """The day the tiny territory's dates are counted from (one for the whole session and both backends)."""
    return date.today()


@pytest.fixture(scope="session")
def tiny_template(request: pytest.FixtureRequest, backend: str, tiny_today: date,
                  tmp_path_factory: pytest.TempPathFactory) -> Instance:
    """The tiny territory, built once per backend; copied (never opened) by ``tiny`` and ``tiny_writable``."""
    instance = new_instance(request, backend, tmp_path_factory.mktemp(f"tiny-template-{backend}"))
    build_tiny_store(instance.open_store(), tiny_today)
    return instance


@pytest.fixture(scope="session")
def tiny(request: pytest.FixtureRequest, backend: str, tiny_template: Instance, tiny_today: date,
         tiny_rules_file: Path, tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    """The hand-made territory (read only) on the backend: its instance, dates and helpers."""
    instance = new_instance(request, backend, tmp_path_factory.mktemp(f"tiny-{backend}"), template=tiny_template)
    v1_from, v2_from = tiny_today - timedelta(days=3000), tiny_today - timedelta(days=700)
    return SimpleNamespace(
        backend=backend, instance=instance, data_dir=instance.data_dir, store_path=instance.store_path,
        settings=instance.settings, open_store=instance.open_store, rules_file=tiny_rules_file, crs=TINY_CRS,
        x0=X0, y0=Y0, box=box, parcels=TINY_PARCELS, today=tiny_today, v1_from=v1_from, v2_from=v2_from,
        street_point=(X0 + 150.0, Y0 + 20.0),
    )


@pytest.fixture
def tiny_writable(request: pytest.FixtureRequest, backend: str, tiny_template: Instance, tmp_path: Path) -> Instance:
    """A private, writable copy of the tiny territory (embedded: a copy of the file; PostGIS: a new database)."""
    return new_instance(request, backend, tmp_path / "data", template=tiny_template)


@pytest.fixture(scope="session")
def tiny_app(tiny: SimpleNamespace):
    """The portal over the tiny territory with the tests' rules catalogue."""
    return _create_app({**tiny.settings, "rules_file": tiny.rules_file, "TESTING": True})


@pytest.fixture
def tiny_client(tiny_app):
    """A fresh test client (no cookies) on the tiny portal."""
    return tiny_app.test_client()


@pytest.fixture(scope="session")
def demo_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo district (~6000 parcels, its tilesets) in an embedded data directory, built once per run (shared by
    the xdist workers); copied (never opened) by ``copy_demo`` for ``demo_instance`` and the browser tests."""
    from gisportal.core.settings import load_settings
    from gisportal.demo.load import load_demo
    from gisportal.storage import open_store

    def build(data_dir: Path) -> None:
        store = open_store(load_settings({"data_dir": data_dir, "storage": "embedded"}))
        try:
            load_demo(store)
        finally:
            store.close()

    return built_once(tmp_path_factory, "demo-template", build)


@pytest.fixture(scope="session")
def demo_instance(request: pytest.FixtureRequest, backend: str, tmp_path_factory: pytest.TempPathFactory) -> Instance:
    """The demo district (~6000 parcels) on the backend, built once per session (embedded: a copy of
    ``demo_template``)."""
    from gisportal.demo.load import load_demo

    instance = new_instance(request, backend, tmp_path_factory.mktemp(f"demo-{backend}"))
    if backend == "embedded":
        copy_demo(request.getfixturevalue("demo_template"), instance.data_dir)
        return instance
    store = instance.open_store()
    load_demo(store)
    store.close()
    return instance


@pytest.fixture(scope="session")
def demo_dir(demo_instance: Instance) -> Path:
    """The demo instance's data directory."""
    return demo_instance.data_dir


@pytest.fixture(scope="session")
def app(demo_instance: Instance):
    """The portal over the demo district, with the project's rules catalogue (data/rules.yaml)."""
    return _create_app({**demo_instance.settings, "TESTING": True})


@pytest.fixture
def client(app):
    """A fresh test client (no cookies) on the demo portal."""
    return app.test_client()


@pytest.fixture(scope="session")
def demo_store(app):
    """The demo portal's store (read only)."""
    return app.extensions["gisportal"].store
