"""The automatic filter of domain use cases: items the user already watched / purchased are not recommended.

Spec §6: AWS removes the items the user interacted with through the use case's event type (``Watch`` for the
VOD use cases, ``Purchase`` for e-commerce), considering at most the newest 100 such interactions, and
ignores the history of a user with no interaction for three months. Event types match case-insensitively
(spec §6 impl. choice). The caller's filter is applied after (both masks must allow an item). "Three
months" is measured against the newest event the group has seen, not the wall clock, so a dataset of past
events (an import of last year's logs) is filtered the same way as live traffic.
"""

from __future__ import annotations

import numpy as np

from .models import Catalog
from .realtime import UserHistory
from .recommend import MaskFn

MAX_FILTERED_PER_TYPE = 100  # spec §6: "considering ≤100 interactions per user per event type"
INACTIVE_SECONDS = 90 * 86400.0  # three months without interactions: the user's history is not used


def interacted_items(history: UserHistory, event_type: str, newest: float) -> list[str]:
    """The items to hide: the newest 100 of ``event_type`` (any case); none if the user is inactive."""
    if not history.timestamps or max(history.timestamps) < newest - INACTIVE_SECONDS:
        return []
    wanted = event_type.lower()
    matching = [item for item, kind in zip(history.item_ids, history.event_types, strict=True) if kind.lower() == wanted]
    return matching[-MAX_FILTERED_PER_TYPE:]  # the history is oldest first


def exclude_interacted(history: UserHistory, event_type: str, newest: float, then: MaskFn | None) -> MaskFn | None:
    """A mask hiding the user's interacted items, and'ed with the caller's filter ``then``."""
    hidden = interacted_items(history, event_type, newest)
    if not hidden:
        return then

    def mask(catalog: Catalog) -> np.ndarray:
        allowed = np.ones(len(catalog.item_ids), dtype=bool)
        positions = catalog.index(hidden)
        allowed[positions[positions >= 0]] = False
        if then is not None:
            allowed &= then(catalog)
        return allowed

    return mask
