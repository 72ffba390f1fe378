"""What batch inference and batch segment jobs share: input files, output files, the chunked driver, lines.

Input is one file or a folder (every object under an ``s3://`` prefix, every file under a local folder), read
from S3, HTTP or the local disk (data/readers.py parses locations); output goes to S3 or a local folder, one
``<input name>.out`` per input file. Both are streamed in chunks of ``CHUNK_LINES`` lines, so memory does not
grow with the input. Outputs are published through the object store interface
(data/objects.py): a local ``.out`` is written as ``.partial`` and renamed, an S3 one is spooled to a scratch
file and uploaded (in parts when large); nobody sees half a file, and a re-run after a crash overwrites, so the runners are
resumable. While a job runs, the share of input bytes answered is reported as its progress (the worker writes
it to the record's ``_progress``) and logged, once a second.
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import orjson

from ..errors import InvalidInputException
from ..statuses import ACTIVE, CREATE_IN_PROGRESS, IN_FLIGHT
from ..services import Services
from ..data.metadata import Job, Record
from ..data.access import Access, AccessDenied
from ..data.readers import BadData, Location, _s3_error, bounded_lines, http_source, list_folder
from ..filters.compile import parse_filter_values
from .base import JobFailed, Progress
from .dataset_export import Target, publish, s3_client
from .fanout import Fanout

log = logging.getLogger("openpersonalize.batch")
INFERENCE_KIND, SEGMENT_KIND = "batch-inference-job", "batch-segment-job"  # the job records
INFERENCE_JOB, SEGMENT_JOB = "batch-inference", "batch-segment"  # their runner kinds (jobs/runners.py)
CHUNK_LINES = 4096  # lines parsed, answered and written together
MAX_INPUT_FILES = 1000  # spec §11
MAX_INPUT_BYTES = 1 << 30  # spec §11: 1 GB of input in total
PROGRESS_SECONDS = 1.0  # how often progress is reported and logged
MAX_ID_CHARS = 256
MAX_LINE_DEPTH = 254  # orjson writes at most this many levels: a deeper line could not be echoed in the .out

Answer = Callable[[list[bytes]], list[bytes]]  # a chunk of input lines → one output line each


class LineError(ValueError):
    """One input line cannot be answered; its message becomes the line's ``error``."""


# ---- input files -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class InputFile:
    """One input file: ``label`` as the user would name it; ``name`` its path under the input folder (the output
    is ``<name>.out``); ``bucket``/``key`` for S3, else ``path`` (local path or HTTP URL); ``size`` in bytes."""

    label: str
    name: str
    size: int
    bucket: str | None = None
    key: str = ""
    path: str = ""


def list_inputs(text: str, access: Access) -> list[InputFile]:
    """The files of ``jobInput.s3DataSource.path``; JobFailed when there are none, too many or too much, or when
    ``access`` refuses the location (AccessDenied is a ValueError)."""
    try:
        location = access.source(text)
        if location.scheme == "s3":
            files = _s3_inputs(location)
        elif location.scheme == "local":
            files = _local_inputs(location, access)
        else:
            files = [InputFile(text, text.rstrip("/").rsplit("/", 1)[-1] or "input", 0, path=text)]
    except (ValueError, BadData) as error:
        raise JobFailed(f"Invalid S3 input path: {error}") from None
    if not files:
        raise JobFailed(f"Invalid S3 input path: no input files found under {text}.")
    if len(files) > MAX_INPUT_FILES:
        raise JobFailed(f"The input {text} has {len(files)} files; at most {MAX_INPUT_FILES} are allowed.")
    total = sum(f.size for f in files)
    if total > MAX_INPUT_BYTES:
        raise JobFailed(f"The input {text} holds {total} bytes; at most {MAX_INPUT_BYTES} (1 GB) are allowed.")
    return files


def _local_inputs(location: Location, access: Access) -> list[InputFile]:
    root = Path(location.path)
    if root.is_dir():
        paths = sorted(p for p in list_folder(root, location.text) if not p.name.startswith("."))
        return [InputFile(str(p), str(p.relative_to(root)), p.stat().st_size, path=str(access.local_file(p, str(p))))
                for p in paths]
    if location.folder or not root.is_file():
        raise BadData(f"{location.text} does not exist.")
    return [InputFile(location.text, root.name, root.stat().st_size, path=str(root))]


def _s3_inputs(location: Location) -> list[InputFile]:
    from botocore.exceptions import BotoCoreError, ClientError

    client = s3_client()
    try:
        if not location.folder:
            head = client.head_object(Bucket=location.bucket, Key=location.key)
            name = location.key.rsplit("/", 1)[-1]
            return [InputFile(location.text, name, int(head["ContentLength"]), location.bucket, location.key)]
        files = []
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=location.bucket, Prefix=location.key):
            for item in page.get("Contents", []):
                if not item["Key"].endswith("/"):
                    name = item["Key"][len(location.key):].lstrip("/")
                    files.append(InputFile(f"s3://{location.bucket}/{item['Key']}", name, int(item["Size"]),
                                           location.bucket, item["Key"]))
        return sorted(files, key=lambda f: f.key)
    except (BotoCoreError, ClientError) as error:
        raise _s3_error(error, location.text) from None


@contextmanager
def local_copy(source: InputFile, scratch: Path, access: Access) -> Iterator[Path]:
    """The input as a local file: itself, or downloaded into ``scratch`` (removed afterwards)."""
    if source.bucket is None and not source.path.lower().startswith(("http://", "https://")):
        yield Path(source.path)
        return
    target = scratch / "input.jsonl"
    try:
        if source.bucket is not None:
            from botocore.exceptions import BotoCoreError, ClientError

            try:
                s3_client().download_file(source.bucket, source.key, str(target))
            except (BotoCoreError, ClientError) as error:
                raise _s3_error(error, source.label) from None
        else:
            Path(http_source(source.path, scratch, access).path).replace(target)
    except BadData as error:
        raise JobFailed(f"Invalid S3 input path: {error}") from None
    try:
        yield target
    finally:
        target.unlink(missing_ok=True)


# ---- output files ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OutputFolder:
    bucket: str | None  # None: a local folder
    prefix: str  # S3 key prefix ("" or ending in /), or the local folder

    @classmethod
    def parse(cls, text: str, access: Access) -> OutputFolder:
        try:
            location = access.destination(text)  # refusal: AccessDenied, a ValueError
        except ValueError as error:
            raise JobFailed(f"Invalid S3 output path: {error}") from None
        if location.scheme == "s3":
            key = location.key
            return cls(location.bucket, key if not key or key.endswith("/") else key + "/")
        if location.scheme == "local":
            return cls(None, location.path)
        raise JobFailed(f"Invalid S3 output path: {text} cannot be written; use s3://bucket/prefix/ or a local folder.")

    def label(self, name: str) -> str:
        return f"s3://{self.bucket}/{self.prefix}{name}" if self.bucket is not None else str(Path(self.prefix) / name)


@contextmanager
def output_stream(folder: OutputFolder, name: str) -> Iterator[IO[bytes]]:
    """A binary stream for ``<name>``; published (renamed or uploaded) only when the block ends cleanly."""
    target = Target(folder.bucket, folder.prefix + name if folder.bucket is not None else folder.label(name))
    try:
        with publish(target) as handle:
            yield handle
    except JobFailed as error:
        raise JobFailed(f"Invalid S3 output path: {error}") from None


# ---- the driver ------------------------------------------------------------------------------------------------


class Reporter:
    """Reports the share of input bytes answered as the job's progress and logs it, once a second."""

    def __init__(self, arn: str, total_bytes: int, progress: Progress) -> None:
        self.arn, self.total, self.progress = arn, max(total_bytes, 1), progress
        self.done = 0
        self.started = self.last = time.monotonic()

    def advance(self, consumed: int, force: bool = False) -> None:
        self.done += consumed
        now = time.monotonic()
        if not force and now - self.last < PROGRESS_SECONDS:
            return
        self.last = now
        percent = round(min(100.0, 100.0 * self.done / self.total), 1)
        self.progress(percent / 100)
        log.info("batch job %s: %.1f%% of the input answered in %.0f s", self.arn, percent, now - self.started)


def _chunks(handle: IO[bytes], label: str) -> Iterator[tuple[list[bytes], int]]:
    """Non-blank lines in chunks, with the bytes each chunk consumed; each line is read with a length cap."""
    lines: list[bytes] = []
    consumed = 0
    for raw in bounded_lines(handle, label):
        consumed += len(raw)
        if raw.strip():
            lines.append(raw)
        if len(lines) >= CHUNK_LINES:
            yield lines, consumed
            lines, consumed = [], 0
    if lines or consumed:
        yield lines, consumed


def run_batch(services: Services, job: Job, kind: str, progress: Progress,
              make_answer: Callable[[Record], Answer], check_file: Callable[[Path, InputFile], None] | None = None) -> None:
    """CREATE PENDING → CREATE IN_PROGRESS → ACTIVE: answer every input line, one ``.out`` per input file."""
    record = services.store.get(job.arn, kind)
    if record is None or record.status not in IN_FLIGHT:
        return
    services.store.update(job.arn, {"status": CREATE_IN_PROGRESS, "_progress": 0.0})
    body = record.body
    access = Access.of(services.settings, body.get("roleArn"))
    inputs = list_inputs(body["jobInput"]["s3DataSource"]["path"], access)
    folder = OutputFolder.parse(body["jobOutput"]["s3DataDestination"]["path"], access)
    answer = make_answer(record)
    reporter = Reporter(job.arn, sum(f.size for f in inputs), progress)
    fanout = Fanout.of(services.settings)
    with tempfile.TemporaryDirectory(prefix="op-batch-") as scratch_dir:
        scratch = Path(scratch_dir)
        for source in inputs:
            with local_copy(source, scratch, access) as path:
                _check_output(access, folder, source.name + ".out")
                if check_file is not None:
                    check_file(path, source)
                _answer_file(path, source, folder, answer, reporter, fanout)
    reporter.advance(0, force=True)
    services.store.update(job.arn, {"status": ACTIVE, "_progress": 100.0})


def _check_output(access: Access, folder: OutputFolder, name: str) -> None:
    """A local ``.out`` (and the ``.partial`` written first) is checked again where it lands: a symlink planted in
    the folder may point out of it."""
    if folder.bucket is None:
        target = Path(folder.prefix) / name
        try:
            for path in (target, target.with_name(target.name + ".partial")):
                access.local_file(path, str(target), "write")
        except AccessDenied as error:
            raise JobFailed(f"Invalid S3 output path: {error}") from None


def _answer_file(path: Path, source: InputFile, folder: OutputFolder, answer: Answer, reporter: Reporter,
                 fanout: Fanout) -> None:
    try:
        handle = open(path, "rb")
    except OSError as error:
        raise JobFailed(f"Invalid S3 input path: could not read {source.label}: {error.strerror or error}") from None
    try:
        with handle, output_stream(folder, source.name + ".out") as out:
            # chunks in input order, each answered here or as a Ray task (jobs/fanout.py): one output either way
            for text, consumed in fanout.stream(answer_chunk, answer, _chunks(handle, source.label)):
                out.write(text)
                reporter.advance(consumed)
    except BadData as error:  # an over-long line: nothing is published for this file
        raise JobFailed(str(error)) from None


def answer_chunk(answer: Answer, lines: list[bytes]) -> bytes:
    return b"".join(answer(lines))


def parse_line(raw: bytes) -> dict[str, Any]:
    """One input line as a JSON object, or LineError."""
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        raise LineError(f"The line is not valid JSON: {error}.") from None
    if not isinstance(value, dict):
        raise LineError(f"The line must be a JSON object; got {type(value).__name__}.")
    if raw.count(b"[") + raw.count(b"{") > MAX_LINE_DEPTH:
        try:  # only lines with that many brackets pay for this check
            orjson.dumps(value)
        except TypeError:
            raise LineError(f"The line nests JSON deeper than {MAX_LINE_DEPTH} levels.") from None
    return value


def error_line(raw: bytes, parsed: Any, message: str) -> bytes:
    """``{"input": ..., "output": null, "error": message}``; the raw text is echoed when it is not JSON."""
    echo = parsed if parsed is not None else raw.decode("utf-8", "replace").strip()
    return orjson.dumps({"input": echo, "output": None, "error": message}) + b"\n"


def id_member(line: dict[str, Any], member: str) -> str:
    value = line.get(member)
    if not isinstance(value, str) or not value or len(value) > MAX_ID_CHARS:
        raise LineError(f"{member} must be a string of 1 to {MAX_ID_CHARS} characters; got {show(value)}.")
    return value


def filter_values(line: dict[str, Any]) -> dict[str, str]:
    values = line.get("filterValues", {})
    if not isinstance(values, dict) or not all(isinstance(v, str) for v in values.values()):
        raise LineError(f"filterValues must be an object of strings; got {show(values)}.")
    try:
        parse_filter_values(values)
    except InvalidInputException as error:
        raise LineError(error.message) from None
    return values


def show(value: Any) -> str:
    text = "nothing" if value is None else repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
