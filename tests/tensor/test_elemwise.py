"""symgraph.tensor.elemwise: Elemwise broadcasting (static and at run time), Python-scalar
promotion, the TensorVariable operators, DimShuffle, SumToShape and gradient sum-back.

Values are checked against NumPy on fresh inputs from a generator seeded by the test's id.
"""
import numpy as np
import pytest

import symgraph as sg
import symgraph.tensor as T
from symgraph.gradient import Rop, verify_grad
from symgraph.scalar import basic as scal
from symgraph.tensor.basic import shape_i
from symgraph.tensor.elemwise import (BroadcastError, DimShuffle, Elemwise, SumToShape,
                                      broadcast_static_shape, sum_to_like)
from symgraph.tensor.type import TensorType


def run(inputs, outputs, *values):
    """Compile ``outputs`` of ``inputs`` and call the function on ``values``."""
    return sg.function(list(inputs), outputs, on_unused_input="ignore")(*values)


def symbolic(value, mode="bcast"):
    """A symbolic input for ``value``: ``exact`` static shape, ``bcast`` (only size-1
    dims static) or ``none`` (nothing static: size 1 broadcasts at run time)."""
    value = np.asarray(value)
    if mode == "exact":
        shape = value.shape
    elif mode == "bcast":
        shape = tuple(1 if s == 1 else None for s in value.shape)
    else:
        shape = (None,) * value.ndim
    return TensorType(value.dtype, shape).make_variable()


def assert_matches(actual, expected, dtype=None):
    actual, expected = np.asarray(actual), np.asarray(expected)
    if dtype is not None:
        assert actual.dtype == np.dtype(dtype), f"dtype {actual.dtype}, expected {dtype}"
    assert actual.shape == expected.shape, f"shape {actual.shape}, expected {expected.shape}"
    if actual.dtype.kind == "f":
        tol = 1e-5 if actual.dtype == np.float32 else 1e-12
        np.testing.assert_allclose(actual, expected, rtol=tol, atol=tol)
    else:
        np.testing.assert_array_equal(actual, expected)


def check_infer_shape(out, inputs, values):
    """The op's ``infer_shape`` gives the shape the output really has."""
    node = out.owner
    input_shapes = [tuple(shape_i(i, d) for d in range(i.ndim)) for i in node.inputs]
    (shape,) = node.op.infer_shape(None, node, input_shapes)
    assert len(shape) == out.ndim
    got = run(inputs, [T.as_tensor(s).astype("int64") for s in shape], *values) if shape else []
    assert tuple(int(s) for s in got) == run(inputs, out, *values).shape


# -- static broadcasting ---------------------------------------------------------------
@pytest.mark.parametrize("shapes,expected", [
    ([(3, 1), (1, 4)], (3, 4)),
    ([(2, 3), (3,)], (2, 3)),
    ([(), (2, 3)], (2, 3)),
    ([(None, 1), (1, 4)], (None, 4)),
    ([(None,), (1,)], (None,)),
    ([(None,), (None,)], (None,)),
    ([(None, 3), (1, None)], (None, 3)),
    ([(1, 1), (1,)], (1, 1)),
    ([(0, 3), (1, 3)], (0, 3)),
    ([(0,), (None,)], (0,)),
    ([(), ()], ()),
    ([(2, 1, 3), (4, 1), (1, 1, 1, 1)], (1, 2, 4, 3)),
])
def test_broadcast_static_shape(shapes, expected):
    assert broadcast_static_shape(shapes) == expected


@pytest.mark.parametrize("shapes", [[(3,), (4,)], [(2, 3), (3, 2)], [(0,), (2,)]])
def test_broadcast_static_shape_errors(shapes):
    with pytest.raises(BroadcastError, match="cannot broadcast"):
        broadcast_static_shape(shapes)
    with pytest.raises(BroadcastError):
        T.tensor("float64", shapes[0]) + T.tensor("float64", shapes[1])


def test_elemwise_output_type_and_left_padding():
    x = T.tensor("float32", (None, 1, 3))
    y = T.tensor("float32", (4, 1))
    out = x * y
    assert out.type == TensorType("float32", (None, 4, 3))
    assert [i.ndim for i in out.owner.inputs] == [3, 3]  # y was padded on the left
    assert (T.dscalar() + T.dscalar()).type == TensorType("float64", ())


def test_elemwise_wrong_number_of_inputs():
    with pytest.raises(TypeError):
        T.sub(T.dvector(), T.dvector(), T.dvector())
    with pytest.raises(TypeError):
        T.exp(T.dvector(), T.dvector())


def test_elemwise_equality_and_str():
    assert Elemwise(scal.add) == T.add
    assert hash(Elemwise(scal.add)) == hash(T.add)
    assert Elemwise(scal.add) != T.mul
    assert Elemwise(scal.add, {0: 0}) != T.add
    assert Elemwise(scal.add, {0: 0}).destroy_map == {0: [0]}
    assert str(T.exp) == "Elemwise{exp}"
    assert "inplace" in str(Elemwise(scal.exp, {0: 0}))


# -- values with broadcasting at run time --------------------------------------------------
PAIRS = [
    ((3, 1), (1, 4)), ((2, 3), (3,)), ((), (2, 3)), ((2, 3), ()), ((), ()), ((0, 3), (1, 3)),
    ((1, 0), (3, 1)), ((2, 1, 3), (4, 1)), ((1,), (5,)), ((1, 1), (1, 1)), ((4, 1), (4, 1)),
]


@pytest.mark.parametrize("shape_a,shape_b", PAIRS)
@pytest.mark.parametrize("mode", ["exact", "bcast", "none"])
def test_runtime_and_static_broadcasting(shape_a, shape_b, mode, rng):
    a, b = rng.uniform(-2, 2, shape_a), rng.uniform(-2, 2, shape_b)
    c = rng.uniform(-2, 2, shape_b[-1:])
    av, bv, cv = symbolic(a, mode), symbolic(b, mode), symbolic(c, mode)
    out = run([av, bv, cv], [av * bv + cv, T.maximum(av, bv), T.add(av, bv, cv)], a, b, c)
    assert_matches(out[0], a * b + c)
    assert_matches(out[1], np.maximum(a, b))
    assert_matches(out[2], a + b + c)
    check_infer_shape(av * bv, [av, bv], [a, b])


def test_runtime_broadcast_mismatch_is_an_error_naming_the_node(rng):
    a, b = T.dmatrix(), T.dmatrix()
    f = sg.function([a, b], a + b)
    with pytest.raises(ValueError, match="Elemwise"):
        f(np.ones((2, 3)), np.ones((3, 2)))
    f(np.ones((2, 3)), np.ones((2, 1)))  # size 1 broadcasts even though declared None


def test_size_0_dims_broadcast(rng):
    for a_shape, b_shape in [((0, 3), (1, 3)), ((0, 3), (1, 1)), ((2, 0), (2, 1)), ((0,), ())]:
        a, b = rng.uniform(size=a_shape), rng.uniform(size=b_shape)
        for mode in ("exact", "bcast", "none"):
            av, bv = symbolic(a, mode), symbolic(b, mode)
            out = run([av, bv], T.exp(av) - bv, a, b)
            assert_matches(out, np.exp(a) - b)


def test_zero_dim_inputs(rng):
    x, y = rng.uniform(1, 2), rng.uniform(1, 2)
    xv, yv = T.dscalar(), T.dscalar()
    out = run([xv, yv], xv ** yv + T.log(xv), x, y)
    assert out.shape == () and out.dtype == np.float64
    assert_matches(out, x ** y + np.log(x))
    m = rng.uniform(size=(2, 3))
    mv = T.dmatrix()
    assert_matches(run([xv, mv], xv * mv, x, m), x * m)


# -- Python scalars: weak constants -------------------------------------------------------
@pytest.mark.parametrize("dtype,build,np_build,expected", [
    ("float32", lambda x: x * 0.5, lambda x: x * 0.5, "float32"),
    ("float32", lambda x: 0.5 * x, lambda x: 0.5 * x, "float32"),
    ("float32", lambda x: x + 2 ** 40, lambda x: x + 2 ** 40, "float32"),
    ("float32", lambda x: x ** 2, lambda x: x ** 2, "float32"),
    ("float32", lambda x: 1.0 / x, lambda x: 1.0 / x, "float32"),
    ("int8", lambda x: x + 1, lambda x: x + 1, "int8"),
    ("int8", lambda x: x + 1000, lambda x: x.astype("int16") + 1000, "int16"),
    ("int8", lambda x: 1000 - x, lambda x: 1000 - x.astype("int16"), "int16"),
    ("int8", lambda x: x * 100000, lambda x: x.astype("int32") * 100000, "int32"),
    ("int8", lambda x: T.eq(x, 1000), lambda x: x.astype("int16") == 1000, "bool"),
    ("uint8", lambda x: x + 1000, lambda x: x.astype("uint16") + 1000, "uint16"),
    ("uint8", lambda x: x + -1, lambda x: x.astype("int16") - 1, "int16"),
    ("int32", lambda x: x * 0.5, lambda x: x * 0.5, "float64"),
    ("int32", lambda x: x / 2, lambda x: x / 2, "float64"),
    ("int32", lambda x: x // 2, lambda x: x // 2, "int32"),
    ("int64", lambda x: x + 2 ** 62, lambda x: x + 2 ** 62, "int64"),
    ("bool", lambda x: x + 1, lambda x: x + 1, "int64"),
    ("bool", lambda x: x & True, lambda x: x & True, "bool"),
    ("float32", lambda x: T.maximum(x, 0), lambda x: np.maximum(x, 0), "float32"),
    ("float32", lambda x: T.clip(x, -1, 1), lambda x: np.clip(x, -1, 1), "float32"),
    ("float32", lambda x: T.switch(x > 0, x, 0.1), lambda x: np.where(x > 0, x, 0.1), "float32"),
    ("int8", lambda x: T.switch(x > 0, x, 300), lambda x: np.where(x > 0, x, np.int16(300)),
     "int16"),
])
def test_python_scalars_take_the_other_operands_dtype(dtype, build, np_build, expected, rng):
    if dtype == "bool":
        x = rng.random(6) < 0.5
    else:
        x = (rng.uniform(-3, 3, 6) if dtype.startswith("float") else
             rng.integers(0 if dtype.startswith("u") else -5, 6, 6)).astype(dtype)
    xv = symbolic(x)
    out = run([xv], build(xv), x)
    want = np_build(x)
    assert_matches(out, np.asarray(want).astype(expected), expected)


def test_numpy_constants_are_not_weak(rng):
    x = rng.uniform(size=3).astype("float32")
    xv = T.fvector()
    assert (xv * T.constant(np.float64(0.5))).dtype == "float64"
    assert (xv * np.array(0.5)).dtype == "float64"
    assert (xv * T.constant(0.5, dtype="float32")).dtype == "float32"
    assert_matches(run([xv], xv * np.array(0.5), x), x * np.array(0.5), "float64")


def test_only_python_scalars_keep_default_dtypes():
    assert (T.as_tensor(2) + 3).dtype == "int64"
    assert (T.as_tensor(2.0) * 3).dtype == sg.config.floatX


# -- operators -------------------------------------------------------------------------------
FLOAT_OPERATORS = {
    "add": (lambda a, b: a + b), "sub": (lambda a, b: a - b), "mul": (lambda a, b: a * b),
    "truediv": (lambda a, b: a / b), "floordiv": (lambda a, b: a // b),
    "mod": (lambda a, b: a % b), "pow": (lambda a, b: abs(a) ** b),
    "lt": (lambda a, b: a < b), "le": (lambda a, b: a <= b), "gt": (lambda a, b: a > b),
    "ge": (lambda a, b: a >= b), "neg": (lambda a, b: -a), "pos": (lambda a, b: +a),
    "abs": (lambda a, b: abs(a)),
}


@pytest.mark.parametrize("name", list(FLOAT_OPERATORS))
@pytest.mark.parametrize("dtype", ["float32", "float64", "int32"])
def test_operators(name, dtype, rng):
    fn = FLOAT_OPERATORS[name]
    a = (rng.uniform(-3, 3, (2, 3)) if dtype != "int32" else rng.integers(-5, 6, (2, 3)))
    b = (rng.uniform(0.5, 2, (3,)) if dtype != "int32" else rng.integers(1, 4, (3,)))
    a, b = a.astype(dtype), b.astype(dtype)
    av, bv = symbolic(a), symbolic(b)
    want = fn(a, b)
    assert_matches(run([av, bv], fn(av, bv), a, b), want, want.dtype)


@pytest.mark.parametrize("build,np_build", [
    (lambda a: 2 - a, lambda a: 2 - a), (lambda a: 2.5 / a, lambda a: 2.5 / a),
    (lambda a: 2 ** a, lambda a: 2 ** a), (lambda a: 7 // a, lambda a: 7 // a),
    (lambda a: 7 % a, lambda a: 7 % a), (lambda a: 3 * a + 1, lambda a: 3 * a + 1),
    (lambda a: 1 < a, lambda a: 1 < a), (lambda a: 1 >= a, lambda a: 1 >= a),
])
@pytest.mark.parametrize("dtype", ["float32", "int16"])
def test_reflected_operators(build, np_build, dtype, rng):
    a = rng.integers(1, 5, (4,)).astype(dtype)
    if dtype.startswith("float"):
        a = a + rng.uniform(0.1, 0.9, (4,)).astype(dtype)
    av = symbolic(a)
    want = np_build(a)
    assert_matches(run([av], build(av), a), want, want.dtype)


@pytest.mark.parametrize("dtype", ["int8", "int32", "uint8", "bool"])
def test_bitwise_operators(dtype, rng):
    a = rng.integers(0, 100, (2, 3)).astype(dtype)
    b = rng.integers(0, 100, (3,)).astype(dtype)
    av, bv = symbolic(a), symbolic(b)
    for fn in (lambda x, y: x & y, lambda x, y: x | y, lambda x, y: x ^ y, lambda x, y: ~x,
               lambda x, y: 1 & x if dtype != "bool" else True | x):
        want = fn(a, b)
        assert_matches(run([av, bv], fn(av, bv), a, b), want, want.dtype)


def test_bitwise_ops_reject_floats():
    x = T.dvector()
    for fn in (lambda v: v & v, lambda v: v | 1, lambda v: v ^ v, lambda v: ~v):
        with pytest.raises(TypeError, match="integer or bool"):
            fn(x)


def test_matmul_operator(rng):
    a, b = rng.uniform(size=(2, 3, 4)), rng.uniform(size=(4, 5))
    av, bv = symbolic(a), symbolic(b)
    assert_matches(run([av, bv], av @ bv, a, b), a @ b)
    assert_matches(run([bv], T.constant(np.ones((2, 4))) @ bv, b), np.ones((2, 4)) @ b)
    assert_matches(run([av], [[1.0, 2.0, 3.0]] @ av, a), [[1.0, 2.0, 3.0]] @ a)


def test_equality_is_identity_and_no_truth_value():
    x, y = T.dvector(), T.dvector()
    assert (x == x) is True and (x == y) is False and x != y
    with pytest.raises(TypeError):
        bool(x > y)


# -- gradients: summing back over broadcast dims ---------------------------------------
GRAD_PAIRS = [((3, 1), (1, 4)), ((2, 3), (3,)), ((), (2, 3)), ((2, 3), ()), ((1, 1), (2, 3)),
              ((2, 1, 3), (4, 1)), ((3,), (3,))]


@pytest.mark.parametrize("shape_a,shape_b", GRAD_PAIRS)
@pytest.mark.parametrize("static", [False, True], ids=["runtime", "static"])
def test_grad_sums_back_over_broadcast_dims(shape_a, shape_b, static, rng):
    a, b = rng.uniform(0.5, 2, shape_a), rng.uniform(0.5, 2, shape_b)

    def fn(x, y):
        if static:
            x, y = T.specify_shape(x, shape_a), T.specify_shape(y, shape_b)
        return x * T.log(y) + x / y - T.maximum(x, y) ** 2

    verify_grad(fn, [a, b], rng=rng)
    av, bv = symbolic(a, "exact" if static else "none"), symbolic(b, "exact" if static else "none")
    ga, gb = run([av, bv], sg.grad((av * bv).sum(), [av, bv]), a, b)
    full = np.broadcast_shapes(a.shape, b.shape)
    assert_matches(ga, _sum_to(np.broadcast_to(b, full), a.shape))
    assert_matches(gb, _sum_to(np.broadcast_to(a, full), b.shape))


def _sum_to(g, shape):
    g = g.sum(axis=tuple(range(g.ndim - len(shape)))) if g.ndim > len(shape) else g
    axes = tuple(i for i, s in enumerate(shape) if s == 1 and g.shape[i] != 1)
    return g.sum(axis=axes, keepdims=True) if axes else g


def test_runtime_broadcast_grad_uses_sum_to_shape(rng):
    av, bv = T.dmatrix(), T.dmatrix()
    ga = sg.grad((av * bv).sum(), av)
    assert any(isinstance(n.op, SumToShape) for n in _nodes(ga))
    # a statically broadcastable input needs no runtime reduction
    rv, cv = T.tensor("float64", (1, 4)), T.tensor("float64", (None, 4))
    gr = sg.grad((rv * cv).sum(), rv)
    assert not any(isinstance(n.op, SumToShape) for n in _nodes(gr))
    a, b = rng.uniform(size=(1, 4)), rng.uniform(size=(3, 4))
    assert_matches(run([rv, cv], gr, a, b), b.sum(axis=0, keepdims=True))
    assert_matches(run([av, bv], ga, a, b), b.sum(axis=0, keepdims=True))


def _nodes(v):
    from symgraph.graph.traversal import io_toposort

    return io_toposort([], [v])


def test_grad_with_size_0_dims(rng):
    a, b = rng.uniform(size=(0, 3)), rng.uniform(size=(1, 3))
    av, bv = T.dmatrix(), T.dmatrix()
    ga, gb = run([av, bv], sg.grad((av * bv).sum(), [av, bv]), a, b)
    assert_matches(ga, np.zeros((0, 3)))
    assert_matches(gb, np.zeros((1, 3)))


def test_grad_of_float32_broadcast_keeps_dtype(rng):
    a, b = rng.uniform(size=(3, 1)).astype("float32"), rng.uniform(size=(4,)).astype("float32")
    av, bv = T.fmatrix(), T.fvector()
    ga, gb = run([av, bv], sg.grad((av * bv * 2).sum(), [av, bv]), a, b)
    assert ga.dtype == gb.dtype == np.float32
    assert_matches(ga, 2 * np.broadcast_to(b, (3, 4)).sum(axis=1, keepdims=True))
    assert_matches(gb, 2 * np.broadcast_to(a, (3, 4)).sum(axis=0))


def test_grad_wrt_mixed_dtype_inputs(rng):
    a, b = rng.uniform(size=(3,)).astype("float32"), rng.uniform(size=(3,))
    av, bv = T.fvector(), T.dvector()
    ga, gb = run([av, bv], sg.grad((av * bv).sum(), [av, bv]), a, b)
    assert ga.dtype == np.float32 and gb.dtype == np.float64
    assert_matches(ga, b.astype("float32"))
    assert_matches(gb, a.astype("float64"))


# -- SumToShape and sum_to_like ----------------------------------------------------------------
@pytest.mark.parametrize("g_shape,shape", [((3, 4), (3, 1)), ((3, 4), (1, 4)), ((3, 4), (1, 1)),
                                           ((3, 4), (3, 4)), ((0, 4), (1, 4)), ((2, 1), (1, 1))])
def test_sum_to_shape(g_shape, shape, rng):
    g = rng.uniform(size=g_shape)
    gv = T.dmatrix()
    out = run([gv], SumToShape()(gv, list(shape)), g)
    assert_matches(out, _sum_to(g, shape))
    check_infer_shape(SumToShape()(gv, list(shape)), [gv], [g])


def test_sum_to_shape_rejects_a_non_broadcast_shape():
    gv = T.dmatrix()
    f = sg.function([gv], SumToShape()(gv, [2, 4]))
    with pytest.raises(ValueError, match="SumToShape"):
        f(np.ones((3, 4)))


def test_sum_to_shape_grad(rng):
    verify_grad(lambda g: SumToShape()(g, [3, 1]) * 2, [rng.uniform(size=(3, 4))], rng=rng)
    verify_grad(lambda g: SumToShape()(g, [3, 4]) * 2, [rng.uniform(size=(3, 4))], rng=rng)


def test_sum_to_like(rng):
    g = rng.uniform(size=(2, 3, 4))
    gv = T.dtensor3()
    for x_shape in [(3, 4), (1, 4), (3, 1), (1, 1, 4), (2, 3, 4), ()]:
        xv = T.tensor("float64", x_shape)
        assert_matches(run([gv], sum_to_like(gv, xv), g), _sum_to(g, x_shape))
        # the same with nothing known statically: the sum happens at run time
        xn = T.tensor("float64", (None,) * len(x_shape))
        assert_matches(run([gv, xn], sum_to_like(gv, xn), g, np.zeros(x_shape)),
                       _sum_to(g, x_shape))


# -- DimShuffle ------------------------------------------------------------------------------
@pytest.mark.parametrize("shape,pattern", [
    ((2, 3), (1, 0)), ((2, 3), (0, "x", 1)), ((2, 1, 3), (2, 0)), ((1,), ()),
    ((), ("x", "x")), ((2, 3, 4), (2, "x", 0, 1)), ((1, 3), ("x", 1)), ((0, 3), (1, 0, "x")),
])
def test_dimshuffle(shape, pattern, rng):
    x = rng.uniform(size=shape)
    for mode in ("bcast", "exact"):
        xv = symbolic(x, mode)
        op = DimShuffle(x.ndim, pattern)
        out = run([xv], op(xv), x)
        kept = [d for d in pattern if d != "x"]
        dropped = tuple(d for d in range(x.ndim) if d not in kept)
        want = x.squeeze(dropped) if dropped else x
        rank = {d: r for r, d in enumerate(sorted(kept))}
        want = want.transpose([rank[d] for d in kept])
        want = np.expand_dims(want, [i for i, d in enumerate(pattern) if d == "x"])
        assert_matches(out, want)
        check_infer_shape(op(xv), [xv], [x])
    assert_matches(run([xv], xv.dimshuffle(*pattern) if pattern else xv.dimshuffle(()), x), want)
    if x.size:
        verify_grad(DimShuffle(x.ndim, pattern), [x], rng=rng)


def test_dimshuffle_errors():
    with pytest.raises(ValueError):
        DimShuffle(2, [0, 0])
    with pytest.raises(ValueError):
        DimShuffle(2, [0, 2])
    with pytest.raises(TypeError):
        DimShuffle(2, [1, 0])(T.dvector())
    with pytest.raises(ValueError, match="cannot drop"):
        DimShuffle(2, [1])(T.tensor("float64", (3, 4)))
    xv = T.dmatrix()  # size unknown until run time: checked then
    f = sg.function([xv], DimShuffle(2, [1])(xv))
    assert f(np.ones((1, 3))).shape == (3,)
    with pytest.raises(ValueError, match="size 1"):
        f(np.ones((2, 3)))


def test_dimshuffle_rop(rng):
    x, v = rng.uniform(size=(2, 3)), rng.uniform(size=(2, 3))
    xv, vv = T.dmatrix(), T.dmatrix()
    jv = Rop(DimShuffle(2, [1, "x", 0])(xv), xv, vv)
    assert_matches(run([xv, vv], jv, x, v), v.T[:, None, :])


# -- R-op of Elemwise -------------------------------------------------------------------------
@pytest.mark.parametrize("build", [
    lambda x, y: x * y, lambda x, y: T.exp(x) / (1 + y * y), lambda x, y: T.maximum(x, y),
    lambda x, y: T.arctan2(x, y + 3), lambda x, y: x ** 2 - T.tanh(y),
])
def test_elemwise_rop_with_broadcasting(build, rng):
    x, y = rng.uniform(-1, 1, (3, 1)), rng.uniform(-1, 1, (4,))
    vx, vy = rng.uniform(-1, 1, (3, 1)), rng.uniform(-1, 1, (4,))
    xv, yv, vxv, vyv = T.dmatrix(), T.dvector(), T.dmatrix(), T.dvector()
    out = build(xv, yv)
    jv = run([xv, yv, vxv, vyv], Rop(out, [xv, yv], [vxv, vyv]), x, y, vx, vy)
    f = sg.function([xv, yv], out)
    eps = 1e-6
    want = (f(x + eps * vx, y + eps * vy) - f(x - eps * vx, y - eps * vy)) / (2 * eps)
    np.testing.assert_allclose(jv, want, rtol=1e-6, atol=1e-8)
    # only one input moving
    jv = run([xv, yv, vyv], Rop(out, yv, vyv), x, y, vy)
    want = (f(x, y + eps * vy) - f(x, y - eps * vy)) / (2 * eps)
    np.testing.assert_allclose(jv, want, rtol=1e-6, atol=1e-8)


def test_outputs_never_alias_inputs(rng):
    x = rng.uniform(size=(2, 3))
    xv = T.dmatrix()
    for out in (T.add(xv), T.mul(xv), T.identity(xv), xv.copy()):
        got = run([xv], out, x)
        assert not np.shares_memory(got, x)
        assert_matches(got, x)


def test_abs_of_complex(rng):
    z = rng.uniform(-1, 1, 4) + 1j * rng.uniform(-1, 1, 4)
    zv = T.zvector()
    assert_matches(run([zv], abs(zv), z), np.abs(z), "float64")


def test_docstring_examples_run():
    import doctest

    from symgraph.tensor import elemwise

    assert doctest.testmod(elemwise).failed == 0
