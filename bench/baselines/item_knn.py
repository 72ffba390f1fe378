"""Item-kNN: the cosine item-item baseline, SIMS with every co-occurrence kept."""

from __future__ import annotations

from openpersonalize.recipes.sims import SIMS


class ItemKNN(SIMS):
    """Item-kNN with cosine similarity: SIMS with β = 0.5 and every co-occurrence kept (a baseline).

    References
    ----------
    M. Deshpande, G. Karypis, "Item-based top-N recommendation algorithms", TOIS 22(1), 2004.
    """

    def __init__(
        self, *, popularity_discount_factor: float = 0.5, min_cointeraction_count: int = 1, max_neighbours: int = 200
    ) -> None:
        super().__init__(
            popularity_discount_factor=popularity_discount_factor,
            min_cointeraction_count=min_cointeraction_count,
            max_neighbours=max_neighbours,
        )
