"""E-commerce shaped data: a two-level category tree, priced products and a View → Cart → Purchase funnel.

The planted model is described in ``generator.py``; the latent topics here are the L2 categories. What is
specific to shopping: sessions of Views that drift within a category, a subset of Views carted and a
subset of carts purchased (more often for items matching the user's taste, cheaper items and higher
membership tiers), each funnel step a little later than the one before, and product names and
descriptions written from each category's vocabulary.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from . import _taste as t

# L1 name, median price, brands, adjectives, L2 categories (also the product noun).
CATEGORIES: list[tuple[str, float, str, str, str]] = [
    ("Electronics", 120.0, "Voltix Sonique Pixelon Arcwave", "wireless smart compact portable", "Headphones Speakers Cameras Chargers"),
    ("Home", 45.0, "Hearthly Nestwell Casabel Loomis", "cozy modern rustic minimal", "Cookware Bedding Lamps Storage"),
    ("Clothing", 35.0, "Threadline Urbane Kestrel Marlow", "slim relaxed classic waterproof", "Jackets Jeans Sneakers Dresses"),
    ("Beauty", 18.0, "Glowra Purelle Velvetine Aloha", "hydrating gentle radiant organic", "Skincare Fragrance Makeup Haircare"),
    ("Sports", 55.0, "Summit Trailon Apex Stride", "lightweight durable breathable pro", "Running Cycling Camping Yoga"),
    ("Books", 14.0, "Penwick Inkwell Folio Quarto", "bestselling illustrated classic new", "Fiction Cookbooks Travel Children"),
    ("Toys", 25.0, "Playjoy Brickly Tinker Wonder", "educational colourful creative giant", "Puzzles Blocks Dolls Boardgames"),
    ("Grocery", 7.0, "Harvest Greenfield Bakeworth Dairyland", "fresh organic wholegrain roasted", "Coffee Snacks Pasta Tea"),
]
MEMBERSHIP = ["basic", "silver", "gold"]
MEMBERSHIP_PURCHASE_BOOST = np.array([1.0, 1.25, 1.6])

PARAMS: dict[str, float] = {
    "popularity_exponent": 0.9,
    "max_tastes": 3,
    "taste_concentration": 0.6,
    "stay": 0.7,  # P(next View in the same L2 category as the previous one, within a session)
    "popularity_mix": 0.1,
    "session_break": 0.15,  # ~6-7 Views per session
    "cart_rate": 0.25,  # Cart rows per View row
    "purchase_rate": 0.4,  # Purchase rows per Cart row
    "within_session_gap_s": 90.0,
    "horizon_days": 182.0,
    "activity_exponent": 1.8,  # Pareto tail of Views per user
}
END_TIME = 1_751_328_000  # 2025-07-01T00:00:00Z


def _topics() -> tuple[list[str], np.ndarray]:
    """Names ``L1/L2`` of the latent topics and the L1 index of each."""
    names = [f"{c[0]}/{l2}" for c in CATEGORIES for l2 in c[4].split()]
    parent = np.repeat(np.arange(len(CATEGORIES)), [len(c[4].split()) for c in CATEGORIES])
    return names, parent


def _catalogue(n_items: int, parent: np.ndarray, rng: t.Rng) -> dict[str, np.ndarray]:
    """Category (one L2 per product), price (log-normal around the L1 median), popularity (Zipf)."""
    n_topics = len(parent)
    prevalence = t.zipf_weights(n_topics, 0.5, rng)
    topic = rng.choice(n_topics, size=n_items, p=prevalence)
    medians = np.array([c[1] for c in CATEGORIES])[parent[topic]]
    price = np.round(np.maximum(medians * rng.lognormal(0.0, 0.6, n_items), 0.99), 2)
    return {
        "topic": topic,
        "topic_table": topic[:, None],
        "price": price,
        "price_factor": np.sqrt(medians / price),  # cheaper than the category norm → bought more often
        "popularity": t.zipf_weights(n_items, PARAMS["popularity_exponent"], rng),
    }


def _views(counts: t.IntArray, tastes: t.FloatArray, cat: dict[str, np.ndarray], rng: t.Rng) -> tuple[t.IntArray, t.IntArray, t.BoolArray]:
    """(user, item, session start) per View, in browsing order."""
    users = t.owners(counts)
    session_start = t.starts_mask(counts) | (rng.random(len(users)) < PARAMS["session_break"])
    topics = t.topic_chain(users, session_start, tastes, PARAMS["stay"], rng)
    sampler = t.membership_sampler(cat["topic_table"], cat["popularity"], tastes.shape[1])
    return users, t.draw_items(topics, sampler, cat["popularity"], PARAMS["popularity_mix"], rng), session_start


def _funnel(
    users: t.IntArray, items: t.IntArray, tastes: t.FloatArray, cat: dict[str, np.ndarray],
    tier: t.IntArray, extra_rows: int, rng: t.Rng,
) -> tuple[t.IntArray, t.IntArray]:
    """Which Views are carted and which carts purchased, so that carts + purchases == ``extra_rows``."""
    n_carts = int(np.ceil(extra_rows / (1.0 + PARAMS["purchase_rate"])))
    fit = t.affinity(tastes, users, cat["topic_table"], items)
    carted = t.weighted_choice(0.2 + fit, n_carts, rng)
    buy = (0.3 + fit[carted]) * cat["price_factor"][items[carted]] * MEMBERSHIP_PURCHASE_BOOST[tier[users[carted]]]
    purchased = carted[t.weighted_choice(buy, extra_rows - n_carts, rng)]
    return carted, purchased


def _interactions(
    users: t.IntArray, items: t.IntArray, times: t.IntArray, carted: t.IntArray, purchased: t.IntArray,
    ids: tuple[np.ndarray, np.ndarray], rng: t.Rng,
) -> tuple[pl.DataFrame, t.IntArray]:
    """View, Cart and Purchase rows sorted by time; each step 5 s – 10 min after the previous one."""
    cart_time = times[carted] + rng.integers(5, 120, size=len(carted))
    cart_time_of_view = np.zeros(len(times), dtype=np.int64)
    cart_time_of_view[carted] = cart_time
    buy_time = cart_time_of_view[purchased] + rng.integers(30, 600, size=len(purchased))
    views = np.concatenate((np.arange(len(times)), carted, purchased))
    kind = np.repeat([0, 1, 2], [len(times), len(carted), len(purchased)])
    row_times = np.concatenate((times, cart_time, buy_time))
    order = np.argsort(row_times, kind="stable")
    views = views[order]
    frame = pl.DataFrame(
        {
            "USER_ID": t.gather(ids[0], users[views]),
            "ITEM_ID": t.gather(ids[1], items[views]),
            "EVENT_TYPE": t.gather(np.array(["View", "Cart", "Purchase"]), kind[order]),
            "TIMESTAMP": row_times[order],
        }
    )
    return frame, views


def _membership(counts: t.IntArray, rng: t.Rng) -> t.IntArray:
    """Tier 0..2, more likely high for active shoppers."""
    activity_rank = np.argsort(np.argsort(counts)) / max(len(counts) - 1, 1)
    return np.minimum((activity_rank * 2.0 + rng.random(len(counts)) * 1.0).astype(np.int64), 2)


def _item_text(cat: dict[str, np.ndarray], parent: np.ndarray, rng: t.Rng) -> tuple[np.ndarray, np.ndarray]:
    """PRODUCT_NAME ``Brand adjective noun`` and a PRODUCT_DESCRIPTION from the category's vocabulary."""
    l1 = parent[cat["topic"]]
    (brand,) = t.pick_words([c[2].split() for c in CATEGORIES], l1, rng)
    adjective, adjective2 = t.pick_words([c[3].split() for c in CATEGORIES], l1, rng, count=2)
    noun = np.array(_topics()[0], dtype=object)[cat["topic"]].astype(str)
    noun = np.char.partition(noun, "/")[:, 2]
    l1_name = np.array([c[0] for c in CATEGORIES])[l1]
    name = _join(brand, " ", np.char.capitalize(adjective), " ", noun)
    description = _join(np.char.capitalize(adjective), " and ", adjective2, " ", np.char.lower(noun), " by ", brand, ", from our ", l1_name.astype(str), " range.")
    return name, description


def _join(*parts: np.ndarray | str) -> np.ndarray:
    text = np.asarray(parts[0], dtype=str)
    for part in parts[1:]:
        text = np.char.add(text, np.asarray(part, dtype=str))
    return text


def _items_frame(
    cat: dict[str, np.ndarray], parent: np.ndarray, item_ids: np.ndarray, first_seen: t.IntArray, rng: t.Rng
) -> pl.DataFrame:
    """Items in schema column order; a product is listed 1 hour – 60 days before anyone first views it."""
    created = np.minimum(first_seen - rng.integers(t.HOUR, 60 * t.DAY, size=len(item_ids)), END_TIME)
    name, description = _item_text(cat, parent, rng)
    l2 = np.char.partition(np.array(_topics()[0])[cat["topic"]], "/")[:, 2]
    return pl.DataFrame(
        {
            "ITEM_ID": item_ids,
            "PRICE": cat["price"],
            "CATEGORY_L1": np.array([c[0] for c in CATEGORIES])[parent[cat["topic"]]],
            "CATEGORY_L2": l2,
            "CREATION_TIMESTAMP": created,
            "PRODUCT_NAME": name,
            "PRODUCT_DESCRIPTION": description,
        },
        schema={"ITEM_ID": pl.String, "PRICE": pl.Float64, "CATEGORY_L1": pl.String, "CATEGORY_L2": pl.String,
                "CREATION_TIMESTAMP": pl.Int64, "PRODUCT_NAME": pl.String, "PRODUCT_DESCRIPTION": pl.String},
    )


def schemas() -> dict[str, str]:
    """Avro schemas valid as custom schemas and for the ECOMMERCE domain (spec §4.2, §4.3)."""
    return {
        "INTERACTIONS": t.avro_schema("Interactions", [
            {"name": "USER_ID", "type": "string"},
            {"name": "ITEM_ID", "type": "string"},
            {"name": "EVENT_TYPE", "type": "string"},
            {"name": "TIMESTAMP", "type": "long"},
        ]),
        "ITEMS": t.avro_schema("Items", [
            {"name": "ITEM_ID", "type": "string"},
            {"name": "PRICE", "type": "float"},
            {"name": "CATEGORY_L1", "type": "string", "categorical": True},
            {"name": "CATEGORY_L2", "type": "string", "categorical": True},
            {"name": "CREATION_TIMESTAMP", "type": "long"},
            {"name": "PRODUCT_NAME", "type": "string", "itemName": True},
            {"name": "PRODUCT_DESCRIPTION", "type": ["null", "string"], "textual": True},
        ]),
        "USERS": t.avro_schema("Users", [
            {"name": "USER_ID", "type": "string"},
            {"name": "MEMBERSHIP_STATUS", "type": "string", "categorical": True},
        ]),
    }


def generate_ecommerce(*, users: int, items: int, interactions: int, seed: int) -> t.GeneratedData:
    """E-commerce dataset group with exactly ``interactions`` rows (Views + Carts + Purchases)."""
    rng = np.random.default_rng(seed)
    topic_names, parent = _topics()
    cat = _catalogue(items, parent, rng)
    mass = np.bincount(cat["topic"], minlength=len(parent)).astype(np.float64)
    tastes = t.dirichlet_tastes(users, mass / mass.sum(), int(PARAMS["max_tastes"]), PARAMS["taste_concentration"], rng)
    funnel_rows = PARAMS["cart_rate"] * (1.0 + PARAMS["purchase_rate"])
    n_views = int(np.ceil(interactions / (1.0 + funnel_rows)))
    counts = t.activity_counts(users, n_views, PARAMS["activity_exponent"], rng)
    tier = _membership(counts, rng)
    view_user, view_item, session_start = _views(counts, tastes, cat, rng)
    times = t.session_times(view_user, session_start, users, END_TIME, PARAMS["horizon_days"], PARAMS["within_session_gap_s"], rng)
    carted, purchased = _funnel(view_user, view_item, tastes, cat, tier, interactions - n_views, rng)
    ids = (t.string_ids("u", users), t.string_ids("i", items))
    frame, view_of_row = _interactions(view_user, view_item, times, carted, purchased, ids, rng)
    items_frame = _items_frame(cat, parent, ids[1], t.first_seen(view_item, times, items, END_TIME), rng)
    users_frame = pl.DataFrame({"USER_ID": ids[0], "MEMBERSHIP_STATUS": np.array(MEMBERSHIP)[tier]}, schema={"USER_ID": pl.String, "MEMBERSHIP_STATUS": pl.String})
    truth = t.Truth(
        topics=topic_names,
        user_ids=ids[0],
        item_ids=ids[1],
        user_tastes=tastes,
        item_topics=t.topic_matrix(cat["topic_table"], len(parent)),
        item_primary_topic=cat["topic"],
        item_popularity=cat["popularity"],
        item_series=np.arange(items),
        event_session=(np.cumsum(session_start) - 1)[view_of_row],
        params=dict(PARAMS),
    )
    return t.GeneratedData("ECOMMERCE", frame, items_frame, users_frame, schemas(), truth)
