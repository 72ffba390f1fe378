"""Dataset storage: Parquet files under the data directory (the embedded default object store).

Bulk rows (from import jobs) of a dataset live as Parquet files in ``<dataset dir>/bulk/parts/``; the files
that make up the dataset are listed in ``bulk/manifest.json``. The manifest is replaced atomically (write a
temporary file, fsync, ``os.replace``), and that swap is the only commit point: an import or a user deletion
either fully lands or leaves the dataset as it was, also across kill -9. Rows from the events/records APIs
(PUT rows) live in the event log (``data/eventlog.py``).
"""

from __future__ import annotations

import fcntl
import os
import secrets
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
import polars as pl

from .eventlog import EventLog
from .durable import fsync_dir, fsync_file
from .recommendations import RecommendationLog
from .readers import DTYPES, PARQUET, BadData, Source, csv_to_parquet
from .schema import Schema

ORIGINS = ("BULK", "PUT", "ALL")
# Datasets whose records are entities: for ALL, the newest record per id wins (spec §2.4).
ID_COLUMN = {"ITEMS": "ITEM_ID", "USERS": "USER_ID", "ACTIONS": "ACTION_ID"}
MAX_REMEMBERED_JOBS = 1000  # committed import keys kept in the manifest, for idempotent re-runs


def dataset_type_of(dataset_arn: str, schema: Schema) -> str:
    """INTERACTIONS / ITEMS / USERS / ACTIONS / ACTION_INTERACTIONS, from the ARN's last segment."""
    suffix = dataset_arn.rsplit("/", 1)[-1].upper()
    if suffix in ("INTERACTIONS", "ITEMS", "USERS", "ACTIONS", "ACTION_INTERACTIONS"):
        return suffix
    return schema.record_name.upper()


def empty_frame(schema: Schema) -> pl.DataFrame:
    return pl.DataFrame(schema={f.name: DTYPES[f.type] for f in schema.fields})


def conform(frame: pl.LazyFrame, schema: Schema) -> pl.LazyFrame:
    """Exactly the schema's columns, typed from it; columns added to the schema later read as null."""
    present = set(frame.collect_schema().names())
    return frame.select(
        [
            pl.col(f.name).cast(DTYPES[f.type]) if f.name in present else pl.lit(None, DTYPES[f.type]).alias(f.name)
            for f in schema.fields
        ]
    )


class DataStore:
    """Where datasets, the event log and artifacts live for one deployment."""

    def __init__(self, root: Path, events_url: str | None = None) -> None:
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)
        self.events = EventLog(root / "eventlog", events_url)
        self.recommendations = RecommendationLog(root / "recommendations")

    def dataset_dir(self, dataset_arn: str) -> Path:
        # ARNs contain ':' and '/', so the directory is keyed by a filesystem-safe form.
        safe = dataset_arn.split(":", 5)[-1].replace("/", "__")
        path = self.root / "datasets" / safe
        path.mkdir(parents=True, exist_ok=True)
        return path

    def scratch_dir(self, key: str) -> Path:
        """A private working directory for one job (downloads); the caller removes it."""
        return self.root / "tmp" / _safe_key(key)

    # ---- reading ---------------------------------------------------------------------------------

    def read_dataset(self, dataset_arn: str, schema: Schema, origin: str = "ALL", events_upto: int | None = None) -> pl.DataFrame:
        """The dataset's rows with exactly the schema's columns.

        ``origin`` BULK = rows from import jobs, PUT = rows from the events/records APIs, ALL = both. For
        Items/Users/Actions, ALL keeps the newest record per id; PUT rows count as newer than bulk rows
        (impl. choice: an individually put record is the freshest knowledge of that entity). ``events_upto``:
        only PUT rows numbered up to it (serving's snapshot, followed by the rows after it).
        """
        if origin not in ORIGINS:
            raise ValueError(f"origin must be one of {ORIGINS}, not {origin!r}")
        frames: list[pl.DataFrame] = []
        if origin in ("BULK", "ALL"):
            frames.append(self._read_bulk(dataset_arn, schema))
        if origin in ("PUT", "ALL"):
            put = self.events.read(dataset_arn, schema, events_upto)
            if put is not None:
                frames.append(conform(put.lazy(), schema).collect())
        if not frames:
            return empty_frame(schema)
        data = pl.concat(frames, how="vertical") if len(frames) > 1 else frames[0]
        id_column = ID_COLUMN.get(dataset_type_of(dataset_arn, schema))
        if origin == "ALL" and id_column is not None and schema.field(id_column) is not None:
            data = data.unique(subset=[id_column], keep="last", maintain_order=True)
        return data

    def read_import(self, dataset_arn: str, schema: Schema, job_key: str) -> pl.DataFrame:
        """The bulk rows that one import job (by its commit key) contributed and that are still in the dataset."""
        bulk = self._bulk_dir(dataset_arn)
        for _ in range(2):  # a commit landing while we read collects files we listed: the next manifest is whole
            files = [bulk / e["name"] for e in self._manifest(bulk)["files"] if e.get("job") == job_key]
            try:
                parts = [conform(pl.scan_parquet(path), schema) for path in files]
                return pl.concat(parts, how="vertical").collect() if parts else empty_frame(schema)
            except (FileNotFoundError, pl.exceptions.ComputeError):
                continue
        return empty_frame(schema)

    def bulk_rows(self, dataset_arn: str) -> int:
        """How many bulk rows the dataset holds (from the manifest; no file is opened)."""
        return sum(int(entry["rows"]) for entry in self._manifest(self._bulk_dir(dataset_arn))["files"])

    def _read_bulk(self, dataset_arn: str, schema: Schema) -> pl.DataFrame:
        bulk = self._bulk_dir(dataset_arn)
        try:
            return self._read_files(bulk, schema)
        except (FileNotFoundError, pl.exceptions.ComputeError):
            # Two commits landed while we read (a file we listed was collected): the new manifest is whole.
            return self._read_files(bulk, schema)

    def _read_files(self, bulk: Path, schema: Schema) -> pl.DataFrame:
        files = [bulk / entry["name"] for entry in self._manifest(bulk)["files"]]
        if not files:
            return empty_frame(schema)
        parts = [conform(pl.scan_parquet(path), schema) for path in files]
        return pl.concat(parts, how="vertical").collect()

    # ---- bulk imports ----------------------------------------------------------------------------

    def has_committed(self, dataset_arn: str, job_key: str) -> bool:
        """Whether an import with this key already landed (a re-run after a crash then does nothing)."""
        return job_key in self._manifest(self._bulk_dir(dataset_arn))["jobs"]

    def import_bulk(
        self,
        dataset_arn: str,
        schema: Schema,
        sources: list[Source],
        mode: str,
        job_key: str,
        min_rows: int = 0,
        progress: Callable[[float], None] = lambda fraction: None,
        max_bytes: int | None = None,
    ) -> int:
        """Convert ``sources`` to Parquet and commit them: FULL replaces all bulk rows, INCREMENTAL appends.

        Returns the number of rows imported. BadData (input over ``max_bytes``, a bad value, fewer than
        ``min_rows`` rows) leaves the dataset untouched. Idempotent per ``job_key``.
        """
        if mode not in ("FULL", "INCREMENTAL"):
            raise ValueError(f"mode must be FULL or INCREMENTAL, not {mode!r}")
        _check_size(sources, mode, max_bytes)
        bulk = self._bulk_dir(dataset_arn)
        staging = bulk / f"staging-{_safe_key(job_key)}"
        shutil.rmtree(staging, ignore_errors=True)  # a crashed earlier attempt of this same job
        staging.mkdir(parents=True)
        try:
            staged = []
            for index, source in enumerate(sources):
                target = staging / f"{index:06d}.parquet"
                staged.append((target, csv_to_parquet(source, schema, target)))
                progress((index + 1) / (len(sources) + 1))
            total = sum(rows for _, rows in staged)
            if total < min_rows:
                raise BadData(
                    f"An Interactions import needs at least {min_rows} records per job; the input has {total}."
                )
            self._commit(bulk, staged, mode, job_key)
            return total
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    def _commit(self, bulk: Path, staged: list[tuple[Path, int]], mode: str, job_key: str) -> None:
        with self._locked(bulk):
            manifest = self._manifest(bulk)
            if job_key in manifest["jobs"]:
                return
            entries = []
            for path, rows in staged:
                name = f"parts/{secrets.token_hex(8)}.parquet"
                os.replace(path, bulk / name)
                entries.append({"name": name, "rows": rows, "job": job_key})
            files = entries if mode == "FULL" else manifest["files"] + entries
            jobs = (manifest["jobs"] + [job_key])[-MAX_REMEMBERED_JOBS:]
            self._swap(bulk, manifest, files, jobs)

    # ---- deletions -------------------------------------------------------------------------------

    def delete_users(self, dataset_arn: str, user_ids: set[str]) -> int:
        """Remove the bulk rows of these users (USER_ID column), atomically; returns how many went."""
        bulk = self._bulk_dir(dataset_arn)
        if not user_ids:
            return 0
        ids = pl.Series(sorted(user_ids), dtype=pl.String())
        with self._locked(bulk):
            manifest = self._manifest(bulk)
            files, removed = [], 0
            for entry in manifest["files"]:
                kept, gone = self._without_users(bulk, entry, ids)
                files.append(kept)
                removed += gone
            if removed:
                self._swap(bulk, manifest, files, manifest["jobs"])
        return removed

    def _without_users(self, bulk: Path, entry: dict[str, Any], ids: pl.Series) -> tuple[dict[str, Any], int]:
        source = pl.scan_parquet(bulk / entry["name"])
        if "USER_ID" not in source.collect_schema().names():
            return entry, 0
        gone = int(source.filter(pl.col("USER_ID").is_in(ids.implode())).select(pl.len()).collect().item())
        if gone == 0:
            return entry, 0
        name = f"parts/{secrets.token_hex(8)}.parquet"
        source.filter(~pl.col("USER_ID").is_in(ids.implode())).sink_parquet(bulk / name, **PARQUET, engine="streaming")
        fsync_file(bulk / name)
        return {**entry, "name": name, "rows": int(entry["rows"]) - gone}, gone

    # ---- manifest --------------------------------------------------------------------------------

    def _bulk_dir(self, dataset_arn: str) -> Path:
        bulk = self.dataset_dir(dataset_arn) / "bulk"
        (bulk / "parts").mkdir(parents=True, exist_ok=True)
        return bulk

    @staticmethod
    def _manifest(bulk: Path) -> dict[str, Any]:
        try:
            data: dict[str, Any] = orjson.loads((bulk / "manifest.json").read_bytes())
        except FileNotFoundError:
            return {"generation": 0, "files": [], "jobs": [], "retired": []}
        return data

    @staticmethod
    @contextmanager
    def _locked(bulk: Path) -> Iterator[None]:
        # flock: exclusive between threads (separate open file descriptions) and between processes
        # (a server and `openpersonalize worker` processes sharing the data directory).
        with open(bulk / ".lock", "a+b") as handle:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)

    @staticmethod
    def _swap(bulk: Path, old: dict[str, Any], files: list[dict[str, Any]], jobs: list[str]) -> None:
        """Atomically publish a new manifest, then collect files no longer needed.

        The previous generation's files are kept ("retired") until the next commit, so a reader that
        listed the old manifest just before this swap can still open them.
        """
        names = {entry["name"] for entry in files}
        retired = [entry["name"] for entry in old["files"] if entry["name"] not in names]
        manifest = {"generation": int(old["generation"]) + 1, "files": files, "jobs": jobs, "retired": retired}
        temp = bulk / f".manifest-{secrets.token_hex(4)}.tmp"
        with open(temp, "wb") as handle:
            handle.write(orjson.dumps(manifest))
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, bulk / "manifest.json")
        fsync_dir(bulk)
        keep = names | set(retired)
        for path in (bulk / "parts").glob("*.parquet"):
            if f"parts/{path.name}" not in keep:
                path.unlink(missing_ok=True)


def _check_size(sources: list[Source], mode: str, max_bytes: int | None) -> None:
    total = sum(source.path.stat().st_size for source in sources)
    if max_bytes is not None and total > max_bytes:
        raise BadData(
            f"The input is {total / 2**30:.2f} GiB; {mode} imports may read at most {max_bytes / 2**30:g} GiB."
        )


def _safe_key(key: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in key)[-120:]


