"""Item-Affinity and Item-Attribute-Affinity (USER_SEGMENTATION, spec §5.4, §8.2): users for items.

Both factorise the user × item matrix with implicit's iALS (the adapter of ``als.py``) and keep the *user*
factors, so a segment is one matrix–vector product over all users: ``U · v`` for an item's factor ``v``.
Item-Attribute-Affinity aggregates the items having every attribute of an expression, weighting each by its
share of the training interactions: the score is then the expected number of interactions a user has with
those items (a popular item of the genre says more about "likes Comedy" than one nobody watched).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ._attributes import AttributeExpressionError, AttributeIndex
from ._data import TrainingData, lookup_sorted
from .als import ImplicitALS
from .base import Interval, QueryError, _top_k, check_is_fitted

__all__ = ["ItemAffinity", "ItemAttributeAffinity"]


class ItemAffinity(ImplicitALS):
    """Users ranked by their predicted affinity for an item: iALS with stored user factors.

    Parameters
    ----------
    hidden_dimension : int, the latent dimension (Personalize's name for it, spec §5.2).
    regularization, alpha, iterations, random_seed : as in ``ImplicitALS``.

    Attributes
    ----------
    user_ids_ : str array, the users segments are drawn from (the training users).
    user_activity_ : float32, training interactions per user (the answer for items without interactions).
    user_factors_ : float32 (users × hidden_dimension).
    item_factors_ : float32 (items × hidden_dimension).

    References
    ----------
    Y. Hu, Y. Koren, C. Volinsky, "Collaborative Filtering for Implicit Feedback Datasets", ICDM 2008;
    Amazon Personalize, "Item-Affinity recipe" (aws-item-affinity).
    """

    recipe_type = "USER_SEGMENTATION"
    _parameter_constraints = {
        "hidden_dimension": Interval(int, 1, 1024),
        "regularization": Interval(float, 0.0, None),
        "alpha": Interval(float, 0.0, None),
        "iterations": Interval(int, 1, 200),
        "random_seed": Interval(int, 0, None),
    }

    def __init__(
        self,
        *,
        hidden_dimension: int = 32,
        regularization: float = 1.0,
        alpha: float = 4.0,
        iterations: int = 15,
        random_seed: int = 0,
    ) -> None:
        self.hidden_dimension = hidden_dimension
        self.regularization = regularization
        self.alpha = alpha
        self.iterations = iterations
        self.random_seed = random_seed

    @property
    def factors(self) -> int:  # the name ImplicitALS._model reads
        return self.hidden_dimension

    def _fit(self, data: TrainingData) -> None:
        model = self._model()
        model.fit(data.user_item_matrix(), show_progress=False)
        self.item_factors_ = np.ascontiguousarray(model.item_factors, dtype=np.float32)
        self.user_factors_ = np.ascontiguousarray(model.user_factors, dtype=np.float32)
        self.user_ids_ = np.asarray(data.user_ids, dtype=str)
        self.user_activity_ = np.bincount(data.user_idx, minlength=data.n_users).astype(np.float32)

    # ---- segment queries -------------------------------------------------------------------------
    def users_for_items(
        self,
        item_ids: Sequence[str],
        *,
        num_results: int = 25,
        candidate_user_ids: Sequence[str] | None = None,
        exclude_user_ids: Sequence[str] = (),
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top ``num_results`` (user ids, scores) most likely to interact with ``item_ids``, best first.

        Several items are aggregated as for an attribute expression. Items must have been in the training
        data (spec §8.2); an unknown one raises ``QueryError`` naming it.
        """
        check_is_fitted(self)
        wanted = np.asarray(list(item_ids), dtype=str)
        idx = self._indices(wanted, keep_unknown=True)
        if len(wanted) == 0 or (idx < 0).any():
            missing = wanted[idx < 0][:5].tolist() if len(wanted) else []
            raise QueryError(f"Item(s) {missing} were not in the training data of this solution version.")
        return self._top_users(idx, num_results, candidate_user_ids, exclude_user_ids)

    def _top_users(
        self,
        items: np.ndarray,
        num_results: int,
        candidate_user_ids: Sequence[str] | None,
        exclude_user_ids: Sequence[str],
    ) -> tuple[np.ndarray, np.ndarray]:
        if self.item_counts_[items].sum() > 0:
            scores = self.user_factors_ @ self._query_vector(items)
        else:  # catalogue items nobody interacted with have no learned factor: the most active users
            scores = self.user_activity_.copy()
        allowed = self._user_mask(candidate_user_ids)
        allowed[_known(self.user_ids_, exclude_user_ids)] = False
        scores = np.where(allowed, scores, -np.inf)
        top = _top_k(scores[None, :], num_results)[0]
        top = top[np.isfinite(scores[top])]
        return self.user_ids_[top], scores[top].astype(np.float64)

    def _query_vector(self, items: np.ndarray) -> np.ndarray:
        """Σ wᵢ vᵢ over the query items, wᵢ ∝ distinct training users of item i."""
        items = np.unique(items)
        weights = self.item_counts_[items].astype(np.float64)
        weights = weights / weights.sum()
        return (weights @ self.item_factors_[items].astype(np.float64)).astype(np.float32)

    def _user_mask(self, candidate_user_ids: Sequence[str] | None) -> np.ndarray:
        if candidate_user_ids is None:
            return np.ones(len(self.user_ids_), dtype=bool)
        mask = np.zeros(len(self.user_ids_), dtype=bool)
        mask[_known(self.user_ids_, candidate_user_ids)] = True
        return mask


class ItemAttributeAffinity(ItemAffinity):
    """Users ranked by affinity for the items having every attribute of an expression (spec §8.2).

    Fitting needs an Items table with at least one non-reserved metadata column (spec §4.8); the training
    job passes only non-textual columns.

    Attributes
    ----------
    attr_columns_, attr_numeric_, attr_keys_, attr_indptr_, attr_items_ : the ``AttributeIndex`` arrays.

    References
    ----------
    Amazon Personalize, "Item-Attribute-Affinity recipe" (aws-item-attribute-affinity).
    """

    def _fit(self, data: TrainingData) -> None:
        index = AttributeIndex.build(data.items)
        if len(index.columns) == 0:
            raise ValueError(
                "Item-Attribute-Affinity needs an Items dataset with at least one non-textual, non-reserved "
                "metadata column; the training data has none."
            )
        super()._fit(data)
        for name, value in index.arrays("attr_").items():
            setattr(self, name, value)

    @property
    def attributes(self) -> AttributeIndex:
        return AttributeIndex.from_arrays(vars(self), "attr_")

    def users_for_attributes(
        self,
        expression: str,
        *,
        num_results: int = 25,
        candidate_user_ids: Sequence[str] | None = None,
        exclude_user_ids: Sequence[str] = (),
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top users for an ``itemAttributes`` expression; a bad or unmatched expression raises QueryError."""
        check_is_fitted(self)
        try:
            items = self.attributes.matching_items(expression)
        except AttributeExpressionError as err:
            raise QueryError(str(err)) from None
        return self._top_users(items, num_results, candidate_user_ids, exclude_user_ids)


def _known(sorted_ids: np.ndarray, ids: Sequence[str]) -> np.ndarray:
    idx = lookup_sorted(sorted_ids, np.asarray(list(ids), dtype=str))
    return idx[idx >= 0]
