"""Job queue benchmark: how long a claim takes, and how long a queued job waits before a worker starts it, on
SQLite and on PostgreSQL.

- claim: ``Store.claim`` with a queue of 1,000 jobs (each claim takes one) and with an empty queue (what every
  idle worker thread does twice a second);
- pick-up: a job queued through one store is started by a ``Worker`` (one thread, no-op runner) holding another
  store, as a job queued by an API node is picked up by a worker process: by polling (SQLite, every 0.5 s) or by
  PostgreSQL's NOTIFY.

PostgreSQL is the tests' throw-away server (tests/_postgres.py) unless ``--postgres URL`` names one.

    .venv/bin/python bench/job_queue.py
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from _postgres import PostgresServer  # noqa: E402

from openpersonalize.config import Settings  # noqa: E402
from openpersonalize.data.metadata import Job, Store  # noqa: E402
from openpersonalize.data.store import DataStore  # noqa: E402
from openpersonalize.jobs.base import Progress, Runner  # noqa: E402
from openpersonalize.jobs.worker import Worker  # noqa: E402
from openpersonalize.services import Services  # noqa: E402


def _ms(samples: list[float]) -> str:
    ordered = sorted(samples)
    return f"p50 {1000 * statistics.median(ordered):7.2f} ms   p99 {1000 * ordered[int(0.99 * (len(ordered) - 1))]:7.2f} ms"


def claims(store: Store, jobs: int) -> tuple[list[float], list[float]]:
    for n in range(jobs):
        store.enqueue("bench", f"arn:{n}")
    full, empty = [], []
    for _ in range(jobs):
        started = time.perf_counter()
        job = store.claim("bench:1:0")
        full.append(time.perf_counter() - started)
        assert job is not None
        store.finish(job.id, "done", job.claimed_by)
    for _ in range(200):
        started = time.perf_counter()
        assert store.claim("bench:1:0") is None
        empty.append(time.perf_counter() - started)
    return full, empty


def pick_up(url: str, data_dir: Path, jobs: int) -> list[float]:
    started: dict[str, float] = {}
    seen = threading.Semaphore(0)

    def run(services: Services, job: Job, progress: Progress) -> None:
        started[job.arn] = time.perf_counter()
        seen.release()

    settings = Settings(data_dir=data_dir)
    worker = Worker(Services(settings=settings, store=Store(url), data=DataStore(data_dir)),
                    {"bench": Runner(run)}, tick=lambda services: None)
    worker.start()
    producer, waits = Store(url), []
    time.sleep(0.5)
    try:
        for n in range(jobs):
            queued = time.perf_counter()
            producer.enqueue("bench", f"pick:{n}")
            assert seen.acquire(timeout=10)
            waits.append(started[f"pick:{n}"] - queued)
            time.sleep(random.uniform(0.0, 0.5))  # at a random point of the poll interval
    finally:
        worker.stop()
    return waits


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--postgres", help="a PostgreSQL URL to use instead of a throw-away server")
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--pickups", type=int, default=40)
    args = parser.parse_args()
    server = None if args.postgres else PostgresServer().start()
    try:
        with tempfile.TemporaryDirectory() as work:
            urls = {"sqlite": f"sqlite:///{work}/claims.sqlite3",
                    "postgresql": args.postgres or server.database("bench_claims")}  # type: ignore[union-attr]
            pickup_urls = {"sqlite": f"sqlite:///{work}/pickup.sqlite3",
                           "postgresql": args.postgres or server.database("bench_pickup")}  # type: ignore[union-attr]
            for name, url in urls.items():
                full, empty = claims(Store(url), args.jobs)
                waits = pick_up(pickup_urls[name], Path(work), args.pickups)
                print(f"{name:<11} claim (queue of {args.jobs}) {_ms(full)}")
                print(f"{name:<11} claim (empty queue)     {_ms(empty)}")
                print(f"{name:<11} queued → started        {_ms(waits)}")
    finally:
        if server is not None:
            server.stop()


if __name__ == "__main__":
    main()
