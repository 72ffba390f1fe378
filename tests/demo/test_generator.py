"""The synthetic data generator: deterministic, shaped like the schemas, and carrying the structure it plants.

The planted-structure checks compare each statistic with a chance baseline computed from the same data
(users shuffled, or each user's events shuffled), so they fail if the generator stops planting tastes or
sequential drift, not just if a constant moves.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import orjson
import polars as pl
import pytest
from click.testing import CliRunner

from openpersonalize.cli import main
from openpersonalize.data.readers import Source, csv_to_parquet
from openpersonalize.data.schema import parse_schema, validate_schema
from openpersonalize.demo.generator import GeneratedData, generate, generate_ecommerce, generate_vod, write_csv

SIZE = {"users": 300, "items": 400, "interactions": 20_000}
HORIZON_S = 182 * 24 * 3600
SCHEMA_STEMS = {"interactions": "INTERACTIONS", "items": "ITEMS", "users": "USERS"}


@pytest.fixture(scope="module")
def vod() -> GeneratedData:
    return generate_vod(**SIZE, seed=7)


@pytest.fixture(scope="module")
def shop() -> GeneratedData:
    return generate_ecommerce(**SIZE, seed=7)


@pytest.fixture(scope="module", params=["vod", "ecommerce"])
def data(request: pytest.FixtureRequest, vod: GeneratedData, shop: GeneratedData) -> GeneratedData:
    return vod if request.param == "vod" else shop


def indexed(data: GeneratedData, events: pl.DataFrame) -> pl.DataFrame:
    """Add integer user/item indexes (truth order) and sort each user's events in time order."""
    users = {uid: k for k, uid in enumerate(data.truth.user_ids.tolist())}
    items = {iid: k for k, iid in enumerate(data.truth.item_ids.tolist())}
    return events.with_columns(
        pl.col("USER_ID").replace_strict(users, return_dtype=pl.Int64).alias("u"),
        pl.col("ITEM_ID").replace_strict(items, return_dtype=pl.Int64).alias("i"),
    ).sort(["u", "TIMESTAMP"], maintain_order=True)


def browsing(data: GeneratedData) -> pl.DataFrame:
    """The events the latent chain draws (Clicks / Views); Watch, Cart, Purchase rows repeat them."""
    return indexed(data, data.interactions.filter(pl.col("EVENT_TYPE").is_in(["Click", "View"])))


# --- determinism, shapes and types --------------------------------------------------------------------


@pytest.mark.parametrize("domain", ["vod", "ecommerce"])
def test_same_seed_same_data_other_seed_other_data(domain: str) -> None:
    small = {"users": 50, "items": 60, "interactions": 1500}
    first, again = generate(domain, **small, seed=3), generate(domain, **small, seed=3)
    other = generate(domain, **small, seed=4)
    for name in ("interactions", "items", "users"):
        assert getattr(first, name).equals(getattr(again, name))
    np.testing.assert_array_equal(first.truth.user_tastes, again.truth.user_tastes)
    assert not first.interactions.equals(other.interactions)


def test_columns_and_types_are_exactly_the_schema_fields(data: GeneratedData) -> None:
    frames = {"INTERACTIONS": data.interactions, "ITEMS": data.items, "USERS": data.users}
    avro_to_polars = {"string": pl.String, "long": pl.Int64, "int": pl.Int32, "float": pl.Float64}
    for dataset_type, frame in frames.items():
        schema = parse_schema(data.schemas[dataset_type])
        assert frame.columns == schema.names
        for f in schema.fields:
            assert frame.schema[f.name] == avro_to_polars[f.type], (dataset_type, f.name)
            if not f.nullable:
                assert frame[f.name].null_count() == 0, (dataset_type, f.name)


def test_sizes_ids_and_references(data: GeneratedData) -> None:
    assert data.interactions.height == SIZE["interactions"]
    assert data.items.height == SIZE["items"] and data.users.height == SIZE["users"]
    assert data.items["ITEM_ID"].is_unique().all() and data.users["USER_ID"].is_unique().all()
    assert set(data.interactions["ITEM_ID"]) <= set(data.items["ITEM_ID"])
    assert set(data.interactions["USER_ID"]) <= set(data.users["USER_ID"])
    per_user = data.interactions.filter(pl.col("EVENT_TYPE").is_in(["Click", "View"]))["USER_ID"].value_counts()
    assert per_user.height == SIZE["users"] and per_user["count"].min() >= 2  # spec §4.8 minimum per user


def test_timestamps_span_about_six_months_in_epoch_seconds(data: GeneratedData) -> None:
    ts = data.interactions["TIMESTAMP"]
    assert ts.is_sorted()
    assert 1.5e9 < ts.min() and ts.max() <= 1_751_328_000 + 3600  # epoch seconds, not milliseconds
    assert 0.8 * HORIZON_S < ts.max() - ts.min() <= HORIZON_S + 3600
    first_seen = data.interactions.group_by("ITEM_ID").agg(pl.col("TIMESTAMP").min().alias("first"))
    joined = data.items.join(first_seen, on="ITEM_ID")
    assert (joined["CREATION_TIMESTAMP"] < joined["first"]).all()  # nothing is watched before it exists


@pytest.mark.parametrize("domain", ["vod", "ecommerce"])
def test_tiny_requests_still_give_exact_counts(domain: str) -> None:
    for users, items, interactions in [(1, 1, 1), (3, 2, 5), (100, 5, 7), (10, 1000, 40)]:
        data = generate(domain, users=users, items=items, interactions=interactions, seed=1)
        assert data.interactions.height == interactions and data.items.height == items


def test_bad_arguments_name_the_argument_and_value() -> None:
    with pytest.raises(ValueError, match=r"domain must be one of \['vod', 'ecommerce'\], got 'music'"):
        generate("music", users=1, items=1, interactions=1, seed=0)
    with pytest.raises(ValueError, match="users must be between 1 and .*, got 0"):
        generate_vod(users=0, items=1, interactions=1, seed=0)
    with pytest.raises(TypeError, match="interactions must be an int, got float 1.5"):
        generate_ecommerce(users=1, items=1, interactions=1.5, seed=0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="seed must be a non-negative int, got -1"):
        generate_vod(users=1, items=1, interactions=1, seed=-1)


# --- schemas --------------------------------------------------------------------------------------------


def test_schemas_are_valid_custom_and_domain_schemas(data: GeneratedData) -> None:
    for dataset_type, text in data.schemas.items():
        schema = parse_schema(text)
        assert validate_schema(schema) == dataset_type
        assert validate_schema(schema, data.domain) == dataset_type
    items = parse_schema(data.schemas["ITEMS"])
    assert [f.name for f in items.fields if f.textual] and [f.name for f in items.fields if f.item_name]


def test_domain_required_item_fields() -> None:
    vod_items = parse_schema(generate_vod(users=2, items=2, interactions=4).schemas["ITEMS"])
    genres, created = vod_items.field("GENRES"), vod_items.field("CREATION_TIMESTAMP")
    assert genres is not None and genres.categorical and created is not None and created.type == "long"
    shop_items = parse_schema(generate_ecommerce(users=2, items=2, interactions=4).schemas["ITEMS"])
    price, category = shop_items.field("PRICE"), shop_items.field("CATEGORY_L1")
    assert price is not None and price.type == "float" and category is not None and category.categorical


# --- VOD specifics --------------------------------------------------------------------------------------


def test_every_watch_follows_a_click_of_the_same_item(vod: GeneratedData) -> None:
    rows = vod.interactions
    assert set(rows["EVENT_TYPE"]) == {"Click", "Watch"}
    clicks = rows.filter(pl.col("EVENT_TYPE") == "Click")
    watches = rows.filter(pl.col("EVENT_TYPE") == "Watch").with_row_index("w")
    assert clicks["EVENT_VALUE"].null_count() == clicks.height
    assert watches["EVENT_VALUE"].is_between(0.01, 1.0).all()
    earlier = watches.join(clicks, on=["USER_ID", "ITEM_ID"], suffix="_click").filter(
        pl.col("TIMESTAMP_click") <= pl.col("TIMESTAMP")
    )
    assert earlier["w"].n_unique() == watches.height
    assert 0.3 < watches.height / clicks.height < 0.9


def test_genres_are_pipe_separated_and_match_the_truth(vod: GeneratedData) -> None:
    names = vod.truth.topics
    for row, cell in enumerate(vod.items["GENRES"].to_list()):
        genres = cell.split("|")
        assert genres[0] == names[vod.truth.item_primary_topic[row]]
        assert sorted(genres) == sorted(names[g] for g in np.flatnonzero(vod.truth.item_topics[row]))
    assert vod.items["GENRES"].str.contains("|", literal=True).any()


def test_titles_and_descriptions_come_from_the_genre(vod: GeneratedData) -> None:
    primary = vod.items["GENRES"].str.split("|").list.first()
    assert (vod.items["DESCRIPTION"].str.split(" ").list.first() == primary).all()
    assert vod.items["TITLE"].str.contains(": Episode ").any()
    assert vod.users["SUBSCRIPTION_MODEL"].is_in(["free", "basic", "premium"]).all()
    assert vod.users["AGE"].is_between(18, 80).all()


def test_binge_watching_next_episode_far_above_chance(vod: GeneratedData) -> None:
    clicks = browsing(vod)
    series = vod.truth.item_series
    item, user = clicks["i"].to_numpy(), clicks["u"].to_numpy()
    same_user = user[1:] == user[:-1]
    next_episode = (item[1:] == item[:-1] + 1) & (series[np.minimum(item[:-1] + 1, len(series) - 1)] == series[item[:-1]])
    rate = next_episode[same_user].mean()
    assert rate > 0.15 and rate > 20 * (1 / SIZE["items"])


# --- planted structure (both domains) -------------------------------------------------------------------


def test_users_concentrate_on_their_top_topics(data: GeneratedData) -> None:
    events = browsing(data)
    user, item = events["u"].to_numpy(), events["i"].to_numpy()
    top2 = np.argsort(-data.truth.user_tastes, axis=1)[:, :2]
    member = data.truth.item_topics

    def hit_rate(owner: np.ndarray) -> float:
        return float((member[item, top2[owner, 0]] | member[item, top2[owner, 1]]).mean())

    chance = hit_rate(np.random.default_rng(0).permutation(user))  # same items, tastes of random users
    assert hit_rate(user) > 0.7 and hit_rate(user) > 2.5 * chance


def test_consecutive_events_stay_in_a_topic_more_than_shuffled_order(data: GeneratedData) -> None:
    events = browsing(data)
    user, item = events["u"].to_numpy(), events["i"].to_numpy()
    topics, series = data.truth.item_topics, data.truth.item_series

    def same_topic_rate(items: np.ndarray) -> float:
        # Pairs of one user, across different shows: genre drift, not the next-episode effect.
        pairs = (user[1:] == user[:-1]) & (series[items[1:]] != series[items[:-1]])
        return float((topics[items[1:]] & topics[items[:-1]]).any(axis=1)[pairs].mean())

    # Shuffling within each user keeps that user's topic mix and removes only the order.
    rng = np.random.default_rng(0)
    observed = same_topic_rate(item)
    chance = same_topic_rate(item[np.lexsort((rng.random(len(user)), user))])
    # Lift over chance as a share of what chance leaves (Cohen's kappa): ≈ 0.2–0.3 planted, 0 without drift.
    assert (observed - chance) / (1.0 - chance) > 0.08  # seeds 1–7: 0.13–0.28 planted, |null| < 0.03


def test_tastes_are_recoverable_from_the_interactions(data: GeneratedData) -> None:
    events = browsing(data)
    n_topics = len(data.truth.topics)
    counts = np.zeros((SIZE["users"], n_topics))
    np.add.at(counts, (events["u"].to_numpy(), data.truth.item_primary_topic[events["i"].to_numpy()]), 1.0)
    truth = data.truth.user_tastes
    cosine = (counts * truth).sum(1) / (np.linalg.norm(counts, axis=1) * np.linalg.norm(truth, axis=1))
    assert np.median(cosine) > 0.8
    assert (counts.argmax(1) == truth.argmax(1)).mean() > 0.6  # chance is ≈ 1/len(topics)
    np.testing.assert_allclose(truth.sum(1), 1.0)


def test_popularity_and_activity_are_heavy_tailed(data: GeneratedData) -> None:
    item_counts = np.sort(data.interactions["ITEM_ID"].value_counts()["count"].to_numpy())[::-1]
    # Uniform popularity would give the top 10 % of items ≈ 13 % of events at this size (50 per item).
    assert item_counts[: len(item_counts) // 10].sum() > 0.3 * item_counts.sum()
    assert item_counts[0] > 5 * np.median(item_counts)
    user_counts = data.interactions["USER_ID"].value_counts()["count"].to_numpy()
    assert user_counts.max() > 8 * np.median(user_counts)


def test_sessions_are_one_user_and_close_in_time(data: GeneratedData) -> None:
    sessions = data.truth.event_session
    assert len(sessions) == data.interactions.height
    frame = data.interactions.with_columns(pl.Series("session", sessions))
    per_session = frame.group_by("session").agg(
        pl.col("USER_ID").n_unique().alias("users"), (pl.col("TIMESTAMP").max() - pl.col("TIMESTAMP").min()).alias("span")
    )
    assert (per_session["users"] == 1).all()
    assert per_session["span"].median() < 6 * 3600
    assert per_session.height > SIZE["users"] * 2


# --- e-commerce funnel ----------------------------------------------------------------------------------


def test_funnel_cart_after_view_purchase_after_cart(shop: GeneratedData) -> None:
    rows = shop.interactions
    counts = dict(rows["EVENT_TYPE"].value_counts().iter_rows())
    assert counts["View"] > counts["Cart"] > counts["Purchase"] > 0
    for step, before in (("Cart", "View"), ("Purchase", "Cart")):
        later = rows.filter(pl.col("EVENT_TYPE") == step).with_row_index("k")
        earlier = rows.filter(pl.col("EVENT_TYPE") == before)
        matched = later.join(earlier, on=["USER_ID", "ITEM_ID"], suffix="_b").filter(
            pl.col("TIMESTAMP_b") < pl.col("TIMESTAMP")
        )
        assert matched["k"].n_unique() == later.height, step


def test_purchases_favour_taste_and_items_are_priced(shop: GeneratedData) -> None:
    rows = indexed(shop, shop.interactions)
    fit = shop.truth.user_tastes[rows["u"].to_numpy(), shop.truth.item_primary_topic[rows["i"].to_numpy()]]
    kind = rows["EVENT_TYPE"].to_numpy()
    assert fit[kind == "Purchase"].mean() > fit[kind == "View"].mean() + 0.03
    assert (shop.items["PRICE"] > 0).all() and shop.items["CATEGORY_L1"].n_unique() > 3
    l1_of_l2 = shop.items.group_by("CATEGORY_L2").agg(pl.col("CATEGORY_L1").n_unique())
    assert (l1_of_l2["CATEGORY_L1"] == 1).all()  # a proper tree
    assert shop.users["MEMBERSHIP_STATUS"].is_in(["basic", "silver", "gold"]).all()


# --- files and CLI --------------------------------------------------------------------------------------


def test_write_csv_round_trips(tmp_path: Path, data: GeneratedData) -> None:
    paths = write_csv(data, tmp_path, with_truth=True)
    for stem, frame in (("interactions", data.interactions), ("items", data.items), ("users", data.users)):
        back = pl.read_csv(paths[stem], schema=frame.schema)
        assert back.equals(frame), stem
        assert parse_schema(paths[f"{stem}.schema"].read_text()).names == frame.columns
    truth = np.load(paths["truth"], allow_pickle=False)
    np.testing.assert_array_equal(truth["user_tastes"], data.truth.user_tastes)


def test_written_csvs_pass_the_import_validation(tmp_path: Path, data: GeneratedData) -> None:
    """The files are what CreateDatasetImportJob accepts: the importer's own reader types every cell."""
    paths = write_csv(data, tmp_path)
    for stem, dataset_type in SCHEMA_STEMS.items():
        source = Source(label=str(paths[stem]), path=paths[stem])
        rows = csv_to_parquet(source, parse_schema(data.schemas[dataset_type]), tmp_path / f"{stem}.parquet")
        assert rows == pl.read_csv(paths[stem]).height


def test_cli_generate_data_writes_csvs_and_schemas(tmp_path: Path) -> None:
    out = tmp_path / "shop"
    args = ["generate-data", "--domain", "ecommerce", "--users", "40", "--items", "50", "--interactions", "900",
            "--seed", "5", "--out", str(out)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    expected = {f"{s}{ext}" for s in ("interactions", "items", "users") for ext in (".csv", ".schema.json")}
    assert {p.name for p in out.iterdir()} == expected
    assert pl.read_csv(out / "interactions.csv").height == 900
    assert orjson.loads((out / "items.schema.json").read_text())["name"] == "Items"
    again = generate_ecommerce(users=40, items=50, interactions=900, seed=5)
    assert (out / "users.csv").read_text() == again.users.write_csv()


def test_cli_rejects_bad_sizes_and_domains(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["generate-data", "--users", "0", "--out", str(tmp_path)])
    assert result.exit_code == 2 and "--users" in result.output and "0" in result.output
    result = CliRunner().invoke(main, ["generate-data", "--domain", "music", "--out", str(tmp_path)])
    assert result.exit_code == 2 and "'music' is not one of 'vod', 'ecommerce'" in result.output
