"""grad, Lop, Rop, jacobian, hessian and verify_grad against finite differences."""
import warnings

import numpy as np
import pytest

import symgraph as sg
import symgraph.tensor as T
from symgraph.gradient import (DisconnectedInputError, DisconnectedType, GradientError, Lop,
                               NullTypeGradError, Rop, disconnected_grad, grad, grad_undefined,
                               hessian, jacobian, verify_grad, zero_grad)
from symgraph.graph.basic import Apply, Op


def numeric_jacobian(fn, x, eps=1e-6):
    """d fn(x) / d x by central differences: shape fn(x).shape + x.shape."""
    x = np.array(x, dtype="float64")
    out_shape = np.shape(fn(x))
    jac = np.zeros(out_shape + x.shape)
    for idx in np.ndindex(*x.shape):
        up, down = x.copy(), x.copy()
        up[idx] += eps
        down[idx] -= eps
        jac[(Ellipsis,) + idx] = (np.asarray(fn(up)) - np.asarray(fn(down))) / (2 * eps)
    return jac


# -- grad options ------------------------------------------------------------------------
def test_grad_matches_analytic():
    rng = np.random.default_rng(0)
    x, y = T.dvectors("x", "y")
    cost = (T.exp(x) * y + x ** 2).sum()
    gx, gy = grad(cost, [x, y])
    xv, yv = rng.normal(size=4), rng.normal(size=4)
    got_x, got_y = sg.function([x, y], [gx, gy])(xv, yv)
    np.testing.assert_allclose(got_x, np.exp(xv) * yv + 2 * xv)
    np.testing.assert_allclose(got_y, np.exp(xv))


def test_grad_of_a_non_scalar_cost_is_an_error():
    x = T.dvector("x")
    with pytest.raises(TypeError, match="scalar"):
        grad(x * 2.0, x)
    with pytest.raises(TypeError, match="symbolic"):
        grad(x.sum(), np.ones(3))


def test_consider_constant_blocks_an_intermediate():
    rng = np.random.default_rng(1)
    x = T.dvector("x")
    h = T.exp(x)
    cost = (h * x).sum()
    blocked = grad(cost, x, consider_constant=[h])
    full = grad(cost, x)
    xv = rng.normal(size=5)
    np.testing.assert_allclose(blocked.eval({x: xv}), np.exp(xv))
    np.testing.assert_allclose(full.eval({x: xv}), np.exp(xv) * (1 + xv))


def test_zero_grad_and_disconnected_grad():
    rng = np.random.default_rng(2)
    x = T.dvector("x")
    xv = rng.normal(size=3)
    g = grad((zero_grad(x) * x).sum(), x)
    np.testing.assert_allclose(g.eval({x: xv}), xv)
    np.testing.assert_allclose(disconnected_grad(x * 3.0).eval({x: xv}), 3 * xv)
    with pytest.raises(DisconnectedInputError):
        grad(disconnected_grad(x).sum(), x)


def test_disconnected_inputs_raise_warn_ignore():
    x, y = T.dvectors("x", "y")
    cost = (x ** 2).sum()
    with pytest.raises(DisconnectedInputError, match=r"does not depend on y.*test_gradient\.py"):
        grad(cost, [x, y])
    with pytest.warns(UserWarning, match="does not depend on y"):
        gy = grad(cost, y, disconnected_inputs="warn")
    yv = np.random.default_rng(3).normal(size=4)
    np.testing.assert_array_equal(gy.eval({y: yv}), np.zeros(4))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        gy = grad(cost, y, disconnected_inputs="ignore")
    assert gy.eval({y: yv}).shape == (4,)


def test_return_disconnected():
    x, y = T.dvectors("x", "y")
    cost = x.sum()
    assert grad(cost, y, disconnected_inputs="ignore", return_disconnected="None") is None
    g = grad(cost, y, disconnected_inputs="ignore", return_disconnected="Disconnected")
    assert isinstance(g.type, DisconnectedType)
    g = grad(cost, y, disconnected_inputs="ignore", return_disconnected="zero")
    assert g.type == y.type


def test_known_grads():
    rng = np.random.default_rng(4)
    x, upstream = T.dvectors("x", "upstream")
    h = T.tanh(x)
    gx = grad(None, x, known_grads={h: upstream})
    xv, uv = rng.normal(size=4), rng.normal(size=4)
    got = sg.function([x, upstream], gx)(xv, uv)
    np.testing.assert_allclose(got, (1 - np.tanh(xv) ** 2) * uv)
    # a known gradient on an intermediate adds to the cost's own contribution
    gx = grad((h * 2.0).sum(), x, known_grads={h: upstream})
    got = sg.function([x, upstream], gx)(xv, uv)
    np.testing.assert_allclose(got, (1 - np.tanh(xv) ** 2) * (uv + 2))
    with pytest.raises(ValueError, match="cost or known_grads"):
        grad(None, x)


def test_grad_wrt_integer_inputs_is_zero():
    rng = np.random.default_rng(5)
    x = T.dvector("x")
    i = T.lvector("i")
    gx, gi = grad((x * i).sum(), [x, i])
    assert gi.dtype == sg.config.floatX
    xv, iv = rng.normal(size=3), rng.integers(1, 9, size=3)
    got_x, got_i = sg.function([x, i], [gx, gi])(xv, iv)
    np.testing.assert_allclose(got_x, iv)
    np.testing.assert_array_equal(got_i, np.zeros(3))


def test_grad_names():
    x = T.dvector("x")
    cost = (x ** 2).sum()
    cost.name = "cost"
    assert grad(cost, x).name == "(dcost/dx)"


# -- higher order --------------------------------------------------------------------------
def test_second_order_grad_matches_finite_differences():
    rng = np.random.default_rng(6)
    x = T.dvector("x")
    cost = (T.tanh(x) ** 3).sum()
    g = grad(cost, x)
    second = grad(g.sum(), x)
    xv = rng.normal(size=5)
    grad_fn = sg.function([x], g)
    numeric = numeric_jacobian(grad_fn, xv).sum(axis=0)
    np.testing.assert_allclose(second.eval({x: xv}), numeric, rtol=1e-5, atol=1e-7)
    t = np.tanh(xv)
    analytic = 6 * t * (1 - t ** 2) ** 2 - 6 * t ** 3 * (1 - t ** 2)
    np.testing.assert_allclose(second.eval({x: xv}), analytic, rtol=1e-10)


def test_hessian_matches_analytic_and_finite_differences():
    rng = np.random.default_rng(7)
    x = T.dvector("x")
    a = T.dmatrix("A")
    cost = (T.tanh(x) ** 3).sum() + T.dot(x, T.dot(a, x))
    hess = hessian(cost, x)
    xv, av = rng.normal(size=4), rng.normal(size=(4, 4))
    got = sg.function([x, a], hess)(xv, av)
    t = np.tanh(xv)
    diag = 6 * t * (1 - t ** 2) ** 2 - 6 * t ** 3 * (1 - t ** 2)
    np.testing.assert_allclose(got, np.diag(diag) + av + av.T, rtol=1e-9, atol=1e-12)
    grad_fn = sg.function([x, a], grad(cost, x))
    numeric = numeric_jacobian(lambda v: grad_fn(v, av), xv)
    np.testing.assert_allclose(got, numeric, rtol=1e-5, atol=1e-6)


def test_jacobian_of_a_vector_expression():
    rng = np.random.default_rng(8)
    x = T.dvector("x")
    w = T.dmatrix("W")
    expr = T.tanh(T.dot(w, x))
    jac = jacobian(expr, x)
    xv, wv = rng.normal(size=3), rng.normal(size=(2, 3))
    got = sg.function([x, w], jac)(xv, wv)
    assert got.shape == (2, 3)
    np.testing.assert_allclose(got, (1 - np.tanh(wv @ xv) ** 2)[:, None] * wv, rtol=1e-10)
    jac_w = sg.function([x, w], jacobian(expr, w))(xv, wv)
    numeric = numeric_jacobian(lambda m: np.tanh(m @ xv), wv)
    assert jac_w.shape == (2, 2, 3)
    np.testing.assert_allclose(jac_w, numeric, rtol=1e-6, atol=1e-8)


def test_jacobian_of_a_matrix_expression_and_of_a_list():
    rng = np.random.default_rng(9)
    m = T.dmatrix("M")
    x = T.dvector("x")
    expr = T.exp(m) * x
    jm, jx = jacobian(expr, [m, x])
    mv, xv = rng.normal(size=(2, 3)), rng.normal(size=3)
    got_m, got_x = sg.function([m, x], [jm, jx])(mv, xv)
    assert got_m.shape == (2, 3, 2, 3) and got_x.shape == (2, 3, 3)
    np.testing.assert_allclose(got_m, numeric_jacobian(lambda v: np.exp(v) * xv, mv),
                               rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(got_x, numeric_jacobian(lambda v: np.exp(mv) * v, xv),
                               rtol=1e-6, atol=1e-8)


def test_jacobian_of_a_scalar_is_the_gradient():
    rng = np.random.default_rng(10)
    x = T.dvector("x")
    xv = rng.normal(size=3)
    np.testing.assert_allclose(jacobian((x ** 3).sum(), x).eval({x: xv}), 3 * xv ** 2)


# -- Lop and Rop ----------------------------------------------------------------------------
def test_lop_matches_vector_times_jacobian():
    rng = np.random.default_rng(11)
    x, v = T.dvectors("x", "v")
    w = T.dmatrix("W")
    expr = T.sin(T.dot(w, x))
    lop = Lop(expr, x, v)
    xv, wv, vv = rng.normal(size=3), rng.normal(size=(4, 3)), rng.normal(size=4)
    got = sg.function([x, w, v], lop)(xv, wv, vv)
    jac = numeric_jacobian(lambda a: np.sin(wv @ a), xv)
    np.testing.assert_allclose(got, vv @ jac, rtol=1e-6, atol=1e-8)


def test_rop_matches_finite_differences():
    rng = np.random.default_rng(12)
    x, v = T.dvectors("x", "v")
    w = T.dmatrix("W")
    expr = T.tanh(T.dot(w, x)) * x.sum() + T.exp(x[:2]).sum()
    rop = Rop(expr, x, v)
    xv, wv, vv = rng.normal(size=3), rng.normal(size=(2, 3)), rng.normal(size=3)
    got = sg.function([x, w, v], rop)(xv, wv, vv)
    fn = sg.function([x, w], expr)
    eps = 1e-6
    numeric = (fn(xv + eps * vv, wv) - fn(xv - eps * vv, wv)) / (2 * eps)
    np.testing.assert_allclose(got, numeric, rtol=1e-6, atol=1e-8)


def test_rop_with_respect_to_a_matrix():
    rng = np.random.default_rng(13)
    m, v = T.dmatrices("M", "V")
    expr = (T.exp(m) * m).sum(axis=1)
    rop = Rop(expr, m, v)
    mv, vv = rng.normal(size=(3, 2)), rng.normal(size=(3, 2))
    got = sg.function([m, v], rop)(mv, vv)
    np.testing.assert_allclose(got, (np.exp(mv) * (1 + mv) * vv).sum(axis=1), rtol=1e-10)


def test_rop_of_a_disconnected_output():
    x, y, v = T.dvectors("x", "y", "v")
    with pytest.raises(DisconnectedInputError):
        Rop(T.exp(y), x, v)
    zero = Rop(T.exp(y), x, v, disconnected_outputs="ignore")
    yv = np.random.default_rng(14).normal(size=3)
    np.testing.assert_array_equal(zero.eval({y: yv}), np.zeros(3))


# -- verify_grad and undefined gradients -------------------------------------------------------
class SquareWithWrongGrad(Op):
    """x ** 2 whose gradient claims 3 * x (wrong on purpose)."""

    def make_node(self, x):
        x = T.as_tensor_variable(x)
        return Apply(self, [x], [x.type()])

    def perform(self, node, inputs, output_storage):
        output_storage[0][0] = inputs[0] ** 2

    def grad(self, inputs, output_grads):
        return [output_grads[0] * 3.0 * inputs[0]]


class SquareWithoutGrad(SquareWithWrongGrad):
    def grad(self, inputs, output_grads):
        return [grad_undefined(self, 0, inputs[0], "it is a test")]


def test_verify_grad_passes_on_correct_gradients():
    rng = np.random.default_rng(15)
    verify_grad(lambda a, b: T.tanh(T.dot(a, b)) * a.sum(), [rng.normal(size=(2, 3)),
                                                             rng.normal(size=(3, 2))], rng=rng)
    verify_grad(lambda a: (a ** 3).sum(), [rng.normal(size=4)], rng=rng)


def test_verify_grad_catches_a_wrong_gradient():
    rng = np.random.default_rng(16)
    with pytest.raises(GradientError, match="input 0") as info:
        verify_grad(SquareWithWrongGrad(), [rng.normal(size=4) + 2.0], rng=rng)
    assert "finite differences" in str(info.value)


def test_undefined_gradient_error_names_the_op():
    x = T.dvector("x")
    cost = SquareWithoutGrad()(x).sum()
    with pytest.raises(NullTypeGradError, match=r"SquareWithoutGrad.*input 0.*it is a test"):
        grad(cost, x)
    # the undefined gradient travels back through the ops before it
    deeper = (SquareWithoutGrad()(T.exp(x) * 2.0) + x).sum()
    with pytest.raises(NullTypeGradError, match=r"SquareWithoutGrad.*input 0"):
        grad(deeper, x)
    g = grad(deeper, x, null_gradients="return")
    assert "it is a test" in str(g.type)


def test_gradient_not_implemented_error_names_the_op():
    class NoGradOp(SquareWithWrongGrad):
        grad = Op.grad

    x = T.dvector("x")
    with pytest.raises(NullTypeGradError, match="NoGradOp does not implement the gradient"):
        grad(NoGradOp()(x).sum(), x)
    # an undefined gradient on a path the cost does not need is no error
    y = T.dvector("y")
    g = grad((NoGradOp()(x) * 0.0).sum() + y.sum(), y)
    np.testing.assert_array_equal(g.eval({y: np.ones(2)}), np.ones(2))
