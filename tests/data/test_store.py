"""data/store.py: bulk imports (FULL / INCREMENTAL), the atomic manifest, read_dataset origins, delete_users."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any

import orjson
import polars as pl
import pytest

from openpersonalize.data.readers import BadData, Source
from openpersonalize.data.schema import Schema, parse_schema
from openpersonalize.data.store import DataStore

GROUP = "arn:aws:personalize:us-east-1:123456789012:dataset/dg"
INTERACTIONS_ARN, ITEMS_ARN = f"{GROUP}/INTERACTIONS", f"{GROUP}/ITEMS"


def schema_of(name: str, fields: list[dict[str, Any]]) -> Schema:
    return parse_schema(orjson.dumps({"type": "record", "name": name, "fields": fields}).decode())


INTERACTIONS = schema_of(
    "Interactions",
    [{"name": "USER_ID", "type": "string"}, {"name": "ITEM_ID", "type": "string"}, {"name": "TIMESTAMP", "type": "long"}],
)
ITEMS = schema_of("Items", [{"name": "ITEM_ID", "type": "string"}, {"name": "PRICE", "type": "float"}])


@pytest.fixture()
def store(tmp_path: Path) -> DataStore:
    return DataStore(tmp_path / "data")


def bulk_dir(store: DataStore, arn: str) -> Path:
    """The dataset's bulk folder in the local object store (the data directory)."""
    return store.root / store.dataset_key(arn) / "bulk"


def csv(tmp_path: Path, text: str) -> list[Source]:
    path = tmp_path / f"in-{abs(hash(text))}.csv"
    path.write_text(text)
    return [Source(str(path), path)]


def interactions(tmp_path: Path, users: list[str]) -> list[Source]:
    return csv(tmp_path, "USER_ID,ITEM_ID,TIMESTAMP\n" + "".join(f"{u},i{n},{n}\n" for n, u in enumerate(users)))


def test_empty_dataset_has_the_schema_columns(store: DataStore) -> None:
    frame = store.read_dataset(INTERACTIONS_ARN, INTERACTIONS)
    assert frame.height == 0 and frame.schema == {"USER_ID": pl.String, "ITEM_ID": pl.String, "TIMESTAMP": pl.Int64}
    with pytest.raises(ValueError, match="origin"):
        store.read_dataset(INTERACTIONS_ARN, INTERACTIONS, origin="SOME")


def test_full_replaces_and_incremental_appends(store: DataStore, tmp_path: Path) -> None:
    assert store.import_bulk(INTERACTIONS_ARN, INTERACTIONS, interactions(tmp_path, ["a", "b"]), "FULL", "j1") == 2
    store.import_bulk(INTERACTIONS_ARN, INTERACTIONS, interactions(tmp_path, ["c"]), "INCREMENTAL", "j2")
    assert store.read_dataset(INTERACTIONS_ARN, INTERACTIONS)["USER_ID"].to_list() == ["a", "b", "c"]
    assert store.bulk_rows(INTERACTIONS_ARN) == 3
    store.import_bulk(INTERACTIONS_ARN, INTERACTIONS, interactions(tmp_path, ["d", "e", "f", "g"]), "FULL", "j3")
    assert store.read_dataset(INTERACTIONS_ARN, INTERACTIONS)["USER_ID"].to_list() == ["d", "e", "f", "g"]


def test_full_import_keeps_put_rows_and_origins_split(store: DataStore, tmp_path: Path) -> None:
    store.events.append(INTERACTIONS_ARN, [{"USER_ID": "p", "ITEM_ID": "x", "TIMESTAMP": 9}])
    store.import_bulk(INTERACTIONS_ARN, INTERACTIONS, interactions(tmp_path, ["a"]), "FULL", "j1")
    store.import_bulk(INTERACTIONS_ARN, INTERACTIONS, interactions(tmp_path, ["b", "b"]), "FULL", "j2")
    assert store.read_dataset(INTERACTIONS_ARN, INTERACTIONS, "BULK")["USER_ID"].to_list() == ["b", "b"]
    assert store.read_dataset(INTERACTIONS_ARN, INTERACTIONS, "PUT").rows() == [("p", "x", 9)]
    # interactions: ALL is every row of both origins
    assert store.read_dataset(INTERACTIONS_ARN, INTERACTIONS, "ALL")["USER_ID"].to_list() == ["b", "b", "p"]


def test_items_latest_record_per_id(store: DataStore, tmp_path: Path) -> None:
    store.import_bulk(ITEMS_ARN, ITEMS, csv(tmp_path, "ITEM_ID,PRICE\ni1,1\ni2,2\ni1,3\n"), "FULL", "j1")
    store.import_bulk(ITEMS_ARN, ITEMS, csv(tmp_path, "ITEM_ID,PRICE\ni2,20\ni3,30\n"), "INCREMENTAL", "j2")
    assert store.read_dataset(ITEMS_ARN, ITEMS, "BULK").height == 5
    latest = dict(store.read_dataset(ITEMS_ARN, ITEMS).rows())
    assert latest == {"i1": 3.0, "i2": 20.0, "i3": 30.0}
    store.events.append(ITEMS_ARN, [{"ITEM_ID": "i3", "PRICE": 99.0}])
    assert dict(store.read_dataset(ITEMS_ARN, ITEMS).rows())["i3"] == 99.0


def test_failed_import_leaves_dataset_as_it_was(store: DataStore, tmp_path: Path) -> None:
    store.import_bulk(INTERACTIONS_ARN, INTERACTIONS, interactions(tmp_path, ["a"]), "FULL", "j1")
    good = interactions(tmp_path, ["b"])
    bad = csv(tmp_path, "USER_ID,ITEM_ID,TIMESTAMP\nc,i,notanumber\n")
    with pytest.raises(BadData, match="row 1, column TIMESTAMP"):
        store.import_bulk(INTERACTIONS_ARN, INTERACTIONS, good + bad, "FULL", "j2")
    with pytest.raises(BadData, match="at least 1000 records per job; the input has 1"):
        store.import_bulk(INTERACTIONS_ARN, INTERACTIONS, good, "FULL", "j3", min_rows=1000)
    assert store.read_dataset(INTERACTIONS_ARN, INTERACTIONS)["USER_ID"].to_list() == ["a"]
    bulk = bulk_dir(store, INTERACTIONS_ARN)
    assert list((store.root / "tmp").iterdir()) == []  # no staging left behind
    assert len(list((bulk / "parts").iterdir())) == 1


def test_same_job_key_commits_once(store: DataStore, tmp_path: Path) -> None:
    """A job re-run after a crash past its commit must not append its rows twice."""
    rows = interactions(tmp_path, ["a", "b"])
    store.import_bulk(INTERACTIONS_ARN, INTERACTIONS, rows, "FULL", "j1")
    store.import_bulk(INTERACTIONS_ARN, INTERACTIONS, rows, "INCREMENTAL", "j2")
    assert store.has_committed(INTERACTIONS_ARN, "j2") and not store.has_committed(INTERACTIONS_ARN, "j3")
    store.import_bulk(INTERACTIONS_ARN, INTERACTIONS, rows, "INCREMENTAL", "j2")
    assert store.bulk_rows(INTERACTIONS_ARN) == 4


def test_leftovers_of_a_crashed_import_are_invisible_and_cleaned(store: DataStore, tmp_path: Path) -> None:
    store.import_bulk(INTERACTIONS_ARN, INTERACTIONS, interactions(tmp_path, ["a"]), "FULL", "j1")
    bulk = bulk_dir(store, INTERACTIONS_ARN)
    # what kill -9 can leave behind: a staging dir, stray parts (published, never committed), a half-written
    # manifest temp file
    staging = store.root / "tmp" / "staging-j2"
    staging.mkdir(parents=True)
    (staging / "000000.parquet").write_bytes(b"partial")
    (bulk / "parts" / "stray.parquet").write_bytes(b"partial")
    (bulk / "parts" / "young.parquet").write_bytes(b"partial")
    hours_ago = time.time() - 2 * 3600
    os.utime(bulk / "parts" / "stray.parquet", (hours_ago, hours_ago))
    (bulk / ".manifest-dead.tmp").write_bytes(b"{")
    assert store.read_dataset(INTERACTIONS_ARN, INTERACTIONS)["USER_ID"].to_list() == ["a"]
    store.import_bulk(INTERACTIONS_ARN, INTERACTIONS, interactions(tmp_path, ["b"]), "INCREMENTAL", "j2")
    assert store.read_dataset(INTERACTIONS_ARN, INTERACTIONS)["USER_ID"].to_list() == ["a", "b"]
    assert not staging.exists() and not (bulk / "parts" / "stray.parquet").exists()
    # a young stray may be the part of an import committing right now: it waits for ORPHAN_SECONDS
    assert (bulk / "parts" / "young.parquet").exists()


def test_previous_generation_survives_one_commit_for_readers(store: DataStore, tmp_path: Path) -> None:
    store.import_bulk(INTERACTIONS_ARN, INTERACTIONS, interactions(tmp_path, ["a"]), "FULL", "j1")
    parts = bulk_dir(store, INTERACTIONS_ARN) / "parts"
    first = set(parts.iterdir())
    store.import_bulk(INTERACTIONS_ARN, INTERACTIONS, interactions(tmp_path, ["b"]), "FULL", "j2")
    assert first <= set(parts.iterdir())  # retired, still readable by someone holding the old manifest
    store.import_bulk(INTERACTIONS_ARN, INTERACTIONS, interactions(tmp_path, ["c"]), "FULL", "j3")
    assert not first & set(parts.iterdir())
    assert len(list(parts.iterdir())) == 2


def test_concurrent_incremental_imports_all_land(store: DataStore, tmp_path: Path) -> None:
    store.import_bulk(INTERACTIONS_ARN, INTERACTIONS, interactions(tmp_path, ["a"]), "FULL", "j0")
    sources = [interactions(tmp_path, [f"u{n}"] * (n + 1)) for n in range(6)]
    threads = [
        threading.Thread(target=store.import_bulk, args=(INTERACTIONS_ARN, INTERACTIONS, s, "INCREMENTAL", f"j{n + 1}"))
        for n, s in enumerate(sources)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert store.bulk_rows(INTERACTIONS_ARN) == 1 + sum(range(1, 7))
    assert store.read_dataset(INTERACTIONS_ARN, INTERACTIONS).height == 22


def test_schema_evolution_new_nullable_column_reads_null(store: DataStore, tmp_path: Path) -> None:
    store.import_bulk(ITEMS_ARN, ITEMS, csv(tmp_path, "ITEM_ID,PRICE\ni1,1\n"), "FULL", "j1")
    evolved = schema_of("Items", [*ITEMS.raw["fields"], {"name": "GENRE", "type": ["null", "string"], "categorical": True}])
    frame = store.read_dataset(ITEMS_ARN, evolved)
    assert frame.columns == ["ITEM_ID", "PRICE", "GENRE"] and frame.rows() == [("i1", 1.0, None)]


def test_delete_users_removes_bulk_and_put_rows_atomically(store: DataStore, tmp_path: Path) -> None:
    store.import_bulk(INTERACTIONS_ARN, INTERACTIONS, interactions(tmp_path, ["a", "b", "a"]), "FULL", "j1")
    store.import_bulk(INTERACTIONS_ARN, INTERACTIONS, interactions(tmp_path, ["c", "a"]), "INCREMENTAL", "j2")
    store.events.append(INTERACTIONS_ARN, [{"USER_ID": "a", "ITEM_ID": "x", "TIMESTAMP": 1},
                                           {"USER_ID": "b", "ITEM_ID": "x", "TIMESTAMP": 2}])
    generation = store.generation(INTERACTIONS_ARN)
    parts = {info.key for info in store.objects.list(store.dataset_key(INTERACTIONS_ARN) + "bulk/parts/")}
    assert store.delete_users(INTERACTIONS_ARN, {"a", "zz"}) == 3 + 1
    left = {info.key for info in store.objects.list(store.dataset_key(INTERACTIONS_ARN) + "bulk/parts/")}
    assert not parts & left  # both old parts held "a": no copy of its rows stays behind
    assert store.read_dataset(INTERACTIONS_ARN, INTERACTIONS, "BULK")["USER_ID"].to_list() == ["b", "c"]
    assert store.read_dataset(INTERACTIONS_ARN, INTERACTIONS, "PUT")["USER_ID"].to_list() == ["b"]
    assert store.bulk_rows(INTERACTIONS_ARN) == 2
    assert store.generation(INTERACTIONS_ARN) > generation
    assert store.delete_users(INTERACTIONS_ARN, {"a"}) == 0
    assert store.delete_users(INTERACTIONS_ARN, set()) == 0
    # a later INCREMENTAL re-run of an old job key is still recognised after the rewrite
    assert store.has_committed(INTERACTIONS_ARN, "j2")


def test_deleting_only_put_rows_starts_a_new_generation(store: DataStore, tmp_path: Path) -> None:
    store.import_bulk(INTERACTIONS_ARN, INTERACTIONS, interactions(tmp_path, ["b"]), "FULL", "j1")
    store.events.append(INTERACTIONS_ARN, [{"USER_ID": "a", "ITEM_ID": "x", "TIMESTAMP": 1}])
    generation = store.generation(INTERACTIONS_ARN)
    assert store.delete_users(INTERACTIONS_ARN, {"a"}) == 1
    assert store.generation(INTERACTIONS_ARN) > generation  # serving's histories must read the dataset again
    assert store.read_dataset(INTERACTIONS_ARN, INTERACTIONS)["USER_ID"].to_list() == ["b"]


def test_delete_users_on_a_dataset_without_user_ids(store: DataStore, tmp_path: Path) -> None:
    store.import_bulk(ITEMS_ARN, ITEMS, csv(tmp_path, "ITEM_ID,PRICE\ni1,1\n"), "FULL", "j1")
    assert store.delete_users(ITEMS_ARN, {"i1"}) == 0
    assert store.read_dataset(ITEMS_ARN, ITEMS).height == 1


def test_size_cap_per_mode(store: DataStore, tmp_path: Path) -> None:
    sources = interactions(tmp_path, ["a"] * 50)
    size = sources[0].path.stat().st_size
    with pytest.raises(BadData, match=r"INCREMENTAL imports may read at most"):
        store.import_bulk(INTERACTIONS_ARN, INTERACTIONS, sources, "INCREMENTAL", "j1", max_bytes=size - 1)
    assert store.import_bulk(INTERACTIONS_ARN, INTERACTIONS, sources, "FULL", "j2", max_bytes=size) == 50
