"""Recipes: the model contract, its implementations and their records (DESIGN.md §4).

Importing the package imports every shipped recipe module (through ``registry``), so each model class is
known to ``Recipe.load`` and each recipe record to the catalogue, whatever module was imported first. None of
them loads torch or a sentence encoder until a model is fitted.
"""

from . import registry
from ._records import RecipeRecord
from .base import Histories, InvalidParameterError, NotFittedError, Recipe, TrainingData, check_is_fitted, clone

__all__ = [
    "Histories",
    "InvalidParameterError",
    "NotFittedError",
    "Recipe",
    "RecipeRecord",
    "TrainingData",
    "check_is_fitted",
    "clone",
    "registry",
]
