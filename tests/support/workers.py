"""What the pytest-xdist workers of one run share (``make test`` runs the suite on several workers).

Session fixtures run once per worker. A fixture whose result is a directory that tests only copy (never open
in place) can be built once for the whole run instead: :func:`built_once` builds it under a file lock in the
run's base temporary directory, which every worker of the run shares (the pytest-xdist recipe); without
xdist it is the session's own temporary directory.
"""

from __future__ import annotations

import fcntl
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest


def built_once(tmp_path_factory: pytest.TempPathFactory, name: str, build: Callable[[Path], None]) -> Path:
    """The directory ``name`` made by ``build(directory)`` once for the run (the first worker to ask builds it,
    the others wait for it); returns its path. Built beside and renamed into place, so it is there only whole."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = tmp_path_factory.getbasetemp().parent  # .../pytest-N/ above each worker's popen-gwX/
    else:
        root = tmp_path_factory.getbasetemp()
    target = root / name
    with open(root / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not target.exists():
            partial = root / f"{name}.partial-{os.getpid()}"
            shutil.rmtree(partial, ignore_errors=True)
            partial.mkdir()
            build(partial)
            partial.rename(target)
    return target
