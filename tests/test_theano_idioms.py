"""Theano programs port by changing imports: the idioms of a typical Theano script, run
through ``import symgraph as theano; import symgraph.tensor as T``."""
import io

import numpy as np
import scipy.special

import symgraph as theano
import symgraph.tensor as T
import symgraph.tensor.nnet as nnet


def _layer(rng, n_in, n_out):
    """A sigmoid layer the Theano-tutorial way: floatX shared weights, T.dot, T.nnet."""
    x = T.matrix("x")
    W = theano.shared(rng.normal(0, 0.5, (n_in, n_out)).astype(theano.config.floatX), name="W")
    b = theano.shared(np.zeros(n_out, dtype=theano.config.floatX), name="b")
    y = T.nnet.sigmoid(T.dot(x, W) + b)
    return x, W, b, y


def test_forward_and_gradient_match_numpy(rng):
    x, W, b, y = _layer(rng, 3, 2)
    cost = y.sum()
    gW, gb = T.grad(cost, [W, b])
    f = theano.function([x], [y, gW, gb])
    xv = rng.standard_normal((5, 3)).astype(theano.config.floatX)
    out, gW_value, gb_value = f(xv)

    s = scipy.special.expit(xv @ W.get_value() + b.get_value())
    np.testing.assert_allclose(out, s, rtol=1e-6)
    np.testing.assert_allclose(gW_value, xv.T @ (s * (1 - s)), rtol=1e-6)
    np.testing.assert_allclose(gb_value, (s * (1 - s)).sum(axis=0), rtol=1e-6)


def test_variables_follow_config_floatX(rng):
    x, W, _, y = _layer(rng, 3, 2)
    assert x.dtype == theano.config.floatX
    assert W.dtype == theano.config.floatX
    assert y.dtype == theano.config.floatX
    assert (x * 0.5).dtype == theano.config.floatX  # Python floats do not upcast


def test_updates_apply_one_sgd_step(rng):
    x, W, b, y = _layer(rng, 3, 2)
    target = T.matrix("target")
    cost = ((y - target) ** 2).mean()
    gW, gb = T.grad(cost, [W, b])
    learning_rate = 0.1
    train = theano.function([x, target], cost,
                            updates=[(W, W - learning_rate * gW), (b, b - learning_rate * gb)])
    gradients = theano.function([x, target], [gW, gb])

    xv = rng.standard_normal((4, 3)).astype(theano.config.floatX)
    tv = rng.random((4, 2)).astype(theano.config.floatX)
    W_before, b_before = W.get_value(), b.get_value()
    gW_value, gb_value = gradients(xv, tv)
    first = train(xv, tv)
    np.testing.assert_allclose(W.get_value(), W_before - learning_rate * gW_value, rtol=1e-6)
    np.testing.assert_allclose(b.get_value(), b_before - learning_rate * gb_value, rtol=1e-6)
    assert train(xv, tv) < first


def test_change_flags_sets_floatX_for_new_variables():
    default = theano.config.floatX
    with theano.config.change_flags(floatX="float32"):
        assert theano.config.floatX == "float32"
        assert T.matrix().dtype == "float32"
        assert T.vector("v").dtype == "float32"
        assert T.matrix().dtype != T.dmatrix().dtype
    assert theano.config.floatX == default
    assert T.matrix().dtype == default


def test_change_flags_as_a_decorator():
    @theano.config.change_flags(floatX="float32")
    def build():
        return T.matrix("x")

    assert build().dtype == "float32"
    assert build().dtype == "float32"  # usable more than once


def test_float32_training_step_stays_float32(rng):
    with theano.config.change_flags(floatX="float32"):
        x, W, b, y = _layer(rng, 3, 2)
        cost = T.nnet.binary_crossentropy(y, T.ones_like(y)).mean()
        gW = T.grad(cost, W)
        step = theano.function([x], cost, updates=[(W, W - 0.1 * gW)])
    value = step(rng.standard_normal((4, 3)).astype("float32"))
    assert value.dtype == np.float32 and W.get_value().dtype == np.float32


def test_nnet_module_import_and_classifier_cost(rng):
    x, y = T.matrix("x"), T.ivector("y")
    p = nnet.softmax(x)
    cost = nnet.categorical_crossentropy(p, y).mean()
    g = T.grad(cost, x)
    f = theano.function([x, y], [cost, g])
    xv = rng.standard_normal((4, 3)).astype(theano.config.floatX)
    yv = np.array([0, 2, 1, 2], dtype="int32")
    cost_value, g_value = f(xv, yv)
    sm = scipy.special.softmax(xv, axis=1)
    np.testing.assert_allclose(cost_value, -np.log(sm[np.arange(4), yv]).mean(), rtol=1e-6)
    np.testing.assert_allclose(g_value, (sm - np.eye(3)[yv]) / 4, rtol=1e-6, atol=1e-9)


def test_debugprint_shows_the_graph(rng):
    x, W, b, y = _layer(rng, 3, 2)
    buffer = io.StringIO()
    theano.printing.debugprint(y, file=buffer)
    lines = [line.lstrip(" |") for line in buffer.getvalue().splitlines()]
    assert "sigmoid" in lines[0]
    assert any(line.startswith("Dot") for line in lines)
    for name in ("x", "W", "b"):
        assert any(line.startswith(name + " ") for line in lines), (name, lines)

    f = theano.function([x], y)
    compiled = io.StringIO()
    theano.printing.debugprint(f, file=compiled)
    assert "sigmoid" in compiled.getvalue()
