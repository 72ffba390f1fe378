"""EASE: the closed-form linear item-item autoencoder (a baseline and blend candidate)."""

from __future__ import annotations

import numpy as np
import scipy.linalg

from openpersonalize.recipes.base import Histories, Interval, Recipe, TrainingData


class EASE(Recipe):
    """Embarrassingly Shallow Autoencoder: B = I − P·diag(1/diag P), P = (XᵀX + λI)⁻¹, diag(B) = 0.

    Only items with training interactions enter the Gram matrix (the others cannot be scored anyway), which
    keeps the cubic solve to the active catalogue.

    Parameters
    ----------
    l2 : float > 0, the ridge penalty λ.

    Attributes
    ----------
    weights_ : float32 (active items × active items), the learned B.
    active_items_ : int64, catalogue indices of the rows/columns of ``weights_``.

    References
    ----------
    H. Steck, "Embarrassingly Shallow Autoencoders for Sparse Data", WWW 2019.
    """

    _parameter_constraints = {"l2": Interval(float, 1e-6, None)}

    def __init__(self, *, l2: float = 500.0) -> None:
        self.l2 = l2

    def _fit(self, data: TrainingData) -> None:
        binary = data.user_item_matrix()
        active = np.flatnonzero(np.asarray(binary.sum(axis=0)).ravel() > 0)
        x = binary[:, active]
        gram = np.asarray((x.T @ x).todense(), dtype=np.float64)
        gram[np.diag_indices_from(gram)] += self.l2
        # Cholesky-based inverse of the SPD Gram matrix (scipy.linalg: ~2× np.linalg.inv, DESIGN.md §5).
        precision = scipy.linalg.cho_solve(scipy.linalg.cho_factor(gram, overwrite_a=True), np.eye(len(active)))
        weights = -precision / np.diag(precision)
        weights[np.diag_indices_from(weights)] = 0.0
        self.weights_ = weights.astype(np.float32)
        self.active_items_ = active.astype(np.int64)
        self.n_items_ = np.array(data.n_items, dtype=np.int64)

    def _score(self, histories: Histories) -> np.ndarray:
        position = np.full(int(self.n_items_), -1, dtype=np.int64)
        position[self.active_items_] = np.arange(len(self.active_items_))
        rows = np.repeat(np.arange(len(histories)), histories.lengths())
        cols = position[histories.items]
        known = cols >= 0
        users = np.zeros((len(histories), len(self.active_items_)), dtype=np.float32)
        users[rows[known], cols[known]] = 1.0
        scores = np.zeros((len(histories), int(self.n_items_)), dtype=np.float32)
        scores[:, self.active_items_] = users @ self.weights_
        return scores
