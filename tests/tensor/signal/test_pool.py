"""Pooling (``tensor.signal.pool``) against a plain loop over windows, gradients by finite
differences, and the global / k-max helpers."""
import itertools

import numpy as np
import pytest

import symgraph as sg
import symgraph.tensor as T
from symgraph.gradient import verify_grad
from symgraph.tensor.signal.pool import (AveragePoolGrad, MaxPoolGrad, MaxPoolGradGrad, Pool,
                                         global_average_pool, global_max_pool, k_max_pool,
                                         max_pool_2d_same_size, pool_2d)
from tests.tensor.test_shape import check_infer_shape

MODES = ["max", "sum", "average_inc_pad", "average_exc_pad"]
# (image shape, ws, stride, pad, ignore_border): divisible and ragged images, overlapping
# and gapped windows, padding, windows larger than the image
GEOMETRIES = [
    ((4, 6), (2, 2), None, (0, 0), True),
    ((5, 7), (2, 3), None, (0, 0), False),
    ((5, 7), (2, 3), None, (0, 0), True),
    ((6, 5), (3, 2), (1, 1), (0, 0), False),
    ((6, 5), (3, 3), (2, 1), (0, 0), True),
    ((7, 6), (2, 2), (3, 3), (0, 0), False),
    ((5, 6), (3, 3), (2, 2), (1, 2), True),
    ((4, 5), (3, 2), (1, 1), (2, 1), True),
    ((2, 3), (4, 4), (1, 1), (0, 0), False),
]
GEOMETRY_IDS = [f"{g[0]}-ws{g[1]}-st{g[2]}-pad{g[3]}-ib{int(g[4])}" for g in GEOMETRIES]
# The sweeps check perform's semantics under the Python linker (no C module to build per
# case); tests/link/c/test_pool.py checks the C code against perform.
PY = sg.Mode(linker="py")


def _window_count(size, ws, stride, ignore_border):
    """Windows along an axis: those that fit, or (ignore_border=False) windows in order
    until one reaches the last cell."""
    n = 0
    while True:
        start = n * stride
        if ignore_border:
            if start + ws > size:
                return n
        elif start >= size:
            return n
        n += 1
        if not ignore_border and start + ws >= size:
            return n


def reference_pool(x, ws, stride, pad, ignore_border, mode):
    """Theano's window rule, one window at a time."""
    stride = ws if stride is None else stride
    h, w = x.shape[-2:]
    rows, cols = h + 2 * pad[0], w + 2 * pad[1]
    padded = np.zeros(x.shape[:-2] + (rows, cols), dtype=x.dtype)
    padded[..., pad[0]:pad[0] + h, pad[1]:pad[1] + w] = x
    n_r = _window_count(rows, ws[0], stride[0], ignore_border)
    n_c = _window_count(cols, ws[1], stride[1], ignore_border)
    out = np.empty(x.shape[:-2] + (n_r, n_c), dtype=x.dtype)
    for lead in np.ndindex(*x.shape[:-2]):
        for i, j in itertools.product(range(n_r), range(n_c)):
            r0, c0 = i * stride[0], j * stride[1]
            r1, c1 = min(r0 + ws[0], rows), min(c0 + ws[1], cols)
            if mode != "average_inc_pad":  # the padding takes no part
                r0, c0 = max(r0, pad[0]), max(c0, pad[1])
                r1, c1 = min(r1, pad[0] + h), min(c1, pad[1] + w)
            window = padded[lead + (slice(r0, r1), slice(c0, c1))]
            reduce = {"max": np.max, "sum": np.sum}.get(mode, np.mean)
            out[lead + (i, j)] = reduce(window)
    return out


@pytest.mark.parametrize("geometry", GEOMETRIES, ids=GEOMETRY_IDS)
@pytest.mark.parametrize("mode", MODES)
def test_pool_matches_loop_reference(rng, geometry, mode):
    image, ws, stride, pad, ignore_border = geometry
    x = T.tensor4("x")
    value = rng.standard_normal((2, 3) + image)
    out = pool_2d(x, ws, ignore_border=ignore_border, stride=stride, pad=pad, mode=mode)
    got = sg.function([x], out, mode=PY)(value)
    want = reference_pool(value, ws, stride, pad, ignore_border, mode)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("ndim", [2, 3, 5])
@pytest.mark.parametrize("mode", ["max", "average_exc_pad"])
def test_pool_over_last_two_axes_of_any_rank(rng, ndim, mode):
    x = T.tensor("float32", (None,) * ndim, name="x")
    value = rng.standard_normal((2, 3, 1)[:ndim - 2] + (5, 6)).astype("float32")
    out = sg.function([x], pool_2d(x, (2, 3), ignore_border=False, mode=mode))(value)
    assert out.dtype == np.float32
    want = reference_pool(value, (2, 3), None, (0, 0), False, mode)
    np.testing.assert_allclose(out, want, rtol=1e-6)


def test_integer_input():
    value = np.arange(-20, 16, dtype="int32").reshape(6, 6)
    x = T.imatrix("x")
    got = sg.function([x], pool_2d(x, (2, 2), pad=(1, 1)))(value)
    assert got.dtype == np.int32
    np.testing.assert_array_equal(got, reference_pool(value, (2, 2), None, (1, 1), True, "max"))
    average = pool_2d(x, (3, 3), ignore_border=True, mode="average_inc_pad")  # cast to float
    assert average.dtype == "float64"
    np.testing.assert_allclose(sg.function([x], average)(value),
                               reference_pool(value.astype(float), (3, 3), None, (0, 0), True,
                                              "average_inc_pad"))


def test_static_and_inferred_shapes(rng):
    x = T.tensor("float64", (2, None, 7, 5), name="x")
    out = pool_2d(x, (3, 2), ignore_border=False, stride=(2, 1))
    assert out.type.shape == (2, None, 3, 4)
    for mode in ["max", "average_exc_pad"]:  # MaxPoolGrad and AveragePoolGrad
        y = T.tensor4("y")
        pooled = pool_2d(y, (3, 3), stride=(2, 1), pad=(1, 2), mode=mode)
        check_infer_shape(pooled, [y], [rng.standard_normal((2, 1, 6, 5))])
        g = sg.grad(pooled.sum(), y)
        check_infer_shape(g, [y], [rng.standard_normal((2, 1, 6, 5))])


def test_theano_argument_names_and_defaults(rng):
    x = T.tensor4("x")
    value = rng.standard_normal((1, 2, 5, 5))
    f = sg.function([x], [pool_2d(x, ds=(2, 2), st=(1, 1), padding=(1, 1)),
                          pool_2d(x, (2, 2), ignore_border=True)])
    old_names, default = f(value)
    np.testing.assert_allclose(old_names,
                               reference_pool(value, (2, 2), (1, 1), (1, 1), True, "max"))
    assert default.shape == (1, 2, 2, 2)  # ignore_border defaults to True


@pytest.mark.parametrize("kwargs", [
    dict(ws=(2, 2), ignore_border=False, pad=(1, 1)),  # padding needs ignore_border
    dict(ws=(2, 2), pad=(2, 0)),                        # pad >= ws
    dict(ws=(2, 2), ignore_border=True, mode="median"),
    dict(ws=(0, 2), ignore_border=True),
])
def test_bad_parameters_are_refused(kwargs):
    with pytest.raises(ValueError):
        pool_2d(T.tensor4("x"), **kwargs)


def test_wrong_gradient_shape_is_reported(rng):
    x, gz = T.tensor4("x"), T.tensor4("gz")
    f = sg.function([x, gz], AveragePoolGrad((2, 2), mode="sum")(x, gz))
    with pytest.raises(ValueError, match="gz has (shape|images)"):
        f(rng.standard_normal((1, 1, 4, 4)), rng.standard_normal((1, 1, 3, 2)))


# -- gradients -----------------------------------------------------------------------------------
@pytest.mark.parametrize("geometry", GEOMETRIES[1:8], ids=GEOMETRY_IDS[1:8])
@pytest.mark.parametrize("mode", MODES)
def test_verify_grad(rng, geometry, mode):
    image, ws, stride, pad, ignore_border = geometry
    value = rng.standard_normal((1, 2) + image)
    verify_grad(lambda x: pool_2d(x, ws, ignore_border, stride, pad, mode), [value], rng=rng,
                n_tests=1, mode=PY)


@pytest.mark.parametrize("mode", MODES)
def test_second_order(rng, mode):
    """grad of grad: through MaxPoolGradGrad (max) or Pool again (the linear modes)."""
    def gradient(x):
        pooled = pool_2d(x, (3, 2), stride=(2, 1), pad=(1, 1), mode=mode)
        return sg.grad((pooled ** 2).sum(), x)

    verify_grad(gradient, [rng.standard_normal((1, 2, 5, 4))], rng=rng, n_tests=1, mode=PY)


def test_third_order_max(rng):
    """MaxPoolGradGrad differentiates to MaxPoolGrad (it is linear in its last input)."""
    x = rng.standard_normal((1, 1, 5, 5))
    maxout = reference_pool(x, (2, 2), (1, 1), (0, 0), False, "max")
    op = MaxPoolGradGrad((2, 2), ignore_border=False, stride=(1, 1))
    verify_grad(lambda gg: op(T.constant(x), T.constant(maxout), gg),
                [rng.standard_normal(x.shape)], rng=rng, n_tests=1)


def test_max_pool_gradient_values(rng):
    """Each window's gradient goes to its max, summed where windows overlap."""
    value = rng.standard_normal((1, 1, 4, 5))
    x = T.tensor4("x")
    weights = rng.standard_normal((1, 1, 3, 4))
    cost = (pool_2d(x, (2, 2), ignore_border=True, stride=(1, 1)) * weights).sum()
    got = sg.function([x], sg.grad(cost, x))(value)
    want = np.zeros_like(value)
    for i, j in np.ndindex(3, 4):
        window = value[0, 0, i:i + 2, j:j + 2]
        r, c = np.unravel_index(np.argmax(window), (2, 2))
        want[0, 0, i + r, j + c] += weights[0, 0, i, j]
    np.testing.assert_allclose(got, want, rtol=1e-12)


@pytest.mark.parametrize("mode", MODES)
def test_rop_matches_finite_differences(rng, mode):
    x, v = T.tensor4("x"), T.tensor4("v")
    out = pool_2d(x, (2, 3), stride=(1, 2), pad=(1, 1), mode=mode)
    rop = sg.function([x, v], sg.Rop(out, x, v), on_unused_input="ignore")
    pool = sg.function([x], out)
    value, direction = rng.standard_normal((2, 1, 5, 6)), rng.standard_normal((2, 1, 5, 6))
    eps = 1e-6
    numeric = (pool(value + eps * direction) - pool(value - eps * direction)) / (2 * eps)
    np.testing.assert_allclose(rop(value, direction), numeric, rtol=1e-5, atol=1e-6)


def test_max_pool_2d_same_size(rng):
    value = rng.standard_normal((2, 1, 4, 6))
    x = T.tensor4("x")
    got = sg.function([x], max_pool_2d_same_size(x, (2, 3)))(value)
    blocks = value.reshape(2, 1, 2, 2, 2, 3)
    is_max = blocks == blocks.max(axis=(3, 5), keepdims=True)
    np.testing.assert_array_equal(got, np.where(is_max, blocks, 0).reshape(value.shape))


def test_grad_ops_refuse_other_modes():
    with pytest.raises(ValueError):
        MaxPoolGrad((2, 2), mode="sum")
    with pytest.raises(ValueError):
        AveragePoolGrad((2, 2), mode="max")
    assert Pool((2, 2), mode="max_deterministic") == Pool((2, 2))


# -- global and k-max pooling --------------------------------------------------------------------
def test_global_pooling(rng):
    value = rng.standard_normal((3, 4, 5, 6))
    x = T.tensor4("x")
    f = sg.function([x], [global_max_pool(x), global_average_pool(x),
                          global_max_pool(x, axis=1, keepdims=True)])
    got_max, got_mean, got_channels = f(value)
    np.testing.assert_allclose(got_max, value.max(axis=(2, 3)))
    np.testing.assert_allclose(got_mean, value.mean(axis=(2, 3)), rtol=1e-12)
    np.testing.assert_allclose(got_channels, value.max(axis=1, keepdims=True))
    verify_grad(global_average_pool, [value], rng=rng, n_tests=1)
    verify_grad(global_max_pool, [value], rng=rng, n_tests=1)
    with pytest.raises(ValueError):
        global_max_pool(T.matrix("m"))


def reference_k_max(x, k, axis):
    order = np.argsort(-x, axis=axis, kind="stable")
    kept = np.sort(np.take(order, np.arange(k), axis=axis), axis=axis)
    return np.take_along_axis(x, kept, axis=axis)


@pytest.mark.parametrize("axis", [-1, 1])
def test_k_max_pool_values(rng, axis):
    value = rng.standard_normal((2, 7, 9))
    x = T.tensor3("x")
    got = sg.function([x], k_max_pool(x, 4, axis=axis))(value)
    np.testing.assert_array_equal(got, reference_k_max(value, 4, axis))


def test_k_max_pool_keeps_order_and_earliest_ties():
    x = T.dvector("x")
    f = sg.function([x], k_max_pool(x, 3))
    assert f(np.array([1.0, 5.0, 2.0, 5.0, 0.0, 5.0, 4.0])).tolist() == [5.0, 5.0, 5.0]
    assert f(np.array([2.0, 0.0, 2.0, 1.0, 2.0])).tolist() == [2.0, 2.0, 2.0]
    assert f(np.array([0.0, 3.0, 1.0, 2.0])).tolist() == [3.0, 1.0, 2.0]


def test_k_max_pool_gradient(rng):
    value = rng.standard_normal((3, 8))
    verify_grad(lambda x: k_max_pool(x, 3), [value], rng=rng, n_tests=1)
    x = T.dmatrix("x")
    g = sg.function([x], sg.grad(k_max_pool(x, 3).sum(), x))(value)
    kept = np.argsort(-value, axis=1)[:, :3]
    want = np.zeros_like(value)
    np.put_along_axis(want, kept, 1.0, axis=1)
    np.testing.assert_array_equal(g, want)


def test_k_max_pool_checks_k():
    with pytest.raises(ValueError):
        k_max_pool(T.tensor("float64", (2, 3), name="x"), 4)
    with pytest.raises(ValueError):
        k_max_pool(T.dvector("x"), 0)


def test_theano_08_downsample_module(rng):
    from symgraph.tensor.signal import downsample

    value = rng.standard_normal((2, 3, 5, 5))
    x = T.tensor4("x")
    got = sg.function([x], downsample.max_pool_2d(x, (2, 2), ignore_border=False))(value)
    np.testing.assert_array_equal(got, reference_pool(value, (2, 2), None, (0, 0), False,
                                                      "max"))


def test_ignore_border_defaults_to_theano_1_0s_false_with_a_warning():
    x = T.dmatrix("x")
    with pytest.warns(UserWarning, match="ignore_border not given"):
        out = pool_2d(x, (2, 2))
    assert sg.function([x], out)(np.ones((3, 3))).shape == (2, 2)
