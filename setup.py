"""Build configuration pyproject.toml cannot express: the repository's top-level resource directories ship inside
the package, and the message catalogues are compiled into the wheel.

``templates/``, ``static/`` and ``data/`` stay at the top of the repository (they are the source of truth); the
build maps them to the packages ``gisportal.templates``, ``gisportal.static`` and ``gisportal.data`` (each directory
holds an ``__init__.py`` for that), so a wheel carries them and an editable install reads them where they are.
The code finds them through :mod:`gisportal.core.resources` (``importlib.resources``), never by a path relative to the
checkout. ``static/vendor/`` holds the front-end libraries npm installed (copied there by ``make install``).
"""

from __future__ import annotations

from pathlib import Path

from setuptools import find_namespace_packages, setup
from setuptools.command.build_py import build_py

#: Resource package -> its directory in the repository.
RESOURCES = {"gisportal.templates": "templates", "gisportal.static": "static", "gisportal.data": "data"}


class BuildWithCatalogues(build_py):
    """``build_py`` that also compiles the translation catalogues (``.po`` -> ``.mo``) into the build tree."""

    def run(self) -> None:
        super().run()
        if self.editable_mode:  # an editable install reads the catalogues `make translations` compiled in place
            return
        if not Path("static/vendor").is_dir():
            raise SystemExit("static/vendor/ is missing: run `make install` (npm front-end libraries) first")
        from babel.messages.mofile import write_mo  # a build requirement (pyproject.toml), not a runtime import
        from babel.messages.pofile import read_po

        for po in Path("gisportal/translations").glob("*/LC_MESSAGES/messages.po"):
            target = Path(self.build_lib) / po.with_suffix(".mo")
            target.parent.mkdir(parents=True, exist_ok=True)
            with po.open("rb") as source, target.open("wb") as out:
                write_mo(out, read_po(source))


setup(
    packages=find_namespace_packages(include=["gisportal*"]) + list(RESOURCES),
    package_dir=RESOURCES,
    package_data={"gisportal": ["translations/*/LC_MESSAGES/*.po", "translations/*/LC_MESSAGES/*.mo",
                                "migrations/*.py", "migrations/*.mako", "migrations/versions/*.py"],
                  **{name: ["**/*"] for name in RESOURCES}},
    exclude_package_data={name: ["**/__pycache__/*"] for name in RESOURCES},
    cmdclass={"build_py": BuildWithCatalogues},
)
