"""What the server may touch for a caller: the one place that decides, for every user-given location.

Imports, exports, batch input and output, deletion inputs and metric-attribution reports all pass their
location through ``Access`` before reading or writing (README "Security"):

- local paths and ``file://`` URLs only under ``OPENPERSONALIZE_LOCAL_PATHS``, resolved first (symlinks,
  ``..``), never under /proc, /sys, /dev or the server's own data directory — except, for reading, its
  ``uploads`` folder, where the console stores the files a signed-in user uploaded to import. A refusal reads the same whether
  the file exists or not, so it is no oracle;
- with a roles file, the job's ``roleArn`` must be listed and grant the S3 prefix or local root, as an IAM
  role must on AWS;
- ``http(s)`` sources only for hosts in ``OPENPERSONALIZE_HTTP_SOURCES``, and only to public addresses after
  DNS resolution (every numeric form of 127.0.0.1 resolves to 127.0.0.1); the connection goes to the
  address that was checked, so a second DNS answer cannot rebind it.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from ..config import Settings
from .locations import Location, parse_location

SYSTEM_ROOTS = (Path("/proc"), Path("/sys"), Path("/dev"))  # never data, whatever the roots say
LOCAL_SETTING = "OPENPERSONALIZE_LOCAL_PATHS"
HTTP_SETTING = "OPENPERSONALIZE_HTTP_SOURCES"
ROLES_SETTING = "OPENPERSONALIZE_ROLES_FILE"


class AccessDenied(ValueError):
    """The location is not one this server (or the job's role) may use; the message is for the user."""


@dataclass(frozen=True)
class Grant:
    """What one role may use: S3 ``bucket/prefix`` strings and resolved local roots."""

    s3_prefixes: tuple[str, ...]
    local_roots: tuple[Path, ...]


def _resolved(paths: tuple[Path, ...] | list[str]) -> tuple[Path, ...]:
    return tuple(Path(p).expanduser().resolve() for p in paths)


def _under(path: Path, roots: tuple[Path, ...]) -> bool:
    return any(path.is_relative_to(root) for root in roots)


def _object_store_prefix(url: str) -> tuple[str, ...]:
    """``s3://bucket/prefix`` → ``("bucket/prefix/",)``; nothing for the local data directory (checked as a path)."""
    if not url.startswith("s3://"):
        return ()
    return (url.removeprefix("s3://").strip("/") + "/",)


def _grants(roles: dict[str, dict[str, list[str]]] | None) -> dict[str, Grant] | None:
    if roles is None:
        return None
    return {
        arn: Grant(tuple(p.removeprefix("s3://") for p in grant["s3"]), _resolved(grant["local"]))
        for arn, grant in roles.items()
    }


@dataclass(frozen=True)
class Access:
    """One job's (or request's) view of the policy: the server's settings and the caller's role."""

    local_roots: tuple[Path, ...]
    forbidden: tuple[Path, ...]
    http_hosts: frozenset[str]
    http_private: bool
    http_max_bytes: int
    http_deadline: float
    grants: dict[str, Grant] | None
    role: str | None = None
    # The server's own S3 object store ("bucket/prefix/"): like its data directory, never a job's input or output.
    forbidden_s3: tuple[str, ...] = ()
    uploads: Path | None = None  # readable inside the data directory: the console's uploads

    @classmethod
    def of(cls, settings: Settings, role: str | None = None) -> Access:
        return cls(
            local_roots=_resolved(settings.local_paths),
            forbidden=SYSTEM_ROOTS + _resolved([str(settings.data_dir)]),
            http_hosts=settings.http_sources,
            http_private=settings.http_allow_private,
            http_max_bytes=settings.http_max_bytes,
            http_deadline=settings.http_deadline_seconds,
            grants=_grants(settings.roles),
            role=role,
            forbidden_s3=_object_store_prefix(settings.object_store),
            uploads=settings.upload_dir.expanduser().resolve(),
        )

    # ---- locations --------------------------------------------------------------------------------------

    def source(self, text: str) -> Location:
        """``text`` parsed and allowed for reading (local paths come back resolved); AccessDenied otherwise."""
        return self._allowed(parse_location(text), "read")

    def destination(self, text: str) -> Location:
        """``text`` parsed and allowed for writing; http(s) is never a destination."""
        location = parse_location(text)
        if location.scheme == "http":
            raise AccessDenied(f"{text} cannot be written: use s3://bucket/prefix/ or a local folder.")
        return self._allowed(location, "write")

    def local_file(self, path: Path, label: str, action: str = "read") -> Path:
        """One file found under an allowed folder, checked again (a symlink inside a root may point out)."""
        resolved = path.resolve()
        self._check_local(resolved, label, action)
        return resolved

    def _allowed(self, location: Location, action: str) -> Location:
        if location.scheme == "local":
            resolved = Path(location.path).resolve()
            self._check_local(resolved, location.text, action)
            text = str(resolved) + ("/" if location.folder else "")
            return Location(location.text, "local", path=text, folder=location.folder)
        if location.scheme == "s3":
            self._check_role_s3(location, action)
            return location
        self.check_url(location.text)
        return location

    def _check_local(self, resolved: Path, label: str, action: str) -> None:
        if action == "read" and self.uploads is not None and resolved.is_relative_to(self.uploads):
            return
        if not _under(resolved, self.local_roots) or _under(resolved, self.forbidden):
            raise AccessDenied(
                f"Access denied: {label} is outside the local paths this server may {action} ({LOCAL_SETTING})."
            )
        grant = self._grant(label, action)
        if grant is not None and not _under(resolved, grant.local_roots):
            raise self._role_denied(label, action)

    def _check_role_s3(self, location: Location, action: str) -> None:
        where = f"{location.bucket}/{location.key}"
        if any(where.startswith(p) or p.startswith(where) for p in self.forbidden_s3):
            raise AccessDenied(f"Access denied: {location.text} holds this server's own data (OPENPERSONALIZE_OBJECT_STORE).")
        grant = self._grant(location.text, action)
        if grant is not None and not any(f"{location.bucket}/{location.key}".startswith(p) for p in grant.s3_prefixes):
            raise self._role_denied(location.text, action)

    def _grant(self, label: str, action: str) -> Grant | None:
        """The role's grant; None when no roles file is set (roles are then not checked)."""
        if self.grants is None:
            return None
        grant = self.grants.get(self.role or "")
        if grant is None:
            raise self._role_denied(label, action)
        return grant

    def _role_denied(self, label: str, action: str) -> AccessDenied:
        # AWS fails a job whose role cannot reach its data with an access-denied reason naming the location.
        return AccessDenied(f"Access denied: the role {self.role or '(none)'} may not {action} {label} ({ROLES_SETTING}).")

    # ---- http(s) ----------------------------------------------------------------------------------------

    def check_url(self, url: str) -> None:
        """The URL's host is allow-listed (resolution is checked when connecting, see ``address``)."""
        host = (urlparse(url).hostname or "").lower()
        if not host or ("*" not in self.http_hosts and host not in self.http_hosts):
            raise AccessDenied(f"Access denied: http(s) sources from host {host or '(none)'!r} are not allowed ({HTTP_SETTING}).")

    def address(self, host: str, port: int) -> str:
        """The first address of ``host`` when every address it resolves to may be contacted."""
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError:
            raise AccessDenied(f"The host {host!r} could not be resolved.") from None
        addresses = [str(info[4][0]) for info in infos]
        if not self.http_private and not all(_public(a) for a in addresses):
            raise AccessDenied(f"Access denied: the host {host!r} resolves to a non-public address ({HTTP_SETTING}).")
        return addresses[0]


def _public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast
