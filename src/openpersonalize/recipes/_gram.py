"""The item × item linear algebra of the sequential model's fit, with memory that does not follow the data.

A Gram matrix XᵀX over millions of training rows used to be built from the whole sparse X at once: at 10M events
the transition model's inputs alone (32 lags per position) were 320M stored entries, and the COO arrays that
built them 6 GB more (issue 15). Here rows arrive in blocks, each block's V × V product is added into one dense
float32 matrix and dropped, so what a fit holds beyond the data is a few V × V matrices, whatever the log's length.

The solves run in float32 (LAPACK s-routines) and results come back in C order without a copy: half the memory of float64 and about twice the speed on AVX, and
the ridge (λ ≥ 1 against Gram entries that count co-occurrences) keeps the systems well conditioned; NDCG@10 on
ml-1m is unchanged (bench/quality.py). They run on every core the process may use (``threadpool_limits``):
the package keeps BLAS single-threaded for implicit and request scoring, but a V³ factorisation is where a
second core pays.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

import numpy as np
import scipy.linalg
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

BLOCK_ROWS = 250_000  # training rows per block: bounds the sparse rows held at once (~200 MB at 32 + 10 lags)
BAND_ENTRIES = 16_000_000  # entries of one band of a V × V sparse product (~200 MB transient)
SQUARE_BLOCK = 2048  # rows and columns of the tiles the in-place transposes and copies move
FLOAT = np.float32


def solver_threads() -> int:
    """Cores this process may run on (its affinity mask, not the machine's count)."""
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)


def add_product(dense: np.ndarray, left: sp.csr_matrix, right: sp.csr_matrix) -> None:
    """dense += leftᵀ @ right, a band of ``dense``'s rows at a time: the sparse product of a band has at most
    BAND_ENTRIES entries, where the whole product of the head items is nearly dense (V² entries of 12 bytes)."""
    transposed = left.T.tocsr()
    band = max(1, BAND_ENTRIES // max(1, dense.shape[1]))
    for start, stop in blocks(transposed.shape[0], band):
        product = (transposed[start:stop] @ right).tocsr()
        product.sum_duplicates()  # one entry per (row, column): the fancy-indexed += below adds each once
        rows = np.repeat(np.arange(start, stop, dtype=np.int32), np.diff(product.indptr))
        dense[rows, product.indices] += product.data.astype(FLOAT, copy=False)


def blocks(count: int, size: int = BLOCK_ROWS) -> Iterator[tuple[int, int]]:
    for start in range(0, count, size):
        yield start, min(count, start + size)


def ridge(width: int, rows: Callable[[int, int], tuple[sp.csr_matrix, sp.csr_matrix, np.ndarray]], count: int,
          l2: float) -> np.ndarray:
    """B = (XᵀWX + λI)⁻¹ XᵀWY over ``count`` training rows, ``rows(start, stop)`` giving each block's
    (X, Y, row weights W). Float32, Fortran order (what LAPACK writes in place)."""
    gram = np.zeros((width, width), FLOAT)
    cross = np.zeros((width, width), FLOAT)  # YᵀWX in C order: XᵀWY in Fortran order, solved in place
    for start, stop in blocks(count):
        inputs, targets, weights = rows(start, stop)
        weighted = sp.diags(weights.astype(FLOAT)) @ inputs
        add_product(gram, weighted, inputs)
        add_product(cross, targets, weighted)
        del inputs, targets, weighted
    gram[np.diag_indices(width)] += l2
    with threadpool_limits(solver_threads(), "blas"):
        # gram is symmetric, so its C-ordered buffer is its own Fortran-ordered transpose: both factor in place
        factor = scipy.linalg.cho_factor(gram.T, overwrite_a=True, check_finite=False)
        solution = scipy.linalg.cho_solve(factor, cross.T, overwrite_b=True, check_finite=False)
    del factor, gram
    # scoring multiplies by it in C order; a square matrix changes order by an in-place transpose, not a copy
    return transpose_in_place(solution.T)


def gram_of_sets(width: int, members: sp.csr_matrix) -> np.ndarray:
    """membersᵀ members (float32 dense), a block of sets (rows) at a time."""
    gram = np.zeros((width, width), FLOAT)
    for start, stop in blocks(members.shape[0], max(1, BLOCK_ROWS // 50)):
        block = members[start:stop]
        add_product(gram, block, block)
    return gram


def inverse(gram: np.ndarray) -> np.ndarray:
    """Inverse of a symmetric positive definite matrix from its Cholesky factor (LAPACK potri), in ``gram``'s own
    buffer (C order): a third of the work of solving against the identity, and no second V × V matrix."""
    with threadpool_limits(solver_threads(), "blas"):
        factor, lower = scipy.linalg.cho_factor(gram.T, overwrite_a=True, check_finite=False)
        potri = scipy.linalg.lapack.get_lapack_funcs("potri", (factor,))
        result, info = potri(factor, lower=lower, overwrite_c=True)
    if info != 0:
        raise np.linalg.LinAlgError(f"potri failed with info={info}")
    symmetrize(result, lower)
    return result.T  # symmetric: the Fortran-ordered result read in C order is the same matrix


def symmetrize(matrix: np.ndarray, lower: bool) -> None:
    """Copy the triangle LAPACK filled onto the other one, in place, a block of columns at a time."""
    width = len(matrix)
    for start, stop in blocks(width, SQUARE_BLOCK):
        if lower:  # below the diagonal is filled: column block [start, stop) → row block above it
            matrix[start:stop, stop:] = matrix[stop:, start:stop].T
            square = matrix[start:stop, start:stop]
            square[...] = np.tril(square) + np.tril(square, -1).T
        else:
            matrix[stop:, start:stop] = matrix[start:stop, stop:].T
            square = matrix[start:stop, start:stop]
            square[...] = np.triu(square) + np.triu(square, 1).T


def transpose_in_place(matrix: np.ndarray) -> np.ndarray:
    """``matrix`` (square, C order) transposed in its own buffer, tile by tile; returns it."""
    width = len(matrix)
    spans = list(blocks(width, SQUARE_BLOCK))
    for i, (top, bottom) in enumerate(spans):
        matrix[top:bottom, top:bottom] = matrix[top:bottom, top:bottom].T.copy()
        for left, right in spans[i + 1 :]:
            upper = matrix[top:bottom, left:right].copy()
            matrix[top:bottom, left:right] = matrix[left:right, top:bottom].T
            matrix[left:right, top:bottom] = upper.T
    return matrix
