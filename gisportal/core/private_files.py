"""The instance's files are private to the service account: directories 0700, files 0600.

The data directory holds personal data (complaint attachments, accounts), signing keys and secrets: nothing in it
is for other local users, whatever the process umask.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

logger = logging.getLogger(__name__)

#: Files and directories directly under the data directory that are made private at start-up.
_KNOWN = ("agency.sqlite", "agency.sqlite-wal", "agency.sqlite-shm", "gisportal.gpkg", "gisportal.gpkg-wal",
          "gisportal.gpkg-shm", "registry.sqlite", "registry.sqlite.migrated", "secret_key", "payment_hmac_secret",
          "keys", "complaints", "library")


def private_dir(path: Path) -> Path:
    """Make ``path`` (and missing parents) a directory only its owner can enter."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    if path.stat().st_mode & 0o077:
        path.chmod(0o700)
    return path


def write_private(path: Path, data: bytes, exclusive: bool = False) -> None:
    """Write ``data`` to a new file readable by its owner only (``exclusive``: fail if it exists)."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_EXCL if exclusive else os.O_TRUNC)
    fd = os.open(path, flags, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)


def lock_down(data_dir: Path) -> None:
    """Make the data directory and its known files private (at start-up; older instances were 0755/0644)."""
    data_dir = private_dir(data_dir)
    for name in _KNOWN:
        path = data_dir / name
        try:
            if path.is_dir():
                for root, _dirs, files in os.walk(path):
                    os.chmod(root, 0o700)
                    for file in files:
                        os.chmod(os.path.join(root, file), 0o600)
            elif path.exists():
                path.chmod(0o600)
        except OSError as exc:  # a file owned by someone else: say so, do not stop the service
            logger.warning("could not make %s private: %s", path, exc)
