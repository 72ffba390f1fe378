"""Where trained models live: one folder of files per model (solution version or recommender model) in the
object store, ``models/<solution>__<version>/``.

Jobs save a model into a local folder and publish its files; every node loads models from the object store.
With the local directory as the store, a model is read where it lies; with S3, a node downloads each revision
once into its own cache (``<data dir>/cache/models/``) and drops older revisions of that model as it goes.
"""

from __future__ import annotations

import hashlib
import secrets
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .objects import LocalObjects, ObjectInfo, ObjectStore


def model_key(version_arn: str) -> str:
    """``models/<solution>__<version>/``; ARNs hold ':' and '/', so only the resource path is used."""
    return f"models/{version_arn.split(':', 5)[-1].replace('/', '__')}/"


def model_dir(root: Path, version_arn: str) -> Path:
    """A model's folder in a local object store rooted at ``root`` (the data directory by default)."""
    return root / model_key(version_arn)


class Artifacts:
    """Publish, find, fetch and delete model folders in ``objects``."""

    def __init__(self, objects: ObjectStore, cache: Path, scratch: Path) -> None:
        self.objects, self.cache, self.scratch = objects, cache, scratch

    @contextmanager
    def publishing(self, version_arn: str) -> Iterator[Path]:
        """An empty local folder to save the model into; its files are published when the block ends cleanly,
        each by an atomic rename or PUT (a model updated in place keeps its file names: readers see each file
        old or new)."""
        folder = self.scratch / f"model-{secrets.token_hex(8)}"
        folder.mkdir(parents=True)
        try:
            yield folder
            key = model_key(version_arn)
            # Largest (the arrays) last: a reader that sees the new arrays also finds the config they belong to.
            for path in sorted((p for p in folder.rglob("*") if p.is_file()), key=lambda p: p.stat().st_size):
                self.objects.put_file(key + path.relative_to(folder).as_posix(), path)
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def exists(self, version_arn: str) -> bool:
        return self.objects.exists(model_key(version_arn) + "config.json")

    def revision(self, version_arn: str) -> str:
        """Changes whenever a file of the model is replaced ("" when there is no model)."""
        return "|".join(f"{info.key}={info.tag}" for info in self.objects.list(model_key(version_arn)))

    def local(self, version_arn: str) -> Path:
        """A local folder holding the model's files; FileNotFoundError when the model is missing."""
        key = model_key(version_arn)
        if isinstance(self.objects, LocalObjects):
            folder = self.objects.path(key)
            if not (folder / "config.json").is_file():
                raise FileNotFoundError(f"The model of {version_arn} is missing from {folder}.")
            return folder
        files = self.objects.list(key)
        if not any(info.key == key + "config.json" for info in files):
            raise FileNotFoundError(f"The model of {version_arn} is missing from {self.objects.url}{key}.")
        revision = hashlib.sha256("|".join(f"{i.key}={i.tag}" for i in files).encode()).hexdigest()[:16]
        folder = self.cache / key / revision
        if not folder.is_dir():
            self._download(key, files, folder)
        return folder

    def _download(self, key: str, files: list[ObjectInfo], folder: Path) -> None:
        """Fetch into a temporary folder renamed into place, then drop the model's older cached revisions."""
        temp = folder.with_name(f".{folder.name}-{secrets.token_hex(4)}")
        temp.mkdir(parents=True)
        try:
            for info in files:
                target = temp / info.key.removeprefix(key)
                target.parent.mkdir(parents=True, exist_ok=True)
                self.objects.download(info.key, target)
            temp.rename(folder)
        except OSError:
            if not folder.is_dir():  # unless another thread placed the same revision first
                raise
        finally:
            shutil.rmtree(temp, ignore_errors=True)
        for older in folder.parent.iterdir():
            if older != folder and not older.name.startswith("."):
                shutil.rmtree(older, ignore_errors=True)

    def copy_out(self, version_arn: str, target: Path) -> None:
        """The model's files into the local folder ``target`` (an export); FileNotFoundError when the object store
        holds none (a command pointed at another store than the servers')."""
        key = model_key(version_arn)
        found = self.objects.list(key)
        if not found:
            raise FileNotFoundError(f"The model of {version_arn} is not in the object store {self.objects.url}.")
        for info in found:
            path = target / info.key.removeprefix(key)
            path.parent.mkdir(parents=True, exist_ok=True)
            self.objects.download(info.key, path)

    def delete(self, version_arn: str) -> None:
        key = model_key(version_arn)
        self.objects.delete_prefix(key)
        shutil.rmtree(self.cache / key, ignore_errors=True)
