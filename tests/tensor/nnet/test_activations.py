"""Activation functions of ``tensor.nnet``, checked against NumPy and finite differences."""
import numpy as np
import pytest
import scipy.special

import symgraph as sg
import symgraph.tensor as T
from symgraph.tensor.nnet import elu, hard_sigmoid, selu, softsign

SELU_ALPHA, SELU_SCALE = 1.6732632423543772, 1.0507009873554805


def _elu(x, alpha):
    return np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0)))


REFERENCES = {
    "softsign": (softsign, lambda x: x / (1 + np.abs(x))),
    "elu": (elu, lambda x: _elu(x, 1.0)),
    "elu_alpha": (lambda x: elu(x, alpha=0.3), lambda x: _elu(x, 0.3)),
    "selu": (selu, lambda x: SELU_SCALE * _elu(x, SELU_ALPHA)),
    "hard_sigmoid": (hard_sigmoid, lambda x: np.clip(0.2 * x + 0.5, 0, 1)),
}


def _away_from_kinks(rng, shape):
    """Values at least 0.1 from 0 and from hard_sigmoid's corners at +-2.5."""
    x = rng.uniform(-4, 4, shape)
    for kink in (0.0, -2.5, 2.5):
        near = np.abs(x - kink) < 0.1
        x[near] += 0.2
    return x


@pytest.mark.parametrize("name", sorted(REFERENCES))
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_values_match_numpy(rng, name, dtype):
    build, reference = REFERENCES[name]
    x = T.matrix("x", dtype=dtype)
    value = (rng.standard_normal((4, 5)) * 3).astype(dtype)
    out = sg.function([x], build(x))(value)
    assert out.dtype == dtype
    tol = 1e-6 if dtype == "float32" else 1e-12
    np.testing.assert_allclose(out, reference(value.astype("float64")), rtol=tol, atol=tol)


@pytest.mark.parametrize("name", sorted(REFERENCES))
def test_verify_grad(rng, name):
    build, _ = REFERENCES[name]
    sg.verify_grad(build, [_away_from_kinks(rng, (3, 4))], rng=rng)


def test_elu_gradient_is_finite_for_large_inputs():
    x = T.dvector("x")
    g = sg.grad(elu(x).sum(), x).eval({x: np.array([1e4, -1e4, 3.0])})
    np.testing.assert_allclose(g, [1.0, 0.0, 1.0])


def test_sigmoid_softplus_relu_are_reexported(rng):
    x = T.dvector("x")
    value = rng.standard_normal(6) * 4
    np.testing.assert_allclose(T.nnet.sigmoid(x).eval({x: value}), scipy.special.expit(value),
                               rtol=1e-12)
    np.testing.assert_allclose(T.nnet.softplus(x).eval({x: value}), np.logaddexp(0, value),
                               rtol=1e-12)
    np.testing.assert_allclose(T.nnet.relu(x).eval({x: value}), np.maximum(value, 0))


# -- hardtanh and the leaky relu ------------------------------------------------------------
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("limits", [(-1, 1), (0.0, 6.0), (-0.5, 2)])
def test_hardtanh_values_and_grad(rng, dtype, limits):
    x = T.matrix("x", dtype=dtype)
    value = (rng.standard_normal((4, 5)) * 3).astype(dtype)
    out = sg.function([x], T.nnet.hardtanh(x, *limits))(value)
    assert out.dtype == dtype
    np.testing.assert_array_equal(out, np.clip(value, *limits).astype(dtype))
    away = rng.uniform(-4, 4, (3, 4))
    for kink in limits:
        away[np.abs(away - kink) < 0.1] += 0.2
    sg.verify_grad(lambda v: T.nnet.hardtanh(v, *limits), [away], rng=rng)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("alpha", [0, 0.01, 0.3, -0.5])
def test_leaky_relu_through_nnet(rng, dtype, alpha):
    x = T.matrix("x", dtype=dtype)
    value = (rng.standard_normal((4, 5)) * 3).astype(dtype)
    out = sg.function([x], T.nnet.relu(x, alpha))(value)
    assert out.dtype == dtype
    np.testing.assert_allclose(out, np.where(value > 0, value, alpha * value), rtol=1e-6)
    away = rng.standard_normal((3, 4))
    away[np.abs(away) < 0.1] += 0.3
    sg.verify_grad(lambda v: T.nnet.relu(v, alpha), [away], rng=rng)
    assert T.nnet.relu is T.relu  # one function: T.relu(x) keeps working


def test_leaky_relu_with_symbolic_slope(rng):
    """A learned slope per channel (PReLU): alpha broadcasts and gets a gradient."""
    x, alpha = T.dmatrix("x"), T.dvector("alpha")
    value, slopes = rng.standard_normal((5, 3)), rng.uniform(0.05, 0.5, 3)
    out = sg.function([x, alpha], T.nnet.relu(x, alpha))(value, slopes)
    np.testing.assert_allclose(out, np.where(value > 0, value, slopes * value), rtol=1e-12)
    value[np.abs(value) < 0.1] += 0.3
    sg.verify_grad(lambda v, a: T.nnet.relu(v, a), [value, slopes], rng=rng)


# -- ultra_fast_sigmoid ---------------------------------------------------------------------
def _ultra_fast_sigmoid(x):
    a = np.abs(x / 2)
    z = np.where(a < 1.7, 1.5 * a / (1 + a),
                 np.where(a < 3, 0.935409070603099 + 0.0458812946797165 * (a - 1.7),
                          0.99505475368673))
    return 0.5 * np.sign(x) * z + 0.5


@pytest.mark.parametrize("linker", ["py", "cvm"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_ultra_fast_sigmoid_values(rng, linker, dtype):
    x = T.vector("x", dtype=dtype)
    value = (rng.standard_normal(200) * 5).astype(dtype)
    f = sg.function([x], T.nnet.ultra_fast_sigmoid(x), mode=sg.Mode(linker=linker))
    out = f(value)
    assert out.dtype == dtype
    tol = 1e-6 if dtype == "float32" else 1e-12
    np.testing.assert_allclose(out, _ultra_fast_sigmoid(value.astype("float64")), rtol=tol,
                               atol=tol)
    assert np.abs(out - scipy.special.expit(value.astype("float64"))).max() < 0.028


def test_ultra_fast_sigmoid_grad(rng):
    value = rng.uniform(-8, 8, (4, 5))
    for kink in (0.0, -3.4, 3.4, -6.0, 6.0):  # keep away from the pieces' ends
        value[np.abs(value - kink) < 0.1] += 0.25
    sg.verify_grad(T.nnet.ultra_fast_sigmoid, [value], rng=rng)
