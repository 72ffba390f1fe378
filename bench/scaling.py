"""Training cost against data size: User-Personalization fit time and peak memory at 1M, 10M and 50M events (issue 15).

Each size runs in a child process of its own (so its peak resident memory, VmHWM, is its own): it generates a
long-tail log (``_data.long_tail``: Zipf popularity, two tastes per user, 50 events per user on average) as
integer ``TrainingData`` — no string ids, so generation does not dominate — resets the peak after generating,
then times ``UserPersonalization().fit`` with the default hyperparameters, one BLAS thread per process as in
the worker. It also prints the estimate ``Recipe.fit_memory`` makes before fitting (what
OPENPERSONALIZE_TRAINING_MEMORY is checked against), beside the measured peak. CPU seconds (user + system) are
printed beside wall seconds: on a shared machine the wall clock measures the neighbours too. The growth exponent between two
sizes is log(t₂/t₁) / log(n₂/n₁): 1 is linear in interactions.

    .venv/bin/python bench/scaling.py                      # 1M × 10k, 10M × 100k, 50M × 1M items
    .venv/bin/python bench/scaling.py --skip-50m           # when 50M events do not fit the machine
    .venv/bin/python bench/scaling.py --sizes 1000000:10000,3000000:30000
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from openpersonalize.recipes.base import TrainingData
from openpersonalize.recipes.user_personalization import UserPersonalization

SIZES = ((1_000_000, 10_000), (10_000_000, 100_000), (50_000_000, 1_000_000))
EVENTS_PER_USER = 50
TARGET = {10_000_000: (300.0, 12 * 1024)}  # issue 15: 10M events over 100k items in ≤ 5 min and ≤ 12 GiB


def synthetic(interactions: int, items: int, seed: int = 0) -> TrainingData:
    """``_data.long_tail``'s shape as integer arrays (one event type), sorted by user then time."""
    rng = np.random.default_rng(seed)
    users, tastes = max(1, interactions // EVENTS_PER_USER), max(2, items // 50)
    weight = 1.0 / (rng.permutation(items) + 10.0)
    taste = rng.integers(tastes, size=items)
    by_taste = np.argsort(taste, kind="stable")
    cumulative = np.cumsum(weight[by_taste])
    bounds = np.searchsorted(taste[by_taste], np.arange(tastes + 1))
    lengths = np.maximum(1, rng.lognormal(0.0, 0.8, size=users))
    lengths = np.maximum(1, np.round(lengths * interactions / lengths.sum())).astype(np.int64)
    user = np.repeat(np.arange(users, dtype=np.int32), lengths)
    mine = rng.integers(tastes, size=(users, 2))[user, rng.integers(2, size=len(user))]
    low = np.where(bounds[mine] > 0, cumulative[np.maximum(bounds[mine] - 1, 0)], 0.0)
    high = cumulative[np.maximum(bounds[mine + 1] - 1, 0)]
    picked = np.searchsorted(cumulative, low + rng.random(len(user)) * (high - low), side="right")
    del mine, low, high
    item = by_taste[np.minimum(picked, items - 1)].astype(np.int32)
    anywhere = rng.random(len(user)) < 0.2
    item[anywhere] = by_taste[np.searchsorted(cumulative, rng.random(int(anywhere.sum())) * cumulative[-1])]
    step = np.arange(len(user)) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    timestamp = 1_700_000_000 + 600 * step + rng.integers(0, 86_400 * 30, size=users)[user]
    data = TrainingData(
        user_idx=user, item_idx=item, timestamp=timestamp.astype(np.int64),
        event_type=np.zeros(len(user), np.int16), event_value=np.full(len(user), np.nan, np.float32),
        user_ids=np.char.add("u", np.arange(users).astype(str)), item_ids=np.sort(np.char.add("i", np.arange(items).astype(str))),
        event_types=np.array(["click"]),
    )
    return data


def _status(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field):
            return int(line.split()[1]) / 1024
    return float("nan")


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run_case(interactions: int, items: int) -> dict[str, float]:
    """In this process: generate, reset the peak, fit; the numbers as a dict."""
    started = time.monotonic()
    data = synthetic(interactions, items)
    generated = time.monotonic() - started
    recipe = UserPersonalization()
    estimate = recipe.fit_memory(data)
    try:
        Path("/proc/self/clear_refs").write_text("5")  # VmHWM from here on: the fit's peak, data included
    except OSError:
        pass
    before = _status("VmRSS:")
    started, cpu = time.monotonic(), _cpu()
    recipe.fit(data)
    return {"cpu_s": _cpu() - cpu, "interactions": interactions, "items": items, "users": data.n_users, "generate_s": generated,
            "fit_s": time.monotonic() - started, "rss_before_mib": before, "peak_mib": _status("VmHWM:"),
            "estimate_mib": estimate / 2**20, "vocabulary": len(recipe.vocabulary_)}


def child(interactions: int, items: int) -> dict[str, float] | None:
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    command = [sys.executable, __file__, "--case", f"{interactions}:{items}"]
    print(f"fitting {interactions:,} events × {items:,} items …", file=sys.stderr, flush=True)
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        print(done.stderr[-2000:], file=sys.stderr)
        return None
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def exponent(first: dict[str, float], second: dict[str, float], key: str) -> float:
    return math.log(second[key] / first[key]) / math.log(second["interactions"] / first["interactions"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default=",".join(f"{n}:{i}" for n, i in SIZES), help="events:items, comma-separated")
    parser.add_argument("--skip-50m", action="store_true", help="leave out sizes of 50M events and more")
    parser.add_argument("--case", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:
        interactions, items = (int(v) for v in args.case.split(":"))
        print(json.dumps(run_case(interactions, items)))
        return 0
    sizes = [tuple(int(v) for v in size.split(":")) for size in args.sizes.split(",")]
    sizes = [(n, i) for n, i in sizes if not (args.skip_50m and n >= 50_000_000)]
    results = [r for r in (child(n, i) for n, i in sizes) if r is not None]
    print("\n| events | items | users | vocabulary | fit s | CPU s | peak RSS MiB | estimate MiB | time exponent | memory exponent | target |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    failed = len(results) < len(sizes)
    for k, r in enumerate(results):
        grow_t = f"{exponent(results[k - 1], r, 'fit_s'):.2f}" if k else "-"
        grow_m = f"{exponent(results[k - 1], r, 'peak_mib'):.2f}" if k else "-"
        goal = TARGET.get(int(r["interactions"]))
        verdict = "-"
        if goal:
            met = r["fit_s"] <= goal[0] and r["peak_mib"] <= goal[1]
            verdict = f"≤ {goal[0]:.0f} s, ≤ {goal[1] / 1024:.0f} GiB: {'met' if met else 'MISSED'}"
            failed |= not met
        print(f"| {int(r['interactions']):,} | {int(r['items']):,} | {int(r['users']):,} | {int(r['vocabulary']):,} | "
              f"{r['fit_s']:.0f} | {r['cpu_s']:.0f} | {r['peak_mib']:,.0f} | {r['estimate_mib']:,.0f} | {grow_t} | {grow_m} | {verdict} |")
    if len(results) < len(sizes):
        print(f"{len(sizes) - len(results)} size(s) failed (see stderr).")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
