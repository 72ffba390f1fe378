"""Recipe records (recipes/_records.py): one declaration per fact, read back the same way everywhere."""

from __future__ import annotations

import inspect
import subprocess
import sys
from pathlib import Path

import pytest

from openpersonalize.recipes import _params
from openpersonalize.recipes.base import InvalidParameterError, Recipe, clone
from openpersonalize.recipes.popularity import PopularityCount
from openpersonalize.recipes.registry import CUSTOM, RECORDS, is_implemented, make_recipe
from openpersonalize.recipes.sequential import SequentialLinear

from ._synthetic import planted

SRC = Path(__file__).resolve().parents[2] / "src" / "openpersonalize"
TRAINED = sorted({r.model for r in RECORDS.values() if r.model is not None}, key=lambda cls: cls.__name__)


def _accepted(cls: type[Recipe]) -> dict[str, inspect.Parameter]:
    return {n: p for n, p in inspect.signature(cls.__init__).parameters.items() if p.kind is p.KEYWORD_ONLY}


@pytest.mark.parametrize("record", [r for r in RECORDS.values() if r.model is not None], ids=lambda r: r.name)
def test_model_defaults_and_checks_are_the_records_declarations(record) -> None:  # type: ignore[no-untyped-def]
    """Each AWS hyperparameter the model takes: its constructor default and its fit-time check are the record's."""
    accepted = _accepted(record.model)
    for p in record.algorithm.parameters:
        if p.name in accepted:
            assert accepted[p.name].default == p.default, (record.name, p.name)
            assert record.model._parameter_constraints[p.name] is p, (record.name, p.name)


@pytest.mark.parametrize("cls", TRAINED, ids=lambda cls: cls.__name__)
def test_defaults_validate_against_their_own_ranges(cls: type[Recipe]) -> None:
    model = cls()
    model._validate_params()
    assert clone(model).get_params() == model.get_params()
    assert set(model._parameter_constraints) <= set(_accepted(cls))  # no constraint on a name the model lacks


@pytest.mark.parametrize("cls", [c for c in TRAINED if c._parameter_constraints], ids=lambda cls: cls.__name__)
def test_out_of_range_value_is_named(cls: type[Recipe]) -> None:
    name = next(iter(cls._parameter_constraints))
    with pytest.raises(InvalidParameterError, match=f"The '{name}' parameter of {cls.__name__} must be"):
        cls(**{name: object()})._validate_params()


def test_bptt_is_declared_once() -> None:
    """AWS's bptt (default 32, range [2, 32]) is the model's: one declaration, used by every record."""
    assert (_params.BPTT.default, _params.BPTT.low, _params.BPTT.high) == (32, 2, 32)
    assert SequentialLinear().bptt == 32 and SequentialLinear._parameter_constraints["bptt"] is _params.BPTT
    with pytest.raises(InvalidParameterError, match=r"'bptt' parameter .* \[2, 32\]"):
        SequentialLinear(bptt=33)._validate_params()
    for record in RECORDS.values():
        declared = record.algorithm.parameter("bptt")
        assert declared is None or declared is _params.BPTT, record.name
    mentions = [p.relative_to(SRC) for p in SRC.rglob("*.py") if '"bptt"' in p.read_text()]
    assert mentions == [Path("recipes/_params.py")]


def test_use_cases_run_their_base_model() -> None:
    for record in RECORDS.values():
        if record.use_case is not None:
            base = record.use_case.base
            assert base in CUSTOM and record.model is base.model and record.algorithm is base.algorithm
            assert not record.capabilities.batch_inference  # recommenders only (spec §6)


def test_make_recipe_passes_only_what_the_model_takes() -> None:
    arn = "arn:aws:personalize:::recipe/aws-user-personalization"
    model = make_recipe(arn, {"bptt": 8, "hidden_dimension": 64}, seed=3)
    assert model.get_params()["bptt"] == 8 and model.get_params()["random_seed"] == 3
    assert not is_implemented("arn:aws:personalize:::recipe/aws-hrnn")


def test_load_needs_no_import_of_the_recipe_module(tmp_path: Path) -> None:
    """A fresh interpreter loads a saved model knowing only the base class (the config names the class)."""
    data = planted()
    PopularityCount().fit(data).save(tmp_path / "model")
    code = ("import sys; from openpersonalize.recipes.base import Recipe; "
            f"model = Recipe.load({str(tmp_path / 'model')!r}); print(type(model).__name__, len(model.item_ids_))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    name, items = out.stdout.split()
    assert name == "PopularityCount" and int(items) == data.n_items
