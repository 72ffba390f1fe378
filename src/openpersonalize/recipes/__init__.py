"""Recipes: the model contract and its implementations (DESIGN.md §4).

Only the contract is re-exported here, so importing ``openpersonalize.recipes`` stays cheap (no torch);
model classes are imported from their modules, or by ARN through ``registry``.
"""

from .base import Histories, InvalidParameterError, NotFittedError, Recipe, TrainingData, check_is_fitted, clone

__all__ = [
    "Histories",
    "InvalidParameterError",
    "NotFittedError",
    "Recipe",
    "TrainingData",
    "check_is_fitted",
    "clone",
]
