"""A 1M-item catalogue through the API: import, train, serve, and recall@25 of approximate retrieval (issue 4).

Generates a long-tail log (``_data.long_tail``: Zipf popularity over ``--items``, two tastes per user), imports
Interactions and an Items table (GENRE, every catalogue item) into a live ``openpersonalize serve``, trains
User-Personalization, deploys two campaigns (the default exploration 0.3, and 0) and measures GetRecommendations
over HTTP with wrk (``_wrk.py``): once every user's shortlist is built (serving/shortlists.py, with a budget for
all of them), a pass of first visits of ``--visits`` users to each campaign (without exploration a first visit
reads the user's shortlist; with it, the user is scored), then the sampled users' first and repeat visits, and
with a GENRE filter, where the matrices' 15k items hold few matches and the tail must answer. Reports the
server's resident memory.

Then, in this process, on the trained artifact: User-Personalization keeps the ``max_vocabulary`` most popular
items in its matrices and scores the rest (the tail) through an inverted-file index over iALS vectors
(``recipes/_retrieval.py``). "Exact" is the same model scoring every tail item (``exact_tail``); recall@25
compares the served top 25 with the exact top 25 on sampled users, over the whole catalogue and over the
tail alone (the part the index approximates), and times both per user.

    .venv/bin/python bench/large_catalog.py                         # 1M items, 200k users, 5M events
    .venv/bin/python bench/large_catalog.py --items 100000 --users 20000 --interactions 500000
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from _data import long_tail
from _server import client, free_port, peak_rss_mib, poll, start_server, wait_for_shortlists
import _wrk

from openpersonalize.data.artifacts import model_dir
from openpersonalize.recipes._retrieval import recall_at
from openpersonalize.recipes.base import Recipe
from openpersonalize.recipes.user_personalization import UserPersonalization
from openpersonalize.serving.shortlists import BYTES_PER_USER

UP = "arn:aws:personalize:::recipe/aws-user-personalization"
NAMESPACE = "com.amazonaws.personalize.schema"
INTERACTIONS = {"type": "record", "name": "Interactions", "namespace": NAMESPACE, "version": "1.0",
                "fields": [{"name": "USER_ID", "type": "string"}, {"name": "ITEM_ID", "type": "string"},
                           {"name": "EVENT_TYPE", "type": "string"}, {"name": "TIMESTAMP", "type": "long"}]}
ITEMS = {"type": "record", "name": "Items", "namespace": NAMESPACE, "version": "1.0",
         "fields": [{"name": "ITEM_ID", "type": "string"}, {"name": "GENRE", "type": "string", "categorical": True}]}


def write_files(folder: Path, frame: pl.DataFrame, items: int, tastes: int, seed: int) -> dict[str, Path]:
    """Interactions CSV and an Items CSV naming every catalogue item (most of the tail is never interacted)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {"interactions": folder / "interactions.csv", "items": folder / "items.csv"}
    frame.select("USER_ID", "ITEM_ID", "EVENT_TYPE", "TIMESTAMP").write_csv(paths["interactions"])
    random = np.char.add("g", np.random.default_rng(seed).integers(tastes, size=items).astype(str))
    catalogue = pl.DataFrame({"ITEM_ID": np.char.add("i", np.arange(items).astype(str)), "RANDOM": random})
    seen = frame.select("ITEM_ID", "GENRE").unique("ITEM_ID")
    catalogue = catalogue.join(seen, on="ITEM_ID", how="left", maintain_order="left")
    # items never interacted with get a random genre
    catalogue.select("ITEM_ID", GENRE=pl.coalesce("GENRE", "RANDOM")).write_csv(paths["items"])
    return paths


def timed(label: str, action: Any) -> Any:
    started = time.monotonic()
    result = action()
    print(f"{label}: {time.monotonic() - started:.0f} s", file=sys.stderr, flush=True)
    return result


def setup(port: int, paths: dict[str, Path]) -> tuple[str, str, str, str]:
    """Import, train, deploy through boto3; returns (campaign, campaign without exploration, solution version,
    GENRE filter) ARNs."""
    api = client("personalize", port)
    group = api.create_dataset_group(name="large")["datasetGroupArn"]
    poll(lambda: api.describe_dataset_group(datasetGroupArn=group)["datasetGroup"])
    for dataset_type, schema in (("Interactions", INTERACTIONS), ("Items", ITEMS)):
        schema_arn = api.create_schema(name=f"large-{dataset_type}", schema=json.dumps(schema))["schemaArn"]
        dataset = api.create_dataset(name=f"large-{dataset_type}", schemaArn=schema_arn, datasetGroupArn=group,
                                     datasetType=dataset_type)["datasetArn"]
        poll(lambda: api.describe_dataset(datasetArn=dataset)["dataset"])
        job = api.create_dataset_import_job(jobName=f"large-{dataset_type}", datasetArn=dataset,
                                            dataSource={"dataLocation": str(paths[dataset_type.lower()])})
        done = timed(f"import {dataset_type}", lambda: poll(
            lambda: api.describe_dataset_import_job(datasetImportJobArn=job["datasetImportJobArn"])["datasetImportJob"],
            timeout=1800, interval=0.5))
        assert done["status"] == "ACTIVE", done.get("failureReason")
    solution = api.create_solution(name="large-up", datasetGroupArn=group, recipeArn=UP)["solutionArn"]
    poll(lambda: api.describe_solution(solutionArn=solution)["solution"])
    version = api.create_solution_version(solutionArn=solution)["solutionVersionArn"]
    trained = timed("train User-Personalization", lambda: poll(
        lambda: api.describe_solution_version(solutionVersionArn=version)["solutionVersion"], timeout=3600, interval=1.0))
    assert trained["status"] == "ACTIVE", trained.get("failureReason")
    campaign = api.create_campaign(name="large", solutionVersionArn=version)["campaignArn"]  # exploration 0.3
    exact = api.create_campaign(name="large-no-exploration", solutionVersionArn=version, campaignConfig={
        "itemExplorationConfig": {"explorationWeight": "0"}})["campaignArn"]
    for arn in (campaign, exact):
        deployed = timed("deploy campaign", lambda: poll(lambda: api.describe_campaign(campaignArn=arn)["campaign"],
                                                          timeout=600, interval=0.5))
        assert deployed["status"] == "ACTIVE", deployed.get("failureReason")
    flt = api.create_filter(name="large-genre", datasetGroupArn=group,
                            filterExpression="INCLUDE ItemID WHERE Items.GENRE IN ($GENRE)")["filterArn"]
    poll(lambda: api.describe_filter(filterArn=flt)["filter"])
    return campaign, exact, version, flt


def deployed(folder: Path, port: int, frame: pl.DataFrame, args: argparse.Namespace) -> tuple[str, str, str, str]:
    """``setup`` once per folder: its ARNs are kept in ``arns.json`` for a later run (``--keep``)."""
    saved = folder / "arns.json"
    if saved.exists():
        campaign, exact, version, flt = json.loads(saved.read_text())
        return campaign, exact, version, flt
    arns = setup(port, write_files(folder / "csv", frame, args.items, args.tastes, seed=3))
    saved.write_text(json.dumps(arns))
    return arns


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def histories(frame: pl.DataFrame, users: list[str]) -> list[list[str]]:
    """Each sampled user's items, oldest first (what the server holds for them)."""
    chosen = frame.filter(pl.col("USER_ID").is_in(users)).sort("USER_ID", "TIMESTAMP", maintain_order=True)
    grouped = dict(chosen.group_by("USER_ID", maintain_order=True).agg("ITEM_ID").iter_rows())
    return [grouped[u] for u in users]


def recall(model: UserPersonalization, sample: list[list[str]], k: int = 25) -> dict[str, float]:
    """recall@k of the served scores against the exact ones (whole catalogue and tail only), ms per user."""
    tail = np.zeros(len(model.item_ids_), dtype=bool)
    tail[model.tail_items_] = True
    whole, tail_only, in_top, fast, slow = [], [], [], [], []
    for history in sample:
        started = time.perf_counter()
        served = model.score_history(history)
        fast.append(time.perf_counter() - started)
        type(model).exact_tail = True
        started = time.perf_counter()
        exact = model.score_history(history)
        slow.append(time.perf_counter() - started)
        type(model).exact_tail = False
        top, best = _top(served, k), _top(exact, k)
        whole.append(recall_at(top, best))
        in_top.append(tail[best].mean())
        tail_only.append(recall_at(_top(np.where(tail, served, -np.inf), k), _top(np.where(tail, exact, -np.inf), k)))
    return {"recall": float(np.mean(whole)), "tail_recall": float(np.mean(tail_only)), "tail_share": float(np.mean(in_top)),
            "served_ms": 1000 * float(np.median(fast)), "exact_ms": 1000 * float(np.median(slow))}


def _top(scores: np.ndarray, k: int) -> np.ndarray:
    part = np.argpartition(-scores, k - 1)[:k]
    return part[np.argsort(-scores[part], kind="stable")]


def latest_genres(frame: pl.DataFrame, users: list[str]) -> dict[str, str]:
    """Each user's newest event's GENRE: the taste a GENRE filter asks for."""
    chosen = frame.filter(pl.col("USER_ID").is_in(users)).sort("TIMESTAMP")
    return dict(chosen.group_by("USER_ID").agg(pl.col("GENRE").last()).iter_rows())


def tail_in_answers(port: int, campaign: str, flt: str, genres: dict[str, str], tail_ids: set[str]) -> tuple[float, float]:
    """Share of returned items from the tail: plain requests, and with a GENRE filter (the user's own taste)."""
    runtime = client("personalize-runtime", port)
    plain, filtered = [], []
    for user, genre in genres.items():
        items = runtime.get_recommendations(campaignArn=campaign, userId=user, numResults=25)["itemList"]
        plain += [i["itemId"] in tail_ids for i in items]
        items = runtime.get_recommendations(campaignArn=campaign, userId=user, numResults=25, filterArn=flt,
                                            filterValues={"GENRE": json.dumps(genre)})["itemList"]
        filtered += [i["itemId"] in tail_ids for i in items]
    return float(np.mean(plain)), float(np.mean(filtered or [0.0]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--users", type=int, default=200_000)
    parser.add_argument("--interactions", type=int, default=5_000_000)
    parser.add_argument("--tastes", type=int, default=2000)
    parser.add_argument("--sample", type=int, default=300, help="users for recall@25 and the HTTP passes")
    parser.add_argument("--visits", type=int, default=3000, help="users per first-visit pass (two passes)")
    parser.add_argument("--shortlist-mib", type=int, default=512, help="the server's OPENPERSONALIZE_SHORTLIST_BYTES "
                        "in MiB (the server's default): 512 holds every user's shortlist at 200k users")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it; a second run there serves and "
                        "measures the model already trained (same sizes)")
    args = parser.parse_args()
    frame = timed("generate", lambda: long_tail(users=args.users, items=args.items, interactions=args.interactions,
                                                tastes=args.tastes, seed=3))
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or Path(tmp)
        port = free_port()
        (folder / "data").mkdir(parents=True, exist_ok=True)
        server = start_server(folder / "data", port, env={"OPENPERSONALIZE_SHORTLIST_BYTES": str(args.shortlist_mib << 20)})
        try:
            campaign, exact, version, flt = deployed(folder, port, frame, args)
            # a restarted server (--keep) loads the model on its first request: not part of any row below
            client("personalize-runtime", port).get_recommendations(campaignArn=campaign, userId="warm-up")
            rss_loaded = rss_mib(server.pid)
            everyone = frame["USER_ID"].unique()
            ready = timed("shortlists", lambda: wait_for_shortlists(port, min(len(everyone), args.shortlist_mib * 1024 * 1024 // BYTES_PER_USER), timeout=3600))
            visitors = everyone.sample(2 * args.visits, seed=7).to_list()  # two disjoint first-visit passes
            users = sorted(set(everyone.sample(args.sample, seed=5).to_list()))
            bodies = [json.dumps({"campaignArn": campaign, "userId": u, "numResults": 25}).encode() for u in users]
            first = [json.dumps({"campaignArn": arn, "userId": u, "numResults": 25}).encode()
                     for arn, u in zip([exact] * args.visits + [campaign] * args.visits, visitors, strict=True)]
            genres = latest_genres(frame, users)
            genre = [json.dumps({"campaignArn": campaign, "userId": u, "numResults": 25, "filterArn": flt,
                                 "filterValues": {"GENRE": json.dumps(genres[u])}}).encode() for u in users]
            plain, filtered = [("/recommendations", b) for b in bodies], [("/recommendations", b) for b in genre]
            rows = {
                "first visits, exploration 0 (shortlists)": _wrk.run(
                    port, [("/recommendations", b) for b in first[: args.visits]], connections=args.connections, once=True),
                "first visits, exploration 0.3 (scored)": _wrk.run(
                    port, [("/recommendations", b) for b in first[args.visits :]], connections=args.connections, once=True),
                "first visits (scores computed)": _wrk.run(port, plain, connections=args.connections, once=True),
                "repeat visits (scores cached)": _wrk.run(port, plain, connections=args.connections, seconds=args.seconds),
                "GENRE filter, first visits": _wrk.run(port, filtered, connections=args.connections, once=True),
            }
            rss_served = rss_mib(server.pid)
            peak = peak_rss_mib(server.pid)
            model = Recipe.load(model_dir(folder / "data", version))
            assert isinstance(model, UserPersonalization)
            tail_ids = set(np.asarray(model.item_ids_)[model.tail_items_].tolist())
            share_plain, share_genre = tail_in_answers(port, campaign, flt, {u: genres[u] for u in users[:50]}, tail_ids)
            quality = recall(model, histories(frame, users))
        finally:
            server.terminate()
            server.wait(30)
    report(args, rows, quality, (rss_loaded, rss_served, peak), (share_plain, share_genre), len(tail_ids))
    print(f"shortlists ready {ready:.0f} s after the model loaded")


def report(args: argparse.Namespace, rows: dict[str, dict[str, float]], quality: dict[str, float],
           memory: tuple[float, float, float], shares: tuple[float, float], tail: int) -> None:
    print(f"\nLarge catalogue: {args.items} items, {args.users} users, {args.interactions} interactions; "
          f"{args.connections} keep-alive connections, {args.sample} sampled users\n")
    print(f"{'GetRecommendations over HTTP':34} {'p50 ms':>8} {'p99 ms':>8} {'req/s':>8} {'errors':>7}")
    for name, row in rows.items():
        print(f"{name:34} {row['p50']:8.2f} {row['p99']:8.2f} {row['rps']:8.0f} {row['errors']:7d}")
    print(f"\nserver memory: {memory[0]:.0f} MiB resident after deploy, {memory[1]:.0f} MiB after serving, "
          f"peak {memory[2]:.0f} MiB (training included)")
    print(f"tail (trained items outside the matrices): {tail}; tail items among answers: {shares[0]:.1%} plain, "
          f"{shares[1]:.1%} with a GENRE filter")
    print(f"recall@25 vs exact (every tail item scored): {quality['recall']:.3f} whole list, "
          f"{quality['tail_recall']:.3f} tail only; tail items in the exact top 25: {quality['tail_share']:.1%}")
    print(f"in-process scoring per user: served {quality['served_ms']:.1f} ms, exact {quality['exact_ms']:.1f} ms")


if __name__ == "__main__":
    main()
