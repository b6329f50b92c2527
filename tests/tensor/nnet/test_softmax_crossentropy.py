"""CrossentropySoftmax1Hot and its gradient op: values against NumPy (SciPy's log-softmax),
stability for huge logits, shapes, target checks and gradients."""
import numpy as np
import pytest
import scipy.special

import symgraph as sg
import symgraph.tensor as T
from symgraph.gradient import verify_grad
from symgraph.tensor.nnet.softmax_crossentropy import (CrossentropySoftmax1Hot,
                                                       CrossentropySoftmax1HotGrad,
                                                       crossentropy_softmax_1hot_fused,
                                                       crossentropy_softmax_1hot_grad)
from tests.tensor.test_shape import check_infer_shape


def reference(x, y):
    log_sm = scipy.special.log_softmax(x, axis=-1)
    nll = -np.take_along_axis(log_sm, y[..., None], axis=-1)[..., 0]
    return nll, np.exp(log_sm)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("shape", [(5, 4), (3,), (2, 3, 6), (0, 4)])
def test_values_match_numpy(dtype, shape, rng):
    x = T.tensor(dtype, (None,) * len(shape), name="x")
    y = T.tensor("int64", (None,) * (len(shape) - 1), name="y")
    xv = (rng.normal(size=shape) * 3).astype(dtype)
    yv = rng.integers(0, shape[-1], size=shape[:-1])
    nll, sm = crossentropy_softmax_1hot_fused(x, y)
    got_nll, got_sm = sg.function([x, y], [nll, sm])(xv, yv)
    want_nll, want_sm = reference(xv.astype("float64"), yv)
    rtol = 1e-5 if dtype == "float32" else 1e-12
    assert got_nll.dtype == dtype and got_sm.dtype == dtype
    np.testing.assert_allclose(got_nll, want_nll, rtol=rtol, atol=rtol)
    np.testing.assert_allclose(got_sm, want_sm, rtol=rtol, atol=rtol)
    check_infer_shape(nll, [x, y], [xv, yv])


def test_huge_logits_give_finite_loss_and_gradient():
    x, y = T.dmatrix("x"), T.lvector("y")
    nll, _ = crossentropy_softmax_1hot_fused(x, y)
    f = sg.function([x, y], [nll, sg.grad(nll.sum(), x)])
    loss, grad = f(np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 5.0]]), [1, 1])
    np.testing.assert_allclose(loss, [2e4, 0.0])
    np.testing.assert_allclose(grad, [[1.0, -1.0, 0.0], [0.0, 0.0, 0.0]], atol=1e-300)


def test_targets_broadcast_and_are_checked(rng):
    x, y = T.dmatrix("x"), T.lvector("y")
    f = sg.function([x, y], crossentropy_softmax_1hot_fused(x, y)[0])
    xv = rng.normal(size=(4, 3))
    np.testing.assert_allclose(f(xv, [2]), reference(xv, np.full(4, 2))[0], rtol=1e-12)
    with pytest.raises(ValueError, match="out of range"):
        f(xv, [0, 1, 3, 0])
    with pytest.raises(ValueError, match="do not match"):
        f(xv, [0, 1])
    with pytest.raises(TypeError):
        CrossentropySoftmax1Hot()(x, T.dvector())
    with pytest.raises(TypeError):
        CrossentropySoftmax1Hot()(T.lmatrix(), y)


def test_static_shapes():
    x = T.tensor("float32", (None, 7))
    nll, sm = crossentropy_softmax_1hot_fused(x, T.tensor("int32", (5,)))
    assert nll.type.shape == (5,) and nll.dtype == "float32" and sm.type == x.type


def test_gradient_of_both_outputs(rng):
    xv = rng.normal(size=(4, 5))
    yv = rng.integers(0, 5, size=4)
    weights = rng.normal(size=(4, 5))

    def cost(x):
        nll, sm = crossentropy_softmax_1hot_fused(x, T.constant(yv))
        return nll * 2.0 + (sm * weights).sum(axis=-1)

    verify_grad(cost, [xv], rng=rng)
    verify_grad(lambda x: crossentropy_softmax_1hot_fused(x, T.constant(yv))[0], [xv], rng=rng)


def test_grad_op_values_shapes_and_second_derivatives(rng):
    g, sm = T.dvector("g"), T.dmatrix("sm")
    y = T.lvector("y")
    gv = rng.normal(size=4)
    smv = scipy.special.softmax(rng.normal(size=(4, 3)), axis=-1)
    yv = rng.integers(0, 3, size=4)
    out = crossentropy_softmax_1hot_grad(g, sm, y)
    want = (smv - np.eye(3)[yv]) * gv[:, None]
    np.testing.assert_allclose(sg.function([g, sm, y], out)(gv, smv, yv), want, rtol=1e-12)
    np.testing.assert_allclose(sg.function([sm, y], crossentropy_softmax_1hot_grad(
        T.constant(np.array([2.0])), sm, y))(smv, yv), (smv - np.eye(3)[yv]) * 2.0, rtol=1e-12)
    check_infer_shape(out, [g, sm, y], [gv, smv, yv])
    verify_grad(lambda a, b: CrossentropySoftmax1HotGrad()(a, b, T.constant(yv)), [gv, smv],
                rng=rng)
    hess = sg.function([sm, y], T.hessian(crossentropy_softmax_1hot_fused(sm, y)[0].sum(), sm))
    assert np.all(np.isfinite(hess(rng.normal(size=(2, 3)), [0, 2])))
