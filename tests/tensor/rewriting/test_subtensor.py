import numpy as np
import pytest

import symgraph as sg
import symgraph.tensor as T
from symgraph.gradient import verify_grad
from symgraph.tensor.subtensor import AdvancedIncSubtensor1
from tests.tensor.rewriting.checks import ops, rewritten


def test_inc_by_zeros_is_removed(rng):
    x = T.dmatrix("x")
    f = rewritten([x], T.inc_subtensor(x[1:], T.zeros_like(x[1:])), rng.random((3, 2)))
    assert not any("Inc" in name for name in ops(f))


def test_inc_into_zeros_becomes_a_set(rng):
    x, y = T.dmatrix("x"), T.dvector("y")
    out = T.inc_subtensor(T.zeros_like(x)[1], y)
    f = rewritten([x, y], out, rng.random((3, 2)), rng.random(2))
    assert any(name.startswith("SetSubtensor") for name in ops(f))
    assert not any(name.startswith("IncSubtensor") for name in ops(f))


def test_row_gather_gradient_uses_the_row_scatter_op(rng):
    W, idx = T.dmatrix("W"), T.lvector("idx")
    cost = (W[idx] ** 2).sum()
    g = sg.grad(cost, W)
    value, index = rng.random((5, 3)), np.array([0, 3, 3, 1])
    f = rewritten([W, idx], g, value, index)
    assert any("AdvancedIncSubtensor1" in name for name in ops(f))
    expected = np.zeros_like(value)
    np.add.at(expected, index, 2 * value[index])
    np.testing.assert_allclose(f(value, index), expected)


def test_set_rows_is_specialized_too(rng):
    x, y, idx = T.dmatrix("x"), T.dvector("y"), T.lvector("idx")
    f = rewritten([x, y, idx], T.set_subtensor(x[idx], y), rng.random((4, 3)), rng.random(3),
                  np.array([2, 0]))
    assert any(name.startswith("AdvancedSetSubtensor1") for name in ops(f))


def test_row_scatter_op_matches_add_at(rng):
    x, y, idx = T.dmatrix("x"), T.dmatrix("y"), T.lvector("idx")
    f = sg.function([x, y, idx], AdvancedIncSubtensor1()(x, y, idx))
    xv, yv, iv = rng.random((6, 2)), rng.random((5, 2)), rng.integers(-6, 6, 5)
    expected = xv.copy()
    np.add.at(expected, iv, yv)
    np.testing.assert_allclose(f(xv, yv, iv), expected)
    assert f.maker.fgraph.toposort()  # the input was not overwritten:
    np.testing.assert_allclose(f(xv, yv, iv), expected)


def test_row_scatter_bounds_error_names_the_op(rng):
    x, y, idx = T.dmatrix("x"), T.dvector("y"), T.lvector("idx")
    f = sg.function([x, y, idx], AdvancedIncSubtensor1()(x, y, idx))
    with pytest.raises(IndexError, match="AdvancedIncSubtensor1.*out of bounds"):
        f(rng.random((2, 3)), rng.random(3), np.array([0, 5]))


@pytest.mark.parametrize("set_instead_of_inc", [False, True])
def test_row_scatter_gradients(rng, set_instead_of_inc):
    index = np.array([1, 3, 1, 0])
    if set_instead_of_inc:
        index = np.array([1, 3, 0])
    op = AdvancedIncSubtensor1(set_instead_of_inc)
    verify_grad(lambda x, y: op(x, y, T.as_tensor(index)),
                [rng.random((4, 2)), rng.random((len(index), 2))], rng=rng)


def test_row_scatter_into_fresh_zeros_runs_in_place(rng):
    W, idx = T.dmatrix("W"), T.lvector("idx")
    g = sg.grad((W[idx] ** 2).sum(), W)
    f = sg.function([W, idx], g)
    assert "AdvancedIncSubtensor1{inplace}" in ops(f)
    value = rng.random((4, 2))
    before = value.copy()
    f(value, np.array([1, 1, 2]))
    np.testing.assert_array_equal(value, before)  # the user's array is untouched
