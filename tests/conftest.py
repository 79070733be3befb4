"""Shared fixtures: a hand-made tiny territory with numbers computable by hand, and the demo district, on both
storage backends (embedded GeoPackage and PostGIS on a throwaway cluster; see ``instances.py``).

The tiny territory (``tiny``) is built through the real store API in EPSG:26191
(Lambert Nord Maroc), every coordinate relative to an origin (X0, Y0) near
Tangier. Plan ``tiny-plan`` has two versions:

* version 1 (in force from ``V1_FROM``, about 8 years ago): one zone ``B`` over
  the whole strip x 0..300, y 0..100, and a ``green_space`` overlay on
  x 0..50, y 0..50;
* version 2 (in force from ``V2_FROM``, about 2 years ago): zones ``A``
  (x 0..100), ``B`` (x 100..200) and ``C`` (x 200..300, a code the rules
  catalogue does not define), all y 0..100; overlays ``road_widening``
  (x 0..40, y 10..15), ``airport_easement`` with max height 9 m
  (x 140..200, y 40..100) and ``heritage`` (x 0..100, y 85..100).

Rules (the tests' own catalogue): A has CES 0.5, COS 2.0, 12 m, R+3, minimum
lot 200 m²; B has CES 0.25, COS 1.0, 20 m, R+5, minimum lot 100 m².

Parcels (boxes minx, miny, maxx, maxy):

==========  ====================  =====  ==============================================
ref         box                   m²     what it shows
==========  ====================  =====  ==============================================
TF-1001/06  90, 10, 110, 30        400   half in A, half in B
TF-1002/06  10, 10, 30, 30         400   all A, a quarter under the road widening
TF-1003/06  150, 50, 170, 70       400   all B, under the airport easement (9 m)
TF-1004/06  250, 50, 270, 70       400   all C: no rules in the catalogue
TF-1005/06  40, 90, 60, 110        400   half in A, half outside every zone; heritage
TF-1006/06  60, 40, 70, 50         100   all A, below A's minimum lot (200 m²)
TF-1007/06  70, 60, 110, 80        800   3/4 in A, 1/4 in B
==========  ====================  =====  ==============================================

The point (150, 20) lies in zone B of version 2 and on no parcel (a street).
"""

from __future__ import annotations

import shutil
from datetime import date, timedelta
from pathlib import Path
from types import SimpleNamespace

import geopandas as gpd
import pytest
import shapely
from support.instances import BACKENDS, Instance, PgDatabases, ReplicatedDatabases, new_instance

TINY_CRS = "EPSG:26191"
X0, Y0 = 460000.0, 570000.0

TINY_RULES_YAML = """\
uses:
  housing: {fr: Habitation, ar: السكن, en: Housing}
  retail: {fr: Commerce, ar: التجارة, en: Retail}
  industry: {fr: Industrie, ar: الصناعة, en: Industry}
zones:
  A:
    label: {fr: Zone A, ar: المنطقة أ, en: Zone A}
    color: "#aa0000"
    allowed_uses: [housing, retail]
    forbidden_uses: [industry]
    cos: 2.0
    ces: 0.5
    max_height_m: 12
    max_floors: 3
    min_lot_area_m2: 200
  B:
    label: {fr: Zone B, ar: المنطقة ب, en: Zone B}
    color: "#00aa00"
    allowed_uses: [housing]
    forbidden_uses: [industry, retail]
    cos: 1.0
    ces: 0.25
    max_height_m: 20
    max_floors: 5
    min_lot_area_m2: 100
"""

#: ref -> (box relative to the origin, address, quarter)
TINY_PARCELS = {
    "TF-1001/06": ((90, 10, 110, 30), "1 Rue Ibn Battouta", "Marshan"),
    "TF-1002/06": ((10, 10, 30, 30), "3 Rue Ibn Battouta", "Marshan"),
    "TF-1003/06": ((150, 50, 170, 70), "2 Avenue Pasteur", "Iberia"),
    "TF-1004/06": ((250, 50, 270, 70), "4 Avenue Pasteur", "Iberia"),
    "TF-1005/06": ((40, 90, 60, 110), "5 Rue Ibn Battouta", "Marshan"),
    "TF-1006/06": ((60, 40, 70, 50), None, "Marshan"),
    "TF-1007/06": ((70, 60, 110, 80), "7 Rue Al Farabi", "Souani"),
}


def box(minx: float, miny: float, maxx: float, maxy: float) -> shapely.Polygon:
    """A box in EPSG:26191, coordinates relative to the tiny territory's origin."""
    return shapely.box(X0 + minx, Y0 + miny, X0 + maxx, Y0 + maxy)


def _zones(rows: list[tuple[str, tuple]]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"code": [c for c, _ in rows], "label_fr": [f"Zone {c}" for c, _ in rows],
                             "label_ar": [f"المنطقة {c}" for c, _ in rows]},
                            geometry=[box(*b) for _, b in rows], crs=TINY_CRS)


def _overlays(rows: list[tuple[str, str, float | None, tuple]]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({
        "kind": [k for k, *_ in rows], "label_fr": [lbl for _, lbl, *_ in rows],
        "label_ar": [f"ع {lbl}" for _, lbl, *_ in rows], "provision_fr": ["Prescription" for _ in rows],
        "provision_ar": ["مقتضى" for _ in rows],
        "max_height_m": [float("nan") if h is None else h for _, _, h, _ in rows],
    }, geometry=[box(*b) for *_, b in rows], crs=TINY_CRS)


def build_tiny_store(store, today: date) -> SimpleNamespace:
    """Write the tiny territory into ``store`` (any backend) through the store API, then close it."""
    from gisportal.storage.base import NewPlanVersion

    v1_from, v2_from = today - timedelta(days=3000), today - timedelta(days=700)
    parcels = gpd.GeoDataFrame(
        {"ref": list(TINY_PARCELS), "address": [a for _, a, _ in TINY_PARCELS.values()],
         "quarter": [q for _, _, q in TINY_PARCELS.values()]},
        geometry=[box(*b) for b, _, _ in TINY_PARCELS.values()], crs=TINY_CRS)
    store.put_parcels(parcels)
    store.publish_plan_version(
        NewPlanVersion("tiny-plan", "Plan d'aménagement de test", "تصميم التهيئة للاختبار", "Décret v1",
                       v1_from, v1_from),
        _zones([("B", (0, 0, 300, 100))]),
        _overlays([("green_space", "Espace vert v1", None, (0, 0, 50, 50))]),
    )
    store.publish_plan_version(
        NewPlanVersion("tiny-plan", "Plan d'aménagement de test", "تصميم التهيئة للاختبار", "Décret v2",
                       v2_from, v2_from),
        _zones([("A", (0, 0, 100, 100)), ("B", (100, 0, 200, 100)), ("C", (200, 0, 300, 100))]),
        _overlays([("road_widening", "Élargissement rue X", None, (0, 10, 40, 15)),
                   ("airport_easement", "Servitude aéronautique", 9.0, (140, 40, 200, 100)),
                   ("heritage", "Patrimoine", None, (0, 85, 100, 100))]),
    )
    store.close()
    return SimpleNamespace(v1_from=v1_from, v2_from=v2_from)


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


#: Debian's chromium, driven by Playwright in the browser tests (``test_browser*.py``).
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run"]


@pytest.fixture(scope="session")
def browser_chromium():
    """Debian's chromium launched through Playwright, once for the whole session (every browser test opens its own
    context in it, so no cookie, storage or route leaks from one test to another); fails, never skips, when missing."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (`make test` does it as root: "
                    "apt-get install chromium).", pytrace=False)
    from playwright.sync_api import sync_playwright  # heavy: only when a browser test runs

    playwright = sync_playwright().start()
    try:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()
    finally:
        playwright.stop()


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


def clear_gisportal_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Remove every GISPORTAL_* variable (the Makefile exports GISPORTAL_DATA_DIR)."""
    import os

    for name in list(os.environ):
        if name.startswith("GISPORTAL_"):
            monkeypatch.delenv(name)


@pytest.fixture(autouse=True)
def _no_gisportal_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests start from a clean environment: no GISPORTAL_* variable leaks in."""
    clear_gisportal_env(monkeypatch)


def _create_app(config: dict):
    """create_app with only ``config`` as settings, whatever the environment holds."""
    from gisportal.web import create_app

    with pytest.MonkeyPatch.context() as mp:
        clear_gisportal_env(mp)
        return create_app(config)


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
    """The demo district (~6000 parcels, its tilesets) in an embedded data directory, built once per session; copied
    (never opened) by ``copy_demo`` for ``demo_instance`` and the browser tests."""
    from gisportal.core.settings import load_settings
    from gisportal.demo.load import load_demo
    from gisportal.storage import open_store

    data_dir = tmp_path_factory.mktemp("demo-template")
    store = open_store(load_settings({"data_dir": data_dir, "storage": "embedded"}))
    try:
        load_demo(store)
    finally:
        store.close()
    return data_dir


def copy_demo(template: Path, data_dir: Path) -> Path:
    """A private copy of the embedded demo district (``demo_template``) in ``data_dir``; returns ``data_dir``."""
    shutil.copytree(template, data_dir, dirs_exist_ok=True)
    return data_dir


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
