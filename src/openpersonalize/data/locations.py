"""Where a job's data lives: a ``dataLocation`` or output path parsed into a ``Location`` (no I/O here).

Besides ``s3://`` and ``http(s)://`` we accept ``file:///abs/path`` and plain absolute paths (a documented
extension: the embedded deployment reads the local disk, under the roots data/access.py allows).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote, urlparse


@dataclass(frozen=True)
class Location:
    """A parsed ``dataLocation``: ``scheme`` is "s3", "http" or "local"."""

    text: str
    scheme: str
    bucket: str = ""
    key: str = ""  # S3 key or prefix
    path: str = ""  # local path
    folder: bool = False



def _printable(text: str, part: str) -> str:
    """``part`` of the dataLocation ``text``, refused when it holds a control character: no path, key or URL
    has one, and a NUL reached the file system as Python's "embedded null byte" (percent-encoded too)."""
    found = next((c for c in part if ord(c) < 0x20 or ord(c) == 0x7F), None)
    if found is not None:
        raise ValueError(f"The dataLocation {text!r} holds the control character U+{ord(found):04X}.")
    return part


def parse_location(text: str) -> Location:
    """Parse a dataLocation; ValueError (with a message for the user) when it is not one we can read."""
    parsed = urlparse(_printable(text, text))
    folder = text.endswith("/")
    if parsed.scheme == "s3":
        if not parsed.netloc:
            raise ValueError(f"The dataLocation {text!r} has no bucket: expected s3://bucket/key or s3://bucket/prefix/.")
        key = parsed.path.lstrip("/")
        return Location(text, "s3", bucket=parsed.netloc, key=key, folder=folder or not key)
    if parsed.scheme in ("http", "https"):
        if folder:
            raise ValueError(f"The dataLocation {text!r} is an HTTP folder; only s3:// and local folders can be listed.")
        return Location(text, "http")
    if parsed.scheme == "file":
        if parsed.netloc not in ("", "localhost"):
            raise ValueError(f"The dataLocation {text!r} names host {parsed.netloc!r}; file:// URLs must be local (file:///abs/path).")
        return Location(text, "local", path=_printable(text, unquote(parsed.path)), folder=folder)
    if parsed.scheme == "" and text.startswith("/"):
        return Location(text, "local", path=text, folder=folder)
    raise ValueError(
        f"The dataLocation {text!r} is not supported: use s3://bucket/key, an http(s) URL, file:///abs/path or an absolute path."
    )
