"""Telling a damaged SQLite file from a new or a busy one.

A damaged ``registry.db`` must read as lost metadata, never as an empty or
partial registry, and a statement that trips over damage must say so.
"""

from __future__ import annotations

import os
import sqlite3
import time
from typing import TYPE_CHECKING

from modelshelf.errors import MetadataMissingError, StoreError

if TYPE_CHECKING:
    from pathlib import Path

_HEADER = b"SQLite format 3\x00"

#: SQLite's result codes for a damaged file (3.11+ exposes them on the error).
_DAMAGED = {getattr(sqlite3, "SQLITE_CORRUPT", 11), getattr(sqlite3, "SQLITE_NOTADB", 26)}


def lenient_text(value: bytes) -> str:
    return value.decode("utf-8", "surrogateescape")


def check_database_file(path: Path, *, attempts: int = 3) -> None:
    """Refuse a database file that is not SQLite's or is shorter than it says.

    SQLite itself reads garbage as "not a database" only on some statements
    and opens a truncated file as long as its first page survives, so a
    damaged ``registry.db`` would show up as an empty or partial registry.
    The 100-byte header says how many pages the file holds (valid when its
    change counter matches its version-valid-for number, as SQLite writes
    it); a file shorter than that lost its tail. An empty file is left to
    SQLite, which treats it as new; the registry decides whether that is a
    loss (files without metadata) or a new registry. Another process's
    checkpoint writes page 1 before the pages that extend the file, so a
    short file is read again before it is called truncated.
    """
    for attempt in range(attempts):
        try:
            _check_header(path)
            return
        except MetadataMissingError:
            if attempt == attempts - 1:
                raise
            time.sleep(0.05 * (attempt + 1))


def _check_header(path: Path) -> None:
    try:
        with open(path, "rb") as handle:
            header = handle.read(100)
            size = os.fstat(handle.fileno()).st_size
    except FileNotFoundError:
        return
    except OSError as exc:
        raise StoreError(f"cannot read SQLite store {path}: {exc}") from exc
    if not header:
        return
    if len(header) < 100 or not header.startswith(_HEADER):
        raise MetadataMissingError(
            str(path.parent), f"{path} is not a SQLite database (overwritten or corrupted)"
        )
    page_size = int.from_bytes(header[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    pages = int.from_bytes(header[28:32], "big")
    if pages and header[24:28] == header[92:96] and size < pages * page_size:
        raise MetadataMissingError(
            str(path.parent),
            f"{path} is truncated: {size} bytes where its header promises "
            f"{pages} pages of {page_size} bytes",
        )


def failure(path: Path, what: str, exc: sqlite3.Error) -> StoreError:
    """The typed error for a failed statement: a damaged file is lost metadata."""
    code = getattr(exc, "sqlite_errorcode", None)
    text = str(exc)
    if code in _DAMAGED or "malformed" in text or "not a database" in text:
        return MetadataMissingError(str(path.parent), f"{path} is damaged ({text})")
    return StoreError(f"{what}: {exc}")
