"""Softmax, log-softmax and the softmax gradient op, checked against SciPy and finite
differences."""
import numpy as np
import pytest
import scipy.special

import symgraph as sg
import symgraph.tensor as T
from symgraph.tensor.basic import shape_i
from symgraph.tensor.nnet import (LogSoftmax, Softmax, SoftmaxGrad, log_softmax, logsoftmax,
                                  softmax, softmax_with_bias)
from symgraph.tensor.type import TensorType

SHAPES_AND_AXES = [((7,), -1), ((7,), None), ((4, 5), -1), ((4, 5), 0), ((4, 5), None),
                   ((2, 3, 4), 1), ((2, 3, 4), -1), ((3, 1), -1), ((3, 1), 0)]
TOL = {"float32": 1e-5, "float64": 1e-12}
SCIPY = {"softmax": (softmax, scipy.special.softmax),
         "log_softmax": (log_softmax, scipy.special.log_softmax)}


def _variable(shape, dtype):
    return TensorType(dtype, (None,) * len(shape)).make_variable("x")


def _compile_infer_shape(node):
    """A function giving the op's inferred output shape from the same inputs as the node."""
    input_shapes = [[shape_i(i, d) for d in range(i.ndim)] for i in node.inputs]
    inferred = node.op.infer_shape(None, node, input_shapes)[0]
    graph_inputs = [i for i in node.inputs if i.owner is None]
    return sg.function(graph_inputs, T.stack([T.as_tensor(s) for s in inferred]),
                       on_unused_input="ignore")


@pytest.mark.parametrize("name", sorted(SCIPY))
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("shape,axis", SHAPES_AND_AXES)
def test_values_match_scipy(rng, name, dtype, shape, axis):
    build, reference = SCIPY[name]
    x = _variable(shape, dtype)
    value = (rng.standard_normal(shape) * 3).astype(dtype)
    out = sg.function([x], build(x, axis=axis))(value)
    assert out.dtype == dtype and out.shape == shape
    expected = reference(value.astype("float64"), axis=axis)
    np.testing.assert_allclose(out, expected, rtol=TOL[dtype], atol=TOL[dtype])


@pytest.mark.parametrize("name", sorted(SCIPY))
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_extreme_logits_stay_finite(rng, name, dtype):
    build, reference = SCIPY[name]
    x = T.matrix("x", dtype=dtype)
    value = (rng.choice([-1e4, 1e4], size=(5, 6)) + rng.standard_normal((5, 6))).astype(dtype)
    out = sg.function([x], build(x))(value)
    assert np.isfinite(out).all()
    np.testing.assert_allclose(out, reference(value.astype("float64"), axis=-1),
                               rtol=TOL[dtype], atol=TOL[dtype])


def test_softmax_rows_sum_to_one_and_default_axis_is_last(rng):
    x = T.dtensor3("x")
    value = rng.standard_normal((2, 3, 4)) * 10
    out = softmax(x).eval({x: value})
    np.testing.assert_allclose(out.sum(axis=-1), np.ones((2, 3)), rtol=1e-12)
    np.testing.assert_allclose(out, scipy.special.softmax(value, axis=-1), rtol=1e-12)


def test_log_softmax_of_tiny_probabilities_is_exact(rng):
    # log(softmax) would give -inf here; the op gives the exact logit differences
    x = T.dvector("x")
    out = log_softmax(x).eval({x: np.array([0.0, -800.0, -2000.0])})
    np.testing.assert_allclose(out, [0.0, -800.0, -2000.0], rtol=1e-12)
    assert logsoftmax is log_softmax


def test_integer_input_is_upcast_to_float():
    x = T.lvector("x")
    out = softmax(x)
    assert out.dtype == "float64"
    np.testing.assert_allclose(out.eval({x: np.array([1, 2, 3])}),
                               scipy.special.softmax([1.0, 2.0, 3.0]), rtol=1e-12)


def test_negative_axis_is_normalized_so_nodes_merge():
    x = T.dmatrix("x")
    assert softmax(x, axis=-1).owner.op == softmax(x, axis=1).owner.op == Softmax(1)
    assert Softmax(-1)(x).owner.op == Softmax(1)
    assert str(Softmax(1)) == "Softmax{axis=1}"
    assert LogSoftmax(0) != LogSoftmax(1)


def test_axis_out_of_range_raises():
    x = T.dmatrix("x")
    with pytest.raises(ValueError, match="out of range"):
        softmax(x, axis=2)
    with pytest.raises(ValueError, match="out of range"):
        log_softmax(x, axis=-3)


def test_softmax_with_bias_matches_scipy(rng):
    x, b = T.dmatrix("x"), T.dvector("b")
    xv, bv = rng.standard_normal((3, 4)), rng.standard_normal(4)
    out = sg.function([x, b], softmax_with_bias(x, b))(xv, bv)
    np.testing.assert_allclose(out, scipy.special.softmax(xv + bv, axis=-1), rtol=1e-12)


def test_empty_input_gives_empty_output():
    x = T.dmatrix("x")
    assert softmax(x).eval({x: np.zeros((0, 3))}).shape == (0, 3)
    assert log_softmax(x).eval({x: np.zeros((0, 3))}).shape == (0, 3)


def test_softmax_grad_rejects_mismatched_shapes(rng):
    dy, sm = T.dmatrix("dy"), T.dmatrix("sm")
    f = sg.function([dy, sm], SoftmaxGrad(1)(dy, sm))
    with pytest.raises(ValueError, match="does not match"):
        f(rng.standard_normal((1, 3)), rng.random((4, 3)))


@pytest.mark.parametrize("build", [softmax, log_softmax])
def test_infer_shape(rng, build):
    x = T.dtensor3("x")
    node = build(x, axis=1).owner
    value = rng.standard_normal((2, 5, 3))
    assert _compile_infer_shape(node)(value).tolist() == [2, 5, 3]


def test_softmax_grad_infer_shape(rng):
    dy, sm = T.dmatrix("dy"), T.dmatrix("sm")
    node = SoftmaxGrad(1)(dy, sm).owner
    values = [rng.standard_normal((4, 3)) for _ in range(2)]
    assert _compile_infer_shape(node)(*values).tolist() == [4, 3]


@pytest.mark.parametrize("build", [softmax, log_softmax])
@pytest.mark.parametrize("shape,axis", [((5,), -1), ((3, 4), -1), ((3, 4), 0), ((3, 4), None),
                                        ((2, 3, 2), 1)])
def test_verify_grad(rng, build, shape, axis):
    value = rng.standard_normal(shape) * 2
    sg.verify_grad(lambda x: build(x, axis=axis), [value], rng=rng)


@pytest.mark.parametrize("build", [softmax, log_softmax])
def test_verify_grad_float32(rng, build):
    value = rng.standard_normal((3, 4)).astype("float32")
    sg.verify_grad(lambda x: build(x), [value], rng=rng)
    x = T.fmatrix("x")
    assert sg.grad(build(x).sum() * 1.5, x).dtype == "float32"


@pytest.mark.parametrize("build", [softmax, log_softmax])
def test_gradient_at_extreme_logits_is_finite(rng, build):
    x = T.dmatrix("x")
    weights = rng.standard_normal((3, 4))
    g = sg.function([x], sg.grad((build(x) * weights).sum(), x))
    out = g(rng.choice([-1e4, 1e4], size=(3, 4)))
    assert np.isfinite(out).all()


@pytest.mark.parametrize("axis", [-1, 0])
def test_softmax_grad_op_verify_grad(rng, axis):
    dy, sm = rng.standard_normal((3, 4)), scipy.special.softmax(rng.standard_normal((3, 4)), 1)
    sg.verify_grad(lambda a, b: SoftmaxGrad(axis)(a, b), [dy, sm], rng=rng)


@pytest.mark.parametrize("build", [softmax, log_softmax])
def test_second_derivative(rng, build):
    # the gradient of a gradient exercises SoftmaxGrad's and LogSoftmax's own L_ops
    weights = T.constant(rng.standard_normal((3, 4)))

    def first_grad(x):
        return sg.grad((build(x) * weights).sum(), x)

    sg.verify_grad(first_grad, [rng.standard_normal((3, 4))], rng=rng)


def test_hessian_of_log_softmax_matches_closed_form(rng):
    # d^2 logsumexp(x) / dx^2 = diag(p) - p p^T, and log_softmax(x)[0] = x[0] - logsumexp(x)
    x = T.dvector("x")
    value = rng.standard_normal(4)
    hess = sg.hessian(log_softmax(x)[0], x).eval({x: value})
    p = scipy.special.softmax(value)
    np.testing.assert_allclose(hess, -(np.diag(p) - np.outer(p, p)), rtol=1e-9, atol=1e-12)


def _finite_difference_jvp(fn, x, v, eps=1e-6):
    return (fn(x + eps * v) - fn(x - eps * v)) / (2 * eps)


@pytest.mark.parametrize("build", [softmax, log_softmax])
@pytest.mark.parametrize("axis", [-1, 0, None])
def test_rop_matches_finite_differences(rng, build, axis):
    x, v = T.dmatrix("x"), T.dmatrix("v")
    y = build(x, axis=axis)
    jvp = sg.function([x, v], sg.Rop(y, x, v))
    forward = sg.function([x], y)
    xv, vv = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    np.testing.assert_allclose(jvp(xv, vv), _finite_difference_jvp(forward, xv, vv),
                               rtol=1e-6, atol=1e-8)


def test_rop_uses_the_ops_own_r_op():
    x, v = T.dmatrix("x"), T.dmatrix("v")
    assert isinstance(sg.Rop(softmax(x), x, v).owner.op, SoftmaxGrad)


def test_softmax_grad_rop_matches_finite_differences(rng):
    dy, sm, e_dy, e_sm = T.dmatrices("dy", "sm", "e_dy", "e_sm")
    out = SoftmaxGrad(1)(dy, sm)
    jvp = sg.function([dy, sm, e_dy, e_sm], sg.Rop(out, [dy, sm], [e_dy, e_sm]))
    forward = sg.function([dy, sm], out)
    a, b, ea, eb = (rng.standard_normal((3, 4)) for _ in range(4))
    eps = 1e-6
    expected = (forward(a + eps * ea, b + eps * eb) - forward(a - eps * ea, b - eps * eb)) / (2 * eps)
    np.testing.assert_allclose(jvp(a, b, ea, eb), expected, rtol=1e-6, atol=1e-8)


def test_theano_style_access_through_tensor_namespace(rng):
    x = T.dmatrix("x")
    value = rng.standard_normal((2, 3))
    np.testing.assert_allclose(T.nnet.softmax(x).eval({x: value}),
                               scipy.special.softmax(value, axis=1), rtol=1e-12)
    np.testing.assert_allclose(T.nnet.log_softmax(x).eval({x: value}),
                               scipy.special.log_softmax(value, axis=1), rtol=1e-12)
