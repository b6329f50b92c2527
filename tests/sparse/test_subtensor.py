"""Indexing sparse matrices: slices, integer rows and columns, lists, single entries."""
import doctest

import numpy as np
import pytest
import scipy.sparse as sp

import symgraph as sg
import symgraph.tensor as T
from symgraph import sparse as S
from symgraph.sparse import subtensor
from tests.sparse.checks import MODES, check_sparse_grad, dense, random_sparse, variable_for

FORMATS = ["csr", "csc"]


@pytest.mark.parametrize("linker", ["py", "cvm"])
@pytest.mark.parametrize("format", FORMATS)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_indexing_matches_dense(rng, linker, format, dtype):
    value = random_sparse(rng, (7, 6), format, dtype)
    X = value.toarray()
    x = variable_for(value)
    a, b = T.lscalar("a"), T.lscalar("b")
    rows = T.lvector("rows")
    cases = [(x[1:4], X[1:4]), (x[:, 2:5], X[:, 2:5]), (x[1:6:2, ::-2], X[1:6:2, ::-2]),
             (x[a:b], X[2:5]), (x[:, a:], X[:, 2:]), (x[3], X[3:4]), (x[-1], X[-1:]),
             (x[a], X[2:3]), (x[:, 4], X[:, 4:5]), (x[2:4, -2], X[2:4, -2:-1]),
             (x[rows], X[[5, 0, 5]]), (x[[1, 2]], X[[1, 2]]), (x[:, [0, 3]], X[:, [0, 3]]),
             (x[rows, 1:3], X[[5, 0, 5], 1:3]), (x[2, 3], X[2, 3]), (x[a, -1], X[2, -1])]
    f = sg.function([x, a, b, rows], [c[0] for c in cases], mode=MODES[linker],
                    on_unused_input="ignore")
    results = f(value, 2, 5, [5, 0, 5])
    for k, (got, (symbolic, want)) in enumerate(zip(results, cases)):
        if np.ndim(want) == 0:
            assert isinstance(got, np.ndarray) and got.ndim == 0 and got.dtype == dtype
        else:
            assert sp.issparse(got) and got.format == format and got.dtype == dtype, k
        np.testing.assert_array_equal(dense(got), want, err_msg=f"case {k}")
        assert not (sp.issparse(got) and np.shares_memory(got.data, value.data))


def test_out_of_bounds_and_unsupported_indices(rng):
    x = S.csr_matrix(dtype="float64")
    i = T.lscalar()
    f = sg.function([x, i], x[i])
    with pytest.raises(IndexError, match="out of bounds"):
        f(random_sparse(rng, (3, 3)), 3)
    with pytest.raises(IndexError):
        sg.function([x], x[[0, 9]])(random_sparse(rng, (3, 3)))
    with pytest.raises(IndexError, match="two integer vectors"):
        x[[0, 1], [1, 2]]
    with pytest.raises(IndexError, match="one or two indices"):
        x[0, 0, 0]
    with pytest.raises(IndexError, match="one or two indices"):
        x[None]


@pytest.mark.parametrize("format", FORMATS)
def test_indexing_gradients_are_regular(rng, format):
    value = random_sparse(rng, (5, 4), format)
    for index in [slice(1, 4), (slice(None), slice(1, 3)), 2, (slice(None), -1), [0, 3, 0],
                  (slice(None, None, -2), [2, 0])]:
        (g,) = check_sparse_grad(lambda x: x[index], [value], rng)
    (g,) = check_sparse_grad(lambda x: x[3, 1], [value], rng)
    assert sp.issparse(g) and g.nnz == 1 and g.format == format
    (g,) = check_sparse_grad(lambda x: S.sp_sum(x[1:3], sparse_grad=True), [value], rng,
                             structured=(0,))
    assert sp.issparse(g)


def test_minibatch_rows_of_a_shared_matrix(rng):
    data = random_sparse(rng, (10, 4))
    shared = sg.shared(data, name="X")
    i = T.lscalar()
    batch = sg.function([i], S.sp_sum(shared[i * 3:(i + 1) * 3], axis=1))
    for k in range(4):
        np.testing.assert_allclose(batch(k), data.toarray()[k * 3:(k + 1) * 3].sum(1))


def test_doctests():
    assert doctest.testmod(subtensor).failed == 0
