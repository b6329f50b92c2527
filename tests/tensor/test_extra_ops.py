"""Array utilities: cumsum, cumprod, diff, repeat, tile, one_hot, checked against NumPy,
with shape inference, gradients and R-ops."""
import numpy as np
import pytest

import symgraph as sg
import symgraph.tensor as T
from symgraph.tensor.extra_ops import CumOp, Repeat, Tile
from tests.tensor.test_shape import check_infer_shape, check_shape_graph


def _random(rng, shape, dtype):
    if dtype == "bool":
        return rng.random(shape) > 0.5
    if np.dtype(dtype).kind in "iu":
        return rng.integers(0 if np.dtype(dtype).kind == "u" else -5, 6, size=shape).astype(dtype)
    return rng.normal(size=shape).astype(dtype)


def _variable(value, name="x"):
    return T.tensor(str(value.dtype), (None,) * value.ndim, name=name)


# -- cumsum / cumprod -----------------------------------------------------------------------------
@pytest.mark.parametrize("fn", ["cumsum", "cumprod"])
@pytest.mark.parametrize("shape,axis", [((3, 4), 0), ((3, 4), 1), ((3, 4), -1), ((3, 4), None),
                                        ((2, 0, 3), 1), ((2, 0, 3), None), ((1, 5), 0),
                                        ((6,), 0), ((), None), ((), 0)])
def test_cumulative_ops_match_numpy(rng, fn, shape, axis):
    value = rng.normal(size=shape)
    x = _variable(value)
    out = getattr(T, fn)(x, axis=axis)
    expected = getattr(np, fn)(value, axis=axis)
    np.testing.assert_allclose(out.eval({x: value}), expected, rtol=1e-12)
    check_infer_shape(out, [x], [value])
    check_shape_graph(out, [x], [value], expected.shape)


@pytest.mark.parametrize("dtype", ["bool", "int8", "uint16", "int32", "float32", "complex64"])
def test_cumulative_dtypes_follow_numpy(rng, dtype):
    value = _random(rng, (3, 4), dtype) if dtype != "complex64" else \
        (rng.normal(size=(3, 4)) + 1j).astype(dtype)
    x = _variable(value)
    for fn in ("cumsum", "cumprod"):
        out = getattr(T, fn)(x, axis=1)
        expected = getattr(np, fn)(value, axis=1)
        assert out.dtype == str(expected.dtype)
        np.testing.assert_allclose(out.eval({x: value}), expected, rtol=1e-5)


def test_cumsum_method_and_static_shapes():
    x = T.tensor("float64", (2, 3))
    assert x.cumsum().type.shape == (6,)
    assert x.cumsum(axis=1).type.shape == (2, 3)
    assert T.cumprod(T.dmatrix()).type.shape == (None,)
    with pytest.raises(ValueError):
        T.cumsum(x, axis=2)
    assert CumOp(0, "add") == CumOp(0, "add") and CumOp(0, "add") != CumOp(0, "mul")
    with pytest.raises(ValueError):
        CumOp(0, "max")


@pytest.mark.parametrize("axis", [0, 1, None])
def test_cumsum_grad_and_rop(rng, axis):
    value = rng.normal(size=(3, 4))
    sg.verify_grad(lambda v: T.cumsum(v, axis=axis), [value], rng=rng)
    x, ev = T.dmatrices("x", "ev")
    e = rng.normal(size=(3, 4))
    r = sg.Rop(T.cumsum(x, axis=axis), x, ev)
    np.testing.assert_allclose(r.eval({x: value, ev: e}), np.cumsum(e, axis=axis))


@pytest.mark.parametrize("axis", [0, 1, None])
def test_cumprod_grad_without_zeros(rng, axis):
    value = rng.uniform(0.5, 1.5, size=(3, 4)) * rng.choice([-1, 1], size=(3, 4))
    sg.verify_grad(lambda v: T.cumprod(v, axis=axis), [value], rng=rng)


@pytest.mark.parametrize("zeros", [[(0, 0)], [(1, 2)], [(1, 1), (1, 3)], [(0, 3), (2, 0)],
                                   [(2, 1), (2, 2), (2, 3)]])
def test_cumprod_grad_with_zeros_is_exact(rng, zeros):
    """Gradients at zeros are well defined (cumprod is a polynomial); check them."""
    value = rng.uniform(0.5, 1.5, size=(3, 4))
    for row, col in zeros:
        value[row, col] = 0.0
    sg.verify_grad(lambda v: T.cumprod(v, axis=1), [value], rng=rng)
    sg.verify_grad(lambda v: T.cumprod(v.T, axis=0), [value], rng=rng)
    sg.verify_grad(lambda v: T.cumprod(v), [value], rng=rng)


def test_cumprod_rop_and_second_derivative(rng):
    x, ev = T.dvectors("x", "ev")
    value = rng.uniform(0.5, 1.5, size=4)
    e = rng.normal(size=4)
    r = sg.Rop(T.cumprod(x), x, ev).eval({x: value, ev: e})
    step = 1e-6
    numeric = (np.cumprod(value + step * e) - np.cumprod(value - step * e)) / (2 * step)
    np.testing.assert_allclose(r, numeric, rtol=1e-6)
    h = sg.hessian(T.cumprod(x)[-1], x).eval({x: value})
    want = np.prod(value) / np.outer(value, value)
    np.fill_diagonal(want, 0.0)
    np.testing.assert_allclose(h, want, rtol=1e-8, atol=1e-12)


def test_cumulative_grad_of_integer_input_is_zero():
    i = T.lvector("i")
    x = T.dscalar("x")
    g = sg.grad((T.cumsum(i) * x).sum(), [x, i])
    assert float(g[0].eval({x: 1.0, i: np.array([1, 2, 3])})) == 10.0
    assert g[1].eval({i: np.array([1, 2, 3]), x: 1.0}).tolist() == [0.0, 0.0, 0.0]


# -- diff -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("shape,n,axis", [((6,), 1, -1), ((6,), 3, 0), ((4, 5), 1, 0),
                                          ((4, 5), 2, 1), ((4, 5), 0, 1), ((2, 1), 1, -1),
                                          ((3, 0), 1, 0), ((2, 3), 4, 1)])
def test_diff_matches_numpy(rng, shape, n, axis):
    value = rng.normal(size=shape)
    x = _variable(value)
    out = T.diff(x, n=n, axis=axis)
    expected = np.diff(value, n=n, axis=axis)
    np.testing.assert_allclose(out.eval({x: value}), expected)
    check_shape_graph(out, [x], [value], expected.shape)


@pytest.mark.parametrize("dtype", ["bool", "int8", "uint8", "float32"])
def test_diff_dtypes(rng, dtype):
    value = _random(rng, (7,), dtype)
    x = _variable(value)
    expected = np.diff(value)
    out = T.diff(x)
    assert out.dtype == str(expected.dtype)
    np.testing.assert_array_equal(out.eval({x: value}), expected)


def test_diff_errors_and_grad(rng):
    with pytest.raises(ValueError):
        T.diff(T.dscalar())
    with pytest.raises(ValueError):
        T.diff(T.dvector(), n=-1)
    with pytest.raises(ValueError):
        T.diff(T.dvector(), axis=1)
    sg.verify_grad(lambda v: T.diff(v, n=2, axis=0), [rng.normal(size=(5, 3))], rng=rng)
    sg.verify_grad(lambda v: T.diff(v) ** 2, [rng.normal(size=(6,))], rng=rng)


# -- repeat ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("shape,repeats,axis", [
    ((3, 4), 2, 0), ((3, 4), 3, 1), ((3, 4), [1, 0, 2], 0), ((3, 4), [2], 1), ((3, 4), 2, None),
    ((3, 4), 0, -1), ((0, 2), 3, 0), ((2, 2), [0, 0], 0), ((5,), [1, 2, 0, 1, 3], 0), ((), 4, None),
    ((2, 3), [1, 1, 1, 1, 1, 2], None),
])
def test_repeat_matches_numpy(rng, shape, repeats, axis):
    value = rng.normal(size=shape)
    x = _variable(value)
    out = T.repeat(x, repeats, axis=axis)
    expected = np.repeat(value, repeats, axis=axis)
    np.testing.assert_array_equal(out.eval({x: value}), expected)
    check_infer_shape(out, [x], [value])
    assert all(s is None or s == e for s, e in zip(out.type.shape, expected.shape))


def test_repeat_symbolic_repeats(rng):
    x = T.imatrix("x")
    r = T.lscalar("r")
    rv = T.lvector("rv")
    value = _random(rng, (3, 2), "int32")
    outs = [T.repeat(x, r, axis=0), x.repeat(rv, axis=1), T.repeat(x, r)]
    f = sg.function([x, r, rv], outs)
    for rs, rvec in [(2, np.array([1, 3])), (0, np.array([2])), (1, np.array([0, 0]))]:
        got = f(value, rs, rvec)
        np.testing.assert_array_equal(got[0], np.repeat(value, rs, axis=0))
        np.testing.assert_array_equal(got[1], np.repeat(value, rvec, axis=1))
        np.testing.assert_array_equal(got[2], np.repeat(value, rs))
        for out in outs:
            check_infer_shape(out, [x, r, rv], [value, rs, rvec])


def test_repeat_static_shapes_and_errors(rng):
    x = T.tensor("float64", (3, 2))
    assert T.repeat(x, 2, axis=0).type.shape == (6, 2)
    assert T.repeat(x, [1, 2], axis=1).type.shape == (3, 3)
    assert T.repeat(x, 2).type.shape == (12,)
    assert T.repeat(x, T.lscalar(), axis=0).type.shape == (None, 2)
    with pytest.raises(TypeError):
        T.repeat(x, 1.5)
    with pytest.raises(TypeError):
        T.repeat(x, np.ones((2, 2), dtype=int))
    with pytest.raises(ValueError):
        T.repeat(x, 2, axis=2)
    v = T.dvector("v")
    f = sg.function([v], T.repeat(v, [1, 2, 3]))
    with pytest.raises(ValueError, match="Repeat"):
        f(rng.normal(size=2))
    assert Repeat(0) == Repeat(0) and Repeat(0) != Repeat(None)


@pytest.mark.parametrize("repeats,axis", [(2, 0), (3, 1), ([1, 0, 2], 0), ([2, 1, 1, 3], 1),
                                          (2, None), ([2], 1)])
def test_repeat_grad_and_rop(rng, repeats, axis):
    value = rng.normal(size=(3, 4))
    sg.verify_grad(lambda v: T.repeat(v, repeats, axis=axis), [value], rng=rng)
    x, ev = T.dmatrices("x", "ev")
    e = rng.normal(size=(3, 4))
    r = sg.Rop(T.repeat(x, repeats, axis=axis), x, ev)
    np.testing.assert_array_equal(r.eval({x: value, ev: e}), np.repeat(e, repeats, axis=axis))


# -- tile -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("shape,reps", [((2, 3), (2, 1)), ((2, 3), (3,)), ((2, 3), 2),
                                        ((3,), (2, 2)), ((2, 3), (1, 2, 2)), ((2, 0), (2, 3)),
                                        ((2, 3), (0, 1)), ((), (3,)), ((1, 2, 1), (2, 1, 3))])
def test_tile_matches_numpy(rng, shape, reps):
    value = rng.normal(size=shape)
    x = _variable(value)
    out = T.tile(x, reps)
    expected = np.tile(value, reps)
    np.testing.assert_array_equal(out.eval({x: value}), expected)
    check_infer_shape(out, [x], [value])
    static = T.tile(T.tensor("float64", shape), reps)
    assert static.type.shape == expected.shape


def test_tile_symbolic_reps(rng):
    x = T.dmatrix("x")
    a, b = T.lscalars("a", "b")
    out = T.tile(x, (a, 2, b))
    assert out.type.shape == (None, None, None)
    value = rng.normal(size=(2, 3))
    f = sg.function([x, a, b], out)
    for av, bv in [(1, 1), (2, 3), (0, 2)]:
        np.testing.assert_array_equal(f(value, av, bv), np.tile(value, (av, 2, bv)))
        check_infer_shape(out, [x, a, b], [value, av, bv])
    with pytest.raises(ValueError, match="Tile"):
        f(value, -1, 1)
    with pytest.raises(ValueError):
        T.tile(x, T.lvector())
    with pytest.raises(TypeError):
        Tile()(x, T.as_tensor(np.array([1, 2, 3])))


@pytest.mark.parametrize("reps", [(2, 1), (1, 3), (2, 2, 2), (3,)])
def test_tile_grad_and_rop(rng, reps):
    value = rng.normal(size=(2, 3))
    sg.verify_grad(lambda v: T.tile(v, reps), [value], rng=rng)
    x, ev = T.dmatrices("x", "ev")
    e = rng.normal(size=(2, 3))
    r = sg.Rop(T.tile(x, reps), x, ev)
    np.testing.assert_array_equal(r.eval({x: value, ev: e}), np.tile(e, reps))


def test_tile_grad_with_symbolic_reps(rng):
    x = T.dmatrix("x")
    a = T.lscalar("a")
    g = sg.grad(T.tile(x, (a, 1)).sum(), x)
    assert g.eval({x: rng.normal(size=(2, 2)), a: 3}).tolist() == [[3.0, 3.0]] * 2


# -- one-hot --------------------------------------------------------------------------------------
def _numpy_one_hot(indices, depth, dtype):
    out = np.zeros(indices.shape + (depth,), dtype=dtype)
    for pos in np.ndindex(indices.shape):
        if 0 <= indices[pos] < depth:
            out[pos + (indices[pos],)] = 1
    return out


@pytest.mark.parametrize("shape", [(5,), (2, 3), (0,), ()])
@pytest.mark.parametrize("dtype", [None, "int8", "float32", "bool"])
def test_one_hot(rng, shape, dtype):
    indices = rng.integers(0, 4, size=shape)
    y = T.tensor("int64", (None,) * len(shape), name="y")
    out = T.one_hot(y, 4, dtype=dtype)
    want_dtype = dtype or sg.config.floatX
    assert out.dtype == want_dtype and out.type.shape[-1] == 4
    np.testing.assert_array_equal(out.eval({y: indices}),
                                  _numpy_one_hot(np.asarray(indices), 4, want_dtype))


def test_to_one_hot_theano_name(rng):
    y = T.ivector("y")
    k = T.lscalar("k")
    labels = rng.integers(0, 6, size=8).astype("int32")
    out = T.to_one_hot(y, k)
    assert out.ndim == 2 and out.dtype == sg.config.floatX
    np.testing.assert_array_equal(out.eval({y: labels, k: 6}), np.eye(6)[labels])
    # indices outside [0, depth) give all-zero rows
    np.testing.assert_array_equal(T.to_one_hot(y, 3, dtype="int32").eval(
        {y: np.array([-1, 2, 3], dtype="int32")}), [[0, 0, 0], [0, 0, 1], [0, 0, 0]])
    with pytest.raises(TypeError):
        T.to_one_hot(T.imatrix(), 3)
    with pytest.raises(TypeError):
        T.one_hot(T.dvector(), 3)
    with pytest.raises(TypeError):
        T.one_hot(y, 2.5)


def test_one_hot_times_weights_has_gradient(rng):
    y = T.lvector("y")
    w = T.dmatrix("w")
    cost = (T.one_hot(y, 3, dtype="float64") * w).sum()
    g = sg.grad(cost, w).eval({y: np.array([2, 0]), w: rng.normal(size=(2, 3))})
    np.testing.assert_array_equal(g, [[0, 0, 1], [1, 0, 0]])


def test_squeeze_and_expand_dims_are_exported():
    from symgraph.tensor import extra_ops

    assert "squeeze" in extra_ops.__all__ and extra_ops.expand_dims is T.expand_dims


@pytest.mark.parametrize("build", [
    lambda v: T.repeat(v, 3), lambda v: T.cumsum(v), lambda v: T.cumprod(v),
    lambda v: T.tile(v, (2, 3)), lambda v: T.diff(T.tile(v, (3,)))], ids=range(5))
@pytest.mark.parametrize("shape", [(), (0, 2), (1, 1)])
def test_grads_of_scalar_empty_and_size_one_inputs(rng, build, shape):
    sg.verify_grad(build, [rng.normal(size=shape)], rng=rng)
