"""Generated C for shape and view ops and array builders (symgraph/link/c/shape.py)
against the 'py' linker: DimShuffle, Reshape, SpecifyShape, SumToShape, Shape, Shape_i,
MakeVector, Alloc, Join, Split, ARange, Eye, DeepCopyOp.

Inputs come in every layout (contiguous, transposed, strided, reversed); view ops
must return views exactly where NumPy would (seen through a perform-only op that
keeps what it was given), and errors must have perform's exception type.
"""
import numpy as np
import pytest

import symgraph as sg
import symgraph.tensor as T
from symgraph.graph.basic import Apply, Op
from symgraph.link.c import compiler
from symgraph.tensor.basic import ARange, Eye, MakeVector, Split, alloc
from symgraph.tensor.elemwise import DimShuffle, SumToShape
from symgraph.tensor.shape import Reshape, Shape, Shape_i, SpecifyShape, specify_shape

CVM = sg.Mode(linker="cvm")
PY = sg.Mode(linker="py")


def layout(rng, array):
    """``array``'s values stored contiguously, transposed, strided or reversed."""
    choice = rng.integers(4)
    if choice == 1 and array.ndim >= 2:
        return np.ascontiguousarray(array.T).T
    if choice == 2 and array.ndim >= 1:
        axis = rng.integers(array.ndim)
        wide = np.repeat(array, 2, axis=axis)
        return wide[(slice(None),) * axis + (slice(None, None, 2),)]
    if choice == 3 and array.ndim >= 1:
        return np.flip(np.flip(array, 0).copy(), 0)
    return array.copy()


def quick_function(inputs, outputs, mode=CVM, **kwargs):
    """A function compiled with unoptimized C (what the code computes, not how fast)."""
    with compiler.using_flags(compiler.QUICK_FLAGS):
        return sg.function(inputs, outputs, mode=mode, **kwargs)


def compile_both(inputs, outputs, **kwargs):
    """(cvm function with quick gcc flags, py function) of the same graph."""
    return quick_function(inputs, outputs, **kwargs), \
        sg.function(inputs, outputs, mode=PY, **kwargs)


def assert_same(got, want):
    for g, w in zip(got, want):
        assert g.dtype == w.dtype and g.shape == w.shape, (g.dtype, w.dtype, g.shape, w.shape)
        if w.dtype.kind == "f":
            np.testing.assert_allclose(g, w, rtol=1e-6 if w.dtype == np.float32 else 1e-12)
        else:
            np.testing.assert_array_equal(g, w)


def assert_all_c(f, *op_classes):
    """Every node ran in C, and the graph still holds each of ``op_classes``."""
    assert f.fn.n_c_steps == f.fn.n_steps
    held = {type(n.op) for n in f.maker.fgraph.toposort()}
    for cls in op_classes:
        assert any(issubclass(h, cls) for h in held), cls


def raises_like_py(f, g, values):
    """Both functions raise, with the same exception type; returns the cvm message."""
    with pytest.raises(Exception) as want:
        g(*values)
    with pytest.raises(want.type) as got:
        f(*values)
    return str(got.value)


class Spy(Op):
    """Perform-only: remembers the arrays it is given (to see whether they are views)."""

    __props__ = ()
    seen = []

    def make_node(self, x):
        return Apply(self, [x], [x.type.make_variable()])

    def perform(self, node, inputs, output_storage):
        Spy.seen.append(inputs[0])
        output_storage[0][0] = inputs[0].copy()


def test_views_and_shapes_match_py(rng):
    x = T.tensor("float64", (None, None, None), name="x")
    m = T.fmatrix("m")
    a, b = T.lscalar("a"), T.iscalar("b")
    outs = [x.dimshuffle(2, "x", 0, 1), T.squeeze(x[:, :1], axis=1), m.T,
            x.reshape((a, -1)), x.flatten(), x.flatten(2), m.reshape((b, 2, -1)),
            specify_shape(m, (None, 6)), x.shape, Shape_i(2)(x),
            MakeVector("int64")(a, x.shape[0], b), MakeVector("float32")(m[0, 0], m[1, 1])]
    f, g = compile_both([x, m, a, b], outs)
    assert_all_c(f, DimShuffle, Reshape, SpecifyShape, Shape, Shape_i, MakeVector)
    for trial in range(12):
        shape = tuple(rng.integers(1, 5, size=3))
        vx = layout(rng, rng.normal(size=shape))
        vm = layout(rng, rng.normal(size=(4, 6)).astype("float32"))
        divisor = int(rng.choice([d for d in range(1, 9) if vx.size % d == 0]))
        values = [vx, vm, divisor, 2]
        assert_same(f(*values), g(*values))


def test_builders_match_py(rng):
    x = T.dmatrix("x")
    n, k = T.lscalar("n"), T.bscalar("k")
    start, step = T.dscalar("start"), T.fscalar("step")
    sizes = T.lvector("sizes")
    row = T.dvector("row")
    v32 = T.fvector("v32")
    outs = [alloc(row, n, 2, row.shape[0]), T.zeros((n, 3), dtype="int16"), T.full((2, n), k),
            T.concatenate([x, x * 2, x[:1]], axis=0), T.concatenate([x.T, x.T[:, :0]], axis=1),
            T.stack([row, row + 1], axis=1), *T.split(x, sizes, 3, axis=1),
            T.arange(n), T.arange(start, 9.5, step, dtype="float32"),
            T.arange(start, 3 * n + 0.25, 0.75), T.arange(n, -7, -3, dtype="int8"),
            T.eye(n, n + 2, k), T.eye(n, dtype="bool"), v32 * 1]
    f, g = compile_both([x, n, k, start, step, sizes, row, v32], outs)
    assert_all_c(f, ARange, Eye, Split)
    for trial in range(10):
        vx = layout(rng, rng.normal(size=(3, 5)))
        cut = sorted(rng.integers(0, 6, size=2))
        vsizes = np.diff([0, *cut, 5])
        values = [vx, int(rng.integers(0, 5)), int(rng.integers(-3, 4)), float(rng.normal() * 3),
                  np.float32(rng.choice([0.5, 1.3, -0.7, 2.0])), layout(rng, vsizes),
                  layout(rng, rng.normal(size=4)), rng.normal(size=3).astype("float32")]
        assert_same(f(*values), g(*values))


def test_sum_to_shape_views_or_sums(rng):
    grad = T.tensor("float32", (None, None, None), name="grad")
    target = T.lvector("target")
    ints = T.tensor("int32", (None, None), name="ints")
    flags = T.tensor("bool", (None,), name="flags")
    outs = [SumToShape()(grad, target), SumToShape()(ints, T.stack([1, ints.shape[1]])),
            SumToShape()(flags, [1])]
    f, g = compile_both([grad, target, ints, flags], outs)
    assert_all_c(f, SumToShape)
    vg = layout(rng, rng.normal(size=(3, 4, 5)).astype("float32"))
    vi = layout(rng, rng.integers(-9, 9, size=(6, 2)).astype("int32"))
    for vt in [(3, 4, 5), (1, 4, 5), (3, 1, 1), (1, 1, 1)]:
        values = [vg, np.array(vt), vi, rng.random(7) < 0.3]
        assert_same(f(*values), g(*values))
    assert raises_like_py(f, g, [vg, np.array([2, 4, 5]), vi, rng.random(7) < 0.3])


def test_view_ops_return_views_where_numpy_does(rng):
    x = T.dmatrix("x")
    spy = Spy()
    outs = [spy(x.reshape((-1,))), spy(x.T), spy(specify_shape(x, (None, 4))), spy(x[1:, ::-2]),
            spy(SumToShape()(x, x.shape))]
    f = quick_function([x], outs, mode=sg.Mode(linker="cvm", optimizer=None))
    assert f.fn.n_c_steps == f.fn.n_steps - 5  # all but the spies
    for vx in [rng.normal(size=(3, 4)), rng.normal(size=(4, 3)).T, rng.normal(size=(3, 8))[:, ::2],
               rng.normal(size=(3, 4))[::-1]]:
        Spy.seen.clear()
        got = f(vx)
        reshape_view = np.shares_memory(np.reshape(vx, -1), vx)
        assert [np.shares_memory(s, vx) for s in Spy.seen] == [reshape_view] + [True] * 4
        np.testing.assert_array_equal(got[0], vx.reshape(-1))
        np.testing.assert_array_equal(got[3], vx[1:, ::-2])


def test_reshape_views_follow_numpy_strides(rng):
    """Views of non-contiguous inputs wherever NumPy finds one (dims merged or split
    within contiguous groups, size-1 dims anywhere)."""
    x = T.tensor("float64", (None, None, None), name="x")
    shp = T.lvector("shp")
    spy = Spy()
    f = quick_function([x, shp], [spy(Reshape(4)(x, shp))])
    base = rng.normal(size=(4, 6, 10))
    for vx, new in [(base[:, :, ::2], (4, 6, 5, 1)), (base[::2], (1, 2, 6, 10)),
                    (base[:, ::2], (2, 2, 3, 10)), (base.transpose(1, 0, 2), (6, 2, 2, 10)),
                    (base.transpose(1, 0, 2), (3, 8, 10, 1)), (base[:, :1, :], (2, 1, 2, 10)),
                    (base[:, :0], (0, 5, 1, 3)), (base[:1, 2:3, 5:6], (1, 1, 1, 1))]:
        Spy.seen.clear()
        (got,) = f(vx, np.array(new))
        want = np.reshape(vx, new)
        np.testing.assert_array_equal(got, want)
        assert np.shares_memory(Spy.seen[0], vx) == np.shares_memory(want, vx), (vx.strides, new)


def test_in_place_op_after_a_view_leaves_inputs_alone(rng):
    """A view of an input must not be written by a later in-place node; a view of an
    intermediate may be, after every other reader of that intermediate ran."""
    x = T.dmatrix("x")
    t = T.exp(x)
    flat = t.reshape((-1,))
    outs = [x.T * 2 + 1, flat * 3 + 1, t[0, 0] + 0, x.reshape((-1,)) - 1]
    f, g = compile_both([x], outs)
    vx = rng.normal(size=(3, 4))
    keep = vx.copy()
    assert_same(f(vx), g(vx))
    np.testing.assert_array_equal(vx, keep)


def test_errors_match_py(rng):
    x = T.dmatrix("x")
    r, n, step = T.lscalar("r"), T.lscalar("n"), T.lscalar("step")
    sizes = T.lvector("sizes")
    outs = [x.reshape((r, -1)), specify_shape(x, (None, 4)), T.zeros((n, 2)),
            T.concatenate([x, T.zeros((2, n))]), *T.split(x, sizes, 2, axis=1),
            T.arange(0, 5, step), T.eye(n), T.squeeze(x, axis=0)]
    f, g = compile_both([x, r, n, step, sizes], outs)
    assert_all_c(f)
    good = [rng.normal(size=(1, 4)), 2, 4, 1, np.array([1, 3])]
    assert_same(f(*good), g(*good))
    bad_cases = [(1, 3), (0, rng.normal(size=(1, 3))), (2, -1), (2, 3), (4, np.array([2, 3])),
                 (4, np.array([1, 1, 2])), (3, 0), (0, rng.normal(size=(2, 4)))]
    for position, value in bad_cases:
        values = list(good)
        values[position] = value
        if position == 0:
            values[1] = 1
        message = raises_like_py(f, g, values)
        assert "Apply node that caused the error" in message


def test_specify_shape_names_both_shapes(rng):
    x = T.dmatrix("x")
    f, g = compile_both([x], specify_shape(x, (2, None)) * 2)
    message = raises_like_py(f, g, [rng.normal(size=(3, 5))])
    assert "(2, None)" in message and "(3, 5)" in message


def test_production_flags(rng):
    """The same code under -O3 (vectorized copy loops): a few ops on larger arrays."""
    x = T.fmatrix("x")
    n = T.lscalar("n")
    outs = [x.T.reshape((-1,)), T.concatenate([x, x[::-1]], axis=1), T.arange(n, dtype="float32")]
    f = sg.function([x, n], outs, mode=CVM)
    g = sg.function([x, n], outs, mode=PY)
    assert f.fn.n_c_steps == f.fn.n_steps
    values = [layout(rng, rng.normal(size=(37, 129)).astype("float32")), 1001]
    assert_same(f(*values), g(*values))
