"""data/readers.py: dataLocation parsing, fetching (local, HTTP, S3) and CSV → typed Parquet with precise failures."""

from __future__ import annotations

import http.server
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import polars as pl
import pytest

from openpersonalize.data.access import SYSTEM_ROOTS, Access
from openpersonalize.data.readers import BadData, Source, csv_to_parquet, fetch, parse_location
from openpersonalize.data.schema import Schema, parse_schema

from conftest import s3_env


def schema_of(name: str, fields: list[dict[str, Any]]) -> Schema:
    return parse_schema(orjson.dumps({"type": "record", "name": name, "fields": fields}).decode())


INTERACTIONS = schema_of(
    "Interactions",
    [
        {"name": "USER_ID", "type": "string"},
        {"name": "ITEM_ID", "type": "string"},
        {"name": "TIMESTAMP", "type": "long"},
        {"name": "EVENT_VALUE", "type": ["null", "float"]},
    ],
)
ITEMS = schema_of(
    "Items",
    [
        {"name": "ITEM_ID", "type": "string"},
        {"name": "GENRES", "type": ["null", "string"], "categorical": True},
        {"name": "DESCRIPTION", "type": ["null", "string"], "textual": True},
        {"name": "YEAR", "type": "int"},
        {"name": "ADULT", "type": ["null", "boolean"]},
    ],
)


def write(tmp_path: Path, text: str, name: str = "data.csv") -> Source:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return Source(f"/in/{name}", path)


def convert(tmp_path: Path, text: str, schema: Schema = INTERACTIONS) -> pl.DataFrame:
    target = tmp_path / "out.parquet"
    rows = csv_to_parquet(write(tmp_path, text), schema, target)
    frame = pl.read_parquet(target)
    assert frame.height == rows
    return frame


def failure(tmp_path: Path, text: str, schema: Schema = INTERACTIONS) -> str:
    target = tmp_path / "out.parquet"
    with pytest.raises(BadData) as info:
        csv_to_parquet(write(tmp_path, text), schema, target)
    assert not target.exists(), "a bad file must write nothing"
    return str(info.value)


# ---- locations ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "scheme", "bucket", "key", "path", "folder"),
    [
        ("s3://bucket/data/file.csv", "s3", "bucket", "data/file.csv", "", False),
        ("s3://bucket/data/", "s3", "bucket", "data/", "", True),
        ("s3://bucket", "s3", "bucket", "", "", True),
        ("https://example.test/a.csv", "http", "", "", "", False),
        ("file:///tmp/a%20b.csv", "local", "", "", "/tmp/a b.csv", False),
        ("file://localhost/tmp/dir/", "local", "", "", "/tmp/dir/", True),
        ("/var/data/x.csv", "local", "", "", "/var/data/x.csv", False),
    ],
)
def test_parse_location(text: str, scheme: str, bucket: str, key: str, path: str, folder: bool) -> None:
    location = parse_location(text)
    assert (location.scheme, location.bucket, location.key, location.path, location.folder) == (
        scheme, bucket, key, path, folder,
    )


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("s3:///key.csv", "has no bucket"),
        ("http://example.test/folder/", "HTTP folder"),
        ("file://otherhost/x.csv", "must be local"),
        ("relative/path.csv", "is not supported"),
        ("ftp://host/x.csv", "is not supported"),
        ("/data/in\x00.csv", "control character U\\+0000"),
        ("file:///data/in%00.csv", "control character U\\+0000"),
        ("s3://bucket/a\nb.csv", "control character U\\+000A"),
    ],
)
def test_parse_location_rejects(text: str, needle: str) -> None:
    with pytest.raises(ValueError, match=needle):
        parse_location(text)


# ---- CSV conversion -------------------------------------------------------------------------------


def test_columns_by_name_types_and_nulls(tmp_path: Path) -> None:
    frame = convert(tmp_path, "TIMESTAMP,ITEM_ID,USER_ID,EVENT_VALUE\n10,i1,u1,1.5\n20,i2,u2,\n")
    assert frame.columns == ["USER_ID", "ITEM_ID", "TIMESTAMP", "EVENT_VALUE"]
    assert frame.dtypes == [pl.String, pl.String, pl.Int64, pl.Float64]
    assert frame.rows() == [("u1", "i1", 10, 1.5), ("u2", "i2", 20, None)]


def test_missing_nullable_column_reads_as_null_and_bom_is_ignored(tmp_path: Path) -> None:
    frame = convert(tmp_path, "\ufeffUSER_ID,ITEM_ID,TIMESTAMP\nu1,i1,5\n")
    assert frame.rows() == [("u1", "i1", 5, None)]


def test_items_types_booleans_and_textual_truncation(tmp_path: Path) -> None:
    long_text = "x" * 25_000
    frame = convert(tmp_path, f'ITEM_ID,GENRES,DESCRIPTION,YEAR,ADULT\ni1,a|b,"{long_text}",1999,true\ni2,,"q, ""u""",2001,False\n', ITEMS)
    assert frame["ADULT"].to_list() == [True, False]
    assert frame["YEAR"].dtype == pl.Int64 and frame["YEAR"].to_list() == [1999, 2001]
    assert len(frame["DESCRIPTION"][0]) == 20_000  # textual values are truncated, not rejected (spec §4.2)
    assert frame["DESCRIPTION"][1] == 'q, "u"'
    assert frame["GENRES"].to_list() == ["a|b", None]


def test_missing_required_column(tmp_path: Path) -> None:
    reason = failure(tmp_path, "USER_ID,EVENT_VALUE\nu1,1\n")
    assert reason == "Input CSV is missing the following columns: [ITEM_ID, TIMESTAMP] (file /in/data.csv)."


def test_unknown_column(tmp_path: Path) -> None:
    reason = failure(tmp_path, "USER_ID,ITEM_ID,TIMESTAMP,COLOUR\nu1,i1,1,red\n")
    assert "not in the dataset's schema: [COLOUR]" in reason and "/in/data.csv" in reason


def test_unnamed_column_is_named_by_its_position(tmp_path: Path) -> None:
    with pytest.raises(BadData, match="unnamed column at position 1 .*index=False"):
        convert(tmp_path, ",USER_ID,ITEM_ID,TIMESTAMP\n0,u1,i1,1\n")


def test_duplicate_column(tmp_path: Path) -> None:
    assert "more than once: [ITEM_ID]" in failure(tmp_path, "USER_ID,ITEM_ID,ITEM_ID,TIMESTAMP\nu,i,i,1\n")


@pytest.mark.parametrize(
    ("row", "column", "problem"),
    [
        ("u1,i1,abc,", "TIMESTAMP", "the value 'abc' is not a valid long"),
        ("u1,i1,1.5,", "TIMESTAMP", "the value '1.5' is not a valid long"),
        ("u1,i1,7,x1", "EVENT_VALUE", "the value 'x1' is not a valid float"),
        (",i1,7,", "USER_ID", "the value is empty but the field is not nullable"),
        ("u1,,7,", "ITEM_ID", "the value is empty but the field is not nullable"),
        ("u" * 257 + ",i1,7,", "USER_ID", "is 257 characters long; ids are limited to 256"),
    ],
    ids=["letters-in-long", "fraction-in-long", "letters-in-float", "empty-user", "empty-item", "long-id"],
)
def test_bad_value_names_file_row_column_and_value(tmp_path: Path, row: str, column: str, problem: str) -> None:
    reason = failure(tmp_path, "USER_ID,ITEM_ID,TIMESTAMP,EVENT_VALUE\nu0,i0,1,\nu0,i0,2,0.5\n" + row + "\n")
    assert reason.startswith(f"/in/data.csv: row 3, column {column}: ")
    assert problem in reason


@pytest.mark.parametrize(
    ("row", "column", "problem"),
    [
        ("i2," + "g" * 1001 + ",,1,", "GENRES", "is 1001 characters long; string values are limited to 1000"),
        ("i2,,,3000000000,", "YEAR", "'3000000000' is out of range for type int"),
        ("i2,,,1,yes", "ADULT", "'yes' is not a boolean (expected true or false)"),
    ],
    ids=["long-categorical", "int-range", "boolean"],
)
def test_bad_item_values(tmp_path: Path, row: str, column: str, problem: str) -> None:
    reason = failure(tmp_path, "ITEM_ID,GENRES,DESCRIPTION,YEAR,ADULT\ni1,a,,1,\n" + row + "\n", ITEMS)
    assert reason.startswith(f"/in/data.csv: row 2, column {column}: the value '")
    assert reason.endswith(f"{problem}.")


def test_first_bad_row_wins(tmp_path: Path) -> None:
    rows = "".join(f"u{i},i{i},{i},\n" for i in range(5000))
    reason = failure(tmp_path, "USER_ID,ITEM_ID,TIMESTAMP,EVENT_VALUE\n" + rows + "u,i,bad1,\nu,i,bad2,\n")
    assert reason.startswith("/in/data.csv: row 5001, column TIMESTAMP: the value 'bad1'")


def test_blank_lines_are_skipped_and_rows_keep_their_numbers(tmp_path: Path) -> None:
    frame = convert(tmp_path, "USER_ID,ITEM_ID,TIMESTAMP\nu1,i1,1\n\nu2,i2,2\n,,\n\n")
    assert frame["USER_ID"].to_list() == ["u1", "u2"]
    with pytest.raises(BadData, match="row 4, column TIMESTAMP"):  # the blank row 2 still counts
        convert(tmp_path, "USER_ID,ITEM_ID,TIMESTAMP\nu1,i1,1\n\nu2,i2,2\nu3,i3,x\n")
    assert convert(tmp_path, "USER_ID,ITEM_ID,TIMESTAMP\n\n\n").height == 0


def test_ragged_row_is_reported_with_its_number(tmp_path: Path) -> None:
    reason = failure(tmp_path, "USER_ID,ITEM_ID,TIMESTAMP\nu1,i1,1\nu2,i2,2,extra\n")
    assert reason == "/in/data.csv: row 2 has 4 fields but the header has 3."


def test_empty_file_and_non_utf8(tmp_path: Path) -> None:
    assert "the file is empty" in failure(tmp_path, "")
    path = tmp_path / "latin.csv"
    path.write_bytes("USER_ID,ITEM_ID,TIMESTAMP\nJos\xe9,i,1\n".encode("latin-1"))
    with pytest.raises(BadData, match="could not be parsed as CSV|not UTF-8"):
        csv_to_parquet(Source("/in/latin.csv", path), INTERACTIONS, tmp_path / "o.parquet")


def test_header_only_is_zero_rows(tmp_path: Path) -> None:
    assert convert(tmp_path, "USER_ID,ITEM_ID,TIMESTAMP\n").height == 0


# ---- fetching ---------------------------------------------------------------------------------

# These unit tests read pytest's tmp directories and a loopback HTTP server (tests/security/ checks refusals).
ACCESS = Access(local_roots=(Path(tempfile.gettempdir()).resolve(),), forbidden=SYSTEM_ROOTS,
                http_hosts=frozenset({"127.0.0.1"}), http_private=True, http_max_bytes=1 << 20, http_deadline=10.0,
                grants=None)


def test_fetch_local_file_folder_and_missing(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    (folder / "sub").mkdir(parents=True)
    for name in ("b.csv", "a.csv", "sub/c.CSV", "notes.txt"):
        (folder / name).write_text("x\n")
    with fetch(parse_location(f"{folder}/"), tmp_path / "scratch", ACCESS) as sources:
        assert [Path(s.label).relative_to(folder).as_posix() for s in sources] == ["a.csv", "b.csv", "sub/c.CSV"]
    with fetch(parse_location(f"file://{folder}/a.csv"), tmp_path / "scratch", ACCESS) as sources:
        assert [s.path for s in sources] == [folder / "a.csv"]
    assert not (tmp_path / "scratch").exists()
    for text, needle in ((f"{folder}/nope.csv", "does not exist"), (f"{tmp_path}/missing/", "does not exist")):
        with pytest.raises(BadData, match=needle), fetch(parse_location(text), tmp_path / "scratch", ACCESS):
            pass
    (tmp_path / "empty").mkdir()
    with pytest.raises(BadData, match="No CSV files"), fetch(parse_location(f"{tmp_path}/empty/"), tmp_path / "s", ACCESS):
        pass


@pytest.fixture()
def http_root(tmp_path: Path) -> Iterator[str]:
    root = tmp_path / "www"
    root.mkdir()
    (root / "data.csv").write_text("USER_ID,ITEM_ID,TIMESTAMP\nu,i,1\n")

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, directory=str(root), **kwargs)

        def log_message(self, *args: Any) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def test_fetch_http(http_root: str, tmp_path: Path) -> None:
    with fetch(parse_location(f"{http_root}/data.csv"), tmp_path / "scratch", ACCESS) as sources:
        assert sources[0].label == f"{http_root}/data.csv"
        assert sources[0].path.read_text().startswith("USER_ID")
    with pytest.raises(BadData, match="HTTP 404"), fetch(parse_location(f"{http_root}/nope.csv"), tmp_path / "s", ACCESS):
        pass


def test_fetch_s3_object_prefix_and_errors(s3_server: str, s3: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in s3_env(s3_server).items():
        monkeypatch.setenv(name, value)
    s3.create_bucket(Bucket="readers-test")
    for key in ("in/2.csv", "in/1.csv", "in/readme.md", "other/3.csv"):
        s3.put_object(Bucket="readers-test", Key=key, Body=f"{key}\n".encode())
    with fetch(parse_location("s3://readers-test/in/"), tmp_path / "scratch", ACCESS) as sources:
        assert [s.label for s in sources] == ["s3://readers-test/in/1.csv", "s3://readers-test/in/2.csv"]
        assert [s.path.read_text() for s in sources] == ["in/1.csv\n", "in/2.csv\n"]
    with fetch(parse_location("s3://readers-test/other/3.csv"), tmp_path / "scratch", ACCESS) as sources:
        assert sources[0].path.read_text() == "other/3.csv\n"
    failures = {
        "s3://readers-test/in/missing.csv": "does not exist",
        "s3://no-such-bucket-x/data.csv": "does not exist",
        "s3://readers-test/empty/": "No CSV objects found under s3://readers-test/empty/",
    }
    for text, needle in failures.items():
        with pytest.raises(BadData, match=needle), fetch(parse_location(text), tmp_path / "scratch", ACCESS):
            pass


def test_backslash_escapes_of_spec_4_4(tmp_path: Path) -> None:
    text = 'ITEM_ID,GENRES,DESCRIPTION,YEAR,ADULT\ni1,a,"He said \\"hi\\", then left",1,\ni2,b,"a \\\\ b and C:\\data",2,\ni3,c,"""rfc"" quotes",3,\n'
    frame = convert(tmp_path, text, ITEMS)
    assert frame["DESCRIPTION"].to_list() == ['He said "hi", then left', "a \\ b and C:\\data", '"rfc" quotes']
    assert not list(tmp_path.glob("*.unescaped.csv"))


def test_unescape_across_chunk_boundaries(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from openpersonalize.data import readers

    text = 'ITEM_ID,GENRES,DESCRIPTION,YEAR,ADULT\n' + "".join(
        f'i{n},g,"x\\\\\\"y{n}\\\\",{n},\n' for n in range(40)
    )
    expected = convert(tmp_path, text, ITEMS)["DESCRIPTION"].to_list()
    assert expected[0] == 'x\\"y0\\'
    for chunk in (1, 2, 3, 5, 7):  # every split of the escape runs
        monkeypatch.setattr(readers, "COPY_CHUNK", chunk)
        assert convert(tmp_path, text, ITEMS)["DESCRIPTION"].to_list() == expected
