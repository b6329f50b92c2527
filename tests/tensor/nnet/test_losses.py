"""Cross-entropy losses, checked against NumPy/SciPy and finite differences."""
import numpy as np
import pytest
import scipy.special

import symgraph as sg
import symgraph.tensor as T
from symgraph.tensor.nnet import (CrossentropyCategorical1Hot, CrossentropyCategorical1HotGrad,
                                  binary_crossentropy, categorical_crossentropy,
                                  crossentropy_softmax_1hot, crossentropy_softmax_1hot_with_bias,
                                  sigmoid_binary_crossentropy)
from symgraph.tensor.type import TensorType

TOL = {"float32": 1e-5, "float64": 1e-12}


def _probabilities(rng, shape, dtype="float64"):
    return scipy.special.softmax(rng.standard_normal(shape), axis=-1).astype(dtype)


def _labels(rng, shape, n_classes):
    return rng.integers(0, n_classes, size=shape)


def _picked(p, y):
    return np.take_along_axis(p, y[..., None], axis=-1)[..., 0]


# -- categorical, integer targets ------------------------------------------------
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("shape", [(5,), (6, 4), (2, 3, 5)])
def test_integer_targets_match_numpy(rng, dtype, shape):
    p = TensorType(dtype, (None,) * len(shape)).make_variable("p")
    y = TensorType("int32", (None,) * (len(shape) - 1)).make_variable("y")
    cost = categorical_crossentropy(p, y)
    assert isinstance(cost.owner.op, CrossentropyCategorical1Hot)
    pv, yv = _probabilities(rng, shape, dtype), _labels(rng, shape[:-1], shape[-1]).astype("int32")
    out = sg.function([p, y], cost)(pv, yv)
    assert out.dtype == dtype and out.shape == shape[:-1]
    np.testing.assert_allclose(out, -np.log(_picked(pv.astype("float64"), yv)),
                               rtol=TOL[dtype], atol=TOL[dtype])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_one_hot_and_soft_targets_match_numpy(rng, dtype):
    p, t = T.matrix("p", dtype=dtype), T.matrix("t", dtype=dtype)
    pv = _probabilities(rng, (6, 4), dtype)
    tv = _probabilities(rng, (6, 4), dtype)
    out = sg.function([p, t], categorical_crossentropy(p, t))(pv, tv)
    assert out.dtype == dtype
    expected = -(tv.astype("float64") * np.log(pv.astype("float64"))).sum(axis=-1)
    np.testing.assert_allclose(out, expected, rtol=10 * TOL[dtype])


def test_integer_and_one_hot_targets_agree(rng):
    p, t, y = T.dmatrix("p"), T.dmatrix("t"), T.lvector("y")
    pv, yv = _probabilities(rng, (7, 3)), _labels(rng, (7,), 3)
    from_labels = categorical_crossentropy(p, y).eval({p: pv, y: yv})
    from_one_hot = categorical_crossentropy(p, t).eval({p: pv, t: np.eye(3)[yv]})
    np.testing.assert_allclose(from_labels, from_one_hot, rtol=1e-12)


def test_out_of_range_label_raises(rng):
    p, y = T.dmatrix("p"), T.lvector("y")
    f = sg.function([p, y], categorical_crossentropy(p, y))
    with pytest.raises(ValueError, match="out of range"):
        f(_probabilities(rng, (2, 3)), np.array([0, 3]))
    with pytest.raises(ValueError, match="out of range"):
        f(_probabilities(rng, (2, 3)), np.array([-1, 0]))


def test_mismatched_label_shape_raises(rng):
    p, y = T.dmatrix("p"), T.lvector("y")
    f = sg.function([p, y], categorical_crossentropy(p, y))
    with pytest.raises(ValueError, match="do not match"):
        f(_probabilities(rng, (2, 3)), np.array([0, 1, 2]))


def test_bad_target_types_raise():
    p = T.dmatrix("p")
    with pytest.raises(TypeError):
        categorical_crossentropy(p, T.dvector("y"))  # float labels
    with pytest.raises(TypeError):
        categorical_crossentropy(p, T.lscalar("y"))  # wrong ndim
    with pytest.raises(TypeError):
        categorical_crossentropy(p, T.dtensor3("t"))


@pytest.mark.parametrize("shape", [(4, 3), (2, 3, 4)])
def test_integer_targets_verify_grad(rng, shape):
    labels = T.constant(_labels(rng, shape[:-1], shape[-1]))
    sg.verify_grad(lambda p: categorical_crossentropy(p, labels),
                   [_probabilities(rng, shape) + 0.1], rng=rng)


def test_integer_targets_verify_grad_float32(rng):
    labels = T.constant(_labels(rng, (4,), 3))
    sg.verify_grad(lambda p: categorical_crossentropy(p, labels),
                   [_probabilities(rng, (4, 3), "float32") + 0.1], rng=rng)


def test_one_hot_targets_verify_grad(rng):
    sg.verify_grad(categorical_crossentropy,
                   [_probabilities(rng, (4, 3)) + 0.1, _probabilities(rng, (4, 3))], rng=rng)


def test_gradient_is_scattered_minus_one_over_p(rng):
    p, y = T.dmatrix("p"), T.lvector("y")
    g = sg.grad(categorical_crossentropy(p, y).sum(), p)
    assert isinstance(g.owner.op, CrossentropyCategorical1HotGrad)
    pv, yv = _probabilities(rng, (5, 4)), np.array([0, 3, 3, 1, 2])
    expected = np.zeros((5, 4))
    expected[np.arange(5), yv] = -1 / pv[np.arange(5), yv]
    np.testing.assert_allclose(g.eval({p: pv, y: yv}), expected, rtol=1e-12)


def test_labels_get_zero_gradient(rng):
    p, y = T.dmatrix("p"), T.lvector("y")
    g = sg.grad(categorical_crossentropy(p, y).sum(), y)
    out = g.eval({p: _probabilities(rng, (3, 2)), y: np.array([0, 1, 1])})
    assert out.dtype.kind == "f" and not out.any()


def test_gradient_op_verify_grad(rng):
    # second-order terms go through CrossentropyCategorical1HotGrad's own L_op
    labels = T.constant(np.array([2, 0, 1, 2]))
    op = CrossentropyCategorical1HotGrad()
    sg.verify_grad(lambda g, p: op(g, p, labels),
                   [rng.standard_normal(4), _probabilities(rng, (4, 3)) + 0.1], rng=rng)


def test_second_derivative_with_softmax(rng):
    labels = T.constant(_labels(rng, (3,), 4))

    def first_grad(x):
        return sg.grad(categorical_crossentropy(T.nnet.softmax(x), labels).sum(), x)

    sg.verify_grad(first_grad, [rng.standard_normal((3, 4))], rng=rng)


def test_rop_matches_finite_differences(rng):
    p, v, y = T.dmatrix("p"), T.dmatrix("v"), T.lvector("y")
    cost = categorical_crossentropy(p, y)
    jvp = sg.function([p, v, y], sg.Rop(cost, p, v))
    forward = sg.function([p, y], cost)
    pv, vv, yv = _probabilities(rng, (4, 3)), rng.standard_normal((4, 3)), _labels(rng, (4,), 3)
    expected = (forward(pv + 1e-6 * vv, yv) - forward(pv - 1e-6 * vv, yv)) / 2e-6
    np.testing.assert_allclose(jvp(pv, vv, yv), expected, rtol=1e-6)


def test_infer_shape(rng):
    p, y = T.dtensor3("p"), T.lvector("y")
    y2 = T.lmatrix("y2")
    node = categorical_crossentropy(p, y2).owner
    inferred = node.op.infer_shape(None, node, [[p.shape[d] for d in range(3)],
                                                [y2.shape[d] for d in range(2)]])[0]
    f = sg.function([p, y2], T.stack(list(inferred)), on_unused_input="ignore")
    assert f(_probabilities(rng, (2, 3, 4)), _labels(rng, (2, 3), 4)).tolist() == [2, 3]
    grad_node = CrossentropyCategorical1HotGrad()(T.dvector("g"), T.dmatrix("q"), y).owner
    assert grad_node.op.infer_shape(None, grad_node, [[5], [5, 3], [5]]) == [[5, 3]]


# -- softmax + cross-entropy ----------------------------------------------------------
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_crossentropy_softmax_1hot_matches_scipy(rng, dtype):
    x, y = T.matrix("x", dtype=dtype), T.lvector("y")
    xv, yv = (rng.standard_normal((5, 4)) * 3).astype(dtype), _labels(rng, (5,), 4)
    nll, sm = sg.function([x, y], list(crossentropy_softmax_1hot(x, y)))(xv, yv)
    log_p = scipy.special.log_softmax(xv.astype("float64"), axis=-1)
    np.testing.assert_allclose(nll, -_picked(log_p, yv), rtol=TOL[dtype], atol=TOL[dtype])
    np.testing.assert_allclose(sm, np.exp(log_p), rtol=TOL[dtype], atol=TOL[dtype])


def test_crossentropy_softmax_1hot_is_finite_for_extreme_logits(rng):
    x, y = T.dmatrix("x"), T.lvector("y")
    xv = rng.choice([-1e4, 1e4], size=(6, 3))
    yv = _labels(rng, (6,), 3)
    nll = crossentropy_softmax_1hot(x, y)[0]
    out, g = sg.function([x, y], [nll, sg.grad(nll.sum(), x)])(xv, yv)
    assert np.isfinite(out).all() and np.isfinite(g).all()
    np.testing.assert_allclose(out, -_picked(scipy.special.log_softmax(xv, axis=-1), yv))


def test_crossentropy_softmax_1hot_with_bias_verify_grad(rng):
    labels = T.constant(_labels(rng, (4,), 3))
    sg.verify_grad(lambda x, b: crossentropy_softmax_1hot_with_bias(x, b, labels)[0],
                   [rng.standard_normal((4, 3)), rng.standard_normal(3)], rng=rng)


# -- binary --------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_binary_crossentropy_matches_numpy(rng, dtype):
    o, t = T.vector("o", dtype=dtype), T.vector("t", dtype=dtype)
    ov = scipy.special.expit(rng.standard_normal(8)).astype(dtype)
    tv = rng.random(8).astype(dtype)
    out = sg.function([o, t], binary_crossentropy(o, t))(ov, tv)
    assert out.dtype == dtype
    o64, t64 = ov.astype("float64"), tv.astype("float64")
    expected = -(t64 * np.log(o64) + (1 - t64) * np.log(1 - o64))
    np.testing.assert_allclose(out, expected, rtol=10 * TOL[dtype])


def test_binary_crossentropy_verify_grad(rng):
    outputs = scipy.special.expit(rng.standard_normal((3, 4)))
    sg.verify_grad(binary_crossentropy, [outputs, rng.random((3, 4))], rng=rng)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_sigmoid_binary_crossentropy_matches_composition(rng, dtype):
    x, t = T.vector("x", dtype=dtype), T.vector("t", dtype=dtype)
    xv, tv = (rng.standard_normal(8) * 3).astype(dtype), rng.random(8).astype(dtype)
    out = sg.function([x, t], sigmoid_binary_crossentropy(x, t))(xv, tv)
    assert out.dtype == dtype
    p = scipy.special.expit(xv.astype("float64"))
    expected = -(tv * np.log(p) + (1 - tv) * np.log(1 - p))
    np.testing.assert_allclose(out, expected, rtol=10 * TOL[dtype], atol=TOL[dtype])


def test_sigmoid_binary_crossentropy_is_finite_for_extreme_logits(rng):
    x, t = T.dvector("x"), T.dvector("t")
    xv = np.array([-1e4, 1e4, -1e4, 1e4])
    tv = np.array([0.0, 0.0, 1.0, 1.0])
    cost = sigmoid_binary_crossentropy(x, t)
    out, g = sg.function([x, t], [cost, sg.grad(cost.sum(), x)])(xv, tv)
    np.testing.assert_allclose(out, [0.0, 1e4, 1e4, 0.0])
    np.testing.assert_allclose(g, [0.0, 1.0, -1.0, 0.0])


def test_sigmoid_binary_crossentropy_verify_grad(rng):
    sg.verify_grad(sigmoid_binary_crossentropy,
                   [rng.standard_normal((3, 4)) * 2, rng.random((3, 4))], rng=rng)


def test_theano_style_access_through_tensor_namespace():
    assert T.nnet.categorical_crossentropy is categorical_crossentropy
    assert T.nnet.binary_crossentropy is binary_crossentropy


# -- squared error and hinge losses -----------------------------------------------
from symgraph.tensor.nnet import (binary_hinge_loss, crossentropy_categorical_1hot,  # noqa: E402
                                  hinge, multiclass_hinge_loss, squared_error)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_squared_error(rng, dtype):
    a, b = T.matrix("a", dtype=dtype), T.matrix("b", dtype=dtype)
    av, bv = (rng.standard_normal((4, 3)).astype(dtype) for _ in range(2))
    out = sg.function([a, b], squared_error(a, b))(av, bv)
    assert out.dtype == dtype
    np.testing.assert_allclose(out, (av - bv) ** 2, rtol=TOL[dtype])
    sg.verify_grad(squared_error, [rng.standard_normal((3, 2)), rng.standard_normal((3, 2))],
                   rng=rng)


def _off_kink_scores(rng, targets, delta=1.0):
    """Scores whose margins delta - t * s stay 0.1 or more from 0 (the hinge's kink)."""
    scores = rng.standard_normal(targets.shape) * 2
    margin = delta - targets * scores
    scores[np.abs(margin) < 0.1] += 0.3 * targets[np.abs(margin) < 0.1]
    return scores


def test_hinge_matches_numpy(rng):
    targets = rng.choice([-1.0, 1.0], size=(5, 4))
    scores = _off_kink_scores(rng, targets, 0.5)
    s, t = T.dmatrix("s"), T.dmatrix("t")
    out = sg.function([s, t], hinge(s, t, delta=0.5))(scores, targets)
    np.testing.assert_allclose(out, np.maximum(0, 0.5 - targets * scores), rtol=1e-12)
    sg.verify_grad(lambda v: hinge(v, targets, 0.5), [scores], rng=rng)


def test_binary_hinge_loss_forms(rng):
    labels = rng.integers(0, 2, size=8).astype("float64")
    scores = _off_kink_scores(rng, 2 * labels - 1)
    s, y = T.dvector("s"), T.dvector("y")
    f = sg.function([s, y], binary_hinge_loss(s, y))
    np.testing.assert_allclose(f(scores, labels), np.maximum(0, 1 - (2 * labels - 1) * scores))
    # already -1/+1 targets, and probabilities instead of log-odds
    g = sg.function([s, y], binary_hinge_loss(s, y, binary=False, log_odds=False))
    probabilities = scipy.special.expit(scores)
    np.testing.assert_allclose(g(probabilities, 2 * labels - 1), f(scores, labels), rtol=1e-9)
    sg.verify_grad(lambda v: binary_hinge_loss(v, labels), [scores], rng=rng)


def _multiclass_hinge_reference(scores, labels, delta):
    out = np.empty(len(labels))
    for row, (s, label) in enumerate(zip(scores, labels)):
        others = np.delete(s, label)
        out[row] = max(0.0, others.max() - s[label] + delta)
    return out


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_multiclass_hinge_loss_matches_loop(rng, dtype):
    scores = (rng.standard_normal((9, 4)) * 2).astype(dtype)
    labels = rng.integers(0, 4, size=9)
    s, y, t = T.matrix("s", dtype=dtype), T.lvector("y"), T.matrix("t", dtype=dtype)
    f = sg.function([s, y, t], [multiclass_hinge_loss(s, y, delta=0.5),
                                multiclass_hinge_loss(s, t, delta=0.5)])
    from_labels, from_one_hot = f(scores, labels, np.eye(4, dtype=dtype)[labels])
    want = _multiclass_hinge_reference(scores.astype("float64"), labels, 0.5)
    assert from_labels.dtype == dtype
    np.testing.assert_allclose(from_labels, want, rtol=TOL[dtype], atol=TOL[dtype])
    np.testing.assert_array_equal(from_one_hot, from_labels)


def test_multiclass_hinge_loss_gradient(rng):
    labels = rng.integers(0, 5, size=6)
    scores = rng.standard_normal((6, 5)) * 2
    scores[np.arange(6), labels] += 0.5  # some rows inside the margin, some outside
    sg.verify_grad(lambda v: multiclass_hinge_loss(v, labels), [scores], rng=rng)
    with pytest.raises(TypeError):
        multiclass_hinge_loss(T.dmatrix("s"), T.dvector("y"))


# -- the forms of the 1-hot cross-entropy ------------------------------------------
@pytest.mark.parametrize("label_dtype", ["int32", "int64", "uint8"])
def test_crossentropy_categorical_1hot_forms(rng, label_dtype):
    """Theano's spellings of the softmax + integer-label loss agree on values and gradients,
    with and without the rewrites that fuse them."""
    x, y = T.dmatrix("x"), T.vector("y", dtype=label_dtype)
    p = T.nnet.softmax(x)
    costs = [crossentropy_categorical_1hot(p, y).mean(),
             categorical_crossentropy(p, y).mean(),
             -T.mean(T.log(p)[T.arange(y.shape[0]), y]),  # the Theano tutorial's idiom
             crossentropy_softmax_1hot(x, y)[0].mean()]
    outputs = costs + [sg.grad(c, x) for c in costs]
    xv, yv = rng.standard_normal((6, 4)) * 3, rng.integers(0, 4, size=6).astype(label_dtype)
    want = -np.mean(scipy.special.log_softmax(xv, axis=1)[np.arange(6), yv])
    want_grad = (scipy.special.softmax(xv, axis=1) - np.eye(4)[yv]) / 6
    for mode in [None, sg.Mode(optimizer=None)]:
        results = sg.function([x, y], outputs, mode=mode)(xv, yv)
        for value in results[:4]:
            np.testing.assert_allclose(value, want, rtol=1e-12)
        for grad in results[4:]:
            np.testing.assert_allclose(grad, want_grad, rtol=1e-10, atol=1e-14)
