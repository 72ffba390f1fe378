"""Which campaign or recommender made each recommendationId, and what it showed, kept on disk (spec §2.11, §10.1).

Every runtime answer carries a ``recommendationId``. Metric-attribution reports credit an event naming one to
the campaign or recommender that made it, so the id must outlive the process that answered (a restart, or a
separate worker publishing the report). Lines ``{"id", "source", "items", "at"}`` go to one JSON-lines file
per hour under ``root``; files older than ``RETENTION_SECONDS`` are removed when a new hour's file starts.

The request path only appends a tuple to an in-memory list; a background thread encodes and writes it with one
``os.write`` every ``FLUSH_SECONDS`` (as the event log shares one fsync between requests, this shares one
write). The writes are not fsynced: they survive the process being killed (the page cache outlives it; an
unflushed ``FLUSH_SECONDS`` at most is lost), not a power cut — an attribution source, not an acknowledged event.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

import orjson
import polars as pl

from .durable import complete_lines

# Events name a recommendation minutes after it was shown; the PUT report covers the completed 15-minute
# windows since the previous one (OPENPERSONALIZE_ATTRIBUTION_REPORT_SECONDS, default 900). Two days leave
# room for late events and a worker that was down, at ~0.3 kB per answer.
RETENTION_SECONDS = 2 * 86400.0
FLUSH_SECONDS = 0.2
HOUR = 3600


class RecommendationLog:
    """Append-only, hourly files of recommendationId → (source ARN, item ids); thread-safe, multi-process safe."""

    def __init__(self, root: Path, *, retention_seconds: float = RETENTION_SECONDS, flush_seconds: float = FLUSH_SECONDS) -> None:
        self.root = root
        self.retention_seconds = retention_seconds
        self.flush_seconds = flush_seconds
        self._buffer: list[tuple[str, str, Sequence[str], float]] = []
        self._lock = threading.Lock()  # guards _buffer and _writer
        self._write_lock = threading.Lock()  # one flush at a time, so lines keep their order
        self._writer: threading.Thread | None = None
        self._stop = threading.Event()
        self._hour = -1

    def append(self, recommendation_id: str, source_arn: str, item_ids: Sequence[str]) -> None:
        """Record one answer (written within ``flush_seconds``)."""
        entry = (recommendation_id, source_arn, item_ids, time.time())  # encoded by the writer, off the request
        with self._lock:
            self._buffer.append(entry)
            if self._writer is None:
                self._writer = threading.Thread(target=self._run, name="recommendation-log", daemon=True)
                self._writer.start()

    def _run(self) -> None:
        while not self._stop.wait(self.flush_seconds):
            self.flush()

    def flush(self) -> None:
        """Write what was appended so far to the current hour's file."""
        with self._write_lock:
            with self._lock:
                entries, self._buffer = self._buffer, []
            if not entries:
                return
            hour = int(time.time() // HOUR)
            self.root.mkdir(parents=True, exist_ok=True)
            if hour != self._hour:
                self._hour = hour
                self._prune(hour)
            fd = os.open(self.root / f"{hour}.jsonl", os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                os.write(fd, b"".join(_line(*entry) for entry in entries))
            finally:
                os.close(fd)

    def _prune(self, hour: int) -> None:
        oldest = hour - int(self.retention_seconds // HOUR)
        for path in self._files():
            if int(path.stem) < oldest:
                path.unlink(missing_ok=True)

    def _files(self) -> list[Path]:
        if not self.root.is_dir():
            return []
        return sorted((p for p in self.root.glob("*.jsonl") if p.stem.isdigit()), key=lambda p: int(p.stem))

    def sources(self, recommendation_ids: Iterable[str]) -> dict[str, str]:
        """recommendationId → source ARN for the given ids still retained (this process's pending ones too)."""
        wanted = pl.Series("id", list(set(recommendation_ids)), dtype=pl.String)
        if wanted.is_empty():
            return {}
        self.flush()
        found: dict[str, str] = {}
        for path in self._files():
            data = complete_lines(path.read_bytes())
            if not data:
                continue
            frame = pl.read_ndjson(data, schema={"id": pl.String, "source": pl.String})
            for rid, source in frame.filter(pl.col("id").is_in(wanted.implode())).iter_rows():
                found[rid] = source
        return found

    def close(self) -> None:
        """Stop the writer thread and write what is pending."""
        self._stop.set()
        with self._lock:
            writer = self._writer
        if writer is not None:
            writer.join()
        self.flush()


def _line(recommendation_id: str, source_arn: str, item_ids: Sequence[str], at: float) -> bytes:
    return orjson.dumps({"id": recommendation_id, "source": source_arn, "items": item_ids, "at": at}) + b"\n"
