"""Import input: where the files come from (S3, HTTP, local paths) and how one CSV becomes typed Parquet.

A ``dataLocation`` (spec §2.4) is one CSV object or a "folder" ending in ``/`` (every CSV under it), parsed by
data/locations.py and allowed (or not) by data/access.py before anything is read.

CSV rules are spec §4.4: a header row whose names match schema fields, empty cell = null (only where the
field is nullable), epoch-second timestamps, ``true``/``false`` booleans. Parsing is done by polars'
streaming engine in two passes (find the first bad value, then sink typed Parquet), so a 20M-row file never
becomes Python objects and a bad file writes nothing. Before polars sees a file, one pass in ``COPY_CHUNK``
blocks refuses NUL bytes and lines over ``MAX_LINE_BYTES`` (a sparse or endless file costs at most one block).
"""

from __future__ import annotations

import csv
import logging
import os
import re
import shutil
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import polars as pl

from .access import Access
from .download import DownloadFailed, download
from .durable import fsync_file
from .locations import Location as Location, parse_location as parse_location  # re-exported for callers
from .schema import Field, Schema

log = logging.getLogger("openpersonalize.readers")

# Value limits of spec §4.2 / §11.
ID_FIELDS = frozenset({"USER_ID", "ITEM_ID", "ACTION_ID"})
MAX_ID_CHARS = 256
MAX_STRING_CHARS = 1000  # categorical and non-categorical strings (and IMPRESSION, pipes included)
MAX_TEXTUAL_CHARS = 20_000  # longer textual values are truncated, not rejected
INT32 = (-(2**31), 2**31 - 1)  # Avro "int"; "long" is the full Int64 range

DTYPES: dict[str, pl.DataType] = {
    "string": pl.String(),
    "int": pl.Int64(),
    "long": pl.Int64(),
    "float": pl.Float64(),
    "double": pl.Float64(),
    "boolean": pl.Boolean(),
}
# zstd level 1: the same size as polars' default level here, and measurably cheaper to write (bench/import.py).
PARQUET: dict[str, Any] = {"compression": "zstd", "compression_level": 1}
ROW = "__row"  # 1-based data row (header excluded), as a user counts rows in the file
COPY_CHUNK = 1 << 24
NUL = b"\0"
ESCAPED = re.compile(rb'\\(["\\])')  # a backslash escaping a quote or a backslash
# A physical line (import CSV or batch JSON Lines) may not be longer than this: a row of Items with a 20,000
# character textual field and many 1,000-character strings fits many times over; a sparse file does not.
MAX_LINE_BYTES = 1 << 20
SCAN_CHUNK = MAX_LINE_BYTES  # check_text_file relies on a block being no longer than a line may be


class BadData(Exception):
    """The input cannot be imported; the message is shown to the user as the job's failureReason."""


# ---- sources ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Source:
    """One CSV to import: ``label`` is how the user named it (S3 URI, URL or path), ``path`` the local file."""

    label: str
    path: Path


@contextmanager
def fetch(location: Location, scratch: Path, access: Access) -> Iterator[list[Source]]:
    """The CSV files of ``location`` (already allowed by ``access.source``) as local files; downloads go to
    ``scratch``, removed afterwards."""
    scratch.mkdir(parents=True, exist_ok=True)
    try:
        if location.scheme == "local":
            yield _local_sources(location, access)
        elif location.scheme == "s3":
            yield _s3_sources(location, scratch)
        else:
            yield [http_source(location.text, scratch, access)]
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _local_sources(location: Location, access: Access) -> list[Source]:
    root = Path(location.path)
    if root.is_dir():
        files = sorted(p for p in list_folder(root, location.text) if p.suffix.lower() == ".csv")
        if not files:
            raise BadData(f"No CSV files found in the folder {location.text}.")
        return [Source(str(p), access.local_file(p, str(p))) for p in files]
    if location.folder:
        raise BadData(f"The folder {location.text} does not exist.")
    if not root.is_file():
        raise BadData(f"The file {location.text} does not exist.")
    return [Source(location.text, root)]


def list_folder(root: Path, label: str) -> list[Path]:
    """Every file under ``root``; an unreadable folder is BadData naming the user's location, not an OSError."""
    try:
        return [p for p in root.rglob("*") if p.is_file()]
    except OSError:
        raise BadData(f"The folder {label} could not be listed.") from None


def _s3_client() -> Any:
    import boto3  # the normal credential chain; AWS_ENDPOINT_URL_S3 points it at any S3-compatible store

    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    return boto3.session.Session().client("s3", region_name=region)


def _s3_error(exc: Exception, uri: str) -> BadData:
    from botocore.exceptions import ClientError, NoCredentialsError

    if isinstance(exc, NoCredentialsError):
        return BadData(f"No AWS credentials are available to read {uri}.")
    if isinstance(exc, ClientError):
        code = exc.response.get("Error", {}).get("Code", "")
        if code in ("404", "NoSuchKey", "NoSuchBucket", "NotFound"):
            return BadData(f"{uri} does not exist ({code}).")
        return BadData(f"Could not read {uri}: {code} {exc.response.get('Error', {}).get('Message', '')}".strip())
    return BadData(f"Could not read {uri}: {exc}")


def _s3_sources(location: Location, scratch: Path) -> list[Source]:
    from botocore.exceptions import BotoCoreError, ClientError

    client = _s3_client()
    try:
        keys = _s3_list(client, location) if location.folder else [location.key]
        sources = []
        for index, key in enumerate(keys):
            target = scratch / f"{index:06d}.csv"
            client.download_file(location.bucket, key, str(target))
            sources.append(Source(f"s3://{location.bucket}/{key}", target))
        return sources
    except (BotoCoreError, ClientError) as exc:
        raise _s3_error(exc, location.text) from None


def _s3_list(client: Any, location: Location) -> list[str]:
    paginator = client.get_paginator("list_objects_v2")
    keys = [
        item["Key"]
        for page in paginator.paginate(Bucket=location.bucket, Prefix=location.key)
        for item in page.get("Contents", [])
        if item["Key"].lower().endswith(".csv")
    ]
    if not keys:
        raise BadData(f"No CSV objects found under {location.text}.")
    return sorted(keys)


def http_source(url: str, scratch: Path, access: Access) -> Source:
    """``url`` downloaded into ``scratch`` within the policy's host list, deadline and size cap."""
    target = scratch / "download.csv"
    try:
        download(access, url, target)
    except DownloadFailed as exc:
        raise BadData(str(exc)) from None
    return Source(url, target)


# ---- bounded reading ------------------------------------------------------------------------------


def check_text_file(source: Source) -> bool:
    """One pass in blocks: no NUL byte, no line over ``MAX_LINE_BYTES`` (polars would hold such a line whole).

    A block is no longer than the cap, so a line that starts and ends inside one block is short enough; only the
    run across block edges is counted (find/rfind per block: this pass runs at disk speed). Returns whether the
    file holds a backslash (only then are Personalize's escapes rewritten)."""
    run, offset, backslash = 0, 0, False
    with open(source.path, "rb") as handle:
        while chunk := handle.read(SCAN_CHUNK):
            nul = chunk.find(NUL)
            if nul >= 0:
                raise BadData(f"{source.label}: the file contains a NUL byte at offset {offset + nul}; a CSV file is text.")
            backslash = backslash or b"\\" in chunk
            first = chunk.find(b"\n")
            _check_line(source, run + (len(chunk) if first < 0 else first))
            run = run + len(chunk) if first < 0 else len(chunk) - chunk.rfind(b"\n") - 1
            offset += len(chunk)
    return backslash


def _check_line(source: Source, length: int) -> None:
    if length > MAX_LINE_BYTES:
        raise BadData(f"{source.label}: a line is longer than {MAX_LINE_BYTES} bytes; rows are limited to that.")


def bounded_lines(handle: IO[bytes], label: str) -> Iterator[bytes]:
    """The lines of ``handle``, each read with a cap: BadData instead of buffering an over-long line."""
    while raw := handle.readline(MAX_LINE_BYTES + 1):
        if len(raw) > MAX_LINE_BYTES:
            raise BadData(f"{label}: a line is longer than {MAX_LINE_BYTES} bytes; input lines are limited to that.")
        yield raw


# ---- CSV → Parquet --------------------------------------------------------------------------------


def read_header(source: Source) -> list[str]:
    """The header row's column names (a UTF-8 byte-order mark is ignored)."""
    with open(source.path, "rb") as handle:
        first = next(bounded_lines(handle, source.label), b"")
    try:
        header = next(csv.reader([first.decode("utf-8-sig")]), None)
    except UnicodeDecodeError:
        raise BadData(f"{source.label}: the file is not UTF-8 encoded.") from None
    except csv.Error as exc:
        raise BadData(f"{source.label}: the header row could not be parsed as CSV ({exc}).") from None
    if not header or all(not name.strip() for name in header):
        raise BadData(f"{source.label}: the file is empty; a header row naming the columns is required.")
    return [name.strip() for name in header]


def check_columns(source: Source, header: list[str], schema: Schema) -> None:
    """Header names are matched to schema fields by name (spec §4.4, lenient about order)."""
    duplicates = sorted(name for name, count in Counter(header).items() if count > 1)  # linear: 100k columns
    if duplicates:
        raise BadData(f"{source.label}: the header names these columns more than once: [{', '.join(duplicates)}].")
    present = set(header)
    missing = [f.name for f in schema.fields if not f.nullable and f.name not in present]
    if missing:
        raise BadData(f"Input CSV is missing the following columns: [{', '.join(missing)}] (file {source.label}).")
    unnamed = [position for position, name in enumerate(header, start=1) if not name.strip()]
    if unnamed:  # pandas' to_csv without index=False writes its index under an empty name first
        raise BadData(
            f"Input CSV has an unnamed column at position {unnamed[0]} (file {source.label}); every column needs a "
            "schema field's name (a DataFrame's index: write it with index=False)."
        )
    unknown = [name for name in header if schema.field(name) is None]
    if unknown:
        raise BadData(
            f"Input CSV has columns that are not in the dataset's schema: [{', '.join(unknown)}] (file {source.label})."
        )


def _typed(field: Field) -> pl.Expr:
    """The raw text column converted to the field's type; unparseable values become null."""
    raw = pl.col(field.name)
    if field.type == "string":
        return raw.str.slice(0, MAX_TEXTUAL_CHARS) if field.textual else raw
    if field.type == "boolean":
        lowered = raw.str.strip_chars().str.to_lowercase()
        return pl.when(lowered == "true").then(True).when(lowered == "false").then(False).otherwise(None)
    return raw.str.strip_chars().cast(DTYPES[field.type], strict=False)


def _string_limit(field: Field) -> int | None:
    if field.type != "string" or field.textual:
        return None
    return MAX_ID_CHARS if field.name in ID_FIELDS else MAX_STRING_CHARS


def _is_bad(field: Field) -> pl.Expr:
    """True on rows where this field's value cannot be imported."""
    raw = pl.col(field.name)
    bad = pl.lit(False) if field.nullable else raw.is_null()
    limit = _string_limit(field)
    if limit is not None:
        bad = bad | (raw.str.len_chars() > limit)
    if field.type != "string":
        typed = _typed(field)
        bad = bad | (raw.is_not_null() & typed.is_null())
        if field.type == "int":
            bad = bad | typed.is_not_null() & ((typed < INT32[0]) | (typed > INT32[1]))
    return bad


def _describe_problem(field: Field, value: str | None) -> str:
    """Why one value was rejected, in words (the vectorised check found it; this explains it)."""
    if value is None:
        return "the value is empty but the field is not nullable"
    shown = value if len(value) <= 80 else value[:77] + "..."
    limit = _string_limit(field)
    if limit is not None and len(value) > limit:
        kind = "ids" if limit == MAX_ID_CHARS else "string values"
        return f"the value {shown!r} is {len(value)} characters long; {kind} are limited to {limit}"
    if field.type == "boolean":
        return f"the value {shown!r} is not a boolean (expected true or false)"
    if field.type == "int" and value.strip().lstrip("+-").isdigit():
        return f"the value {shown!r} is out of range for type int"
    return f"the value {shown!r} is not a valid {field.type}"


def _scan(source: Source, header: list[str]) -> pl.LazyFrame:
    """The file's rows as strings, numbered from 1 after the header. A blank line (an editor's or exporter's
    trailing newline) is skipped, as Python's csv module and Spark skip it, and keeps its number: polars reads
    it as a row of nulls, as it reads a line of bare commas, which holds nothing to import either."""
    return pl.scan_csv(
        source.path,
        has_header=True,
        schema={name: pl.String() for name in header},
        row_index_name=ROW,
        row_index_offset=1,
        encoding="utf8",
    ).filter(pl.any_horizontal(pl.col(header).is_not_null()))


def _first_bad_row(source: Source, header: list[str], schema: Schema) -> str | None:
    """The failure reason for the first row holding a bad value, or None when every value is fine."""
    fields = [f for f in schema.fields if f.name in header]
    checks = [pl.when(_is_bad(f)).then(pl.lit(i)) for i, f in enumerate(fields)]
    if not checks:
        return None
    found = (
        _scan(source, header)
        .with_columns(pl.coalesce(checks).alias("__bad"))
        .filter(pl.col("__bad").is_not_null())
        .head(1)
        .collect(engine="streaming")
    )
    if found.height == 0:
        return None
    row = found.row(0, named=True)
    field = fields[row["__bad"]]
    problem = _describe_problem(field, row[field.name])
    return f"{source.label}: row {row[ROW]}, column {field.name}: {problem}."


def _ragged_row(source: Source, width: int) -> str | None:
    """Slow path, only after polars rejected the file: find the row whose field count is wrong."""
    with open(source.path, encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle)
        try:
            next(reader, None)
            for number, row in enumerate(reader, start=1):
                if len(row) > width:
                    return f"{source.label}: row {number} has {len(row)} fields but the header has {width}."
        except csv.Error:
            return None  # the caller reports polars' own reason
    return None


def _parse_failure(source: Source, header: list[str], exc: pl.exceptions.PolarsError) -> BadData:
    if "more fields than defined" in str(exc):
        reason = _ragged_row(source, len(header))
        if reason:
            return BadData(reason)
    # polars' own message names its internals (dtypes, engine options); it goes to the log, not to the user.
    log.warning("%s: polars could not parse the file: %s", source.label, exc)
    return BadData(f"{source.label}: the file could not be parsed as CSV; check the quoting and the field count of each row.")


def csv_to_parquet(source: Source, schema: Schema, target: Path) -> int:
    """Validate ``source`` against ``schema`` and write it as typed Parquet; returns the row count.

    Raises BadData naming the file, the row, the column and the value for the first bad value, before
    anything is written.
    """
    backslash = check_text_file(source)
    header = read_header(source)
    check_columns(source, header, schema)
    if backslash:
        unescaped = target.with_suffix(".unescaped.csv")
        try:
            _unescape_file(source.path, unescaped)
            return _convert(Source(source.label, unescaped), header, schema, target)
        finally:
            unescaped.unlink(missing_ok=True)
    return _convert(source, header, schema, target)


def _convert(source: Source, header: list[str], schema: Schema, target: Path) -> int:
    columns = [
        _typed(f).alias(f.name) if f.name in header else pl.lit(None, DTYPES[f.type]).alias(f.name)
        for f in schema.fields
    ]
    try:
        reason = _first_bad_row(source, header, schema)
        if reason is not None:
            raise BadData(reason)
        _scan(source, header).select(columns).sink_parquet(target, **PARQUET, engine="streaming")
    except pl.exceptions.PolarsError as exc:
        raise _parse_failure(source, header, exc) from None
    fsync_file(target)
    return int(pl.scan_parquet(target).select(pl.len()).collect().item())


def _unescape(match: re.Match[bytes]) -> bytes:
    return b'""' if match.group(1) == b'"' else b"\\"


def _unescape_file(path: Path, target: Path) -> None:
    """Rewrite Personalize's escapes (spec §4.4: \\" is a quote, \\\\ a backslash) as RFC 4180, which polars reads.

    Only files that contain a backslash pay for this. A run of backslashes split by a chunk boundary keeps
    its odd last one for the next chunk, so pairs are matched exactly as in one pass.
    """
    carry = b""
    with open(path, "rb") as source, open(target, "wb") as out:
        while chunk := source.read(COPY_CHUNK):
            data = carry + chunk
            run = len(data) - len(data.rstrip(b"\\"))
            carry = data[-1:] if run % 2 else b""
            out.write(ESCAPED.sub(_unescape, data[: len(data) - len(carry)]))
        out.write(carry)
