"""SASRec: a self-attentive sequence model served from the item history (a User-Personalization candidate).

Personalize's own User-Personalization descends from HRNN, a recurrent model of the interaction sequence;
SASRec is its transformer successor. It reads the history a caller passes, so a visitor whose events
arrived by PutEvents is served exactly like a held-out user in the offline protocol (spec §9.1). On these
2 shared cores it trains too slowly for the 120 s budget (bench/quality.py), so the default
User-Personalization is the closed-form sequential model in ``sequential.py``; SASRec stays as a recipe
variant and a benchmark baseline.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from . import _sasrec
from openpersonalize.recipes._repeat import RepeatModel
from openpersonalize.recipes.base import Histories, Interval, Recipe, TrainingData, report_epoch
from openpersonalize.recipes.metrics import compute_metrics

_STATE_PREFIX = "net."


class SASRec(Recipe):
    """SASRec with event-type embeddings, full or sampled softmax, one-cycle schedule, early stopping.

    Parameters
    ----------
    hidden_dimension : int in [32, 256], embedding and attention width (AWS's name).
    recency_mask : bool, learn recency (position-from-latest) embeddings; False makes the history a bag.
    num_blocks, num_heads : transformer depth and heads.
    max_history_length : int, the newest events the model reads (and the training window length).
    dropout : float in [0, 0.9].
    learning_rate : peak of the one-cycle schedule.
    batch_size : training windows per step.
    epochs : the schedule's length; training may stop earlier (patience, time budget).
    negatives : 0 = full softmax over the catalogue; otherwise shared uniform negatives per batch.
    validation_fraction : share of training users whose newest 10 % is held back to pick the best epoch.
    patience : epochs without validation improvement before stopping.
    max_training_seconds : wall-clock budget of the training loop.
    repeat_weight : float in [0, 1]; 0 disables the repeat component (see ``RepeatModel``).
    random_seed : seeds initialisation, batching, negatives and the validation users.

    Attributes
    ----------
    net_ : the trained ``SASRecNet`` (saved as arrays named ``net.<parameter>``).
    repeat_table_, repeat_rate_, repeat_items_, repeat_regression_ : the fitted ``RepeatModel``.

    References
    ----------
    W.-C. Kang, J. McAuley, "Self-Attentive Sequential Recommendation", ICDM 2018;
    B. Hidasi et al., "Session-based Recommendations with Recurrent Neural Networks", ICLR 2016 (HRNN);
    P. Ren et al., "RepeatNet: A Repeat Aware Neural Recommendation Machine", AAAI 2019.
    """

    _parameter_constraints = {
        "hidden_dimension": Interval(int, 32, 256),
        "recency_mask": Interval(bool),
        "num_blocks": Interval(int, 1, 8),
        "num_heads": Interval(int, 1, 8),
        "max_history_length": Interval(int, 2, 1000),
        "dropout": Interval(float, 0.0, 0.9),
        "learning_rate": Interval(float, 1e-6, 1.0),
        "batch_size": Interval(int, 1, 4096),
        "epochs": Interval(int, 1, 1000),
        "negatives": Interval(int, 0, None),
        "validation_fraction": Interval(float, 0.0, 0.5),
        "patience": Interval(int, 1, 1000),
        "max_training_seconds": Interval(float, 1.0, None),
        "repeat_weight": Interval(float, 0.0, 1.0),
        "random_seed": Interval(int, 0, None),
    }

    def __init__(
        self,
        *,
        hidden_dimension: int = 64,
        recency_mask: bool = True,
        num_blocks: int = 2,
        num_heads: int = 2,
        max_history_length: int = 200,
        dropout: float = 0.2,
        learning_rate: float = 3e-3,
        batch_size: int = 128,
        epochs: int = 20,
        negatives: int = 0,
        validation_fraction: float = 0.05,
        patience: int = 3,
        max_training_seconds: float = 100.0,
        repeat_weight: float = 1.0,
        random_seed: int = 0,
    ) -> None:
        self.hidden_dimension = hidden_dimension
        self.recency_mask = recency_mask
        self.num_blocks = num_blocks
        self.num_heads = num_heads
        self.max_history_length = max_history_length
        self.dropout = dropout
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.epochs = epochs
        self.negatives = negatives
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.max_training_seconds = max_training_seconds
        self.repeat_weight = repeat_weight
        self.random_seed = random_seed

    # ---- training ----------------------------------------------------------------------------------
    def _fit(self, data: TrainingData) -> None:
        torch.manual_seed(self.random_seed)
        offsets = data.user_offsets()
        validation = self._validation_cut(offsets)
        keep = np.ones(data.n_interactions, dtype=bool)
        for user, cut in validation:
            keep[cut : offsets[user + 1]] = False
        kept = data.select(keep)
        seq_items, seq_types = _sasrec.windows(
            kept.item_idx, kept.event_type.astype(np.int64), kept.user_offsets(), self.max_history_length
        )
        self.net_ = self._build(data.n_items, len(data.event_types))
        repeat = RepeatModel.fit(
            kept.item_idx, kept.event_type, kept.timestamp.astype(np.float64), kept.user_offsets(), len(data.event_types),
            data.n_items,
        )
        self.repeat_table_, self.repeat_rate_, self.repeat_items_ = repeat.table, np.array(repeat.rate), repeat.items
        self.repeat_regression_ = repeat.regression
        check = self._reporting(self._validator(data, offsets, validation)) if validation else None
        self.training_log_ = _sasrec.train(self.net_, seq_items, seq_types, self._train_config(), check)
        self.net_.eval()

    def _reporting(self, check: Callable[[], float]) -> Callable[[], float]:
        """The per-epoch validation, also reported as fit progress (a training job shows "epoch k of n")."""
        done = 0

        def checked() -> float:
            nonlocal done
            value = check()
            done += 1
            report_epoch(done, self.epochs, value)
            return value

        return checked

    def _validation_cut(self, offsets: np.ndarray) -> list[tuple[int, int]]:
        """Pick validation users (≥ 5 events) and where their held-back newest 10 % starts."""
        counts = np.diff(offsets)
        eligible = np.flatnonzero(counts >= 5)
        n_valid = min(len(eligible), int(self.validation_fraction * len(counts)), 1000)
        rng = np.random.default_rng(self.random_seed)
        chosen = np.sort(rng.choice(eligible, size=n_valid, replace=False)) if n_valid else []
        return [(int(u), int(offsets[u] + counts[u] - max(1, counts[u] // 10))) for u in chosen]

    def _validator(self, data: TrainingData, offsets: np.ndarray, validation: list[tuple[int, int]]):  # type: ignore[no-untyped-def]
        """NDCG@10 of the held-back events of the validation users, computed with the current weights."""
        inputs = Histories.from_lists(
            [data.item_idx[offsets[u] : cut] for u, cut in validation],
            [data.event_type[offsets[u] : cut] for u, cut in validation],
        )
        targets = Histories.from_lists([np.unique(data.item_idx[cut : offsets[u + 1]]) for u, cut in validation])

        def score() -> float:
            self.net_.eval()
            scores = self._network_scores(inputs)
            top = np.argsort(-scores, axis=1)[:, :10]
            return compute_metrics(top, targets, data.n_items)["normalized_discounted_cumulative_gain_at_10"]

        return score

    def _build(self, n_items: int, n_types: int) -> _sasrec.SASRecNet:
        return _sasrec.SASRecNet(
            n_items, n_types, self.hidden_dimension, self.num_blocks, self.num_heads,
            self.max_history_length, self.dropout, self.recency_mask,
        )

    def _train_config(self) -> _sasrec.TrainConfig:
        return _sasrec.TrainConfig(
            epochs=self.epochs,
            batch_size=self.batch_size,
            learning_rate=self.learning_rate,
            weight_decay=0.0,
            negatives=self.negatives,
            max_seconds=self.max_training_seconds,
            patience=self.patience,
            seed=self.random_seed,
        )

    # ---- scoring -----------------------------------------------------------------------------------
    def _score(self, histories: Histories) -> np.ndarray:
        log_probs = self._network_scores(histories)
        if self.repeat_weight == 0:
            return log_probs
        repeat = RepeatModel(self.repeat_table_, float(self.repeat_rate_), self.repeat_items_, self.repeat_regression_)
        expected_new = np.maximum(repeat.rate * histories.lengths(), 1.0)
        future = np.minimum(1.0, expected_new[:, None] * np.exp(log_probs))
        return repeat.blend(future, histories, self.repeat_weight)

    def _network_scores(self, histories: Histories) -> np.ndarray:
        """Log-softmax of the next-item logits after the newest event of every history."""
        rows = [histories.row(i) + 1 for i in range(len(histories))]
        types = [
            (histories.types_row(i) if histories.event_types is not None else np.zeros(len(rows[i]), np.int64)) + 1
            for i in range(len(histories))
        ]
        length = self.max_history_length
        items = torch.from_numpy(_sasrec.left_pad(rows, length))
        kinds = torch.from_numpy(_sasrec.left_pad([np.maximum(t, 0) for t in types], length))
        with torch.inference_mode():
            hidden = self.net_(items, kinds)[:, -1]
            logits = self.net_.logits(hidden)[:, 1:]
            return torch.log_softmax(logits, dim=1).numpy()

    # ---- persistence -------------------------------------------------------------------------------
    def _get_state(self) -> dict[str, np.ndarray]:
        state = super()._get_state()
        state.update({_STATE_PREFIX + k: v.detach().numpy() for k, v in self.net_.state_dict().items()})
        return state

    def _set_state(self, arrays: dict[str, np.ndarray]) -> None:
        weights = {k[len(_STATE_PREFIX) :]: torch.from_numpy(v) for k, v in arrays.items() if k.startswith(_STATE_PREFIX)}
        super()._set_state({k: v for k, v in arrays.items() if not k.startswith(_STATE_PREFIX)})
        self.net_ = self._build(len(self.item_ids_), len(self.event_types_))
        self.net_.load_state_dict(weights)
        self.net_.eval()
