import numpy as np
import pytest

import symgraph as sg
from symgraph.tensor.type import TensorType, upgrade_to_float


def test_static_shape_and_broadcastable():
    t = TensorType("float32", (None, 1, 3))
    assert t.ndim == 3
    assert t.broadcastable == (False, True, False)
    assert str(t) == "Tensor{float32, (?, 1, 3)}"
    assert TensorType("float32", broadcastable=(True, False)).shape == (1, None)


def test_equality_and_hash():
    assert TensorType("float64", (None,)) == TensorType("float64", (None,))
    assert TensorType("float64", (None,)) != TensorType("float32", (None,))
    assert TensorType("float64", (None,)) != TensorType("float64", (2,))
    assert len({TensorType("int8", ()), TensorType("int8", ())}) == 1


def test_is_super():
    general, specific = TensorType("float64", (None, None)), TensorType("float64", (2, None))
    assert general.is_super(specific)
    assert not specific.is_super(general)


def test_filter_accepts_lossless_conversions(rng):
    t = TensorType("float64", (None,))
    assert t.filter([1, 2, 3]).dtype == np.float64
    assert t.filter(rng.random(3).astype("float32")).dtype == np.float64
    assert TensorType("float32", (None,)).filter([1, 2]).dtype == np.float32


def test_filter_refuses_lossy_conversions(rng):
    t = TensorType("float32", (None,))
    with pytest.raises(TypeError, match="allow_input_downcast"):
        t.filter(rng.random(3))  # float64 -> float32 loses precision
    assert t.filter(rng.random(3), allow_downcast=True).dtype == np.float32
    with pytest.raises(TypeError):
        TensorType("int32", (None,)).filter([1.5, 2.0])


def test_python_float_into_floatx_is_allowed():
    with sg.config.change_flags(floatX="float32"):
        assert TensorType("float32", ()).filter(0.1).dtype == np.float32


def test_filter_checks_ndim_and_static_shape(rng):
    with pytest.raises(TypeError, match="wrong number of dimensions"):
        TensorType("float64", (None,)).filter(rng.random((2, 2)))
    with pytest.raises(ValueError, match="dimension 1 must have size 3"):
        TensorType("float64", (None, 3)).filter(rng.random((2, 2)))


def test_strict_filter_requires_exact_dtype(rng):
    with pytest.raises(TypeError):
        TensorType("float64", (None,)).filter([1.0], strict=True)
    value = rng.random(2)
    assert TensorType("float64", (None,)).filter(value, strict=True) is value


def test_upgrade_to_float_follows_theano():
    assert upgrade_to_float("int8") in ("float32", "float64")
    assert upgrade_to_float("int32") == "float64"
    assert upgrade_to_float("float32") == "float32"


def test_unsupported_dtype():
    with pytest.raises(TypeError):
        TensorType("object", ())
