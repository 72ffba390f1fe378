"""Memory soak (issue 13): live sessions from a space of 1M user ids through the real HTTP server; prints RSS.

A live ``openpersonalize serve`` holds a User-Personalization campaign over a generated VOD catalogue
(``--train-users`` × ``--items``). First every training user asks once (a first visit each): the serving RSS
of the campaign. Then, for ``--seconds``, a load-generator process keeps ``--connections`` keep-alive
connections busy with live sessions — PutEvents (one Watch of a random item) then GetRecommendations for the
same user, the user drawn from ``--id-space`` distinct ids — and the server's RSS is printed every ``--every``
seconds. Per-user real-time state is bounded (OPENPERSONALIZE_REALTIME_USERS), so RSS must hold flat once
the bounded caches are full: the last line compares the end with the level after the warm-up (the first
quarter of the run), the goal is within ±10 %. Each line also shows what fills up first: the per-model score
and ranking memos (bounded at 2 x 256 MiB per model), the answers (64 MiB), the real-time tails and the recent
recommendation ids (entries) — so "warm" means those bounds are reached.

    .venv/bin/python bench/soak.py [--seconds 600] [--id-space 1000000] [--train-users 20000] [--items 10000]
        [--workers 1] [--realtime-users 100000] [--connections 16]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import random
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from _server import client, free_port, start_server
from serving import setup


def rss_mib(pids: list[int]) -> float:
    """Resident memory of the server's processes (the supervisor and its serving processes), summed."""
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except FileNotFoundError:
            pass
    return total / 1024


def cache_sizes(port: int) -> dict[str, float]:
    """From /metrics: MiB of the per-model score and ranking memos and of the answers, and the entries of the
    real-time tails and recent recommendation ids (what fills up before RSS can hold flat)."""
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=30).read().decode()
    values: dict[tuple[str, str], float] = {}
    for line in text.splitlines():
        if line.startswith(("openpersonalize_cache_weight{", "openpersonalize_cache_entries{")):
            head, _, value = line.rpartition(" ")
            metric, _, label = head.partition('{cache="')
            values[(metric, label.rstrip('"}'))] = float(value)
    weight = lambda cache: values.get(("openpersonalize_cache_weight", cache), 0.0) / 2**20  # noqa: E731
    entries = lambda cache: values.get(("openpersonalize_cache_entries", cache), 0.0)  # noqa: E731
    return {"memos MiB": weight("model_scores") + weight("model_rankings"), "answers MiB": weight("answers"),
            "tails": entries("realtime_users"), "rec ids": entries("recommendations")}


def server_pids(root: int) -> list[int]:
    children = Path(f"/proc/{root}/task/{root}/children")
    found = [int(p) for p in children.read_text().split()] if children.exists() else []
    return [root, *found]


# ---- the load generator (its own process: the client must cost little CPU) ---------------------------------------


def _request(port: int, path: str, body: bytes) -> bytes:
    head = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n")
    return head.encode() + body


async def _exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes) -> bool:
    writer.write(request)
    status = await reader.readline()
    length = 0
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b""):
            break
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    await reader.readexactly(length)
    return b" 200 " in status


def _load(port: int, campaign: str, tracking_id: str, items: list[str], id_space: int, seconds: float,
          connections: int, calls: Any, errors: Any) -> None:
    rng = random.Random(5)

    async def session(stop_at: float) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        while time.monotonic() < stop_at:
            user = f"soak-{rng.randrange(id_space)}"
            event = {"trackingId": tracking_id, "userId": user, "sessionId": user,
                     "eventList": [{"eventType": "Watch", "itemId": rng.choice(items), "sentAt": time.time()}]}
            ask = {"campaignArn": campaign, "userId": user, "numResults": 25}
            put_ok = await _exchange(reader, writer, _request(port, "/events", json.dumps(event).encode()))
            get_ok = await _exchange(reader, writer, _request(port, "/recommendations", json.dumps(ask).encode()))
            with calls.get_lock():
                calls.value += 1
            if not (put_ok and get_ok):
                with errors.get_lock():
                    errors.value += 1
        writer.close()

    async def main() -> None:
        stop_at = time.monotonic() + seconds
        await asyncio.gather(*(session(stop_at) for _ in range(connections)))

    asyncio.run(main())


def first_visits(port: int, campaign: str, users: list[str]) -> float:
    """Every training user asks once; returns the seconds it took."""
    runtime = client("personalize-runtime", port)
    started = time.monotonic()
    for user in users:
        runtime.get_recommendations(campaignArn=campaign, userId=user, numResults=25)
    return time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=60.0, help="soak duration (the issue's run: 600)")
    parser.add_argument("--every", type=float, default=10.0, help="seconds between RSS lines")
    parser.add_argument("--warmup", type=float, default=None, help="seconds before RSS must hold flat (default: a "
                        "quarter of the run; the bounded caches must be full by then)")
    parser.add_argument("--id-space", type=int, default=1_000_000)
    parser.add_argument("--train-users", type=int, default=20_000)
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--interactions", type=int, default=400_000)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--first-visits", type=int, default=None, help="training users asked once before the soak "
                        "(default: all of them, for the campaign's RSS; 0 skips that phase)")
    parser.add_argument("--workers", type=int, default=1, help="serving processes (serve --workers)")
    parser.add_argument("--realtime-users", type=int, default=None, help="OPENPERSONALIZE_REALTIME_USERS")
    args = parser.parse_args()
    env = {} if args.realtime_users is None else {"OPENPERSONALIZE_REALTIME_USERS": str(args.realtime_users)}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        port = free_port()
        extra = ("--workers", str(args.workers)) if args.workers > 1 else ()
        server = start_server(folder / "data", port, env, extra)
        try:
            # serving.py's deployment: generated VOD data, UP without exploration, a filter, an event tracker
            deployed = setup(port, folder / "csv", args.items, args.train_users, args.interactions)
            campaign, tracking_id, users, items = deployed.campaign, deployed.tracking_id, deployed.users, deployed.items
            pids = server_pids(server.pid)
            deployed = rss_mib(pids)
            visitors = users[:args.first_visits] if args.first_visits is not None else users
            took = first_visits(port, campaign, visitors)
            campaign_rss = rss_mib(pids)
            print(f"campaign {args.train_users} users x {args.items} items: RSS {deployed:.0f} MiB deployed, "
                  f"{campaign_rss:.0f} MiB after {len(visitors)} training users' first visits "
                  f"({len(visitors) / max(took, 1e-9):.0f} req/s sequential)", flush=True)
            calls, errors = multiprocessing.Value("q", 0), multiprocessing.Value("q", 0)
            load = multiprocessing.Process(target=_load, args=(port, campaign, tracking_id, items, args.id_space,
                                                               args.seconds, args.connections, calls, errors))
            started = time.monotonic()
            load.start()
            samples: list[tuple[float, float]] = []
            last_calls, last_at = 0, started
            print(f"{'seconds':>8} {'RSS MiB':>9} {'calls/s':>8} {'calls':>9} {'errors':>7} {'memos MiB':>10} "
                  f"{'answers MiB':>12} {'tails':>8} {'rec ids':>8}", flush=True)
            while load.is_alive():
                load.join(args.every)
                now = time.monotonic()
                rss = rss_mib(server_pids(server.pid))
                samples.append((now - started, rss))
                rate = (calls.value - last_calls) / max(now - last_at, 1e-9)
                last_calls, last_at = calls.value, now
                caches = cache_sizes(port)
                print(f"{now - started:8.0f} {rss:9.0f} {rate:8.0f} {calls.value:9d} {errors.value:7d} "
                      f"{caches['memos MiB']:10.0f} {caches['answers MiB']:12.0f} {caches['tails']:8.0f} "
                      f"{caches['rec ids']:8.0f}", flush=True)
        finally:
            server.terminate()
            server.wait(30)
    warmup = args.warmup if args.warmup is not None else args.seconds / 4
    warm = [rss for at, rss in samples if at >= warmup]
    if warm:
        level, end = warm[0], warm[-1]
        print(f"\nlive sessions (PutEvents + GetRecommendations, {args.connections} connections, {args.workers} "
              f"serving process(es)): {calls.value / args.seconds:.0f} calls/s, {errors.value} errors; RSS after "
              f"warm-up {level:.0f} MiB, at the end {end:.0f} MiB ({(end - level) / level:+.1%}), max "
              f"{max(warm):.0f} MiB; {calls.value} calls over {args.id_space} user ids", file=sys.stdout)


if __name__ == "__main__":
    main()
