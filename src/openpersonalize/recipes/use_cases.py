"""Domain use cases (spec §6): VIDEO_ON_DEMAND and ECOMMERCE recipes, each a custom recipe configured.

A use case runs its base recipe's model on the events of one type and removes what the user already
watched or purchased; recommenders serve it. recipeType per the spec §5.1 ambiguity note: the type that
matches each use case's behaviour.
"""

from __future__ import annotations

from ._records import (
    ECOMMERCE,
    POPULAR_ITEMS,
    RELATED_ITEMS,
    USER_PERSONALIZATION,
    VIDEO_ON_DEMAND,
)
from .popularity import POPULARITY_COUNT_RECORD
from .similar_items import SIMILAR_ITEMS_RECORD
from .sims import SIMS_RECORD
from .trending import TRENDING_NOW_RECORD
from .user_personalization import USER_PERSONALIZATION_RECORD

_WITH_ITEMS = ("INTERACTIONS", "ITEMS")  # spec §6 tables: "Interactions + Items"

RECORDS = (
    SIMS_RECORD.configure(
        "aws-vod-because-you-watched-x", VIDEO_ON_DEMAND, RELATED_ITEMS,
        "Because you watched X: videos similar to one the user watched, from co-watching patterns.",
        required_event_type="Watch", filter_event_type="Watch", needs_user=True, needs_item=True),
    SIMILAR_ITEMS_RECORD.configure(
        "aws-vod-more-like-x", VIDEO_ON_DEMAND, RELATED_ITEMS,
        "More like X: videos similar to a given video, from co-watching patterns and video metadata.",
        required_event_type=None, filter_event_type="Watch", needs_user=True, needs_item=True, datasets=_WITH_ITEMS),
    POPULARITY_COUNT_RECORD.configure(
        "aws-vod-most-popular", VIDEO_ON_DEMAND, POPULAR_ITEMS, "Most popular: the videos watched by the most users.",
        required_event_type="Watch", filter_event_type=None, needs_user=True, needs_item=False),
    TRENDING_NOW_RECORD.configure(
        "aws-vod-trending-now", VIDEO_ON_DEMAND, POPULAR_ITEMS,
        "Trending now: videos whose popularity is rising fastest, re-evaluated every two hours.",
        required_event_type=None, filter_event_type=None, needs_user=False, needs_item=False),
    USER_PERSONALIZATION_RECORD.configure(
        "aws-vod-top-picks", VIDEO_ON_DEMAND, USER_PERSONALIZATION,
        "Top picks for you: personalized video recommendations for a user, updated in real time, with "
        "exploration of new videos; videos the user watched are removed.",
        required_event_type=None, filter_event_type="Watch", needs_user=True, needs_item=False, exploration=True,
        datasets=_WITH_ITEMS),
    POPULARITY_COUNT_RECORD.configure(
        "aws-ecomm-popular-items-by-views", ECOMMERCE, POPULAR_ITEMS,
        "Most viewed: the items viewed by the most users.",
        required_event_type="View", filter_event_type=None, needs_user=True, needs_item=False),
    POPULARITY_COUNT_RECORD.configure(
        "aws-ecomm-popular-items-by-purchases", ECOMMERCE, POPULAR_ITEMS,
        "Best sellers: the items purchased by the most users.",
        required_event_type="Purchase", filter_event_type=None, needs_user=True, needs_item=False),
    SIMS_RECORD.configure(
        "aws-ecomm-frequently-bought-together", ECOMMERCE, RELATED_ITEMS,
        "Frequently bought together: items customers often purchase together with a given item.",
        required_event_type="Purchase", filter_event_type=None, needs_user=False, needs_item=True),
    SIMS_RECORD.configure(
        "aws-ecomm-customers-who-viewed-x-also-viewed", ECOMMERCE, RELATED_ITEMS,
        "Customers who viewed X also viewed: items viewed by the customers who viewed a given item; items "
        "the user purchased are removed.",
        required_event_type="View", filter_event_type="Purchase", needs_user=True, needs_item=True),
    USER_PERSONALIZATION_RECORD.configure(
        "aws-ecomm-recommended-for-you", ECOMMERCE, USER_PERSONALIZATION,
        "Recommended for you: personalized item recommendations for a user, updated in real time, with "
        "exploration of new items; items the user purchased are removed.",
        required_event_type=None, filter_event_type="Purchase", needs_user=True, needs_item=False, exploration=True),
)
