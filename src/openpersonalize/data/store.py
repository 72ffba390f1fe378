"""Dataset storage: Parquet files in the object store (``data/objects.py``: the data directory by default, or S3).

Bulk rows (from import jobs) of a dataset live as Parquet objects under ``datasets/<dataset>/bulk/parts/``; the
files that make up the dataset are listed in ``bulk/manifest.json``. A part is published under a fresh random
name before the manifest names it, and the manifest is replaced by the object store's exclusive ``update``
(an fsynced rename under a lock locally, a conditional PUT on S3): that swap is the only commit point, so an
import or a user deletion either fully lands or leaves the dataset as it was, also across kill -9. Rows from
the events/records APIs (PUT rows) live in the event log (``data/eventlog.py``).
"""

from __future__ import annotations

import secrets
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import polars as pl

from .artifacts import Artifacts
from .eventlog import EventLog
from .durable import fsync_file
from .objects import LocalObjects, ObjectStore
from .recommendations import RecommendationLog
from .readers import DTYPES, PARQUET, BadData, Source, csv_to_parquet
from .schema import Schema

ORIGINS = ("BULK", "PUT", "ALL")
# Datasets whose records are entities: for ALL, the newest record per id wins (spec §2.4).
ID_COLUMN = {"ITEMS": "ITEM_ID", "USERS": "USER_ID", "ACTIONS": "ACTION_ID"}
MAX_REMEMBERED_JOBS = 1000  # committed import keys kept in the manifest, for idempotent re-runs
# A part no manifest names is collected only this long after it was written: parts are published before the
# commit that names them, so a younger one may belong to an import or deletion committing right now.
ORPHAN_SECONDS = 3600.0
Manifest = dict[str, Any]
Files = tuple[list[dict[str, Any]], list[str]]  # (the manifest's file entries, its committed job keys)


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
    """Where datasets, the event log and artifacts live for one deployment.

    ``root`` is the node's own directory (the event log when ``events_url`` is empty, scratch space, the cache of
    downloaded models); datasets and model artifacts go to ``objects``, which defaults to that same directory.
    """

    def __init__(self, root: Path, objects: ObjectStore | None = None, events_url: str | None = None) -> None:
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)
        self.objects = objects if objects is not None else LocalObjects(root)
        self.events = EventLog(root / "eventlog", events_url)
        self.recommendations = RecommendationLog(root / "recommendations")
        self.artifacts = Artifacts(self.objects, root / "cache" / "models", root / "tmp")

    def dataset_key(self, dataset_arn: str) -> str:
        """The dataset's folder in the object store; ARNs hold ':' and '/', so a filesystem-safe form is used."""
        return f"datasets/{dataset_arn.split(':', 5)[-1].replace('/', '__')}/"

    def scratch_dir(self, key: str) -> Path:
        """A private working directory for one job (downloads); the caller removes it."""
        return self.root / "tmp" / _safe_key(key)

    def drop_dataset(self, dataset_arn: str) -> None:
        """Remove every bulk file of the dataset (its PUT rows are the event log's)."""
        self.objects.delete_prefix(self.dataset_key(dataset_arn))

    def dataset_modified(self, dataset_arn: str) -> float:
        """When the dataset's bulk files last changed (epoch seconds; 0 for none)."""
        return max((info.modified for info in self.objects.list(self.dataset_key(dataset_arn))), default=0.0)

    # ---- reading ---------------------------------------------------------------------------------

    def read_dataset(self, dataset_arn: str, schema: Schema, origin: str = "ALL", events_upto: int | None = None,
                     *, duplicates: bool = False) -> pl.DataFrame:
        """The dataset's rows with exactly the schema's columns.

        ``origin`` BULK = rows from import jobs, PUT = rows from the events/records APIs, ALL = both. For
        Items/Users/Actions, ALL keeps the newest record per id; PUT rows count as newer than bulk rows
        (impl. choice: an individually put record is the freshest knowledge of that entity). ``events_upto``:
        only PUT rows numbered up to it (serving's snapshot, followed by the rows after it). ``duplicates``: PUT
        rows that repeat one another exactly but for their event ids are all kept (``EventLog.read``).
        """
        if origin not in ORIGINS:
            raise ValueError(f"origin must be one of {ORIGINS}, not {origin!r}")
        frames: list[pl.DataFrame] = []
        if origin in ("BULK", "ALL"):
            frames.append(self._read_bulk(dataset_arn, schema))
        if origin in ("PUT", "ALL"):
            put = self.events.read(dataset_arn, schema, events_upto, duplicates=duplicates)
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
        return self._read_bulk(dataset_arn, schema, lambda entry: entry.get("job") == job_key)

    def bulk_rows(self, dataset_arn: str) -> int:
        """How many bulk rows the dataset holds (from the manifest; no file is opened)."""
        return sum(int(entry["rows"]) for entry in self._manifest(self._bulk(dataset_arn))["files"])

    def _read_bulk(self, dataset_arn: str, schema: Schema,
                   wanted: Callable[[dict[str, Any]], bool] = lambda entry: True) -> pl.DataFrame:
        bulk = self._bulk(dataset_arn)
        for _ in range(2):  # a commit landing while we read collects files we listed: the next manifest is whole
            try:
                return self._read_files(bulk, schema, wanted)
            except (FileNotFoundError, pl.exceptions.ComputeError):
                continue
        return self._read_files(bulk, schema, wanted)

    def _read_files(self, bulk: str, schema: Schema, wanted: Callable[[dict[str, Any]], bool]) -> pl.DataFrame:
        names = [entry["name"] for entry in self._manifest(bulk)["files"] if wanted(entry)]
        if not names:
            return empty_frame(schema)
        parts = [conform(pl.scan_parquet(self.objects.readable(bulk + name)), schema) for name in names]
        return pl.concat(parts, how="vertical").collect()

    # ---- bulk imports ----------------------------------------------------------------------------

    def has_committed(self, dataset_arn: str, job_key: str) -> bool:
        """Whether an import with this key already landed (a re-run after a crash then does nothing)."""
        return job_key in self._manifest(self._bulk(dataset_arn))["jobs"]

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
        staging = self.root / "tmp" / f"staging-{_safe_key(job_key)}"
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
            self._commit(self._bulk(dataset_arn), staged, mode, job_key)
            return total
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    def _commit(self, bulk: str, staged: list[tuple[Path, int]], mode: str, job_key: str) -> None:
        if job_key in self._manifest(bulk)["jobs"]:
            return
        entries = []
        for path, rows in staged:  # published under fresh names: invisible until the manifest names them
            name = f"parts/{secrets.token_hex(8)}.parquet"
            self.objects.put_file(bulk + name, path)
            entries.append({"name": name, "rows": rows, "job": job_key})

        def change(manifest: Manifest) -> Files | None:
            if job_key in manifest["jobs"]:
                return None
            files = entries if mode == "FULL" else manifest["files"] + entries
            return files, (manifest["jobs"] + [job_key])[-MAX_REMEMBERED_JOBS:]

        if not self._swap(bulk, change):
            self.objects.delete([bulk + entry["name"] for entry in entries])

    # ---- deletions -------------------------------------------------------------------------------

    def generation(self, dataset_arn: str) -> int:
        """Changes whenever the dataset's rows are replaced or removed: an import commits, users are deleted (one
        read of the manifest; serving compares it with the generation its histories were read from)."""
        return int(self._manifest(self._bulk(dataset_arn))["generation"])

    def delete_users(self, dataset_arn: str, user_ids: set[str]) -> int:
        """Remove these users' rows (USER_ID column), bulk and individually imported; returns how many went.

        Each kind goes atomically. Then one more generation with the same files: it starts a new generation when
        only individually imported rows went, and collects the parts the rewrite retired at once — they hold the
        deleted users' rows, and a swap otherwise keeps them until the dataset's next commit (a reader of the old
        manifest that loses them reads the new one)."""
        removed = self._delete_bulk_users(dataset_arn, user_ids) + self.events.delete_users(dataset_arn, user_ids)
        if removed:
            self._swap(self._bulk(dataset_arn), lambda now: (now["files"], now["jobs"]))
        return removed

    def _delete_bulk_users(self, dataset_arn: str, user_ids: set[str]) -> int:
        bulk = self._bulk(dataset_arn)
        if not user_ids:
            return 0
        ids = pl.Series(sorted(user_ids), dtype=pl.String())
        while True:  # rewritten from one generation; if another commit landed meanwhile, again from the new one
            manifest = self._manifest(bulk)
            files, removed = [], 0
            for entry in manifest["files"]:
                kept, gone = self._without_users(bulk, entry, ids)
                files.append(kept)
                removed += gone
            if not removed:
                return 0
            generation = manifest["generation"]
            if self._swap(bulk, lambda now: (files, now["jobs"]) if now["generation"] == generation else None):
                return removed
            self.objects.delete([bulk + kept["name"] for kept in files if kept not in manifest["files"]])

    def _without_users(self, bulk: str, entry: dict[str, Any], ids: pl.Series) -> tuple[dict[str, Any], int]:
        source = pl.scan_parquet(self.objects.readable(bulk + entry["name"]))
        if "USER_ID" not in source.collect_schema().names():
            return entry, 0
        gone = int(source.filter(pl.col("USER_ID").is_in(ids.implode())).select(pl.len()).collect().item())
        if gone == 0:
            return entry, 0
        name = f"parts/{secrets.token_hex(8)}.parquet"
        local = self.root / "tmp" / f"rewrite-{secrets.token_hex(8)}.parquet"
        local.parent.mkdir(parents=True, exist_ok=True)
        source.filter(~pl.col("USER_ID").is_in(ids.implode())).sink_parquet(local, **PARQUET, engine="streaming")
        fsync_file(local)
        self.objects.put_file(bulk + name, local)
        return {**entry, "name": name, "rows": int(entry["rows"]) - gone}, gone

    # ---- manifest --------------------------------------------------------------------------------

    def _bulk(self, dataset_arn: str) -> str:
        return self.dataset_key(dataset_arn) + "bulk/"

    def _manifest(self, bulk: str) -> Manifest:
        try:
            return _parse_manifest(self.objects.get(bulk + "manifest.json"))
        except FileNotFoundError:
            return _parse_manifest(None)

    def _swap(self, bulk: str, change: Callable[[Manifest], Files | None]) -> bool:
        """Publish the manifest ``change`` makes of the current one (None: leave it), then collect files no
        longer needed; False when nothing was published.

        The previous generation's files are kept ("retired") until the next commit, so a reader that listed
        the old manifest just before this swap can still open them.
        """
        outcome: list[Manifest] = []

        def apply(raw: bytes | None) -> bytes | None:
            outcome.clear()
            old = _parse_manifest(raw)
            changed = change(old)
            if changed is None:
                return None
            files, jobs = changed
            names = {entry["name"] for entry in files}
            retired = [entry["name"] for entry in old["files"] if entry["name"] not in names]
            new = {"generation": int(old["generation"]) + 1, "files": files, "jobs": jobs, "retired": retired}
            outcome[:] = [old, new]
            return orjson.dumps(new)

        self.objects.update(bulk + "manifest.json", apply)
        if not outcome:
            return False
        old, new = outcome
        keep = {entry["name"] for entry in new["files"]} | set(new["retired"])
        stale = time.time() - ORPHAN_SECONDS
        orphans = [info.key for info in self.objects.list(bulk + "parts/")
                   if info.key.removeprefix(bulk) not in keep and (info.key.removeprefix(bulk) in old["retired"]
                                                                   or info.modified < stale)]
        self.objects.delete(orphans)
        return True


def _parse_manifest(raw: bytes | None) -> Manifest:
    if raw is None:
        return {"generation": 0, "files": [], "jobs": [], "retired": []}
    manifest: Manifest = orjson.loads(raw)
    return manifest


def _check_size(sources: list[Source], mode: str, max_bytes: int | None) -> None:
    total = sum(source.path.stat().st_size for source in sources)
    if max_bytes is not None and total > max_bytes:
        raise BadData(
            f"The input is {total / 2**30:.2f} GiB; {mode} imports may read at most {max_bytes / 2**30:g} GiB."
        )


def _safe_key(key: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in key)[-120:]


