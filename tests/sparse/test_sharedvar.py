"""Shared sparse matrices: construction through sg.shared, copies, updates."""
import doctest

import numpy as np
import pytest
import scipy.sparse as sp

import symgraph as sg
import symgraph.tensor as T
from symgraph import sparse as S
from symgraph.sparse import sharedvar
from tests.sparse.checks import MODES, random_sparse


@pytest.mark.parametrize("format", ["csr", "csc"])
def test_shared_of_a_scipy_matrix(rng, format):
    value = random_sparse(rng, (4, 3), format, "float32")
    w = sg.shared(value, name="w")
    assert isinstance(w, S.SparseSharedVariable)
    assert w.type == S.SparseType(format, "float32") and w.name == "w"
    assert w.get_value() is not value and w.get_value(borrow=True) is not value
    value.data[:] = 0  # the shared variable holds its own copy
    assert w.get_value().count_nonzero() > 0
    assert S.shared(random_sparse(rng, (2, 2))).type.format == "csr"
    assert isinstance(sg.shared(sp.coo_matrix(np.eye(2))), S.SparseSharedVariable)


def test_borrow_and_set_value(rng):
    value = random_sparse(rng, (3, 3))
    w = sg.shared(value, borrow=True)
    assert w.get_value(borrow=True) is value
    new = random_sparse(rng, (5, 2))
    w.set_value(new)
    assert w.get_value(borrow=True) is not new
    np.testing.assert_array_equal(w.get_value().toarray(), new.toarray())
    w.set_value(new, borrow=True)
    assert w.get_value(borrow=True) is new
    with pytest.raises(TypeError, match="set_value"):
        w.set_value("nope")
    w.set_value(new.toarray())  # converted
    assert sp.issparse(w.get_value())


@pytest.mark.parametrize("linker", ["py", "cvm"])
def test_updates_of_a_sparse_shared_variable(rng, linker):
    start = random_sparse(rng, (4, 4), "csc")
    w = sg.shared(start)
    step = S.csc_matrix(dtype="float64")
    f = sg.function([step], S.sp_sum(w), updates={w: w + step}, mode=MODES[linker])
    increment = random_sparse(rng, (4, 4), "csc")
    before = f(increment)
    np.testing.assert_allclose(before, start.toarray().sum())
    f(increment)
    np.testing.assert_allclose(w.get_value().toarray(), start.toarray() + 2 * increment.toarray())
    with pytest.raises(TypeError, match="must match"):
        sg.function([], [], updates={w: S.dense_from_sparse(w)})


def test_gradient_with_respect_to_a_shared_sparse_matrix(rng):
    w = sg.shared(random_sparse(rng, (3, 4)))
    x = T.dmatrix()
    cost = T.sum(S.structured_dot(w, x) ** 2)
    g = sg.function([x], sg.grad(cost, w))(rng.normal(size=(4, 2)))
    assert sp.issparse(g) and g.nnz <= w.get_value().nnz


def test_doctests():
    assert doctest.testmod(sharedvar).failed == 0
