"""Stabilize rewrites of softmax + log / cross-entropy: each fires, values do not change on
random logits, and gradients stay finite (and right) for logits of +-1e4."""
import numpy as np
import pytest
import scipy.special

import symgraph as sg
import symgraph.tensor as T
from symgraph.tensor.nnet import LogSoftmax, Softmax, SoftmaxGrad
from symgraph.tensor.nnet.softmax_crossentropy import (CrossentropySoftmax1Hot,
                                                       CrossentropySoftmax1HotGrad)
from tests.tensor.rewriting.checks import fired, rewritten

HUGE = np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 3.0], [2.0, 1.0, -1e4], [0.0, 0.0, 0.0]])
HUGE_TARGETS = np.array([1, 1, 2, 0])


def op_types(f):
    return [type(n.op) for n in f.maker.fgraph.apply_nodes]


def has(f, op_class):
    return any(isinstance(n.op, op_class) for n in f.maker.fgraph.apply_nodes)


def has_log(f):
    return any(str(n.op) == "Elemwise{log}" for n in f.maker.fgraph.apply_nodes)


def expected_grad(x, y):
    """d mean(nll) / dx = (softmax(x) - onehot(y)) / n."""
    sm = scipy.special.softmax(x, axis=-1)
    return (sm - np.eye(x.shape[-1])[y]) / len(y)


# -- log(softmax) ----------------------------------------------------------------------------
@pytest.mark.parametrize("axis", [-1, 0])
def test_log_of_softmax_becomes_log_softmax(axis, rng):
    x = T.dmatrix("x")
    f = rewritten([x], T.log(T.nnet.softmax(x, axis=axis)), rng.normal(size=(4, 5)) * 3)
    assert op_types(f) == [LogSoftmax] and fired(f, "local_log_softmax") == 1
    assert f(HUGE).min() == pytest.approx(-2e4)  # log(softmax) would be -inf


def test_hand_written_one_hot_cross_entropy_is_stable(rng):
    x, t = T.dmatrices("x", "t")
    cost = -(t * T.log(T.nnet.softmax(x))).sum(axis=-1)
    grad = sg.grad(cost.mean(), x)
    xv = rng.normal(size=(4, 3)) * 3
    tv = scipy.special.softmax(rng.normal(size=(4, 3)), axis=-1)  # any probabilities
    f = rewritten([x, t], [cost, grad], xv, tv)
    assert has(f, LogSoftmax) and not has_log(f) and not has(f, SoftmaxGrad)
    assert fired(f, "local_log_softmax_grad") == 1
    tv = np.eye(3)[HUGE_TARGETS]
    loss, g = f(HUGE, tv)
    assert np.all(np.isfinite(loss)) and np.all(np.isfinite(g))
    np.testing.assert_allclose(g, expected_grad(HUGE, HUGE_TARGETS), atol=1e-12)


# -- categorical_crossentropy(softmax(x), y) ---------------------------------------------------
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_softmax_then_crossentropy_is_fused_with_its_gradient(dtype, rng):
    x, y = T.tensor(dtype, (None, None), name="x"), T.lvector("y")
    cost = T.nnet.categorical_crossentropy(T.nnet.softmax(x), y).mean()
    xv = (rng.normal(size=(6, 4)) * 3).astype(dtype)
    yv = rng.integers(0, 4, size=6)
    tol = 1e-5 if dtype == "float32" else 1e-12
    f = rewritten([x, y], [cost, sg.grad(cost, x)], xv, yv, rtol=tol, atol=tol)
    kinds = op_types(f)
    assert kinds.count(CrossentropySoftmax1Hot) == 1 and CrossentropySoftmax1HotGrad in kinds
    assert Softmax not in kinds and SoftmaxGrad not in kinds
    assert fired(f, "local_crossentropy_softmax") == 1
    assert fired(f, "local_crossentropy_softmax_grad") == 1


def test_the_gradient_is_finite_for_logits_of_1e4():
    x, y = T.dmatrix("x"), T.lvector("y")
    cost = T.nnet.categorical_crossentropy(T.nnet.softmax(x), y).mean()
    f = sg.function([x, y], [cost, sg.grad(cost, x)])
    loss, g = f(HUGE, HUGE_TARGETS)
    assert np.isfinite(loss) and np.all(np.isfinite(g))
    log_p = scipy.special.log_softmax(HUGE, axis=-1)[np.arange(4), HUGE_TARGETS]
    np.testing.assert_allclose(loss, -log_p.mean(), rtol=1e-12)
    np.testing.assert_allclose(g, expected_grad(HUGE, HUGE_TARGETS), atol=1e-12)
    plain = sg.function([x, y], sg.grad(cost, x), mode=sg.Mode(optimizer=None))
    with np.errstate(all="ignore"):
        assert not np.all(np.isfinite(plain(HUGE, HUGE_TARGETS)))  # what the rewrite fixes


def test_the_softmax_is_computed_once_when_also_an_output(rng):
    x, y = T.dmatrix("x"), T.lvector("y")
    sm = T.nnet.softmax(x)
    cost = T.nnet.categorical_crossentropy(sm, y).mean()
    f = rewritten([x, y], [cost, sm, sg.grad(cost, x)], rng.normal(size=(5, 3)),
                  rng.integers(0, 3, size=5))
    assert op_types(f).count(CrossentropySoftmax1Hot) == 1 and not has(f, Softmax)


def test_logits_with_more_dims(rng):
    x, y = T.dtensor3("x"), T.lmatrix("y")
    cost = T.nnet.categorical_crossentropy(T.nnet.softmax(x), y).sum()
    f = rewritten([x, y], [cost, sg.grad(cost, x)], rng.normal(size=(2, 3, 4)),
                  rng.integers(0, 4, size=(2, 3)))
    assert has(f, CrossentropySoftmax1Hot) and has(f, CrossentropySoftmax1HotGrad)


def test_a_softmax_over_another_axis_is_not_fused(rng):
    x, y = T.dmatrix("x"), T.lvector("y")
    cost = T.nnet.categorical_crossentropy(T.nnet.softmax(x, axis=0), y).mean()
    f = rewritten([x, y], [cost, sg.grad(cost, x)], rng.normal(size=(3, 3)),
                  rng.integers(0, 3, size=3))
    assert not has(f, CrossentropySoftmax1Hot)


# -- the indexing form --------------------------------------------------------------------
INDEXED = {
    "-log(sm)[arange(len(y)), y]": lambda x, y: -T.log(T.nnet.softmax(x))[
        T.arange(y.shape[0]), y],
    "(-log(sm))[arange(rows), y]": lambda x, y: (-T.log(T.nnet.softmax(x)))[
        T.arange(x.shape[0]), y],
    "crossentropy_softmax_1hot": lambda x, y: T.nnet.crossentropy_softmax_1hot(x, y)[0],
}


@pytest.mark.parametrize("form", sorted(INDEXED))
def test_the_indexing_form_is_fused_and_stable(form, rng):
    x, y = T.dmatrix("x"), T.lvector("y")
    cost = INDEXED[form](x, y).mean()
    f = rewritten([x, y], [cost, sg.grad(cost, x)], rng.normal(size=(5, 4)) * 3,
                  rng.integers(0, 4, size=5))
    assert op_types(f).count(CrossentropySoftmax1Hot) == 1
    assert fired(f, "local_crossentropy_by_indexing") == 1
    assert not has(f, SoftmaxGrad) and not has_log(f)
    loss, g = f(HUGE, HUGE_TARGETS)
    assert np.isfinite(loss) and np.all(np.isfinite(g))
    np.testing.assert_allclose(g, expected_grad(HUGE, HUGE_TARGETS), atol=1e-12)


def test_the_gradient_of_the_hand_written_indexing_form_is_the_fused_gradient(rng):
    x, y = T.dmatrix("x"), T.lvector("y")
    cost = INDEXED["-log(sm)[arange(len(y)), y]"](x, y).mean()
    f = rewritten([x, y], sg.grad(cost, x), rng.normal(size=(5, 4)), rng.integers(0, 4, size=5))
    assert has(f, CrossentropySoftmax1HotGrad) and not has(f, T.AdvancedIncSubtensor)


def test_indexing_with_other_rows_is_not_fused(rng):
    x, y = T.dmatrix("x"), T.lvector("y")
    picked = -T.log(T.nnet.softmax(x))[T.arange(1, y.shape[0] + 1), y]
    f = rewritten([x, y], picked, rng.normal(size=(4, 3)), rng.integers(0, 3, size=3))
    assert not has(f, CrossentropySoftmax1Hot)


def test_a_single_target_broadcasts_over_the_rows_as_in_the_indexing_form(rng):
    x, y = T.dmatrix("x"), T.lvector("y")
    cost = (-T.log(T.nnet.softmax(x)))[T.arange(x.shape[0]), y]
    f = rewritten([x, y], [cost, sg.grad(cost.sum(), x)], rng.normal(size=(4, 3)), [2])
    assert has(f, CrossentropySoftmax1Hot)


def test_indexing_form_is_fused_when_targets_are_a_slice_of_shared_data(rng):
    """``log_softmax(x)[arange(y.shape[0]), y]`` with ``y = Y[a:b]`` (minibatches held in
    shared variables): the shape feature describes len(y) by the slice's length formula,
    and the rewrite must still see ``arange(y.shape[0])``."""
    data_x = sg.shared(rng.normal(size=(12, 4)))
    data_y = sg.shared(rng.integers(0, 4, size=12))
    i = T.lscalar("i")
    x, y = data_x[i * 3:(i + 1) * 3], data_y[i * 3:(i + 1) * 3]
    cost = -T.mean(T.log(T.nnet.softmax(x))[T.arange(y.shape[0]), y])
    f = sg.function([i], [cost, sg.grad(cost, data_x)])
    kinds = op_types(f)
    assert CrossentropySoftmax1Hot in kinds and CrossentropySoftmax1HotGrad in kinds
    xv, yv = data_x.get_value()[3:6], data_y.get_value()[3:6]
    log_p = xv - np.log(np.exp(xv).sum(axis=1, keepdims=True))
    np.testing.assert_allclose(f(1)[0], -np.mean(log_p[np.arange(3), yv]))
