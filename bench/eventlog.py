"""The durable event log and the real-time state in-process (issue 13): what PutEvents and a request pay.

Rows: one PutEvents-sized append (sequential: one commit each; concurrent threads: group commit), wall and
CPU time per call; the per-request check that the log has not moved (``head``); a request of a user whose
tail is in memory (``user_version`` + ``get``); a user rebuilt from the log after eviction; following
another process's appends (rows applied per second).

    .venv/bin/python bench/eventlog.py [--appends 2000] [--threads 16]
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import polars as pl

from openpersonalize.data.eventlog import EventLog
from openpersonalize.serving.realtime import EventFeed, GroupHistory

ARN = "arn:aws:personalize:us-east-1:123456789012:dataset/bench/INTERACTIONS"
EMPTY = pl.DataFrame(schema={"USER_ID": pl.String, "ITEM_ID": pl.String, "TIMESTAMP": pl.Int64, "EVENT_TYPE": pl.String})


def row(n: int, user: str | None = None) -> dict[str, Any]:
    user = user or f"u{n}"
    return {"USER_ID": user, "ITEM_ID": f"i{n % 997}", "TIMESTAMP": 1_700_000_000 + n, "EVENT_TYPE": "Watch",
            "$eid": str(uuid.uuid4()), "$sid": user}


def timed(calls: int, work: Callable[[int], Any]) -> tuple[float, float]:
    """(wall µs, CPU µs) per call."""
    wall, cpu = time.perf_counter(), time.process_time()
    for n in range(calls):
        work(n)
    return (time.perf_counter() - wall) / calls * 1e6, (time.process_time() - cpu) / calls * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--appends", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=16)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        log = EventLog(Path(tmp) / "eventlog")
        log.append(ARN, [row(0)])
        rows: dict[str, tuple[float, float]] = {}
        rows["append, sequential (one commit each)"] = timed(args.appends, lambda n: log.append(ARN, [row(n)]))

        per = args.appends // args.threads
        threads = [threading.Thread(target=lambda k=k: [log.append(ARN, [row(k * per + i)]) for i in range(per)])
                   for k in range(args.threads)]
        wall, cpu = time.perf_counter(), time.process_time()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        count = per * args.threads
        rows[f"append, {args.threads} threads (group commit)"] = (
            (time.perf_counter() - wall) / count * 1e6, (time.process_time() - cpu) / count * 1e6)

        rows["head check, nothing changed"] = timed(20_000, lambda n: log.head())
        history = GroupHistory(EMPTY, EventFeed(log, ARN, log.head()), max_users=1000)
        for n in range(200):
            log.append(ARN, [row(n, "resident")])
        history.get("resident")
        rows["request of a user in memory (user_version + get)"] = timed(
            20_000, lambda n: (history.user_version("resident"), history.get("resident")))
        tight = GroupHistory(EMPTY, EventFeed(log, ARN, 0), max_users=1)
        # One tail in memory: every request below rebuilds its user (one logged event each) from the log.
        rows["request of an evicted user (rebuilt from the log)"] = timed(2000, lambda n: tight.get(f"u{n % 500 + 1}"))

        follower = GroupHistory(EMPTY, EventFeed(log, ARN, log.head()), max_users=1000)
        other = EventLog(Path(tmp) / "eventlog")  # another process's appends
        other.append(ARN, [row(n) for n in range(5000)])
        started = time.perf_counter()
        follower.sync()
        applied = 5000 / (time.perf_counter() - started)
        other.close()
        log.close()
    print(f"\n{'':52} {'wall µs':>9} {'CPU µs':>9}")
    for name, (wall_us, cpu_us) in rows.items():
        print(f"{name:52} {wall_us:9.1f} {cpu_us:9.1f}")
    print(f"following another process: {applied:,.0f} rows applied per second")


if __name__ == "__main__":
    main()
