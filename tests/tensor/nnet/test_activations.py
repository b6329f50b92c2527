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
