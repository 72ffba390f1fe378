"""Video-on-demand shaped data: shows and films in genres, Click and Watch events, binge-watching.

The planted model is described in ``generator.py``; this module adds what is specific to video:
series (contiguous item ids sharing genre and title, watched episode after episode), Watch events that
follow a subset of Clicks with the watched fraction as EVENT_VALUE, titles and descriptions written from
each genre's vocabulary, and users whose AGE follows their favourite genre's audience.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from . import _taste as t

# name, audience mean age, title adjectives, title/description nouns (the vocabulary plants genre in text).
GENRES: list[tuple[str, int, str, str]] = [
    ("Action", 31, "Iron Burning Rogue Final Lethal Savage", "Strike Vendetta Mission Pursuit Fury Showdown"),
    ("Adventure", 29, "Lost Wild Hidden Endless Golden Uncharted", "Expedition Voyage Island Treasure Quest Frontier"),
    ("Animation", 22, "Little Magic Brave Tiny Happy Flying", "Robot Kingdom Dragon Friends Balloon Forest"),
    ("Comedy", 30, "Crazy Awkward Lucky Silly Perfect Accidental", "Wedding Roommates Vacation Neighbours Party Job"),
    ("Crime", 38, "Dirty Silent Cold Crooked Stolen Undercover", "Heist Syndicate Detective Alibi Witness Racket"),
    ("Documentary", 46, "Hidden True Untold Living Modern Ancient", "Planet Ocean Story Empire Science Record"),
    ("Drama", 40, "Quiet Broken Distant Bitter Last Honest", "Family Promise Letters Harvest Daughter Return"),
    ("Family", 27, "Big Merry Brave Cozy Friendly Holiday", "Puppy Summer Christmas Farm Adventure Home"),
    ("Fantasy", 26, "Enchanted Shadow Crystal Eternal Dark Elven", "Sword Realm Throne Prophecy Wizard Crown"),
    ("Horror", 25, "Haunted Cursed Bleeding Hollow Wicked Unholy", "House Ritual Curse Asylum Night Possession"),
    ("Mystery", 41, "Secret Vanishing Strange Locked Missing Twisted", "Manor Riddle Clue Disappearance Key Cipher"),
    ("Romance", 33, "Sweet Endless Paris Secret Summer Second", "Kiss Love Heart Wedding Letter Chance"),
    ("Sci-Fi", 28, "Quantum Stellar Cyber Orbital Synthetic Galactic", "Colony Android Signal Starship Paradox Cosmos"),
    ("Thriller", 36, "Deadly Silent Fatal Hidden Blind Rogue", "Conspiracy Agent Target Hostage Deception Trap"),
    ("War", 48, "Last Fallen Iron Bloody Northern Brave", "Battalion Front Siege Battle Trenches Soldier"),
    ("Western", 52, "Dusty Lone Wild Outlaw Silver Crimson", "Ranger Frontier Gunslinger Canyon Sheriff Ranch"),
]
SUBSCRIPTION_MODELS = ["free", "basic", "premium"]

# Model knobs, reported in Truth.params so tests and benchmarks know what was planted.
PARAMS: dict[str, float] = {
    "genre_exponent": 0.7,  # Zipf exponent of genre sizes
    "popularity_exponent": 0.9,  # Zipf exponent of show popularity
    "max_tastes": 3,  # a user likes 1..3 genres
    "taste_concentration": 0.7,  # Dirichlet α of the taste mixture
    "stay": 0.75,  # P(same genre as the previous event, within a session)
    "popularity_mix": 0.15,  # P(an event ignores taste and follows global popularity)
    "session_break": 0.25,  # P(an event starts a new session): ~4 events per session
    "next_episode": 0.5,  # P(within a session, the next event is the next episode of the current show)
    "watch_rate": 0.6,  # Watch rows per Click row
    "series_share": 0.4,  # share of titles that are multi-episode shows
    "mean_episodes": 6.0,
    "within_session_gap_s": 1800.0,
    "horizon_days": 182.0,
    "activity_exponent": 1.8,  # Pareto tail of events per user
}
END_TIME = 1_751_328_000  # 2025-07-01T00:00:00Z: fixed, so output depends on the seed only


def _series_layout(n_items: int, rng: t.Rng) -> tuple[t.IntArray, t.IntArray]:
    """Series index and episode number (0-based) per item: films are 1-episode series."""
    is_show = rng.random(n_items) < PARAMS["series_share"]
    lengths = np.where(is_show, 2 + rng.geometric(1.0 / (PARAMS["mean_episodes"] - 1), n_items), 1)
    n_series = int(np.searchsorted(np.cumsum(lengths), n_items)) + 1
    lengths = lengths[:n_series].copy()
    lengths[-1] -= int(lengths.sum()) - n_items  # trim the last series to fit the catalogue exactly
    series = t.owners(lengths)
    episode = np.arange(n_items) - np.concatenate(([0], np.cumsum(lengths)[:-1]))[series]
    return series, episode


def _catalogue(n_items: int, rng: t.Rng) -> dict[str, np.ndarray]:
    """Items as arrays: series, episode, genre table, popularity (per-show Zipf, decaying with episode)."""
    n_genres = len(GENRES)
    series, episode = _series_layout(n_items, rng)
    n_series = int(series[-1]) + 1
    prevalence = t.zipf_weights(n_genres, PARAMS["genre_exponent"], rng)
    primary = rng.choice(n_genres, size=n_series, p=prevalence)
    genres = t.extra_topics(primary, prevalence, (0.35, 0.1), rng)[series]
    show_popularity = t.zipf_weights(n_series, PARAMS["popularity_exponent"], rng)
    popularity = show_popularity[series] * 0.85**episode
    return {
        "series": series,
        "episode": episode,
        "genres": genres,
        "popularity": popularity / popularity.sum(),
        "series_length": np.bincount(series)[series],
    }


def _clicks(
    counts: t.IntArray, tastes: t.FloatArray, cat: dict[str, np.ndarray], rng: t.Rng
) -> tuple[t.IntArray, t.IntArray, t.BoolArray]:
    """(user, item, session start) per Click, in each user's viewing order."""
    n_genres = tastes.shape[1]
    users = t.owners(counts)
    session_start = t.starts_mask(counts) | (rng.random(len(users)) < PARAMS["session_break"])
    genres = t.topic_chain(users, session_start, tastes, PARAMS["stay"], rng)
    sampler = t.membership_sampler(cat["genres"], cat["popularity"], n_genres)
    base = t.draw_items(genres, sampler, cat["popularity"], PARAMS["popularity_mix"], rng)
    # Binge: continue the show of the last freely chosen event, one episode further per step.
    follow = ~session_start & (rng.random(len(users)) < PARAMS["next_episode"])
    anchor = t.last_start(~follow)
    step = np.arange(len(users)) - anchor
    anchor_item = base[anchor]
    continues = follow & (cat["episode"][anchor_item] + step < cat["series_length"][anchor_item])
    items = np.where(continues, anchor_item + step, base)
    return users, items, session_start


def _interactions(
    users: t.IntArray, items: t.IntArray, times: t.IntArray, watched: t.IntArray, watch_fraction: t.FloatArray,
    ids: tuple[np.ndarray, np.ndarray], rng: t.Rng,
) -> tuple[pl.DataFrame, t.IntArray]:
    """Click rows then Watch rows (a few seconds to minutes after their Click), sorted by time."""
    n_clicks = len(users)
    rows = np.concatenate((np.arange(n_clicks), watched))
    row_times = np.concatenate((times, times[watched] + rng.integers(5, 180, size=len(watched))))
    order = np.argsort(row_times, kind="stable")
    rows = rows[order]
    kind = (order >= n_clicks).astype(np.int64)
    frame = pl.DataFrame(
        {
            "USER_ID": t.gather(ids[0], users[rows]),
            "ITEM_ID": t.gather(ids[1], items[rows]),
            "EVENT_TYPE": t.gather(np.array(["Click", "Watch"]), kind),
            "EVENT_VALUE": pl.Series(np.concatenate((np.full(n_clicks, np.nan), watch_fraction))[order]).fill_nan(None),
            "TIMESTAMP": row_times[order],
        }
    )
    return frame, rows


def _watches(
    users: t.IntArray, items: t.IntArray, tastes: t.FloatArray, genres: t.IntArray, n_watches: int, rng: t.Rng
) -> tuple[t.IntArray, t.FloatArray]:
    """Which Clicks lead to a Watch (∝ 0.25 + affinity) and the fraction watched (higher when in taste)."""
    fit = t.affinity(tastes, users, genres, items)
    watched = t.weighted_choice(0.25 + fit, n_watches, rng)
    a = fit[watched]
    fraction = np.clip(rng.beta(1.0 + 5.0 * a, 1.5 + 2.0 * (1.0 - a)), 0.01, 1.0)
    return watched, np.round(fraction, 3)


def _item_text(cat: dict[str, np.ndarray], rng: t.Rng) -> tuple[np.ndarray, np.ndarray]:
    """TITLE (a show's episodes share the stem) and DESCRIPTION, both from the primary genre's words."""
    adjectives = [g[2].split() for g in GENRES]
    nouns = [g[3].split() for g in GENRES]
    n_series = int(cat["series"][-1]) + 1
    first = np.searchsorted(cat["series"], np.arange(n_series))
    show_genre = cat["genres"][first, 0]
    (adjective,) = t.pick_words(adjectives, show_genre, rng)
    (noun,) = t.pick_words(nouns, show_genre, rng)
    stem = np.char.add(np.char.add("The ", adjective), np.char.add(" ", noun))[cat["series"]]
    multi = cat["series_length"] > 1
    episode = np.char.add(": Episode ", (cat["episode"] + 1).astype(str))
    title = np.where(multi, np.char.add(stem, episode), stem)
    genre = cat["genres"][:, 0]
    names = np.array([g[0] for g in GENRES], dtype=object)
    kind = np.where(multi, "series", "film")
    (adjective,) = t.pick_words(adjectives, genre, rng)
    noun, noun2 = t.pick_words(nouns, genre, rng, count=2)
    parts = [
        names[genre], " ", kind, " following the ", np.char.lower(adjective), " ",
        np.char.lower(noun), " and the ", np.char.lower(noun2), ".",
    ]
    description = np.asarray(parts[0], dtype=str)
    for part in parts[1:]:
        description = np.char.add(description, np.asarray(part, dtype=str))
    second = cat["genres"][:, 1]
    tail = np.char.add(" With a touch of ", np.char.lower(names[np.maximum(second, 0)].astype(str)))
    description = np.where(second >= 0, np.char.add(description, np.char.add(tail, ".")), description)
    return title, description


def _creation_times(cat: dict[str, np.ndarray], first_seen: t.IntArray, rng: t.Rng) -> t.IntArray:
    """Release dates over three years (episodes weekly), never after an item's first interaction."""
    n_series = int(cat["series"][-1]) + 1
    premiere = END_TIME - rng.random(n_series) * 3 * 365 * t.DAY
    release = (premiere[cat["series"]] + cat["episode"] * 7 * t.DAY).astype(np.int64)
    before_first = first_seen - rng.integers(t.HOUR, 30 * t.DAY, size=len(first_seen))
    return np.minimum(np.minimum(release, before_first), END_TIME)


def _items_frame(cat: dict[str, np.ndarray], item_ids: np.ndarray, first_seen: t.IntArray, rng: t.Rng) -> pl.DataFrame:
    """Items in schema column order."""
    title, description = _item_text(cat, rng)
    return pl.DataFrame(
        {
            "ITEM_ID": item_ids,
            "TITLE": title,
            "GENRES": _genre_strings(cat["genres"]),
            "CREATION_TIMESTAMP": _creation_times(cat, first_seen, rng),
            "DESCRIPTION": description,
        },
        schema={"ITEM_ID": pl.String, "TITLE": pl.String, "GENRES": pl.String, "CREATION_TIMESTAMP": pl.Int64, "DESCRIPTION": pl.String},
    )


def _users_frame(user_ids: np.ndarray, tastes: t.FloatArray, counts: t.IntArray, rng: t.Rng) -> pl.DataFrame:
    """SUBSCRIPTION_MODEL rises with activity; AGE centres on the favourite genre's audience."""
    activity_rank = np.argsort(np.argsort(counts)) / max(len(counts) - 1, 1)
    tier = np.minimum((activity_rank * 2.2 + rng.random(len(counts)) * 0.8).astype(np.int64), 2)
    ages = np.array([g[1] for g in GENRES])[tastes.argmax(axis=1)]
    age = np.clip(np.round(rng.normal(ages, 7.0)), 18, 80).astype(np.int32)
    return pl.DataFrame(
        {"USER_ID": user_ids, "SUBSCRIPTION_MODEL": np.array(SUBSCRIPTION_MODELS)[tier], "AGE": age},
        schema={"USER_ID": pl.String, "SUBSCRIPTION_MODEL": pl.String, "AGE": pl.Int32},
    )


def schemas() -> dict[str, str]:
    """Avro schemas valid as custom schemas and for the VIDEO_ON_DEMAND domain (spec §4.2, §4.3)."""
    return {
        "INTERACTIONS": t.avro_schema("Interactions", [
            {"name": "USER_ID", "type": "string"},
            {"name": "ITEM_ID", "type": "string"},
            {"name": "EVENT_TYPE", "type": "string"},
            {"name": "EVENT_VALUE", "type": ["float", "null"]},
            {"name": "TIMESTAMP", "type": "long"},
        ]),
        "ITEMS": t.avro_schema("Items", [
            {"name": "ITEM_ID", "type": "string"},
            {"name": "TITLE", "type": "string", "itemName": True},
            {"name": "GENRES", "type": "string", "categorical": True},
            {"name": "CREATION_TIMESTAMP", "type": "long"},
            {"name": "DESCRIPTION", "type": ["null", "string"], "textual": True},
        ]),
        "USERS": t.avro_schema("Users", [
            {"name": "USER_ID", "type": "string"},
            {"name": "SUBSCRIPTION_MODEL", "type": "string", "categorical": True},
            {"name": "AGE", "type": "int"},
        ]),
    }


def generate_vod(*, users: int, items: int, interactions: int, seed: int) -> t.GeneratedData:
    """VOD dataset group with exactly ``interactions`` rows (Clicks + Watches); deterministic in ``seed``."""
    rng = np.random.default_rng(seed)
    cat = _catalogue(items, rng)
    genre_mass = np.bincount(cat["genres"][cat["genres"] >= 0], minlength=len(GENRES)).astype(np.float64)
    tastes = t.dirichlet_tastes(users, genre_mass / genre_mass.sum(), int(PARAMS["max_tastes"]), PARAMS["taste_concentration"], rng)
    n_clicks = int(np.ceil(interactions / (1.0 + PARAMS["watch_rate"])))
    counts = t.activity_counts(users, n_clicks, PARAMS["activity_exponent"], rng)
    click_user, click_item, session_start = _clicks(counts, tastes, cat, rng)
    times = t.session_times(click_user, session_start, users, END_TIME, PARAMS["horizon_days"], PARAMS["within_session_gap_s"], rng)
    watched, fraction = _watches(click_user, click_item, tastes, cat["genres"], interactions - n_clicks, rng)
    ids = (t.string_ids("u", users), t.string_ids("i", items))
    frame, click_of_row = _interactions(click_user, click_item, times, watched, fraction, ids, rng)
    items_frame = _items_frame(cat, ids[1], t.first_seen(click_item, times, items, END_TIME), rng)
    truth = t.Truth(
        topics=[g[0] for g in GENRES],
        user_ids=ids[0],
        item_ids=ids[1],
        user_tastes=tastes,
        item_topics=t.topic_matrix(cat["genres"], len(GENRES)),
        item_primary_topic=cat["genres"][:, 0],
        item_popularity=cat["popularity"],
        item_series=cat["series"],
        event_session=(np.cumsum(session_start) - 1)[click_of_row],
        params=dict(PARAMS),
    )
    return t.GeneratedData("VIDEO_ON_DEMAND", frame, items_frame, _users_frame(ids[0], tastes, counts, rng), schemas(), truth)


def _genre_strings(genres: t.IntArray) -> np.ndarray:
    """Multi-valued categorical cell: genre names joined with '|' (spec §4.4)."""
    names = np.array([g[0] for g in GENRES] + [""], dtype=object)
    cells = names[genres[:, 0]].astype(str)
    for column in genres[:, 1:].T:
        cells = np.where(column >= 0, np.char.add(np.char.add(cells, "|"), names[column].astype(str)), cells)
    return cells
