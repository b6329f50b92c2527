"""dot (regular gradient), structured_dot (structured) and sampling_dot against dense
products."""
import doctest
import importlib

import numpy as np
import pytest
import scipy.sparse as sp

import symgraph as sg
import symgraph.tensor as T
from symgraph import sparse as S
from tests.sparse.checks import (MODES, check_sparse_grad, dense, pattern_mask, random_sparse,
                                 variable_for)

FORMATS = ["csr", "csc"]
DTYPES = ["float32", "float64"]


def _tol(dtype):
    return {"rtol": 1e-5, "atol": 1e-5} if dtype == "float32" else {"rtol": 1e-10, "atol": 1e-12}


@pytest.mark.parametrize("linker", ["py", "cvm"])
@pytest.mark.parametrize("format", FORMATS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_dot_matches_dense(rng, linker, format, dtype):
    xv, yv = random_sparse(rng, (5, 4), format, dtype), random_sparse(rng, (4, 3), "csr", dtype)
    mv, vv = rng.normal(size=(4, 2)).astype(dtype), rng.normal(size=4).astype(dtype)
    x, y, m, v = variable_for(xv), variable_for(yv), variable_for(mv), variable_for(vv)
    outs = [S.dot(x, m), S.dot(m.T, y), S.dot(x, y), S.dot(x, v), S.dot(v, y),
            S.structured_dot(x, m), S.structured_dot(m.T, y), S.structured_dot(x, y)]
    results = sg.function([x, y, m, v], outs, mode=MODES[linker])(xv, yv, mv, vv)
    X, Y = xv.toarray(), yv.toarray()
    expected = [X @ mv, mv.T @ Y, X @ Y, X @ vv, vv @ Y, X @ mv, mv.T @ Y, X @ Y]
    for k, (got, want) in enumerate(zip(results, expected)):
        assert dense(got).dtype == dtype and dense(got).shape == want.shape, k
        np.testing.assert_allclose(dense(got), want, err_msg=f"output {k}", **_tol(dtype))
    assert sp.issparse(results[2]) and results[2].format == format
    assert sp.issparse(results[7]) and not sp.issparse(results[0])


def test_dot_mixed_dtypes_upcast(rng):
    x, m = S.csr_matrix(dtype="float32"), T.dmatrix()
    out = S.dot(x, m)
    assert out.dtype == "float64"
    value, mv = random_sparse(rng, (3, 3), "csr", "float32"), rng.normal(size=(3, 2))
    np.testing.assert_allclose(sg.function([x, m], out)(value, mv), value.toarray() @ mv,
                               rtol=1e-6)


def test_dot_errors(rng):
    x = S.csr_matrix(dtype="float64")
    with pytest.raises(TypeError, match="at least one sparse"):
        S.dot(T.dmatrix(), T.dmatrix())
    with pytest.raises(TypeError, match="vectors or matrices"):
        S.dot(x, T.dtensor3())
    f = sg.function([x], S.dot(x, np.ones((3, 2))))
    with pytest.raises(ValueError, match="not aligned"):
        f(random_sparse(rng, (2, 4)))


def test_dot_gradients_are_regular(rng):
    x, y = random_sparse(rng, (4, 3)), random_sparse(rng, (3, 5), "csc")
    m = rng.normal(size=(3, 2))
    (gx, _) = check_sparse_grad(S.dot, [x, m], rng)
    assert isinstance(gx, np.ndarray) and np.all(gx[~pattern_mask(x)] != 0)  # the true gradient
    check_sparse_grad(S.dot, [m.T, x.T.tocsc()], rng)
    check_sparse_grad(S.dot, [x, y], rng)
    check_sparse_grad(S.dot, [x, m[:, 0]], rng)
    check_sparse_grad(S.dot, [m[:, 0], y], rng)


def test_structured_dot_gradient_keeps_the_pattern(rng):
    x, y = random_sparse(rng, (4, 3), "csc"), random_sparse(rng, (3, 5))
    m = rng.normal(size=(3, 2))
    (gx, gm) = check_sparse_grad(S.structured_dot, [x, m], rng, structured=(0,))
    assert sp.issparse(gx) and gx.format == "csc" and isinstance(gm, np.ndarray)
    check_sparse_grad(S.structured_dot, [x, y], rng, structured=(0,))
    check_sparse_grad(S.structured_dot, [m.T, y], rng, structured=(1,))


@pytest.mark.parametrize("format", FORMATS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_sampling_dot_matches_dense(rng, format, dtype):
    xv, yv = rng.normal(size=(5, 3)).astype(dtype), rng.normal(size=(4, 3)).astype(dtype)
    pv = random_sparse(rng, (5, 4), format, dtype, density=0.5)
    x, y, p = variable_for(xv), variable_for(yv), variable_for(pv)
    out = sg.function([x, y, p], S.sampling_dot(x, y, p))(xv, yv, pv)
    assert out.format == format and out.dtype == dtype
    np.testing.assert_array_equal(pattern_mask(out), pattern_mask(pv))
    np.testing.assert_allclose(out.toarray(), pv.toarray() * (xv @ yv.T), **_tol(dtype))


def test_sampling_dot_gradients(rng):
    x, y = rng.normal(size=(4, 3)), rng.normal(size=(5, 3))
    p = random_sparse(rng, (4, 5), density=0.5)
    check_sparse_grad(S.sampling_dot, [x, y, p], rng, structured=(2,))
    with pytest.raises(ValueError, match="does not match"):
        S.sampling_dot(x, y, random_sparse(rng, (5, 5))).eval()


def test_structured_dot_grad_computes_only_sampled_entries(rng):
    x, m = S.csr_matrix(dtype="float64"), T.dmatrix()
    g = sg.grad(T.sum(S.structured_dot(x, m)), x)
    assert g.owner is not None
    f = sg.function([x, m], g)
    assert any(isinstance(n.op, S.SamplingDot) for n in f.maker.fgraph.apply_nodes)
    value, mv = random_sparse(rng, (30, 20), density=0.05), rng.normal(size=(20, 4))
    np.testing.assert_allclose(dense(f(value, mv)),
                               np.where(pattern_mask(value), mv.sum(1)[None, :], 0))


def test_doctests():
    # the package's ``dot`` attribute is the function, so fetch the module itself
    assert doctest.testmod(importlib.import_module("symgraph.sparse.dot")).failed == 0
