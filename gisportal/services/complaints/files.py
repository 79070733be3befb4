"""Attachments of complaints: checked by content, stored under random names outside the web root.

A citizen's files are only trusted for what their bytes are: the first bytes are read with ``filetype`` and
only JPEG, PNG, WebP and PDF pass, whatever the name or the declared type says. Each file and all of a
submission together are size-limited (settings). Files are written only after every check passed, under a
random name in ``<data_dir>/complaints/``; :meth:`AttachmentFiles.writing` removes them again when the database
write they belong to fails, so nothing is half-stored.
"""

from __future__ import annotations

import contextlib
import logging
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from gisportal.core.errors import FileTooLarge, InvalidInput
from gisportal.core.filetypes import DOCUMENT_TYPES, sniff_document_type
from gisportal.core.private_files import private_dir, write_private

logger = logging.getLogger(__name__)

#: Content types accepted, with the extension of the stored file.
ALLOWED_TYPES = DOCUMENT_TYPES
#: Files one submission (a complaint, or information added later) may carry.
MAX_FILES = 5
_STORED_NAME = re.compile(r"^[0-9a-f]{32}\.(jpg|png|webp|pdf)$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class Upload:
    """A file as received: the name the person's computer gave it and its bytes."""

    filename: str
    data: bytes


@dataclass(frozen=True)
class CheckedUpload:
    """An upload that passed the checks: its display name, bytes and the content type its bytes show."""

    filename: str
    data: bytes
    content_type: str

    @property
    def extension(self) -> str:
        """The extension of the stored file (from the content type, never from the name)."""
        return ALLOWED_TYPES[self.content_type]


def display_name(filename: str) -> str:
    """The name shown to staff: no directories, no control characters, at most 120 characters."""
    name = _CONTROL.sub("", (filename or "").replace("\\", "/").rsplit("/", 1)[-1]).strip()
    return name[:120] or "file"


def check_uploads(uploads: list[Upload], max_bytes: int, max_total: int) -> list[CheckedUpload]:
    """The uploads, each checked by content and size; the first problem is raised with the file's name."""
    uploads = [u for u in uploads if u.filename or u.data]
    if len(uploads) > MAX_FILES:
        raise InvalidInput("At most 5 files can be attached.", parameter="attachments", limit=MAX_FILES)
    checked, total = [], 0
    for upload in uploads:
        name = display_name(upload.filename)
        if not upload.data:
            raise InvalidInput("This file is empty.", parameter="attachments", file=name)
        if len(upload.data) > max_bytes:
            raise FileTooLarge("This file is larger than the size allowed for one file.", parameter="attachments",
                               file=name, limit_bytes=max_bytes)
        total += len(upload.data)
        if total > max_total:
            raise FileTooLarge("The attached files together are larger than the size allowed.",
                               parameter="attachments", limit_bytes=max_total)
        mime = sniff_document_type(upload.data)
        if mime is None:
            raise InvalidInput("This file is not a JPEG, PNG or WebP image nor a PDF document.",
                               parameter="attachments", file=name)
        checked.append(CheckedUpload(name, upload.data, mime))
    return checked


@dataclass
class FileBatch:
    """The files written for one database change (removed again if that change fails)."""

    root: Path
    written: list[Path] = field(default_factory=list)

    def write(self, upload: CheckedUpload) -> str:
        """Write one checked upload under a new random name; answers the stored name."""
        private_dir(self.root)
        stored = f"{secrets.token_hex(16)}.{upload.extension}"
        path = self.root / stored
        self.written.append(path)
        write_private(path, upload.data, exclusive=True)  # 0600: personal data
        return stored


class AttachmentFiles:
    """The directory of the complaints' attachments (outside the web root)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    @contextlib.contextmanager
    def writing(self) -> Iterator[FileBatch]:
        """A batch of files; if the block raises (e.g. the transaction fails), its files are removed."""
        batch = FileBatch(self.root)
        try:
            yield batch
        except BaseException:
            for path in batch.written:
                path.unlink(missing_ok=True)
            if batch.written:
                logger.info("removed %d attachment file(s) of a failed change", len(batch.written))
            raise

    def path(self, stored_name: str) -> Path:
        """The file of a stored name (only names this module makes are accepted)."""
        if not _STORED_NAME.match(stored_name or ""):
            raise InvalidInput("Not an attachment name.")
        return self.root / stored_name
