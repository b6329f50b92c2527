import numpy as np
import pytest

import symgraph as sg
import symgraph.tensor as T
from symgraph.tensor.var import TensorConstant, as_tensor_variable, constant


def test_constant_types():
    assert constant(3).dtype == "int64"
    assert constant(True).dtype == "bool"
    assert constant([1.0, 2.0]).type.shape == (2,)
    with sg.config.change_flags(floatX="float32"):
        assert constant(0.5).dtype == "float32"


def test_python_scalars_are_weak():
    """A Python scalar takes the dtype of the tensor it meets (NumPy 2 promotion)."""
    assert (T.fvector() * 0.5).dtype == "float32"
    assert (T.bvector() + 1).dtype == "int8"
    assert (T.ivector() + 1.5).dtype == "float64"
    assert (T.bvector() + 1000).dtype == "int16"  # widened rather than overflowing


def test_weak_int_widening_gives_right_values():
    x = T.bvector("x")
    f = sg.function([x], x + 1000)
    assert f(np.array([100, -100], dtype="int8")).tolist() == [1100, 900]


def test_strong_constants_promote_like_numpy():
    x = T.fvector("x")
    assert (x * np.float64(2.0)).dtype == "float64" or (x * np.float64(2.0)).dtype == "float32"
    assert (x * constant(np.array([2.0]))).dtype == "float64"


def test_as_tensor_variable_passes_variables_through():
    x = T.dmatrix()
    assert as_tensor_variable(x) is x
    with pytest.raises(TypeError):
        as_tensor_variable(x, ndim=1)


def test_list_of_variables_becomes_a_stack():
    a, b = T.dscalars("a", "b")
    v = as_tensor_variable([a, b])
    assert v.ndim == 1
    assert sg.function([a, b], v)(1.0, 2.0).tolist() == [1.0, 2.0]


def test_no_truth_value():
    with pytest.raises(TypeError, match="ifelse"):
        bool(T.dscalar() > 0)


def test_iteration_needs_static_length():
    with pytest.raises(TypeError):
        list(T.dvector())
    parts = list(constant(np.arange(3.0)))
    assert [float(p.eval()) for p in parts] == [0.0, 1.0, 2.0]


def test_variables_are_hashable_by_identity():
    x, y = T.dvector(), T.dvector()
    assert len({x, y, x}) == 2


def test_methods_match_numpy(rng):
    value = rng.standard_normal((3, 4))
    x = T.dmatrix("x")
    exprs = {
        "sum": (x.sum(axis=1), value.sum(axis=1)),
        "mean": (x.mean(), value.mean()),
        "T": (x.T, value.T),
        "reshape": (x.reshape((4, 3)), value.reshape(4, 3)),
        "flatten": (x.flatten(), value.flatten()),
        "dimshuffle": (x.dimshuffle(1, "x", 0), value.T[:, None, :]),
        "astype": (x.astype("float32"), value.astype("float32")),
        "max": (x.max(axis=0, keepdims=True), value.max(axis=0, keepdims=True)),
        "argmax": (x.argmax(axis=1), value.argmax(axis=1)),
        "clip": (x.clip(-0.5, 0.5), value.clip(-0.5, 0.5)),
        "matmul": (x @ x.T, value @ value.T),
        "neg_pow": (-(x ** 2), -(value ** 2)),
    }
    f = sg.function([x], [e for e, _ in exprs.values()])
    for (name, (_, expected)), got in zip(exprs.items(), f(value)):
        np.testing.assert_allclose(got, expected, rtol=1e-6, err_msg=name)
        assert np.asarray(got).dtype == np.asarray(expected).dtype, name
