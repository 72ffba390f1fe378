"""iALS from ``implicit`` behind a small adapter (STYLE.md habit 15); users are folded in from history.

No recipe ARN trains it as it is, but it ships: Item-Affinity and Item-Attribute-Affinity are iALS with stored
user factors (``affinity.py``), and User-Personalization's long tail is scored through its item vectors
(``sequential.py``). The benchmarks also run it alone as the iALS baseline.
"""

from __future__ import annotations

import os

import numpy as np
import scipy.sparse as sp

from .base import Histories, Interval, Recipe, TrainingData, report_epoch

# implicit's ALS calls BLAS from many threads; OpenBLAS threading on top oversubscribes (implicit's warning).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


class ImplicitALS(Recipe):
    """Weighted matrix factorisation for implicit feedback (conjugate-gradient ALS from ``implicit``).

    A user, trained or not, is represented by the least-squares fold-in of their history against the
    item factors — implicit's ``recalculate_user`` — so serving never needs a stored user factor.

    Parameters
    ----------
    factors : int, latent dimension.
    regularization : float, L2 penalty.
    alpha : float, confidence scaling of observed interactions.
    iterations : int, ALS sweeps.
    random_seed : int, initialisation seed.

    Attributes
    ----------
    item_factors_ : float32 (items × factors).

    References
    ----------
    Y. Hu, Y. Koren, C. Volinsky, "Collaborative Filtering for Implicit Feedback Datasets", ICDM 2008;
    G. Takács et al., "Applications of the conjugate gradient method for implicit feedback CF", RecSys 2011.
    """

    _parameter_constraints = {
        "factors": Interval(int, 1, 1024),
        "regularization": Interval(float, 0.0, None),
        "alpha": Interval(float, 0.0, None),
        "iterations": Interval(int, 1, 200),
        "random_seed": Interval(int, 0, None),
    }

    def __init__(
        self,
        *,
        factors: int = 64,
        regularization: float = 0.05,
        alpha: float = 2.0,
        iterations: int = 15,
        random_seed: int = 0,
    ) -> None:
        self.factors = factors
        self.regularization = regularization
        self.alpha = alpha
        self.iterations = iterations
        self.random_seed = random_seed

    def _model(self):  # type: ignore[no-untyped-def]
        from implicit.cpu.als import AlternatingLeastSquares

        return AlternatingLeastSquares(
            factors=self.factors,
            regularization=self.regularization,
            alpha=self.alpha,
            iterations=self.iterations,
            random_state=self.random_seed,
            num_threads=1,  # results are then reproducible run to run
        )

    def _fit(self, data: TrainingData) -> None:
        model = self._model()
        # implicit calls back after each sweep with (0-based sweep, seconds, loss); shown as fit progress
        model.fit(data.user_item_matrix(), show_progress=False,
                  callback=lambda sweep, _seconds, _loss: report_epoch(sweep + 1, self.iterations))
        self.item_factors_ = np.ascontiguousarray(model.item_factors, dtype=np.float32)

    def _score(self, histories: Histories) -> np.ndarray:
        model = self._model()
        model.item_factors = self.item_factors_
        rows = np.repeat(np.arange(len(histories)), histories.lengths())
        values = np.ones(len(rows), dtype=np.float32)
        users = sp.csr_matrix((values, (rows, histories.items)), shape=(len(histories), len(self.item_factors_)))
        users.data[:] = 1.0
        user_factors = model.recalculate_user(np.arange(len(histories)), users)
        return np.atleast_2d(user_factors) @ self.item_factors_.T
