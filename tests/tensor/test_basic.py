"""Building tensors: cast, alloc and friends, eye, join/split/stack, arange, dimension
changes and flatten, checked against NumPy, with shape inference and gradients."""
import numpy as np
import pytest

import symgraph as sg
import symgraph.tensor as T
from symgraph.tensor.basic import (Alloc, Join, MakeVector, NotScalarConstantError, Split,
                                   get_scalar_constant_value)
from symgraph.tensor.elemwise import DimShuffle
from tests.tensor.test_shape import check_infer_shape, check_shape_graph


def _random(rng, shape, dtype):
    if dtype == "bool":
        return rng.random(shape) > 0.5
    if np.dtype(dtype).kind in "iu":
        return rng.integers(0 if np.dtype(dtype).kind == "u" else -50, 50, size=shape).astype(dtype)
    if np.dtype(dtype).kind == "c":
        return (rng.normal(size=shape) + 1j * rng.normal(size=shape)).astype(dtype)
    return rng.normal(size=shape).astype(dtype)


# -- cast -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("src,dst", [("float64", "int32"), ("int16", "float32"), ("bool", "int8"),
                                     ("float32", "bool"), ("int64", "uint8"),
                                     ("float64", "complex128"), ("uint8", "float64")])
def test_cast_matches_numpy(rng, src, dst):
    value = _random(rng, (3, 4), src)
    x = T.tensor(src, (None, None))
    out = T.cast(x, dst)
    assert out.dtype == dst
    np.testing.assert_array_equal(out.eval({x: value}), value.astype(dst))


def test_cast_identity_and_floatx():
    x = T.fvector()
    assert T.cast(x, "float32") is x
    with sg.config.change_flags(floatX="float32"):
        assert T.cast(T.ivector(), "floatX").dtype == "float32"
    assert x.astype("float64").dtype == "float64"


def test_cast_grad(rng):
    sg.verify_grad(lambda v: T.cast(v, "float32").astype("float64") * 2,
                   [rng.normal(size=(3,))], rng=rng, eps=1e-2, abs_tol=1e-3, rel_tol=1e-3)
    x = T.dvector("x")
    g = sg.grad(T.cast(x, "int32").sum().astype("float64") + x.sum(), x)
    assert g.eval({x: np.array([0.5, 1.5])}).tolist() == [1.0, 1.0]  # ints carry no gradient


# -- alloc and its wrappers -----------------------------------------------------------------------
@pytest.mark.parametrize("value_shape,shape", [((), (2, 3)), ((3,), (2, 3)), ((1, 3), (4, 3)),
                                               ((2, 1), (2, 5)), ((), (0, 3)), ((3,), (1, 0, 3))])
def test_alloc_broadcasts_value(rng, value_shape, shape):
    v = T.tensor("float64", (None,) * len(value_shape), name="v")
    value = rng.normal(size=value_shape)
    out = T.alloc(v, *shape)
    assert out.type.shape == shape
    result = out.eval({v: value})
    np.testing.assert_array_equal(result, np.broadcast_to(value, shape))
    result[...] = 7.0  # a fresh array, not a broadcast view
    check_infer_shape(out, [v], [value])


def test_alloc_symbolic_shape_and_grad(rng):
    v = T.dvector("v")
    n = T.lscalar("n")
    out = T.alloc(v, n, 3)
    assert out.type.shape == (None, 3)
    value = rng.normal(size=3)
    np.testing.assert_array_equal(out.eval({v: value, n: 4}), np.tile(value, (4, 1)))
    check_infer_shape(out, [v, n], [value, 2])
    sg.verify_grad(lambda w: T.alloc(w, 4, 3), [rng.normal(size=(3,))], rng=rng)
    sg.verify_grad(lambda w: T.alloc(w, 2, 4, 3), [rng.normal(size=(1, 3))], rng=rng)
    sg.verify_grad(lambda w: T.alloc(w, 2, 3), [rng.normal(size=())], rng=rng)


def test_alloc_rop(rng):
    v, ev = T.dvectors("v", "ev")
    r = sg.Rop(T.alloc(v, 2, 3), v, ev)
    e = rng.normal(size=3)
    np.testing.assert_array_equal(r.eval({v: np.ones(3), ev: e}), np.tile(e, (2, 1)))


def test_alloc_errors():
    with pytest.raises(ValueError):
        T.alloc(np.zeros((2, 3)), 3)
    with pytest.raises(TypeError):
        T.alloc(1.0, 2.5)
    x = T.dvector("x")
    with pytest.raises(ValueError, match="Alloc"):
        sg.function([x], T.alloc(x, 2, 3))(np.zeros(4))


@pytest.mark.parametrize("dtype", ["float32", "int16", "bool", "complex64"])
def test_zeros_ones_full(dtype):
    n = T.lscalar("n")
    z = T.zeros((2, n), dtype=dtype)
    o = T.ones((n,), dtype=dtype)
    assert z.dtype == o.dtype == dtype
    np.testing.assert_array_equal(z.eval({n: 3}), np.zeros((2, 3), dtype))
    np.testing.assert_array_equal(o.eval({n: 0}), np.ones((0,), dtype))
    f = T.full((2, 2), 1, dtype=dtype)
    np.testing.assert_array_equal(f.eval(), np.full((2, 2), 1, dtype))
    assert T.zeros(4).dtype == sg.config.floatX
    assert T.zeros((), dtype=dtype).eval().shape == ()


def test_zeros_from_symbolic_shape_vector(rng):
    x = T.dtensor3("x")
    value = rng.normal(size=(2, 0, 4))
    assert T.zeros(x.shape).eval({x: value}).shape == (2, 0, 4)
    assert T.ones(x.shape[1:], dtype="int8").eval({x: value}).shape == (0, 4)
    with pytest.raises(ValueError):
        T.zeros(T.lvector())


@pytest.mark.parametrize("dtype", ["float64", "int32", "bool"])
def test_zeros_like_ones_like_fill(rng, dtype):
    x = T.tensor(dtype, (None, None), name="x")
    value = _random(rng, (3, 2), dtype)
    np.testing.assert_array_equal(T.zeros_like(x).eval({x: value}), np.zeros_like(value))
    np.testing.assert_array_equal(T.ones_like(x).eval({x: value}), np.ones_like(value))
    np.testing.assert_array_equal(x.zeros_like(dtype="float32").eval({x: value}),
                                  np.zeros((3, 2), "float32"))
    np.testing.assert_array_equal(T.fill(x, 2.5).eval({x: value}), np.full((3, 2), 2.5))
    v = T.dvector("v")
    row = rng.normal(size=2)
    np.testing.assert_array_equal(T.fill(x, v).eval({x: value, v: row}),
                                  np.broadcast_to(row, (3, 2)))


def test_full_with_symbolic_value(rng):
    s = T.dscalar("s")
    out = T.full((2, 3), s)
    assert out.eval({s: 1.5}).tolist() == [[1.5] * 3] * 2
    sg.verify_grad(lambda w: T.full((2, 3), w), [rng.normal(size=())], rng=rng)


# -- eye ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("n,m,k", [(3, None, 0), (3, 5, 1), (4, 2, -1), (2, 3, 5), (0, 3, 0),
                                   (1, 1, 0)])
def test_eye_matches_numpy(n, m, k):
    np.testing.assert_array_equal(T.eye(n, m, k).eval(), np.eye(n, m, k))
    assert T.eye(n, m, k).type.shape == np.eye(n, m, k).shape


def test_eye_symbolic(rng):
    n, m, k = T.lscalars("n", "m", "k")
    out = T.eye(n, m, k, dtype="int32")
    assert out.dtype == "int32"
    f = sg.function([n, m, k], out)
    for args in [(3, 4, 0), (2, 2, -1), (4, 1, 2)]:
        np.testing.assert_array_equal(f(*args), np.eye(*args, dtype="int32"))
        check_infer_shape(out, [n, m, k], list(args))
    with pytest.raises(TypeError):
        T.eye(2.5)


# -- join, concatenate, stack ---------------------------------------------------------------------
@pytest.mark.parametrize("shapes,axis", [([(2, 3), (4, 3)], 0), ([(2, 3), (2, 1), (2, 0)], 1),
                                         ([(2, 3), (2, 3)], -1), ([(0, 3), (1, 3)], 0),
                                         ([(1, 2, 3), (1, 2, 3), (1, 2, 3)], 2)])
def test_concatenate_and_join(rng, shapes, axis):
    xs = [T.tensor("float64", (None,) * len(s), name=f"x{i}") for i, s in enumerate(shapes)]
    values = [rng.normal(size=s) for s in shapes]
    expected = np.concatenate(values, axis=axis)
    for out in (T.concatenate(xs, axis=axis), T.join(axis, *xs)):
        np.testing.assert_array_equal(out.eval(dict(zip(xs, values))), expected)
        check_infer_shape(out, xs, values)


def test_join_static_shapes_and_dtypes():
    a = T.tensor("float32", (2, 3))
    b = T.tensor("int64", (4, None))
    out = T.join(0, a, b)
    assert out.type.shape == (6, 3) and out.dtype == "float64"
    assert T.join(0, a) is a
    with pytest.raises(ValueError):
        T.join(0, a, T.tensor("float32", (2, 4)))
    with pytest.raises(TypeError):
        T.join(0, a, T.fvector())
    with pytest.raises(ValueError):
        T.join(0, T.dscalar(), T.dscalar())
    with pytest.raises(ValueError):
        T.concatenate([a, a], axis=2)


def test_join_runtime_mismatch_names_op(rng):
    a, b = T.dmatrices("a", "b")
    f = sg.function([a, b], T.join(0, a, b))
    with pytest.raises(ValueError, match="Join"):
        f(rng.normal(size=(2, 3)), rng.normal(size=(2, 4)))


def test_join_grad_and_rop(rng):
    sg.verify_grad(lambda a, b: T.join(1, a, b), [rng.normal(size=(2, 3)),
                                                  rng.normal(size=(2, 2))], rng=rng)
    sg.verify_grad(lambda a, b, c: T.concatenate([a, b, c], axis=0) ** 2,
                   [rng.normal(size=(1, 2)), rng.normal(size=(0, 2)), rng.normal(size=(3, 2))],
                   rng=rng)
    a, b, ea, eb = T.dvectors("a", "b", "ea", "eb")
    r = sg.Rop(T.join(0, a, b), [a, b], [ea, eb])
    assert r.eval({a: np.ones(1), b: np.ones(2), ea: [3.0], eb: [4.0, 5.0]}).tolist() == \
        [3.0, 4.0, 5.0]


def test_join_grad_with_integer_input(rng):
    a = T.dvector("a")
    i = T.lvector("i")
    g = sg.grad((T.join(0, a, i) * np.arange(5.0)).sum(), a)
    assert g.eval({a: rng.normal(size=2), i: np.array([1, 2, 3])}).tolist() == [0.0, 1.0]


@pytest.mark.parametrize("axis", [0, 1, 2, -1, -3])
def test_stack(rng, axis):
    xs = T.dmatrices("a", "b", "c")
    values = [rng.normal(size=(2, 3)) for _ in xs]
    out = T.stack(list(xs), axis=axis)
    np.testing.assert_array_equal(out.eval(dict(zip(xs, values))), np.stack(values, axis=axis))
    sg.verify_grad(lambda a, b: T.stack([a, b], axis=axis), values[:2], rng=rng)


def test_stack_scalars_and_errors():
    i, j = T.lscalars("i", "j")
    s = T.stack([i, j])
    assert isinstance(s.owner.op, MakeVector)
    assert s.eval({i: 4, j: -2}).tolist() == [4, -2]
    assert T.stack([i, 2.5]).dtype == "float64"
    assert T.stack([i, j], axis=-1).eval({i: 1, j: 2}).tolist() == [1, 2]
    with pytest.raises(ValueError):
        T.stack([i, j], axis=1)
    with pytest.raises(TypeError):
        T.stack(i)


def test_make_vector(rng):
    a, b = T.dscalars("a", "b")
    v = MakeVector("float64")(a, b)
    assert v.type.shape == (2,)
    assert v.eval({a: 1.0, b: 2.0}).tolist() == [1.0, 2.0]
    check_infer_shape(v, [a, b], [1.0, 2.0])
    sg.verify_grad(lambda p, q: MakeVector("float64")(p, q) * [2.0, 3.0],
                   [rng.normal(size=()), rng.normal(size=())], rng=rng)


# -- split ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("shape,sizes,axis", [((5, 3), [2, 3], 0), ((2, 6), [1, 0, 5], 1),
                                              ((4, 2), [4], 0), ((3, 4), [2, 2], -1),
                                              ((0, 2), [0, 0], 0)])
def test_split_matches_numpy(rng, shape, sizes, axis):
    x = T.dmatrix("x")
    value = rng.normal(size=shape)
    outs = T.split(x, sizes, len(sizes), axis)
    assert isinstance(outs, list) and len(outs) == len(sizes)
    results = sg.function([x], outs)(value)
    expected = np.split(value, np.cumsum(sizes)[:-1], axis=axis)
    for r, e in zip(results, expected):
        np.testing.assert_array_equal(r, e)
    check_infer_shape(outs[0], [x], [value])


def test_split_symbolic_sizes(rng):
    x = T.dmatrix("x")
    k = T.lscalar("k")
    outs = T.split(x, [k, 5 - k], 2, 0)
    f = sg.function([x, k], outs)
    value = rng.normal(size=(5, 2))
    for kv in range(6):
        first, second = f(value, kv)
        np.testing.assert_array_equal(first, value[:kv])
        np.testing.assert_array_equal(second, value[kv:])
    check_infer_shape(outs[0], [x, k], [value, 2])
    sizes = T.lvector("sizes")
    outs = T.split(x, sizes, 3, 1)
    results = sg.function([x, sizes], outs)(rng.normal(size=(2, 6)), np.array([1, 2, 3]))
    assert [r.shape for r in results] == [(2, 1), (2, 2), (2, 3)]


def test_split_bad_sizes_name_the_op(rng):
    x = T.dmatrix("x")
    k = T.lscalar("k")
    f = sg.function([x, k], T.split(x, [k, 2], 2, 0))
    with pytest.raises(ValueError, match="Split"):
        f(rng.normal(size=(5, 2)), 1)


def test_split_grad(rng):
    sg.verify_grad(lambda v: T.split(v, [1, 3], 2, 1)[1], [rng.normal(size=(2, 4))], rng=rng)
    sg.verify_grad(lambda v: T.split(v, [2, 1], 2, 0)[0] * 2 + T.split(v, [2, 1], 2, 0)[0],
                   [rng.normal(size=(3, 2))], rng=rng)

    def both(v):
        a, b = T.split(v, [2, 2], 2, 0)
        return a * b
    sg.verify_grad(both, [rng.normal(size=(4,))], rng=rng)
    assert Split(2, 0) == Split(2, 0) and Split(2, 0) != Split(2, 1)


# -- arange ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("args", [(5,), (2, 7), (7, 2, -2), (0, 1, 0.25), (1.5, -1.0, -0.5),
                                  (3, 3), (5, 2), (-4, 4, 3)])
def test_arange_constant(args):
    out = T.arange(*args)
    expected = np.arange(*args)
    np.testing.assert_allclose(out.eval(), expected)
    assert out.type.shape == expected.shape


def test_arange_symbolic_bounds():
    start, stop, step = T.lscalars("start", "stop", "step")
    out = T.arange(start, stop, step)
    f = sg.function([start, stop, step], out)
    for args in [(0, 10, 3), (10, 0, -3), (5, 5, 1), (-3, 4, 2), (4, -3, 2), (0, 1, 7)]:
        np.testing.assert_array_equal(f(*args), np.arange(*args))
        check_infer_shape(out, [start, stop, step], list(args))
    n = T.iscalar("n")
    assert T.arange(n).eval({n: 4}).tolist() == [0, 1, 2, 3]
    a, b = T.dscalars("a", "b")
    fl = T.arange(a, b, 0.3)
    np.testing.assert_allclose(fl.eval({a: -0.5, b: 1.0}), np.arange(-0.5, 1.0, 0.3))
    check_infer_shape(fl, [a, b], [-0.5, 1.0])
    assert T.arange(n, dtype="float32").dtype == "float32"


def test_arange_errors():
    with pytest.raises(ValueError, match="step"):
        T.arange(0, 5, 0)
    with pytest.raises(TypeError):
        T.arange(T.lvector())


def test_arange_grad_of_float_bounds(rng):
    """out[k] = start + k * step: d/dstart = sum(g), d/dstep = sum(k g), d/dstop = 0."""
    w = rng.normal(size=4)
    sg.verify_grad(lambda a, s: T.arange(a, 1.0, s) * w,
                   [np.array(0.1), np.array(0.25)], rng=rng)
    a, b = T.dscalars("a", "b")
    gb = sg.grad(T.arange(a, b, 0.5).sum(), b)
    assert float(gb.eval({a: 0.0, b: 2.0})) == 0.0


# -- dimshuffle and friends -----------------------------------------------------------------------
@pytest.mark.parametrize("pattern", [(1, 0), ("x", 0, 1), (0, "x", 1, "x"), (1, "x", 0)])
def test_dimshuffle(rng, pattern):
    x = T.dmatrix("x")
    value = rng.normal(size=(2, 3))
    out = x.dimshuffle(*pattern)
    kept = [p for p in pattern if p != "x"]
    expected = value.transpose(kept)
    for pos, p in enumerate(pattern):
        if p == "x":
            expected = np.expand_dims(expected, pos)
    np.testing.assert_array_equal(out.eval({x: value}), expected)
    check_infer_shape(out, [x], [value])
    sg.verify_grad(lambda v: v.dimshuffle(*pattern), [value], rng=rng)


def test_dimshuffle_drops_broadcastable_dims(rng):
    x = T.tensor("float64", (None, 1, None), name="x")
    value = rng.normal(size=(2, 1, 3))
    out = x.dimshuffle(2, 0)
    np.testing.assert_array_equal(out.eval({x: value}), value[:, 0, :].T)
    sg.verify_grad(lambda v: T.specify_shape(v, (None, 1, None)).dimshuffle(2, "x", 0),
                   [value], rng=rng)
    y = T.dtensor3("y")
    f = sg.function([y], T.squeeze(y, 1))
    with pytest.raises(ValueError, match="DimShuffle"):
        f(rng.normal(size=(2, 2, 3)))
    with pytest.raises(ValueError):
        T.tensor("float64", (2, 3)).dimshuffle(1)
    with pytest.raises(ValueError):
        DimShuffle(2, (0, 0))


@pytest.mark.parametrize("axes", [None, (0, 2, 1), (2, 0, 1), (-1, 0, 1)])
def test_transpose(rng, axes):
    x = T.dtensor3("x")
    value = rng.normal(size=(2, 3, 4))
    np.testing.assert_array_equal(T.transpose(x, axes).eval({x: value}),
                                  np.transpose(value, axes))
    if axes is not None:
        np.testing.assert_array_equal(x.transpose(*axes).eval({x: value}),
                                      value.transpose(*axes))
    np.testing.assert_array_equal(x.T.eval({x: value}), value.T)
    sg.verify_grad(lambda v: T.transpose(v, axes), [value], rng=rng)


def test_transpose_errors():
    x = T.dtensor3()
    with pytest.raises(ValueError):
        T.transpose(x, (0, 1))
    with pytest.raises(ValueError):
        T.transpose(x, (0, 1, 3))
    with pytest.raises(ValueError):
        T.transpose(x, (0, 1, 1))


@pytest.mark.parametrize("a,b", [(0, 1), (0, -1), (2, 1), (1, 1)])
def test_swapaxes(rng, a, b):
    x = T.dtensor3("x")
    value = rng.normal(size=(2, 3, 4))
    out = T.swapaxes(x, a, b)
    np.testing.assert_array_equal(out.eval({x: value}), np.swapaxes(value, a, b))
    with pytest.raises(ValueError):
        T.swapaxes(x, 0, 3)


@pytest.mark.parametrize("axis", [0, 1, 2, -1, -3, (0, 1), (0, -1), (1, 3)])
def test_expand_dims(rng, axis):
    x = T.dmatrix("x")
    value = rng.normal(size=(2, 3))
    out = T.expand_dims(x, axis)
    np.testing.assert_array_equal(out.eval({x: value}), np.expand_dims(value, axis))
    assert out.type.broadcastable == tuple(s == 1 for s in np.expand_dims(value, axis).shape)


def test_expand_dims_errors():
    with pytest.raises(ValueError):
        T.expand_dims(T.dmatrix(), 3)
    with pytest.raises(ValueError):
        T.expand_dims(T.dmatrix(), (0, 0))


def test_squeeze(rng):
    x = T.tensor("float64", (1, None, 1, None), name="x")
    value = rng.normal(size=(1, 3, 1, 1))
    np.testing.assert_array_equal(T.squeeze(x).eval({x: value}), value.reshape(3, 1))
    np.testing.assert_array_equal(x.squeeze(axis=3).eval({x: value}), np.squeeze(value, 3))
    np.testing.assert_array_equal(T.squeeze(x, (0, -2)).eval({x: value}),
                                  np.squeeze(value, (0, 2)))
    with pytest.raises(ValueError):
        T.squeeze(x, 4)
    with pytest.raises(ValueError):
        T.squeeze(T.tensor("float64", (2, 3)), 0)
    sg.verify_grad(lambda v: T.squeeze(T.specify_shape(v, (1, None))) * 2,
                   [rng.normal(size=(1, 4))], rng=rng)


# -- flatten --------------------------------------------------------------------------------------
@pytest.mark.parametrize("shape,ndim", [((2, 3, 4), 1), ((2, 3, 4), 2), ((2, 3, 4), 3),
                                        ((0, 3, 4), 2), ((5,), 1), ((), 1), ((2, 1, 0), 1)])
def test_flatten(rng, shape, ndim):
    x = T.tensor("float64", (None,) * len(shape), name="x")
    value = rng.normal(size=shape)
    out = T.flatten(x, ndim)
    expected = value.reshape(shape[:ndim - 1] + (int(np.prod(shape[ndim - 1:])),))
    assert out.ndim == ndim
    np.testing.assert_array_equal(out.eval({x: value}), expected)
    check_shape_graph(out, [x], [value], expected.shape)
    if out is not x:
        check_infer_shape(out, [x], [value])


def test_flatten_errors_and_grad(rng):
    with pytest.raises(ValueError):
        T.flatten(T.dmatrix(), 3)
    with pytest.raises(ValueError):
        T.flatten(T.dmatrix(), 0)
    sg.verify_grad(lambda v: T.flatten(v, 2) * np.arange(6.0), [rng.normal(size=(1, 2, 3))],
                   rng=rng)


# -- scalar constants -----------------------------------------------------------------------------
def test_get_scalar_constant_value():
    assert get_scalar_constant_value(T.as_tensor(3)) == 3
    assert get_scalar_constant_value(T.cast(T.as_tensor(2.0), "int32")) == 2.0
    assert get_scalar_constant_value(T.tensor("float64", (None, 5)).shape[1]) == 5
    assert get_scalar_constant_value(T.stack([T.as_tensor(4), T.lscalar()])[0]) == 4
    with pytest.raises(NotScalarConstantError):
        get_scalar_constant_value(T.lscalar())
    with pytest.raises(NotScalarConstantError):
        get_scalar_constant_value(T.as_tensor([1, 2]))
    with pytest.raises(NotScalarConstantError):
        get_scalar_constant_value(T.dmatrix().shape[0])


def test_ops_compare_by_props():
    assert Join(0) == Join(0) and Join(0) != Join(1)
    assert hash(Alloc()) == hash(Alloc())
    assert DimShuffle(2, (1, 0)) == DimShuffle(2, (1, 0))
