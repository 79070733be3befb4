"""Where the package's own files are: the one place that resolves them, through :mod:`importlib.resources`.

The repository keeps ``templates/``, ``static/`` and ``data/`` at its top level; the build ships them inside the
package as ``gisportal.templates``, ``gisportal.static`` and ``gisportal.data`` (see ``setup.py``), beside the
package's own ``translations/`` and ``migrations/``. Installed from a wheel or editable from a checkout, the code
asks here, never for a path relative to the checkout.
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files
from pathlib import Path

#: Resource name -> the package that holds it and the directory inside that package.
_ROOTS = {"templates": ("gisportal.templates", ""), "static": ("gisportal.static", ""),
          "data": ("gisportal.data", ""), "translations": ("gisportal", "translations"),
          "migrations": ("gisportal", "migrations")}


@cache
def resource_dir(name: str) -> Path:
    """The directory of resource ``name`` (templates, static, data, translations, migrations) on the file system.

    The package is installed unpacked (wheels are), so each is a real directory Flask, Jinja, Babel and Alembic
    can read.
    """
    package, inside = _ROOTS[name]
    root = files(package).joinpath(inside) if inside else files(package)
    if not isinstance(root, Path) or not root.is_dir():
        raise RuntimeError(f"gisportal resource '{name}' is not a directory on disk ({root}): reinstall the package")
    return root


def data_file(name: str) -> Path:
    """A file of the default data (``rules.yaml``, ``fees.yaml``, ``contact.yaml``...)."""
    return resource_dir("data") / name
