"""Serving throughput and latency over HTTP as traffic really comes (issue 13): prints a table.

A live ``openpersonalize serve`` on loopback holds a User-Personalization campaign over a generated VOD
catalogue (default 20k users, 10k items, 1M interactions) and an ``EXCLUDE ItemID WHERE
Interactions.EVENT_TYPE IN ("Watch")`` filter. wrk (Debian's ``wrk``) keeps keep-alive connections busy on the
same 2 cores. Rows:

- random users over the whole user set, each user's first visit (nothing cached), with the filter: throughput
  at 32 connections, latency at 4;
- live sessions: PutEvents then GetRecommendations for the same user (both calls counted), first visits;
- mixed: first visits where one pair of requests in ten is a live session (PutEvents, then an answer scored
  afresh): whether the cheap answers wait behind the scorings;
- cache hits: users drawn from 500, each already answered once;
- first visits to a campaign with the default exploration (every answer draws new slots, no shortlist);
- a bare Starlette no-op endpoint on the same uvicorn stack, in the same run: the framework's ceiling;
- first visits and live sessions again on ``serve --workers 2`` (the same data; each process keeps its own
  shortlists and follows the one event log), which puts the second core to work.

    .venv/bin/python bench/serving.py [--users 20000] [--items 10000] [--interactions 1000000] [--seconds 5]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import _wrk
import numpy as np

from _server import client, free_port, peak_rss_mib, poll, start_server, wait_for_shortlists

from openpersonalize.demo.generator import generate_vod, write_csv

UP = "arn:aws:personalize:::recipe/aws-user-personalization"
MIXED_USERS = 4000  # users kept for the mixed row: first visits need users without streamed events
NOOP_APP = """
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route
async def noop(request):
    await request.body()
    return Response(b'{"itemList":[]}', media_type="application/json")
app = Starlette(routes=[Route("/recommendations", noop, methods=["POST"])])
"""


@dataclass(frozen=True)
class Deployed:
    campaign: str  # no exploration: answers are deterministic (and cached until the user's history changes)
    exploring: str  # the default explorationWeight 0.3: every answer draws new slots
    filter: str
    tracking_id: str
    users: list[str]
    items: list[str]


def setup(port: int, folder: Path, items: int, users: int, interactions: int) -> Deployed:
    """Import generated data, train UP, deploy two campaigns, a filter and an event tracker."""
    data = generate_vod(users=users, items=items, interactions=interactions, seed=7)
    files = write_csv(data, folder)
    api = client("personalize", port)
    group = api.create_dataset_group(name="bench")["datasetGroupArn"]
    poll(lambda: api.describe_dataset_group(datasetGroupArn=group)["datasetGroup"])
    for dataset_type, key in (("Interactions", "INTERACTIONS"), ("Items", "ITEMS")):
        schema = api.create_schema(name=f"bench-{key}", schema=data.schemas[key])["schemaArn"]
        dataset = api.create_dataset(name=f"bench-{key}", schemaArn=schema, datasetGroupArn=group, datasetType=dataset_type)["datasetArn"]
        poll(lambda: api.describe_dataset(datasetArn=dataset)["dataset"])
        job = api.create_dataset_import_job(jobName=f"bench-{key}", datasetArn=dataset,
                                            dataSource={"dataLocation": str(files[key.lower()])})["datasetImportJobArn"]
        imported = poll(lambda: api.describe_dataset_import_job(datasetImportJobArn=job)["datasetImportJob"])
        assert imported["status"] == "ACTIVE", imported.get("failureReason")
    solution = api.create_solution(name="bench-up", datasetGroupArn=group, recipeArn=UP, performAutoTraining=False)["solutionArn"]
    poll(lambda: api.describe_solution(solutionArn=solution)["solution"])
    started = time.monotonic()
    version = api.create_solution_version(solutionArn=solution)["solutionVersionArn"]
    trained = poll(lambda: api.describe_solution_version(solutionVersionArn=version)["solutionVersion"])
    assert trained["status"] == "ACTIVE", trained.get("failureReason")
    print(f"trained UP on {interactions} interactions, {items} items in {time.monotonic() - started:.0f} s", file=sys.stderr)
    campaign = api.create_campaign(name="bench", solutionVersionArn=version,
                                   campaignConfig={"itemExplorationConfig": {"explorationWeight": "0"}})["campaignArn"]
    poll(lambda: api.describe_campaign(campaignArn=campaign)["campaign"])
    exploring = api.create_campaign(name="bench-exploring", solutionVersionArn=version)["campaignArn"]
    poll(lambda: api.describe_campaign(campaignArn=exploring)["campaign"])
    flt = api.create_filter(name="bench-exclude", datasetGroupArn=group,
                            filterExpression='EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("Watch")')["filterArn"]
    poll(lambda: api.describe_filter(filterArn=flt)["filter"])
    tracker = api.create_event_tracker(name="bench-events", datasetGroupArn=group)
    poll(lambda: api.describe_event_tracker(eventTrackerArn=tracker["eventTrackerArn"])["eventTracker"])
    return Deployed(campaign, exploring, flt, tracker["trackingId"], sorted(set(data.interactions["USER_ID"].to_list())),
                    sorted(set(data.interactions["ITEM_ID"].to_list())))


def cold_time(port: int, campaign: str, users: list[str]) -> float:
    """Median wall time of a user's first request (scores not cached), sequential, over HTTP."""
    runtime = client("personalize-runtime", port)
    times = []
    for user in users:
        started = time.perf_counter()
        runtime.get_recommendations(campaignArn=campaign, userId=user)
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def _wait_port(port: int) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing answers on port {port}")


def _body(**fields: Any) -> bytes:
    return json.dumps(fields).encode()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--users", type=int, default=20_000)
    parser.add_argument("--interactions", type=int, default=1_000_000)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--latency-connections", type=int, default=4)
    args = parser.parse_args()
    if not _wrk.available():
        sys.exit("bench/serving.py needs wrk: apt-get install wrk")
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        port, noop_port = free_port(), free_port()
        server = start_server(folder / "data", port)  # may read its inputs beside the data dir (folder / "csv")
        (folder / "noop_app.py").write_text(NOOP_APP)
        noop = subprocess.Popen([sys.executable, "-m", "uvicorn", "noop_app:app", "--port", str(noop_port),
                                 "--log-level", "warning", "--no-access-log", "--loop", "uvloop", "--http", "httptools"],
                                cwd=folder, env=env)
        try:
            _wait_port(noop_port)
            deployed = setup(port, folder / "csv", args.items, args.users, args.interactions)
            users = list(rng.permutation(deployed.users))
            ready = wait_for_shortlists(port, len(users))
            cold = cold_time(port, deployed.exploring, users[:100])
            items = items_of(deployed, rng)
            rows = measure_rows(port, noop_port, deployed, users, items, args)
            rss = peak_rss_mib(server.pid, "VmRSS")
            server.terminate()
            server.wait(30)
            server = start_server(folder / "data", port, args=("--workers", "2"))
            rows.update(two_workers(port, deployed, users, items, args))
        finally:
            server.terminate()
            noop.terminate()
            server.wait(10)
            noop.wait(10)
    print(f"\nServing bench: {args.items} items, {len(users)} users, {args.interactions} interactions; wrk on the same "
          f"{os.cpu_count()} cores; throughput at {args.connections} connections, latency at "
          f"{args.latency_connections}; shortlists ready {ready:.0f} s after deploy\n")
    noop_rps = rows["no-op endpoint (bare Starlette)"][0]["rps"]
    print(f"{'traffic':58} {'req/s':>8} {'of no-op':>9} {'p50 ms':>7} {'p99 ms':>7} {'errors':>7}")
    for name, (load, latency) in rows.items():
        errors = load["errors"] + latency["errors"]
        print(f"{name:58} {load['rps']:8.0f} {load['rps'] / noop_rps:9.0%} {latency['p50']:7.2f} {latency['p99']:7.2f} {errors:7d}")
    print("(req/s at the load connections; p50/p99 from a separate pass at the latency connections. First-visit rows "
          "send each user once per pass, the two-process row twice with two numResults: nothing is cached; live "
          "sessions count both calls)")
    print(f"first request of a user to the exploring campaign, sequential boto3 call: median {cold:.1f} ms")
    print(f"server RSS after the run: {rss:.0f} MiB (model, shortlists, caches, real-time tails)")


def items_of(deployed: Deployed, rng: np.random.Generator) -> list[str]:
    return [str(i) for i in rng.permutation(deployed.items)]


def measure_rows(port: int, noop_port: int, deployed: Deployed, users: list[str], items: list[str],
                 args: argparse.Namespace) -> dict[str, tuple[dict[str, Any], dict[str, Any]]]:
    load, latency = args.connections, args.latency_connections
    campaign, flt = deployed.campaign, deployed.filter

    def recs(subset: list[str], results: int, **extra: Any) -> list[tuple[str, bytes]]:
        return [("/recommendations", _body(campaignArn=campaign, userId=u, numResults=results, filterArn=flt, **extra))
                for u in subset]

    def session(subset: list[str], results: int) -> list[tuple[str, bytes]]:
        return _sessions(deployed, items, subset, results, load if results == 25 else latency)

    quiet, live = split_users(users)  # events are streamed for ``live`` only: ``quiet`` stay shortlisted
    kept = min(MIXED_USERS, len(users) // 5)  # a small --users run keeps most users for the other rows
    mixed_users, users = users[-kept:], users[:-kept]
    hot = users[:500]
    noop = [("/recommendations", _body(userId=u)) for u in users[:1000]]
    rows: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {}
    rows["no-op endpoint (bare Starlette)"] = (_wrk.run(noop_port, noop, connections=load, seconds=args.seconds),
                                               _wrk.run(noop_port, noop, connections=latency, seconds=args.seconds))
    rows["random users, EXCLUDE filter, first visits"] = (_wrk.run(port, recs(users, 25), connections=load, once=True),
                                                          _wrk.run(port, recs(users, 24), connections=latency, once=True))
    split = kept * 3 // 4
    rows["mixed: 1 pair in 10 a live session, the rest first visits"] = (
        _wrk.run(port, mixed(deployed, mixed_users[:split], items, load), connections=load, once=True),
        _wrk.run(port, mixed(deployed, mixed_users[split:], items, latency), connections=latency, once=True))
    split = len(live) * 3 // 4
    rows["live sessions: PutEvents + GetRecommendations, same user"] = (
        _wrk.run(port, session(live[:split], 25), connections=load, once=True),
        _wrk.run(port, session(live[split:], 23), connections=latency, once=True))
    _wrk.run(port, recs(hot, 22), connections=load, once=True)  # every hot user answered once
    rows["cache hits (500 users, answered before)"] = (_wrk.run(port, recs(hot, 22), connections=load, seconds=args.seconds),
                                                      _wrk.run(port, recs(hot, 22), connections=latency, seconds=args.seconds))
    exploring = [("/recommendations", _body(campaignArn=deployed.exploring, userId=u, numResults=25)) for u in users[:4000]]
    split = len(exploring) * 3 // 4
    rows["first visits, exploration 0.3 (scored per request)"] = (
        _wrk.run(port, exploring[:split], connections=load, once=True),
        _wrk.run(port, exploring[split:], connections=latency, once=True))
    return rows


def mixed(deployed: Deployed, users: list[str], items: list[str], connections: int) -> list[tuple[str, bytes]]:
    """Pairs of requests: every tenth a live session of one user, the others two listed users' first visits."""
    pairs: list[tuple[str, bytes]] = []
    for k in range(0, len(users) - 1, 2):
        if k % 20 == 0:
            pairs += _session_pair(deployed, users[k], items[k % len(items)], k, 20)
        else:
            pairs += [_recommendation(deployed, users[k], 20), _recommendation(deployed, users[k + 1], 20)]
    return _by_connection(pairs, connections)


def split_users(users: list[str]) -> tuple[list[str], list[str]]:
    """The users left without streamed events (shortlisted, for the 2-process first visits) and the rest."""
    kept = min(MIXED_USERS, len(users) // 5)  # the mixed row's users
    users = users[:-kept]
    return users[: len(users) // 2], users[len(users) // 2 :]


def two_workers(port: int, deployed: Deployed, users: list[str], items: list[str], args: argparse.Namespace
                ) -> dict[str, tuple[dict[str, Any], dict[str, Any]]]:
    """First visits and live sessions on the 2-process server. Each process loads the campaign (model,
    histories, the event log's rows since the snapshot) on its first request, which took over wrk's 10 s timeout
    on a loaded machine, so warm-up passes run until one answers everything within a second, and then builds its
    own shortlists. First visits go to the users without streamed events; the live sessions' users had events
    in the earlier rows, so every answer is scored afresh, as in a live session."""
    quiet, live = split_users(users)
    warm = [("/recommendations", _body(campaignArn=deployed.campaign, userId=u, numResults=5)) for u in live[:64]]
    for _ in range(10):  # new connections each pass, spread over both processes, until both have loaded the model
        passed = _wrk.run(port, warm, connections=args.connections, once=True)
        if not passed["errors"] and passed["p99"] < 1000:
            break
    wait_for_shortlists(port, len(quiet), settle=8)  # /metrics answers from either process: both must be done
    load, latency = args.connections, args.latency_connections
    rows = {}
    # Each user twice, with two numResults: neither answer is cached, both are read off the user's shortlist as a
    # first visit is. Once each was about 2 s of traffic, short enough for the start and the last connections'
    # tails to weigh on the rate.
    visits = [_recommendation(deployed, u, 21) for u in quiet] + [_recommendation(deployed, u, 19) for u in quiet]
    rows["random users, EXCLUDE filter, first visits, serve --workers 2"] = (
        _wrk.run(port, visits, connections=load, once=True),
        _wrk.run(port, [_recommendation(deployed, u, 20) for u in quiet], connections=latency, once=True))
    shifted = items[len(items) // 2 :] + items[: len(items) // 2]  # other items than the earlier sessions sent
    split = len(live) * 3 // 4
    rows["live sessions, serve --workers 2"] = (
        _wrk.run(port, _sessions(deployed, shifted, live[:split], 25, load), connections=load, once=True),
        _wrk.run(port, _sessions(deployed, shifted, live[split:], 23, latency), connections=latency, once=True))
    return rows


def _sessions(deployed: Deployed, items: list[str], users: list[str], results: int, connections: int
              ) -> list[tuple[str, bytes]]:
    """Live sessions: per user a PutEvents (a Watch of the next item) then a GetRecommendations."""
    pairs: list[tuple[str, bytes]] = []
    for k, user in enumerate(users):
        pairs += _session_pair(deployed, user, items[k % len(items)], k, results)
    return _by_connection(pairs, connections)


def _session_pair(deployed: Deployed, user: str, item: str, k: int, results: int) -> list[tuple[str, bytes]]:
    event = {"eventType": "Watch", "itemId": item, "sentAt": 1_700_000_000 + k}
    return [("/events", _body(trackingId=deployed.tracking_id, userId=user, sessionId=user, eventList=[event])),
            _recommendation(deployed, user, results)]


def _recommendation(deployed: Deployed, user: str, results: int) -> tuple[str, bytes]:
    return ("/recommendations", _body(campaignArn=deployed.campaign, userId=user, numResults=results,
                                      filterArn=deployed.filter))


def _by_connection(pairs: list[tuple[str, bytes]], connections: int) -> list[tuple[str, bytes]]:
    """Order (PutEvents, GetRecommendations) pairs so wrk's connection k, which sends lines k, k + n, k + 2n, ...,
    sends each pair's two calls in order on one connection."""
    couples = [pairs[i : i + 2] for i in range(0, len(pairs), 2)]
    couples = couples[: len(couples) - len(couples) % connections]  # every connection sends as many
    lanes = [couples[k::connections] for k in range(connections)]
    return [lane[turn][call] for turn in range(len(lanes[0])) for call in (0, 1) for lane in lanes]


if __name__ == "__main__":
    main()
