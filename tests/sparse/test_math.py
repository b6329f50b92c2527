"""Sparse add, sub, mul, true_div and sp_sum against dense NumPy, with both kinds of
gradient."""
import doctest

import numpy as np
import pytest
import scipy.sparse as sp

import symgraph as sg
import symgraph.tensor as T
from symgraph import sparse as S
from symgraph.sparse import math as smath
from tests.sparse.checks import (MODES, check_sparse_grad, dense, pattern_mask, random_sparse,
                                 variable_for)

FORMATS = ["csr", "csc"]
DTYPES = ["float32", "float64"]


def _tol(dtype):
    return {"rtol": 1e-5, "atol": 1e-6} if dtype == "float32" else {"rtol": 1e-12, "atol": 0}


@pytest.mark.parametrize("linker", ["py", "cvm"])
@pytest.mark.parametrize("format", FORMATS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_add_sub_mul_div_match_dense(rng, linker, format, dtype):
    xv = random_sparse(rng, (5, 4), format, dtype)
    yv = random_sparse(rng, (5, 4), "csc" if format == "csr" else "csr", dtype)
    dv = rng.normal(size=(5, 4)).astype(dtype)
    row, col = rng.normal(size=4).astype(dtype), rng.normal(size=(5, 1)).astype(dtype)
    x, y, d = variable_for(xv), variable_for(yv), variable_for(dv)
    r, c = T.vector(dtype=dtype), T.tensor(dtype, (None, 1))
    outs = [S.add(x, y), S.add(x, d), S.add(d, x), S.sub(x, y), S.sub(d, x), S.mul(x, y),
            S.mul(x, d), S.mul(d, x), S.mul(x, r), S.mul(x, c), S.mul(x, 3), S.true_div(x, d),
            S.add(x, r)]
    f = sg.function([x, y, d, r, c], outs, mode=MODES[linker])
    X, Y = xv.toarray(), yv.toarray()
    expected = [X + Y, X + dv, X + dv, X - Y, dv - X, X * Y, X * dv, X * dv, X * row, X * col,
                X * 3, X / dv, X + row]
    results = f(xv, yv, dv, row, col)
    for k, (got, want) in enumerate(zip(results, expected)):
        assert dense(got).dtype == dtype, k
        np.testing.assert_allclose(dense(got), want, err_msg=f"output {k}", **_tol(dtype))
    for k in (0, 3, 5, 6, 7, 8, 9, 10, 11):
        assert sp.issparse(results[k]) and results[k].format == format, k
    for k in (6, 8, 9, 10, 11):  # products keep the sparse operand's pattern exactly
        np.testing.assert_array_equal(pattern_mask(results[k]), pattern_mask(xv))


def test_mismatched_shapes_fail_at_run_time(rng):
    x, y, d = S.csr_matrix(dtype="float64"), S.csr_matrix(dtype="float64"), T.dmatrix()
    f = sg.function([x, y, d], [S.add(x, y), S.mul(x, d)])
    with pytest.raises(ValueError, match="shapes"):
        f(random_sparse(rng, (2, 3)), random_sparse(rng, (3, 2)), np.ones((2, 3)))
    with pytest.raises(ValueError):
        f(random_sparse(rng, (2, 3)), random_sparse(rng, (2, 3)), np.ones((3, 3)))


def test_add_and_mul_gradients_are_regular(rng):
    x, y = random_sparse(rng, (4, 3)), random_sparse(rng, (4, 3), "csc")
    d = rng.normal(size=(4, 3))
    check_sparse_grad(S.add, [x, y], rng)
    check_sparse_grad(S.add, [x, d], rng)
    check_sparse_grad(S.add, [d[0], x], rng)
    check_sparse_grad(S.sub, [d, y], rng)
    check_sparse_grad(S.mul, [x, y], rng)
    check_sparse_grad(S.mul, [x, d], rng)
    check_sparse_grad(S.mul, [d[:, :1], y], rng)
    check_sparse_grad(S.mul, [x, np.float64(-1.5)], rng)
    check_sparse_grad(S.true_div, [x, d + 3], rng)


@pytest.mark.parametrize("format", FORMATS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("axis", [None, 0, 1, -1])
def test_sp_sum_matches_dense(rng, format, dtype, axis):
    value = random_sparse(rng, (6, 5), format, dtype)
    x = variable_for(value)
    total = sg.function([x], S.sp_sum(x, axis))(value)
    assert total.dtype == dtype and isinstance(total, np.ndarray)
    np.testing.assert_allclose(total, value.toarray().sum(axis=axis), **_tol(dtype))


@pytest.mark.parametrize("axis", [None, 0, 1])
def test_sp_sum_gradients(rng, axis):
    value = random_sparse(rng, (4, 5), "csc")
    (regular,) = check_sparse_grad(lambda x: S.sp_sum(x, axis), [value], rng)
    assert isinstance(regular, np.ndarray) and np.all(regular[~pattern_mask(value)] != 0)
    (structured,) = check_sparse_grad(lambda x: S.sp_sum(x, axis, sparse_grad=True), [value],
                                      rng, structured=(0,))
    assert sp.issparse(structured) and structured.format == "csc"


def test_sp_sum_shape_is_inferred(rng):
    x = S.csr_matrix(dtype="float64")
    f = sg.function([x], [S.sp_sum(x, 0).shape, S.sp_sum(x, 1).shape])
    assert [s.tolist() for s in f(random_sparse(rng, (3, 7)))] == [[7], [3]]
    with pytest.raises(ValueError, match="axis"):
        S.sp_sum(x, 2)


def test_gradients_of_a_variable_used_twice_add_up(rng):
    value, w = random_sparse(rng, (4, 3)), rng.normal(size=(3, 2))
    x, wv = variable_for(value), T.dmatrix()
    parts = [S.sp_sum(S.structured_exp(x)), T.sum(S.dot(x, wv)), S.sp_sum(x * x, sparse_grad=True)]
    f = sg.function([x, wv], [sg.grad(sum(parts), x)] + [sg.grad(p, x) for p in parts])
    total, *separate = f(value, w)
    np.testing.assert_allclose(dense(total), sum(dense(g) for g in separate), rtol=1e-12)
    assert isinstance(total, np.ndarray)  # sparse + dense terms


def test_regular_gradient_of_a_product_is_dense_where_the_cost_is(rng):
    # d/dx sum(x * d) = d everywhere, also where x stores nothing
    value, d = random_sparse(rng, (3, 3)), rng.normal(size=(3, 3))
    x = variable_for(value)
    g = sg.function([x], sg.grad(S.sp_sum(S.mul(x, d)), x))(value)
    np.testing.assert_allclose(dense(g), d)


def test_float32_gradients_stay_float32_and_match_float64(rng):
    value, dv, wv = random_sparse(rng, (5, 4)), rng.normal(size=(5, 4)), rng.normal(size=(4, 3))

    def gradients(dtype):
        x, d, w = S.csr_matrix(dtype=dtype), T.matrix(dtype=dtype), T.matrix(dtype=dtype)
        costs = [T.sum(S.dot(x, w)), T.sum(S.structured_dot(x, w)), S.sp_sum(x),
                 S.sp_sum(x, sparse_grad=True), S.sp_sum(S.structured_exp(x)),
                 S.sp_sum(x * d), T.sum(x + d), S.sp_sum(x[1:]), S.sp_sum(x.T * 2.0),
                 S.sp_sum(S.sampling_dot(d[:, :3], w, x))]
        grads = [sg.grad(c, x) for c in costs]
        assert all(g.dtype == dtype for g in grads)
        f = sg.function([x, d, w], grads, on_unused_input="ignore")
        return f(value.astype(dtype), dv.astype(dtype), wv.astype(dtype))

    for single, double in zip(gradients("float32"), gradients("float64")):
        assert dense(single).dtype == np.float32
        np.testing.assert_allclose(dense(single), dense(double), rtol=1e-4, atol=1e-5)


def test_restrict_to_pattern(rng):
    value = random_sparse(rng, (4, 4))
    g = rng.normal(size=(4, 4))
    x = variable_for(value)
    out = sg.function([x], S.restrict_to_pattern(g, x))(value)
    np.testing.assert_allclose(out.toarray(), np.where(pattern_mask(value), g, 0))


def test_doctests():
    assert doctest.testmod(smath).failed == 0
