"""Shared variables: value semantics (copies and borrowing), types, and use in functions."""
import numpy as np
import pytest

import symgraph as sg
import symgraph.tensor as T
from symgraph.compile.sharedvalue import SharedVariable


def test_shared_copies_its_value_unless_borrowed():
    value = np.random.default_rng(0).normal(size=3)
    copied = sg.shared(value)
    assert copied.get_value(borrow=True) is not value
    value[0] = 42.0
    assert copied.get_value()[0] != 42.0
    borrowed = sg.shared(value, borrow=True)
    assert borrowed.get_value(borrow=True) is value


def test_get_value_returns_a_copy_unless_borrowed():
    w = sg.shared(np.random.default_rng(1).normal(size=(2, 2)), name="w")
    before = w.get_value()
    got = w.get_value()
    got[0, 0] = -99.0
    np.testing.assert_array_equal(w.get_value(), before)
    internal = w.get_value(borrow=True)
    internal[0, 0] = -99.0
    assert w.get_value()[0, 0] == -99.0


def test_set_value_copies_unless_borrowed():
    rng = np.random.default_rng(2)
    w = sg.shared(np.zeros(3), name="w")
    new = rng.normal(size=3)
    w.set_value(new)
    new[0] = 1e9
    assert w.get_value()[0] != 1e9
    w.set_value(new, borrow=True)
    assert w.get_value(borrow=True) is new


def test_set_value_may_change_the_shape_but_not_ndim_or_dtype():
    w = sg.shared(np.zeros(3, dtype="float32"), name="w")
    w.set_value(np.ones(5, dtype="float32"))
    assert w.get_value().shape == (5,)
    f = sg.function([], w * 2)
    np.testing.assert_array_equal(f(), np.full(5, 2.0, "float32"))
    with pytest.raises(TypeError, match=r"set_value of shared variable w.*dimensions"):
        w.set_value(np.ones((2, 2), dtype="float32"))
    with pytest.raises(TypeError, match=r"set_value of shared variable w.*float64"):
        w.set_value(np.ones(3))
    w.set_value([1, 2])  # exact conversion is allowed
    assert w.get_value().dtype == np.float32


def test_strict_and_allow_downcast_apply_to_set_value():
    strict = sg.shared(np.zeros(2, dtype="float32"), strict=True)
    with pytest.raises(TypeError):
        strict.set_value([1.0, 2.0])
    loose = sg.shared(np.zeros(2, dtype="float32"), allow_downcast=True)
    loose.set_value(np.array([0.1, 0.2]))
    np.testing.assert_allclose(loose.get_value(), [0.1, 0.2], rtol=1e-6)


def test_python_scalars_and_lists():
    assert sg.shared(3).type.dtype == "int64"
    assert sg.shared(2.5).type.dtype == sg.config.floatX
    with sg.config.change_flags(floatX="float32"):
        assert sg.shared(2.5).type.dtype == "float32"
    assert sg.shared([1, 2, 3]).type.shape == (None,)
    with pytest.raises(TypeError, match="cannot make a shared variable"):
        sg.shared(object())
    with pytest.raises(TypeError, match="not a symbolic variable"):
        sg.shared(T.dvector())


def test_static_shape_options():
    fixed = sg.shared(np.zeros((1, 3)), shape=(1, 3))
    assert fixed.type.shape == (1, 3)
    with pytest.raises(ValueError):
        fixed.set_value(np.zeros((2, 3)))
    row = sg.shared(np.zeros((1, 3)), broadcastable=(True, False))
    assert row.type.shape == (1, None)


def test_functions_see_the_current_value_and_share_the_container():
    rng = np.random.default_rng(3)
    x = T.dvector("x")
    w = sg.shared(rng.normal(size=3), name="w")
    f = sg.function([x], x * w)
    g = sg.function([], [], updates={w: w * 2.0})
    xv = rng.normal(size=3)
    before = w.get_value()
    np.testing.assert_allclose(f(xv), xv * before)
    g()
    np.testing.assert_allclose(f(xv), xv * before * 2)
    w.set_value(np.ones(3))
    np.testing.assert_allclose(f(xv), xv)
    clone = w.clone()
    assert isinstance(clone, SharedVariable) and clone.container is w.container


def test_shared_variables_have_tensor_methods():
    rng = np.random.default_rng(4)
    value = rng.normal(size=(2, 3))
    w = sg.shared(value, name="w")
    np.testing.assert_allclose(sg.function([], w.T.sum(axis=0))(), value.sum(axis=1))
    np.testing.assert_allclose(w[1].eval(), value[1])
