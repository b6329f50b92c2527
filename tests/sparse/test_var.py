"""Sparse variables: constructors, conversion, operators, constants."""
import doctest

import numpy as np
import pytest
import scipy.sparse as sp

import symgraph as sg
import symgraph.tensor as T
from symgraph import sparse as S
from symgraph.sparse import var
from tests.sparse.checks import MODES, dense, random_sparse


def test_constructors():
    x = S.csr_matrix("x", dtype="float32")
    assert x.type == S.SparseType("csr", "float32") and x.name == "x"
    assert S.csc_matrix().format == "csc"
    assert S.matrix("csc", dtype="int64").dtype == "int64"
    assert x.ndim == 2 and x.broadcastable == (False, False)
    assert S.csr_matrix().dtype == sg.config.floatX


def test_as_sparse_variable(rng):
    value = random_sparse(rng, (3, 2), "csc")
    c = S.as_sparse_variable(value, name="c")
    assert isinstance(c, S.SparseConstant) and c.type.format == "csc" and c.name == "c"
    x = S.csr_matrix()
    assert S.as_sparse_variable(x) is x
    assert S.as_sparse_variable(sp.coo_matrix(value)).format == "csr"
    with pytest.raises(TypeError, match="not sparse"):
        S.as_sparse_variable(T.dmatrix())
    with pytest.raises(TypeError, match="cannot convert"):
        S.as_sparse_variable(np.ones((2, 2)))
    assert isinstance(S.as_sparse_or_tensor_variable(value), S.SparseConstant)
    assert S.as_sparse_or_tensor_variable(np.ones(2)).ndim == 1


def test_equal_constants_merge(rng):
    value = random_sparse(rng, (3, 3))
    a, b = S.constant(value), S.constant(value.copy())
    assert a.signature() == b.signature()
    x = T.dmatrix("x")
    f = sg.function([x], [S.dot(a, x), S.dot(b, x)])
    assert len([n for n in f.maker.fgraph.apply_nodes if isinstance(n.op, S.Dot)]) == 1


@pytest.mark.parametrize("linker", ["py", "cvm"])
def test_operators(rng, linker):
    xv, yv = random_sparse(rng, (4, 3)), random_sparse(rng, (4, 3), "csc")
    dv, wv = rng.normal(size=(4, 3)), rng.normal(size=(3, 2))
    x, y = S.csr_matrix("x", "float64"), S.csc_matrix("y", "float64")
    d, w = T.dmatrix(), T.dmatrix()
    outs = [x + y, x + d, x - y, x - d, 1.5 - x, x * y, x * d, 2 * x, x / 4.0, -x, +x, x @ w,
            np.ones((2, 4)) @ x, x.T, x.transpose(), x.shape, x.shape[1], x.toarray(), x.sum(),
            x.sum(axis=1), x.astype("float32"), x.dot(w), np.ones((4, 3)) * x]
    f = sg.function([x, y, d, w], outs, mode=MODES[linker])
    X, Y = xv.toarray(), yv.toarray()
    expected = [X + Y, X + dv, X - Y, X - dv, 1.5 - X, X * Y, X * dv, 2 * X, X / 4.0, -X, X,
                X @ wv, np.ones((2, 4)) @ X, X.T, X.T, [4, 3], 3, X, X.sum(), X.sum(1), X,
                X @ wv, X]
    for k, (got, want) in enumerate(zip(f(xv, yv, dv, wv), expected)):
        np.testing.assert_allclose(dense(got), want, rtol=1e-6, err_msg=f"output {k}")
    assert f.maker.outputs[20].variable.dtype == "float32"


def test_sparse_results_keep_their_kind():
    x, d = S.csr_matrix(dtype="float32"), T.fmatrix()
    assert S.is_sparse_variable(x * d) and not S.is_sparse_variable(x + d)
    assert (x * 2).dtype == "float32" and (x * 0.5).dtype == "float32"
    assert (x + S.csr_matrix(dtype="float64")).dtype == "float64"
    assert x.T.format == "csc" and x.T.T.format == "csr"


def test_errors():
    x = S.csr_matrix()
    with pytest.raises(TypeError, match="truth value"):
        bool(x)
    with pytest.raises(TypeError):
        len(x)
    with pytest.raises(TypeError):
        iter(x)
    with pytest.raises(TypeError, match="divide by a sparse"):
        x / S.csr_matrix()


def test_doctests():
    assert doctest.testmod(var).failed == 0
