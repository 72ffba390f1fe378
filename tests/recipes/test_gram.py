"""The fit's item × item algebra in blocks (recipes/_gram.py) equals the whole-matrix computation."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from openpersonalize.recipes import _gram


@pytest.fixture(autouse=True)
def small_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    # blocks, bands and tiles that do not divide the sizes: every edge is crossed
    monkeypatch.setattr(_gram, "BLOCK_ROWS", 37)
    monkeypatch.setattr(_gram, "BAND_ENTRIES", 7 * 53)
    monkeypatch.setattr(_gram, "SQUARE_BLOCK", 16)


def _rows(count: int, width: int, seed: int) -> sp.csr_matrix:
    return sp.random(count, width, density=0.1, random_state=seed, format="csr", dtype=np.float32)


def test_ridge_in_blocks_is_the_whole_solve() -> None:
    inputs, targets, weights = _rows(200, 53, 0), _rows(200, 53, 1), np.linspace(1, 3, 200).astype(np.float32)
    solution = _gram.ridge(53, lambda a, b: (inputs[a:b], targets[a:b], weights[a:b]), 200, 0.5)
    dense, wanted = inputs.toarray().astype(np.float64), targets.toarray().astype(np.float64)
    expected = np.linalg.solve(dense.T @ (weights[:, None] * dense) + 0.5 * np.eye(53), dense.T @ (weights[:, None] * wanted))
    assert solution.dtype == np.float32 and solution.flags.c_contiguous
    np.testing.assert_allclose(solution, expected, atol=2e-4)


def test_inverse_and_gram_of_sets() -> None:
    members = _rows(300, 41, 2)
    members.data[:] = 1.0
    gram = _gram.gram_of_sets(41, members)
    np.testing.assert_array_equal(gram, (members.T @ members).toarray())
    gram[np.diag_indices(41)] += 3.0
    expected = np.linalg.inv(gram.astype(np.float64))
    inverse = _gram.inverse(gram)
    assert inverse.flags.c_contiguous
    np.testing.assert_allclose(inverse, expected, atol=1e-5)


@pytest.mark.parametrize("lower", [True, False])
def test_symmetrize_and_transpose_in_place(lower: bool) -> None:
    rng = np.random.default_rng(0)
    full = rng.random((45, 45)).astype(np.float32)
    symmetric = full + full.T
    half = np.tril(symmetric) if lower else np.triu(symmetric)
    _gram.symmetrize(half, lower)
    np.testing.assert_array_equal(half, symmetric)
    copy = full.copy()
    assert _gram.transpose_in_place(copy) is copy
    np.testing.assert_array_equal(copy, full.T)
