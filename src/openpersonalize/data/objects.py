"""Where datasets, model artifacts and job outputs are kept: a local directory or an S3 bucket, one interface.

Keys are ``/``-separated paths below the store's root (``datasets/<dataset>/bulk/manifest.json``). Every write
is published whole or not at all: locally a temporary file renamed over the key, on S3 a single PUT or, for a
file above the transfer threshold, a multipart upload (the object appears only when the upload completes).
``update`` is a read-modify-write that excludes every other update of the same key, also across processes and
hosts: locally an ``flock`` beside the file, on S3 a conditional PUT (``If-Match`` the ETag read, or
``If-None-Match: *`` for a new key) retried when another writer got there first — supported by AWS S3 since
2024, SeaweedFS and MinIO.

The S3 client comes from boto3's standard configuration, so ``AWS_ENDPOINT_URL_S3`` / ``AWS_ENDPOINT_URL``,
credentials, profiles and the region apply as for any AWS tool.
"""

from __future__ import annotations

import errno
import fcntl
import io
import os
import random
import secrets
import shutil
import tempfile
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from .durable import fsync_dir

UPDATE_ATTEMPTS = 50  # conditional PUTs lost to concurrent writers before update() gives up
S3_CONFIG = Config(max_pool_connections=32, retries={"mode": "standard", "max_attempts": 5})

Change = Callable[[bytes | None], bytes | None]  # current content (None: absent) → new content (None: keep)


@dataclass(frozen=True)
class ObjectInfo:
    key: str
    size: int
    modified: float  # epoch seconds of the last write
    tag: str  # changes whenever the content is replaced (mtime in ns locally, the ETag on S3)


class ObjectStore(ABC):
    """put / get / list / delete / open for reading / atomic publish, on one backend."""

    url: str

    @abstractmethod
    def get(self, key: str) -> bytes:
        """The object's bytes; FileNotFoundError when there is none."""

    @abstractmethod
    def put(self, key: str, data: bytes) -> None:
        """Publish ``data`` at ``key`` atomically (readers see the old content or the new)."""

    @abstractmethod
    def put_file(self, key: str, path: Path) -> None:
        """Publish a local file at ``key`` and remove the local file (a rename when it can be)."""

    @abstractmethod
    def download(self, key: str, path: Path) -> None:
        """Copy the object to a local file; FileNotFoundError when there is none."""

    @abstractmethod
    def readable(self, key: str) -> Path | IO[bytes]:
        """Something polars and numpy can open: the local file itself, or the object's bytes in memory."""

    @abstractmethod
    @contextmanager
    def writer(self, key: str) -> Iterator[IO[bytes]]:
        """A binary stream published at ``key`` when the block ends cleanly; nothing is published otherwise."""

    @abstractmethod
    def stat(self, key: str) -> ObjectInfo | None:
        """Size, time and tag of the object, None when there is none."""

    @abstractmethod
    def list(self, prefix: str) -> list[ObjectInfo]:
        """Every object whose key starts with ``prefix`` (a folder: end it with ``/``), sorted by key."""

    @abstractmethod
    def delete(self, keys: list[str]) -> None:
        """Remove these objects; missing ones are ignored."""

    @abstractmethod
    def update(self, key: str, change: Change) -> bytes | None:
        """Replace a small object by ``change(current)`` excluding every other update of it; returns what the
        object holds afterwards. ``change`` may run more than once (after a concurrent write): no side effects."""

    def exists(self, key: str) -> bool:
        return self.stat(key) is not None

    def delete_prefix(self, prefix: str) -> None:
        self.delete([info.key for info in self.list(prefix)])


def open_object_store(url: str, data_dir: Path) -> ObjectStore:
    """``s3://bucket/prefix`` → S3; a local path or ``file://`` URL → that directory; empty → the data directory."""
    if not url:
        return LocalObjects(data_dir)
    if url.startswith("s3://"):
        bucket, _, prefix = url.removeprefix("s3://").partition("/")
        if not bucket:
            raise ValueError(f"object store {url!r} names no bucket: use s3://bucket/prefix")
        return S3Objects(bucket, prefix)
    if ("://" in url and not url.startswith("file://")) or url.startswith("s3:"):  # s3:/x is a typo, not a folder
        raise ValueError(f"object store {url!r} is neither s3://bucket/prefix nor a local directory")
    return LocalObjects(Path(url.removeprefix("file://")))


# ---- a local directory -----------------------------------------------------------------------------------------


class LocalObjects(ObjectStore):
    """Objects are files below ``root``; writes go to a hidden temporary name and are renamed into place."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.url = str(root)

    def path(self, key: str) -> Path:
        return self.root / key

    def get(self, key: str) -> bytes:
        return self.path(key).read_bytes()

    def put(self, key: str, data: bytes) -> None:
        with self.writer(key) as handle:
            handle.write(data)

    def put_file(self, key: str, path: Path) -> None:
        target = self.path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.replace(path, target)
        except OSError as error:
            if error.errno != errno.EXDEV:
                raise
            temp = _temp_beside(target)
            shutil.copyfile(path, temp)
            os.replace(temp, target)
            path.unlink()

    def download(self, key: str, path: Path) -> None:
        shutil.copyfile(self.path(key), path)

    def readable(self, key: str) -> Path:
        return self.path(key)

    @contextmanager
    def writer(self, key: str) -> Iterator[IO[bytes]]:
        target = self.path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(target.name + ".partial")
        # O_NOFOLLOW: a symlink planted under the partial's name (in a user's output folder) is not written through.
        handle = os.fdopen(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o644), "wb")
        try:
            with handle:
                yield handle
            os.replace(partial, target)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise

    def stat(self, key: str) -> ObjectInfo | None:
        try:
            found = self.path(key).stat()
        except FileNotFoundError:
            return None
        return ObjectInfo(key, found.st_size, found.st_mtime, str(found.st_mtime_ns))

    def list(self, prefix: str) -> list[ObjectInfo]:
        folder = prefix.rpartition("/")[0]
        base = self.path(folder) if folder else self.root
        if not base.is_dir():
            return []
        found = []
        for path in base.rglob("*"):
            key = path.relative_to(self.root).as_posix()
            if key.startswith(prefix) and not path.name.startswith(".") and not path.name.endswith(".partial"):
                info = self.stat(key) if path.is_file() else None
                if info is not None:
                    found.append(info)
        return sorted(found, key=lambda info: info.key)

    def delete(self, keys: list[str]) -> None:
        for key in keys:
            self.path(key).unlink(missing_ok=True)

    def delete_prefix(self, prefix: str) -> None:
        folder = self.path(prefix.rstrip("/"))
        if prefix.endswith("/") and folder.is_dir():
            shutil.rmtree(folder, ignore_errors=True)
        else:
            super().delete_prefix(prefix)

    def update(self, key: str, change: Change) -> bytes | None:
        target = self.path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        # flock: exclusive between threads (separate open file descriptions) and between processes sharing the
        # directory; fsync before and after the rename: the swap is a commit point that must survive a crash.
        with open(target.parent / ".lock", "a+b") as lock:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
            try:
                current = target.read_bytes() if target.exists() else None
                new = change(current)
                if new is None:
                    return current
                temp = _temp_beside(target)
                with open(temp, "wb") as handle:
                    handle.write(new)
                    handle.flush()
                    os.fsync(handle.fileno())
                os.replace(temp, target)
                fsync_dir(target.parent)
                return new
            finally:
                fcntl.flock(lock.fileno(), fcntl.LOCK_UN)


def _temp_beside(target: Path) -> Path:
    return target.with_name(f".{target.name}-{secrets.token_hex(4)}.tmp")


# ---- S3 --------------------------------------------------------------------------------------------------------


class S3Objects(ObjectStore):
    """Objects under ``s3://bucket/prefix/``; large files go up in parts (boto3's transfer manager)."""

    def __init__(self, bucket: str, prefix: str = "", client: Any = None) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.url = f"s3://{bucket}/{self.prefix}"
        # A session of its own: boto3's default session is not thread-safe; its clients are.
        self.client = client or boto3.session.Session().client("s3", config=S3_CONFIG)

    def _key(self, key: str) -> str:
        return self.prefix + key

    def get(self, key: str) -> bytes:
        return self._get(key)[0]

    def _get(self, key: str) -> tuple[bytes, str]:
        try:
            answer = self.client.get_object(Bucket=self.bucket, Key=self._key(key))
        except ClientError as error:
            raise _missing(error, self.url + key) from None
        return answer["Body"].read(), answer["ETag"]

    def put(self, key: str, data: bytes) -> None:
        self.client.put_object(Bucket=self.bucket, Key=self._key(key), Body=data)

    def put_file(self, key: str, path: Path) -> None:
        self.client.upload_file(str(path), self.bucket, self._key(key))  # multipart above 8 MB
        path.unlink()

    def download(self, key: str, path: Path) -> None:
        try:
            self.client.download_file(self.bucket, self._key(key), str(path))
        except ClientError as error:
            raise _missing(error, self.url + key) from None

    def readable(self, key: str) -> IO[bytes]:
        return io.BytesIO(self.get(key))

    @contextmanager
    def writer(self, key: str) -> Iterator[IO[bytes]]:
        # Spooled to a local file, then uploaded: a multipart upload left open by a crash would cost storage.
        descriptor, name = tempfile.mkstemp(prefix="op-upload-")
        spool = Path(name)
        try:
            with os.fdopen(descriptor, "wb") as handle:
                yield handle
            self.put_file(key, spool)
        finally:
            spool.unlink(missing_ok=True)

    def stat(self, key: str) -> ObjectInfo | None:
        try:
            head = self.client.head_object(Bucket=self.bucket, Key=self._key(key))
        except ClientError as error:
            if isinstance(_missing(error, key), FileNotFoundError):
                return None
            raise
        return ObjectInfo(key, int(head["ContentLength"]), head["LastModified"].timestamp(), head["ETag"])

    def check_access(self) -> None:
        """One listing of the prefix, at start-up: wrong credentials, a missing bucket or an endpoint that does not
        answer stop the process with one line (ValueError) instead of failing every job later."""
        try:
            self.client.list_objects_v2(Bucket=self.bucket, Prefix=self.prefix, MaxKeys=1)
        except (BotoCoreError, ClientError) as error:
            raise ValueError(f"object store {self.url} cannot be listed: {error}") from None

    def list(self, prefix: str) -> list[ObjectInfo]:
        found = []
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=self._key(prefix)):
            for item in page.get("Contents", []):
                key = item["Key"][len(self.prefix):]
                found.append(ObjectInfo(key, int(item["Size"]), item["LastModified"].timestamp(), item["ETag"]))
        return sorted(found, key=lambda info: info.key)

    def delete(self, keys: list[str]) -> None:
        for start in range(0, len(keys), 1000):  # DeleteObjects takes at most 1000 keys
            batch = [{"Key": self._key(key)} for key in keys[start:start + 1000]]
            self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": batch, "Quiet": True})

    def update(self, key: str, change: Change) -> bytes | None:
        for attempt in range(UPDATE_ATTEMPTS):
            try:
                current, etag = self._get(key)
            except FileNotFoundError:
                current, etag = None, ""
            new = change(current)
            if new is None:
                return current
            condition = {"IfMatch": etag} if etag else {"IfNoneMatch": "*"}
            try:
                self.client.put_object(Bucket=self.bucket, Key=self._key(key), Body=new, **condition)
                return new
            except ClientError as error:
                if error.response.get("Error", {}).get("Code") not in ("PreconditionFailed", "ConditionalRequestConflict"):
                    raise
            time.sleep(random.uniform(0, 0.01 * (attempt + 1)))  # another writer won: read its version and retry
        raise TimeoutError(f"{self.url}{key} kept changing under {UPDATE_ATTEMPTS} attempts to update it")


def _missing(error: ClientError, where: str) -> Exception:
    """NoSuchKey (GET) and 404 (HEAD, no body) become FileNotFoundError; anything else stays what it was."""
    code = error.response.get("Error", {}).get("Code")
    if code in ("NoSuchKey", "404", "NotFound"):
        return FileNotFoundError(errno.ENOENT, "no such object", where)
    return error
