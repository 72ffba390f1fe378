"""fsync helpers: what "durable" means for the event log and the dataset manifests."""

from __future__ import annotations

import os
from pathlib import Path


def fsync_dir(path: Path) -> None:
    """A new, renamed or replaced directory entry is only durable once the directory itself is synced."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_file(path: Path) -> None:
    """The file's bytes on disk (e.g. before a manifest that names it is swapped in)."""
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())


def complete_lines(data: bytes) -> bytes:
    """Everything up to the last newline: a torn tail was never acknowledged, or is being written right now."""
    end = data.rfind(b"\n")
    return data[: end + 1] if end >= 0 else b""
