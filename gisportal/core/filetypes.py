"""What a file is, told by its bytes (never by its name): the documents and pictures the portal accepts."""

from __future__ import annotations

import logging

import filetype

logger = logging.getLogger(__name__)

#: Media types accepted from citizens and staff (attachments, library documents), with the stored extension.
DOCUMENT_TYPES = {"application/pdf": "pdf", "image/jpeg": "jpg", "image/png": "png", "image/webp": "webp"}
#: Bytes enough to recognise any of them.
HEAD_BYTES = 8192


def sniff_document_type(data: bytes) -> str | None:
    """The media type of ``data`` when it is one of :data:`DOCUMENT_TYPES`, else ``None``."""
    kind = filetype.guess(data[:HEAD_BYTES])
    return kind.mime if kind is not None and kind.mime in DOCUMENT_TYPES else None
