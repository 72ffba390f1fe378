"""data/objects.py on both backends (a local directory, and S3 on SeaweedFS), and the dataset and model layers
over S3: put/get/list/delete, publishing whole or nothing, multipart uploads, exclusive updates."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from seaweedfs import SeaweedFS
from test_store import INTERACTIONS, INTERACTIONS_ARN, interactions

from openpersonalize.data.artifacts import model_key
from openpersonalize.data.objects import LocalObjects, ObjectStore, S3Objects, open_object_store
from openpersonalize.data.store import DataStore

VERSION_ARN = "arn:aws:personalize:us-east-1:123456789012:solution/s/v1"


@pytest.fixture(params=["local", "s3"])
def objects(request: pytest.FixtureRequest, tmp_path: Path) -> ObjectStore:
    if request.param == "local":
        return LocalObjects(tmp_path / "objects")
    weed: SeaweedFS = request.getfixturevalue("seaweedfs")
    bucket = weed.create_bucket(f"objects-{tmp_path.name.lower().replace('_', '-')[-40:]}")
    return S3Objects(bucket, "deployment/one", client=weed.client())


@pytest.fixture()
def s3_store(seaweedfs: SeaweedFS, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[DataStore]:
    """A data store whose datasets and models live in SeaweedFS (client configured from the environment)."""
    for name, value in seaweedfs.env().items():
        monkeypatch.setenv(name, value)
    bucket = seaweedfs.create_bucket(f"store-{tmp_path.name.lower().replace('_', '-')[-40:]}")
    yield DataStore(tmp_path / "node", open_object_store(f"s3://{bucket}/prod", tmp_path / "node"))


def test_put_get_stat_list_delete(objects: ObjectStore) -> None:
    assert objects.stat("a/x.json") is None and objects.list("a/") == []
    with pytest.raises(FileNotFoundError):
        objects.get("a/x.json")
    objects.put("a/x.json", b"one")
    objects.put("a/b/y.bin", b"two!")
    objects.put("ab.txt", b"not in a/")
    first = objects.stat("a/x.json")
    assert objects.get("a/x.json") == b"one" and first is not None and first.size == 3
    assert [(i.key, i.size) for i in objects.list("a/")] == [("a/b/y.bin", 4), ("a/x.json", 3)]
    assert [i.key for i in objects.list("a")] == ["a/b/y.bin", "a/x.json", "ab.txt"]
    assert [i.key for i in objects.list("a/b")] == ["a/b/y.bin"] and objects.list("b") == []
    objects.put("a/x.json", b"other")
    assert objects.get("a/x.json") == b"other" and objects.stat("a/x.json").tag != first.tag  # type: ignore[union-attr]
    objects.delete(["a/x.json", "a/missing"])
    assert [i.key for i in objects.list("a/")] == ["a/b/y.bin"]
    objects.delete_prefix("a/")
    assert objects.list("a/") == [] and objects.get("ab.txt") == b"not in a/"


def test_files_go_up_whole_and_large_ones_in_parts(objects: ObjectStore, tmp_path: Path) -> None:
    big = tmp_path / "big.bin"
    payload = np.random.default_rng(0).bytes(9 * 2**20)  # above boto3's 8 MB multipart threshold
    big.write_bytes(payload)
    objects.put_file("models/m/arrays.npz", big)
    assert not big.exists()  # consumed
    back = tmp_path / "back.bin"
    objects.download("models/m/arrays.npz", back)
    assert back.read_bytes() == payload
    with pytest.raises(FileNotFoundError):
        objects.download("models/none", tmp_path / "none")


def test_a_writer_publishes_only_when_its_block_ends_cleanly(objects: ObjectStore) -> None:
    with objects.writer("out/a.jsonl") as out:
        out.write(b'{"n": 1}\n')
        assert objects.stat("out/a.jsonl") is None  # nobody sees half a file
    assert objects.get("out/a.jsonl") == b'{"n": 1}\n'
    with pytest.raises(RuntimeError), objects.writer("out/b.jsonl") as out:
        out.write(b"half")
        raise RuntimeError("the job failed")
    assert [i.key for i in objects.list("out/")] == ["out/a.jsonl"]


def test_parquet_reads_from_either_backend(objects: ObjectStore) -> None:
    frame = pl.DataFrame({"USER_ID": ["u1", "u2"], "TIMESTAMP": [1, 2]})
    with objects.writer("d/part.parquet") as out:
        frame.write_parquet(out)
    assert pl.scan_parquet(objects.readable("d/part.parquet")).collect().equals(frame)


def test_updates_exclude_each_other(objects: ObjectStore) -> None:
    """Concurrent read-modify-writes of one key all land (flock locally, conditional PUTs on S3)."""
    def bump(current: bytes | None) -> bytes:
        return str(int(current or b"0") + 1).encode()

    def worker() -> None:
        for _ in range(8):
            objects.update("counter", bump)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert objects.get("counter") == b"32"
    assert objects.update("counter", lambda current: None) == b"32" and objects.get("counter") == b"32"


def test_object_store_urls(tmp_path: Path) -> None:
    assert isinstance(open_object_store("", tmp_path), LocalObjects)
    assert open_object_store(f"file://{tmp_path}/o", tmp_path).url == f"{tmp_path}/o"  # type: ignore[attr-defined]
    s3 = open_object_store("s3://bucket/some/prefix/", tmp_path)
    assert isinstance(s3, S3Objects) and s3.url == "s3://bucket/some/prefix/"
    for bad in ("s3:///prefix", "gs://bucket/x"):
        with pytest.raises(ValueError, match="object store"):
            open_object_store(bad, tmp_path)


def test_datasets_on_s3(s3_store: DataStore, tmp_path: Path) -> None:
    store = s3_store
    store.import_bulk(INTERACTIONS_ARN, INTERACTIONS, interactions(tmp_path, ["a", "b"]), "FULL", "j1")
    store.import_bulk(INTERACTIONS_ARN, INTERACTIONS, interactions(tmp_path, ["c", "a"]), "INCREMENTAL", "j2")
    store.import_bulk(INTERACTIONS_ARN, INTERACTIONS, interactions(tmp_path, ["c", "a"]), "INCREMENTAL", "j2")  # re-run
    assert store.read_dataset(INTERACTIONS_ARN, INTERACTIONS)["USER_ID"].to_list() == ["a", "b", "c", "a"]
    assert store.read_import(INTERACTIONS_ARN, INTERACTIONS, "j2")["USER_ID"].to_list() == ["c", "a"]
    assert store.delete_users(INTERACTIONS_ARN, {"a"}) == 2
    assert store.read_dataset(INTERACTIONS_ARN, INTERACTIONS)["USER_ID"].to_list() == ["b", "c"]
    assert store.dataset_modified(INTERACTIONS_ARN) > 0
    assert not (store.root / "datasets").exists()  # nothing of the dataset on the node's disk
    store.drop_dataset(INTERACTIONS_ARN)
    assert store.objects.list(store.dataset_key(INTERACTIONS_ARN)) == []


def test_concurrent_imports_on_s3_all_land(s3_store: DataStore, tmp_path: Path) -> None:
    sources = [interactions(tmp_path, [f"u{n}"] * (n + 1)) for n in range(4)]
    threads = [threading.Thread(target=s3_store.import_bulk, args=(INTERACTIONS_ARN, INTERACTIONS, s, "INCREMENTAL", f"j{n}"))
               for n, s in enumerate(sources)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert s3_store.bulk_rows(INTERACTIONS_ARN) == 1 + 2 + 3 + 4
    assert s3_store.read_dataset(INTERACTIONS_ARN, INTERACTIONS).height == 10


def test_models_on_s3_are_cached_per_revision(s3_store: DataStore) -> None:
    artifacts = s3_store.artifacts
    with pytest.raises(FileNotFoundError):
        artifacts.local(VERSION_ARN)
    with artifacts.publishing(VERSION_ARN) as folder:
        (folder / "config.json").write_text('{"v": 1}')
        (folder / "arrays.npz").write_bytes(b"first")
    first, revision = artifacts.local(VERSION_ARN), artifacts.revision(VERSION_ARN)
    assert (first / "arrays.npz").read_bytes() == b"first" and artifacts.local(VERSION_ARN) == first
    with artifacts.publishing(VERSION_ARN) as folder:  # an update in place
        (folder / "config.json").write_text('{"v": 1}')
        (folder / "arrays.npz").write_bytes(b"second")
    assert artifacts.revision(VERSION_ARN) != revision
    second = artifacts.local(VERSION_ARN)
    assert (second / "arrays.npz").read_bytes() == b"second" and not first.exists()  # the older revision is dropped
    artifacts.delete(VERSION_ARN)
    assert not artifacts.exists(VERSION_ARN) and s3_store.objects.list(model_key(VERSION_ARN)) == []
    assert not second.exists()
