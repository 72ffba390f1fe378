"""Downloading an ``http(s)://`` source safely: allow-listed host, checked address, deadline, size cap.

The connection goes to the address ``Access.address`` checked (so DNS cannot answer differently the second
time), redirects are followed only on the same scheme, host and port (at most ``MAX_REDIRECTS``), the whole
download has one deadline, and the size cap is counted while streaming, so a slow or endless source costs
bounded time and disk. Failure reasons say what the user can fix, never a socket error (no port scanner).
"""

from __future__ import annotations

import http.client
import socket
import time
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlparse

from .access import Access

MAX_REDIRECTS = 5
READ_CHUNK = 1 << 16
REDIRECTS = frozenset({301, 302, 303, 307, 308})


class DownloadFailed(Exception):
    """The source could not be downloaded; the message is for the user."""


def _connection(access: Access, url: str, timeout: float) -> http.client.HTTPConnection:
    parsed = urlparse(url)
    host, port = parsed.hostname or "", parsed.port or (443 if parsed.scheme == "https" else 80)
    address = access.address(host, port)
    cls = http.client.HTTPSConnection if parsed.scheme == "https" else http.client.HTTPConnection
    connection = cls(host, port, timeout=timeout)

    def pinned(_: Any, timeout: float | None = None, source: Any = None) -> socket.socket:
        return socket.create_connection((address, port), timeout)

    # HTTPConnection.connect opens the socket through this hook; HTTPS then wraps it with SNI for ``host``.
    connection._create_connection = pinned  # type: ignore[attr-defined]
    return connection


def _request(access: Access, url: str, deadline: float) -> tuple[http.client.HTTPConnection, http.client.HTTPResponse]:
    parsed = urlparse(url)
    connection = _connection(access, url, max(0.1, deadline - time.monotonic()))
    path = (parsed.path or "/") + (f"?{parsed.query}" if parsed.query else "")
    connection.request("GET", path, headers={"User-Agent": "openpersonalize"})
    return connection, connection.getresponse()


def _same_origin(url: str, target: str) -> bool:
    a, b = urlparse(url), urlparse(target)
    return (a.scheme, a.hostname, a.port) == (b.scheme, b.hostname, b.port)


def _copy(response: http.client.HTTPResponse, target: Path, url: str, access: Access, deadline: float) -> None:
    written = 0
    with open(target, "wb") as out:
        while chunk := response.read1(READ_CHUNK):
            written += len(chunk)
            if written > access.http_max_bytes:
                raise DownloadFailed(f"Could not read {url}: it is larger than {access.http_max_bytes} bytes.")
            if time.monotonic() > deadline:
                raise DownloadFailed(f"Could not read {url}: the download took longer than {access.http_deadline:.0f} s.")
            out.write(chunk)


def download(access: Access, url: str, target: Path) -> None:
    """Write the body of ``url`` to ``target``; AccessDenied or DownloadFailed with a reason for the user."""
    deadline = time.monotonic() + access.http_deadline
    current = url
    for _ in range(MAX_REDIRECTS + 1):
        access.check_url(current)
        try:
            connection, response = _request(access, current, deadline)
            try:
                if response.status not in REDIRECTS:
                    if response.status != 200:
                        raise DownloadFailed(f"Could not read {url}: HTTP {response.status} {response.reason}.")
                    _copy(response, target, url, access, deadline)
                    return
                following = urljoin(current, response.getheader("Location") or "")
            finally:
                connection.close()
        except (OSError, http.client.HTTPException):
            raise DownloadFailed(f"Could not read {url}: the source did not answer in time or closed the connection.") from None
        if not _same_origin(current, following):
            raise DownloadFailed(f"Could not read {url}: it redirects to another host, which is not followed.")
        current = following
    raise DownloadFailed(f"Could not read {url}: more than {MAX_REDIRECTS} redirects.")
