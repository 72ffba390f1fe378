"""data/access.py: the decisions, without a server (tests/security/ drives the same rules over the wire)."""

from __future__ import annotations

from pathlib import Path

import pytest

from openpersonalize.config import Settings
from openpersonalize.data.access import Access, AccessDenied

ROLE = "arn:aws:iam::123456789012:role/R"


def access(tmp_path: Path, role: str | None = None, roles: dict[str, dict[str, list[str]]] | None = None) -> Access:
    settings = Settings(data_dir=tmp_path / "var", local_paths=(tmp_path,), roles=roles,
                        http_sources=frozenset({"example.com"}))
    return Access.of(settings, role)


def test_local_paths_come_back_resolved(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    location = access(tmp_path).source(f"file://{tmp_path}/in/../in/a.csv")
    assert location.scheme == "local" and location.path == str((tmp_path / "in" / "a.csv").resolve())
    assert access(tmp_path).source(f"{tmp_path}/in/").path.endswith("/in/")


@pytest.mark.parametrize("text", ["/etc/passwd", "/proc/self/environ", "{root}/../x.csv", "{root}/var/metadata.sqlite3",
                                  "{root}/var/"])
def test_outside_system_and_data_dir_are_refused(tmp_path: Path, text: str) -> None:
    with pytest.raises(AccessDenied, match="OPENPERSONALIZE_LOCAL_PATHS"):
        access(tmp_path).source(text.format(root=tmp_path))


def test_http_is_never_a_destination_and_needs_a_listed_host(tmp_path: Path) -> None:
    with pytest.raises(AccessDenied, match="cannot be written"):
        access(tmp_path).destination("https://example.com/out.csv")
    with pytest.raises(AccessDenied, match="OPENPERSONALIZE_HTTP_SOURCES"):
        access(tmp_path).source("https://other.example/data.csv")
    assert access(tmp_path).source("https://example.com/data.csv").scheme == "http"


def test_roles_grant_prefixes_and_roots(tmp_path: Path) -> None:
    roles = {ROLE: {"s3": ["s3://bucket/team/"], "local": [str(tmp_path / "team")]}}
    mine = access(tmp_path, ROLE, roles)
    assert mine.source("s3://bucket/team/a.csv").bucket == "bucket"
    assert mine.destination(f"{tmp_path}/team/out/").scheme == "local"
    for text in ("s3://bucket/other/a.csv", "s3://bucket/teammate/a.csv", f"{tmp_path}/other.csv"):
        with pytest.raises(AccessDenied, match="OPENPERSONALIZE_ROLES_FILE"):
            mine.source(text)
    with pytest.raises(AccessDenied, match=r"the role \(none\)"):
        access(tmp_path, None, roles).source("s3://bucket/team/a.csv")


def test_without_a_roles_file_s3_is_not_restricted(tmp_path: Path) -> None:
    assert access(tmp_path).source("s3://any-bucket/any/key.csv").key == "any/key.csv"


def test_a_symlink_found_in_a_folder_is_checked_where_it_points(tmp_path: Path) -> None:
    outside = tmp_path.parent / f"{tmp_path.name}-outside.csv"
    outside.write_text("x")
    (tmp_path / "link.csv").symlink_to(outside)
    try:
        with pytest.raises(AccessDenied):
            access(tmp_path).local_file(tmp_path / "link.csv", "link.csv")
    finally:
        outside.unlink()
