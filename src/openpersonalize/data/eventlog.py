"""The durable log of individually imported rows (PutEvents, PutItems, PutUsers, PutActions, PutActionInteractions).

One append-only JSON-lines file per dataset. ``append`` returns only after ``os.fsync``, so an acknowledged
request survives ``kill -9`` (DESIGN §3: "append to a durable log before answering 200").

Throughput: each dataset keeps one file descriptor, opened once. Concurrent appenders share fsyncs
(group commit): a request waits until *some* fsync that started after its write has finished, so N requests
arriving together cost about one fsync, not N.

Several processes may share the data directory (`openpersonalize worker` runs data deletion jobs while the
server appends). Writers and rewriters therefore hold an ``flock`` on a sibling ``.lock`` file, and an appender
re-opens its descriptor when the path now names another file (a rewrite replaced it with ``os.replace``).

Row keys are schema column names; keys starting with ``$`` are bookkeeping of the caller (event id, session id)
that no Avro field can collide with. ``read`` returns schema columns only.
"""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
import polars as pl

from .durable import complete_lines, fsync_dir
from .schema import Schema

EVENT_ID = "$eid"  # the caller's event id; later rows reusing one are dropped by ``read`` (spec §10.1)

POLARS_TYPES: dict[str, Any] = {
    "string": pl.Utf8,
    "int": pl.Int64,
    "long": pl.Int64,
    "float": pl.Float64,
    "double": pl.Float64,
    "boolean": pl.Boolean,
}



def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


class _DatasetLog:
    """The log file of one dataset: one descriptor, a process-wide write lock, group-committed fsyncs."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lock_path = path.with_name(path.name + ".lock")
        self._write_lock = threading.Lock()  # guards _fd, _inode and _written
        self._sync_cond = threading.Condition()  # guards _synced and _syncing
        self._fd = -1
        self._inode = -1
        self._lock_fd = -1
        self._written = 0  # batches written by this process
        self._synced = 0  # batches known to be on disk
        self._syncing = False

    # ---- locking and (re)opening -----------------------------------------------------------------

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        """This process's write lock plus the cross-process flock."""
        with self._write_lock:
            if self._lock_fd < 0:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._lock_fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o644)
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(self._lock_fd, fcntl.LOCK_UN)

    def _current_fd(self) -> int:
        """The descriptor of the file now at ``path`` (held under ``exclusive``)."""
        try:
            inode = os.stat(self.path).st_ino
        except FileNotFoundError:
            inode = -2
        if inode == self._inode and self._fd >= 0:
            return self._fd
        if self._fd >= 0:
            os.close(self._fd)
        created = inode == -2
        self._fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
        self._inode = os.fstat(self._fd).st_ino
        if created:
            fsync_dir(self.path.parent)
        self._repair_tail()
        return self._fd

    def _repair_tail(self) -> None:
        # A crash mid-write can leave a partial last line; the next append would glue onto it.
        size = os.fstat(self._fd).st_size
        if size == 0:
            return
        if os.pread(self._fd, 1, size - 1) == b"\n":
            return
        chunk = min(size, 1 << 20)
        tail = os.pread(self._fd, chunk, size - chunk)
        cut = tail.rfind(b"\n")
        keep = size - chunk + cut + 1 if cut >= 0 else (0 if chunk == size else size)
        os.ftruncate(self._fd, keep)
        os.fsync(self._fd)

    # ---- appending -------------------------------------------------------------------------------

    def append(self, data: bytes) -> None:
        with self.exclusive():
            _write_all(self._current_fd(), data)
            self._written += 1
            ticket = self._written
        self._wait_durable(ticket)

    def _wait_durable(self, ticket: int) -> None:
        """Return once an fsync covering write number ``ticket`` has completed (group commit)."""
        with self._sync_cond:
            while self._synced < ticket and self._syncing:
                self._sync_cond.wait()
            if self._synced >= ticket:
                return
            self._syncing = True
        covered = 0
        try:
            covered = self._fsync_current()
        finally:
            with self._sync_cond:
                self._syncing = False
                self._synced = max(self._synced, covered)
                self._sync_cond.notify_all()

    def _fsync_current(self) -> int:
        """fsync the current file; returns how many writes that covers.

        Writes made before a re-open went to a file that its rewriter copied and synced, so syncing the
        current file covers every write counted so far. The descriptor is dup()ed because a concurrent
        re-open may close the original while this fsync runs.
        """
        with self._write_lock:
            covered = self._written
            if self._fd < 0:  # dropped since: nothing left to make durable
                return covered
            fd = os.dup(self._fd)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        return covered

    # ---- whole-file operations -------------------------------------------------------------------

    def read_bytes(self) -> bytes:
        try:
            return complete_lines(self.path.read_bytes())
        except FileNotFoundError:
            return b""

    def rewrite(self, keep: Any) -> int:
        """Keep only lines for which ``keep(row)`` is true; atomic (temp file + os.replace). Returns removed."""
        with self.exclusive():
            lines = self.read_bytes().splitlines(keepends=True)
            kept = [line for line in lines if line.strip() and keep(orjson.loads(line))]
            removed = len([line for line in lines if line.strip()]) - len(kept)
            if removed == 0:
                return 0
            temp = self.path.with_name(self.path.name + ".rewrite")
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            try:
                _write_all(fd, b"".join(kept))
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(temp, self.path)
            fsync_dir(self.path.parent)
            return removed

    def drop(self) -> None:
        with self.exclusive():
            if self._fd >= 0:
                os.close(self._fd)
                self._fd, self._inode = -1, -1
            self.path.unlink(missing_ok=True)
            fsync_dir(self.path.parent)

    def close(self) -> None:
        with self._write_lock:
            for fd in (self._fd, self._lock_fd):
                if fd >= 0:
                    os.close(fd)
            self._fd = self._lock_fd = self._inode = -1


class EventLog:
    """All individually imported rows, one durable append-only file per dataset under ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)
        self._logs: dict[str, _DatasetLog] = {}
        self._logs_lock = threading.Lock()

    def path(self, dataset_arn: str) -> Path:
        """``<root>/<region>/<account>/<resource path>.jsonl``: region and account keep tenants apart."""
        parts = dataset_arn.split(":", 5)
        if len(parts) != 6:
            raise ValueError(f"not a dataset ARN: {dataset_arn!r}")
        components = [parts[3] or "-", parts[4] or "-", *parts[5].split("/")]
        if any(c in ("", ".", "..") or os.sep in c for c in components):
            raise ValueError(f"dataset ARN {dataset_arn!r} does not map to a safe file name")
        return self.root.joinpath(*components[:-1], components[-1] + ".jsonl")

    def _log(self, dataset_arn: str) -> _DatasetLog:
        log = self._logs.get(dataset_arn)
        if log is None:
            with self._logs_lock:
                log = self._logs.setdefault(dataset_arn, _DatasetLog(self.path(dataset_arn)))
        return log

    def append(self, dataset_arn: str, rows: list[dict[str, Any]]) -> None:
        """Append ``rows`` (one request's worth) durably: written and fsynced before this returns."""
        if rows:
            self._log(dataset_arn).append(b"".join(orjson.dumps(row) + b"\n" for row in rows))

    def rows(self, dataset_arn: str) -> list[dict[str, Any]]:
        """Every stored row as appended, bookkeeping keys included (for recovery checks and serving)."""
        data = self._log(dataset_arn).read_bytes()
        return [orjson.loads(line) for line in data.splitlines() if line.strip()]

    def read(self, dataset_arn: str, schema: Schema) -> pl.DataFrame | None:
        """All PUT rows of the dataset in append order, typed per the schema; None when there are none.

        Later rows reusing an event id are dropped and exact duplicates are stored once (spec §10.1);
        the last copy of a duplicate is the one kept, so "latest row per id" stays the newest upsert.
        """
        frame = self.columns(dataset_arn, {f.name: POLARS_TYPES[f.type] for f in schema.fields})
        if frame is None:
            return None
        frame = frame.unique(keep="last", maintain_order=True)
        return frame if frame.height else None

    def columns(self, dataset_arn: str, columns: dict[str, Any]) -> pl.DataFrame | None:
        """The named columns (bookkeeping keys such as ``$sid`` too) of every row in append order, rows that
        reuse an earlier event id dropped; None when the log is empty."""
        data = self._log(dataset_arn).read_bytes()
        if not data:
            return None
        frame = pl.read_ndjson(data, schema={**columns, EVENT_ID: pl.Utf8})
        first_use = frame[EVENT_ID].is_null() | frame[EVENT_ID].is_first_distinct()
        return frame.filter(first_use).drop(EVENT_ID)

    def delete_users(self, dataset_arn: str, user_ids: set[str]) -> int:
        """Remove every row whose USER_ID is one of ``user_ids``, atomically; returns the number removed."""
        if not user_ids:
            return 0
        return self._log(dataset_arn).rewrite(lambda row: row.get("USER_ID") not in user_ids)

    def drop(self, dataset_arn: str) -> None:
        """Forget a deleted dataset's rows, so a dataset re-created under the same ARN starts empty."""
        self._log(dataset_arn).drop()
        with self._logs_lock:
            self._logs.pop(dataset_arn, None)

    def close(self) -> None:
        with self._logs_lock:
            for log in self._logs.values():
                log.close()
            self._logs.clear()
