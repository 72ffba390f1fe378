"""Crash safety (DESIGN §3): kill -9 the server mid-stream, restart it on the same data directory.

- Every PutEvents that was answered 200 before the kill is in the event log afterwards.
- An import job interrupted by the kill ends ACTIVE with all rows or CREATE FAILED, never stuck
  IN_PROGRESS, and the dataset holds either the whole import or what it held before.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import BotoCoreError, ClientError
from conftest import LiveServer, unique, wait_for

from openpersonalize.data.eventlog import EventLog
from openpersonalize.data.schema import parse_schema

INTERACTIONS = json.dumps({
    "type": "record", "name": "Interactions", "namespace": "com.amazonaws.personalize.schema",
    "fields": [{"name": "USER_ID", "type": "string"}, {"name": "ITEM_ID", "type": "string"},
               {"name": "TIMESTAMP", "type": "long"}, {"name": "EVENT_TYPE", "type": "string"}],
})


def interactions_dataset(personalize: Any) -> tuple[str, str]:
    """A group with an ACTIVE Interactions dataset; returns (group ARN, dataset ARN)."""
    group = personalize.create_dataset_group(name=unique("crash-dg"))["datasetGroupArn"]
    wait_for(lambda: personalize.describe_dataset_group(datasetGroupArn=group)["datasetGroup"])
    schema = personalize.create_schema(name=unique("crash-int"), schema=INTERACTIONS)["schemaArn"]
    dataset = personalize.create_dataset(
        name=unique("crash-ds"), schemaArn=schema, datasetGroupArn=group, datasetType="Interactions"
    )["datasetArn"]
    assert wait_for(lambda: personalize.describe_dataset(datasetArn=dataset)["dataset"])["status"] == "ACTIVE"
    return group, dataset


class EventStream:
    """Threads sending PutEvents (3 events per request) and keeping the ids of acknowledged events."""

    def __init__(self, live: LiveServer, tracking_id: str, threads: int = 3) -> None:
        self.live, self.tracking_id = live, tracking_id
        self.acknowledged: list[str] = []
        self.lock = threading.Lock()
        self.stopped = threading.Event()
        self.threads = [threading.Thread(target=self._send, args=(n,), daemon=True) for n in range(threads)]

    def start(self) -> None:
        for thread in self.threads:
            thread.start()

    def join(self) -> None:
        self.stopped.set()
        for thread in self.threads:
            thread.join(30)

    def _send(self, worker: int) -> None:
        client = self.live.client("personalize-events")
        sequence = 0
        while not self.stopped.is_set():
            ids = [f"w{worker}-{sequence}-{k}" for k in range(3)]
            sequence += 1
            batch = [{"eventId": i, "eventType": "click", "itemId": i, "sentAt": 1_700_000_000} for i in ids]
            try:
                client.put_events(trackingId=self.tracking_id, userId=f"user{worker}", sessionId="s", eventList=batch)
            except (BotoCoreError, ClientError):
                return  # the server is gone: this request was never acknowledged
            with self.lock:
                self.acknowledged.extend(ids)


def test_acknowledged_events_survive_kill_9(tmp_path: Path) -> None:
    live = LiveServer(tmp_path / "server")
    live.start()
    try:
        personalize = live.client("personalize")
        group, dataset = interactions_dataset(personalize)
        tracker = personalize.create_event_tracker(name=unique("crash-trk"), datasetGroupArn=group)["eventTrackerArn"]
        tracking_id = wait_for(lambda: personalize.describe_event_tracker(eventTrackerArn=tracker)["eventTracker"])["trackingId"]

        stream = EventStream(live, tracking_id)
        stream.start()
        deadline = time.monotonic() + 30
        while len(stream.acknowledged) < 600 and time.monotonic() < deadline:
            time.sleep(0.01)
        live.kill()  # SIGKILL while the senders are mid-request
        stream.join()
        acknowledged = set(stream.acknowledged)
        assert len(acknowledged) >= 600, "too few events were sent before the kill to test anything"

        log = EventLog(live.data_dir / "eventlog")
        stored = {row["$eid"] for row in log.rows(dataset)}
        assert acknowledged <= stored, f"{len(acknowledged - stored)} acknowledged events were lost"

        # The restarted server appends after whatever the kill left (a torn tail is repaired, not glued onto).
        live.start()
        live.client("personalize-events").put_events(
            trackingId=tracking_id, userId="after", sessionId="s",
            eventList=[{"eventId": "after-restart", "eventType": "click", "itemId": "x", "sentAt": 1_700_000_001}],
        )
        frame = log.read(dataset, parse_schema(INTERACTIONS))
        assert frame is not None
        assert set(frame["ITEM_ID"].to_list()) >= acknowledged | {"x"}
        assert frame.filter(frame["USER_ID"] == "after").height == 1
    finally:
        live.stop()


# ---- an import job interrupted by kill -9 --------------------------------------------------------------------

BIG_ROWS = 500_000  # about 0.4 s of import work here: the kills below land inside it
SMALL_ROWS = 50


def write_csv(path: Path, rows: int, prefix: str) -> Path:
    lines = ["USER_ID,ITEM_ID,TIMESTAMP,EVENT_TYPE"]
    lines += [f"{prefix}u{n % 5000},i{n % 7919},{1_600_000_000 + n},click" for n in range(rows)]
    path.write_text("\n".join(lines) + "\n")
    return path


def start_import(personalize: Any, dataset: str, location: Path) -> str:
    arn: str = personalize.create_dataset_import_job(
        jobName=unique("crash-imp"), datasetArn=dataset, dataSource={"dataLocation": str(location)}, importMode="FULL"
    )["datasetImportJobArn"]
    return arn


def import_job(live: LiveServer, arn: str, **wait: Any) -> dict[str, Any]:
    """Poll the import job until it is final (or, with ``done=``, until it reaches one of those statuses)."""
    personalize = live.client("personalize")
    return wait_for(lambda: personalize.describe_dataset_import_job(datasetImportJobArn=arn)["datasetImportJob"], **wait)


def bulk_frame(live: LiveServer, dataset: str) -> Any:
    from openpersonalize.data.store import DataStore

    return DataStore(live.data_dir).read_dataset(dataset, parse_schema(INTERACTIONS), origin="BULK")


@pytest.mark.parametrize("kill_after", [0.0, 0.2])
def test_import_interrupted_by_kill_9_ends_whole_or_untouched(tmp_path: Path, kill_after: float) -> None:
    live = LiveServer(tmp_path / "server")
    live.start()
    try:
        personalize = live.client("personalize")
        _, dataset = interactions_dataset(personalize)
        first = start_import(personalize, dataset, write_csv(tmp_path / "small.csv", SMALL_ROWS, "old"))
        assert import_job(live, first)["status"] == "ACTIVE"
        before = bulk_frame(live, dataset)
        assert before.height == SMALL_ROWS

        big = start_import(personalize, dataset, write_csv(tmp_path / "big.csv", BIG_ROWS, "new"))
        status = import_job(live, big, done=("CREATE IN_PROGRESS", "ACTIVE"))["status"]
        assert status == "CREATE IN_PROGRESS", "the import finished before the kill: nothing was interrupted"
        time.sleep(kill_after)  # 0: as soon as the worker starts; 0.2 s: in the middle of the conversion
        live.kill()

        live.start()  # same data directory: the worker finds the job it was running when it died
        final = import_job(live, big, timeout=120)
        assert final["status"] in ("ACTIVE", "CREATE FAILED"), f"import left {final['status']} after restart"
        after = bulk_frame(live, dataset)
        if final["status"] == "ACTIVE":
            assert after.height == BIG_ROWS
            assert after["USER_ID"].str.starts_with("new").all()
            assert after["TIMESTAMP"].sum() == sum(range(1_600_000_000, 1_600_000_000 + BIG_ROWS))
        else:
            assert final.get("failureReason")
            assert after.equals(before)
    finally:
        live.stop()
