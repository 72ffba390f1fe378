"""Personalize's offline evaluation: the user split (spec §9.1) and the metrics (spec §9.2)."""

from ..recipes.metrics import compute_metrics, metric_keys
from .protocol import Evaluation, evaluate
from .split import Split, split_users

__all__ = ["Evaluation", "Split", "compute_metrics", "evaluate", "metric_keys", "split_users"]
