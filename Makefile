# gisportal — two commands: `make serve` and `make test`.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell sha1sum pyproject.toml | cut -c1-12)
export GISPORTAL_DATA_DIR ?= instance
DEMO := $(GISPORTAL_DATA_DIR)/gisportal.gpkg
APT_PACKAGES := chromium postgresql-15-postgis-3 poppler-utils fonts-dejavu-core wrk gdal-bin python3-qgis pgbouncer
MO_FILES := $(patsubst %.po,%.mo,$(wildcard gisportal/translations/*/LC_MESSAGES/messages.po))

.PHONY: install serve test lint demo system-deps translations bench clean

install: $(STAMP) translations node_modules/.installed

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	$(PY) -m pip install -q --no-deps --upgrade --target $(VENV)/ogctests ogctests==0.1.15
	rm -f $(VENV)/.installed-*; touch $(STAMP)

# Front-end libraries not on PyPI (Leaflet.VectorGrid, Swagger UI, Leaflet-Geoman, PMTiles), from the npm registry; the files the app serves
# are copied into static/vendor/ (git-ignored), so the package carries them like any static file.
node_modules/.installed: package.json
	npm install --no-package-lock --no-audit --no-fund --omit=dev --ignore-scripts --silent
	rm -rf static/vendor && mkdir -p static/vendor/vectorgrid static/vendor/swagger-ui static/vendor/geoman static/vendor/pmtiles
	cp node_modules/leaflet.vectorgrid/dist/Leaflet.VectorGrid.bundled.min.js static/vendor/vectorgrid/
	cp node_modules/swagger-ui-dist/{swagger-ui-bundle.js,swagger-ui.css,LICENSE} static/vendor/swagger-ui/
	cp node_modules/@geoman-io/leaflet-geoman-free/{dist/leaflet-geoman.css,dist/leaflet-geoman.min.js,LICENSE} static/vendor/geoman/
	cp node_modules/pmtiles/dist/pmtiles.js static/vendor/pmtiles/
	touch $@

translations: $(MO_FILES)

%.mo: %.po $(STAMP)
	$(VENV)/bin/pybabel -q compile -i $< -o $@

$(DEMO): | $(STAMP)
	$(VENV)/bin/gisportal demo

demo: install $(DEMO)

serve: install $(DEMO)
	$(VENV)/bin/gisportal serve --host 127.0.0.1 --port 5000

# System packages the tests use (browser, PostGIS, PDF tools). Installed when run as root.
system-deps:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing:$$missing"; apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else echo "missing system packages:$$missing (run make test as root, or install them)"; exit 1; fi; \
	fi

# Quality gates: lint (ruff), types (mypy on gisportal/), layering (import-linter contracts in pyproject.toml).
lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

# The suite on TEST_WORKERS pytest-xdist workers (much of it waits on PostgreSQL, chromium and subprocesses, so
# they overlap even on 2 cores); a test module stays on one worker, so its module fixtures are built once.
TEST_WORKERS ?= 3
test: install system-deps lint
	$(PY) -m pytest -q -p no:cacheprovider -n $(TEST_WORKERS) --dist loadscope

bench: install system-deps
	@dpkg -s gdal-bin >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && apt-get install -y -qq gdal-bin >/dev/null; }
	$(PY) -m pip install -q -e '.[test,bench]'
	$(PY) benchmarks/run_all.py

clean:
	rm -rf $(VENV) instance .pytest_cache node_modules
