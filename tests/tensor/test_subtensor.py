"""Indexing: basic slicing, integer/boolean advanced indexing, set/inc_subtensor and take,
checked against NumPy, with shape inference, gradients, R-ops and error messages."""
import numpy as np
import pytest

import symgraph as sg
import symgraph.tensor as T
from symgraph.tensor.shape import Shape_i
from symgraph.tensor.subtensor import (AdvancedIncSubtensor, AdvancedSubtensor, IncSubtensor,
                                       Subtensor)
from tests.tensor.test_shape import check_infer_shape, check_shape_graph

BASIC_INDICES = [
    (1,), (-1,), (slice(1, 4),), (slice(None, None, 2),), (slice(None, None, -1),),
    (slice(4, 0, -2),), (slice(-2, None),), (slice(-10, 10),), (slice(7, 9),),
    (slice(3, 1),), (2, slice(None, None, -2)), (slice(None), 0), (slice(1, 2), -6, 3),
    (-5, slice(5, None, -3), slice(None, -1)), (Ellipsis, 1), (1, Ellipsis),
    (Ellipsis,), (None,), (slice(None), None, 2), (None, 0, None, Ellipsis, None),
    (Ellipsis, None), (slice(0, 0),), (slice(None, None, 7),),
]


def _basic_ops_used(out):
    return out.owner is None or isinstance(out.owner.op, (Subtensor, T.DimShuffle))


@pytest.mark.parametrize("index", BASIC_INDICES, ids=str)
def test_basic_indexing_matches_numpy(rng, index):
    x = T.dtensor3("x")
    value = rng.normal(size=(5, 6, 4))
    out = x[index]
    assert _basic_ops_used(out)
    expected = value[index]
    result = out.eval({x: value})
    np.testing.assert_array_equal(result, expected)
    check_shape_graph(out, [x], [value], expected.shape)
    if out.owner is not None and isinstance(out.owner.op, Subtensor):
        check_infer_shape(out, [x], [value])


def _random_basic_index(rng, shape):
    """A random NumPy basic index for ``shape``: ints, slices (any bounds/steps), None."""
    index = []
    for size in shape:
        kind = rng.integers(4)
        if kind == 0 and size > 0:
            index.append(int(rng.integers(-size, size)))
        elif kind == 3:
            index.append(slice(None))
        else:
            bound = lambda: None if rng.random() < 0.3 else int(rng.integers(-size - 2, size + 3))
            step = None if rng.random() < 0.3 else int(rng.choice([-3, -2, -1, 1, 2, 3]))
            index.append(slice(bound(), bound(), step))
        if rng.random() < 0.15:
            index.append(None)
    return tuple(index)


def test_random_basic_indices_constant_and_symbolic(rng):
    """Random indices on shapes with 0- and 1-sized dims: constant bounds, and the same
    bounds fed as symbolic scalars, agree with NumPy in values and inferred shapes."""
    for _ in range(25):
        shape = tuple(int(s) for s in rng.choice([0, 1, 2, 5], size=rng.integers(1, 4)))
        value = rng.normal(size=shape)
        x = T.tensor("float64", (None,) * len(shape), name="x")
        index = _random_basic_index(rng, shape)
        expected = value[index]
        np.testing.assert_array_equal(x[index].eval({x: value}), expected)
        scalars, symbolic = [], []
        for item in index:
            if isinstance(item, int):
                scalars.append((T.lscalar(), item))
                symbolic.append(scalars[-1][0])
            elif isinstance(item, slice):
                parts = []
                for part in (item.start, item.stop, item.step):
                    if part is not None:
                        scalars.append((T.lscalar(), part))
                        part = scalars[-1][0]
                    parts.append(part)
                symbolic.append(slice(*parts))
            else:
                symbolic.append(item)
        out = x[tuple(symbolic)]
        inputs = [x] + [v for v, _ in scalars]
        values = [value] + [val for _, val in scalars]
        f = sg.function(inputs, [out, out.shape])
        result, result_shape = f(*values)
        np.testing.assert_array_equal(result, expected)
        assert tuple(result_shape) == expected.shape, index
        if out.owner is not None and isinstance(out.owner.op, Subtensor):
            check_infer_shape(out, inputs, values)


def test_basic_indexing_static_shapes():
    x = T.tensor("float64", (5, None, 4))
    assert x[1:4].type.shape == (3, None, 4)
    assert x[::-2, 0].type.shape == (3, 4)
    assert x[7:].type.shape == (0, None, 4)
    assert x[:, 2:].type.shape == (5, None, 4)
    assert x[None, ..., 1].type.shape == (1, 5, None)
    assert x[-1].type.shape == (None, 4)
    n = T.lscalar()
    assert x[n:].type.shape == (None, None, 4)


@pytest.mark.parametrize("size", [0, 1, 5])
def test_symbolic_slice_bounds_every_combination(rng, size):
    """x[a:b:c] for every small (a, b, c), negative and out of range, against NumPy,
    for values and for the inferred shape."""
    x = T.dvector("x")
    a, b, c = T.lscalars("a", "b", "c")
    out = x[a:b:c]
    node = out.owner
    inferred = node.op.infer_shape(None, node, [(Shape_i(0)(x),), (), (), ()])[0][0]
    f = sg.function([x, a, b, c], [out, inferred])
    value = rng.normal(size=size)
    for start in range(-size - 2, size + 3):
        for stop in range(-size - 2, size + 3):
            for step in (-3, -1, 1, 2):
                result, length = f(value, start, stop, step)
                expected = value[start:stop:step]
                np.testing.assert_array_equal(result, expected)
                assert int(length) == len(expected), (start, stop, step)


@pytest.mark.parametrize("form", ["start", "stop", "step", "start_step", "stop_step"])
def test_partial_symbolic_slices(rng, form):
    x = T.dmatrix("x")
    k = T.lscalar("k")
    value = rng.normal(size=(6, 3))
    builders = {"start": lambda: (slice(k, None), slice(None, None, -1)),
                "stop": lambda: (slice(None, k),),
                "step": lambda: (slice(None, None, k),),
                "start_step": lambda: (slice(k, None, -1), 1),
                "stop_step": lambda: (slice(None, k, -2),)}
    out = x[builders[form]()]
    f = sg.function([x, k], [out, out.shape])
    for kv in [-7, -3, -1, 1, 2, 5, 8]:
        numeric = {"start": (slice(kv, None), slice(None, None, -1)), "stop": (slice(None, kv),),
                   "step": (slice(None, None, kv),), "start_step": (slice(kv, None, -1), 1),
                   "stop_step": (slice(None, kv, -2),)}[form]
        result, shape = f(value, kv)
        np.testing.assert_array_equal(result, value[numeric])
        assert tuple(shape) == value[numeric].shape
        check_infer_shape(out, [x, k], [value, kv])


def test_integer_indexing(rng):
    x = T.dmatrix("x")
    i, j = T.iscalars("i", "j")
    value = rng.normal(size=(4, 5))
    f = sg.function([x, i, j], [x[i], x[i, j], x[:, j], x[-i]])
    for iv, jv in [(0, 0), (3, 4), (-1, -5), (2, -2)]:
        row, elem, col, neg = f(value, iv, jv)
        np.testing.assert_array_equal(row, value[iv])
        assert elem == value[iv, jv] and elem.shape == ()
        np.testing.assert_array_equal(col, value[:, jv])
        np.testing.assert_array_equal(neg, value[-iv])
    np.testing.assert_array_equal(x[np.int32(2), np.int64(-1)].eval({x: value}), value[2, -1])


@pytest.mark.parametrize("dtype", ["int8", "uint16", "bool", "float32", "complex128"])
def test_indexing_keeps_dtype(rng, dtype):
    value = (rng.normal(size=(4, 3)) * 10).astype(dtype)
    x = T.tensor(dtype, (None, None), name="x")
    mask = value if dtype == "bool" else value.real > 0
    for index in [(slice(1, None), 0), ([2, 0, 2],), (mask,)]:
        out = x[index]
        assert out.dtype == dtype
        np.testing.assert_array_equal(out.eval({x: value}), value[index])


def test_basic_indexing_returns_a_view_op():
    x = T.dmatrix()
    assert x[1:].owner.op.view_map == {0: [0]}
    assert x[:] is x and x[...] is x


def test_out_of_range_index_is_an_index_error_naming_the_op(rng):
    x = T.dmatrix("x")
    i = T.lscalar("i")
    f = sg.function([x, i], x[i])
    with pytest.raises(IndexError, match="Subtensor") as info:
        f(rng.normal(size=(3, 2)), 3)
    assert "out of bounds" in str(info.value)
    g = sg.function([x], x[[0, 5]])
    with pytest.raises(IndexError, match="AdvancedSubtensor"):
        g(rng.normal(size=(3, 2)))
    with pytest.raises(IndexError, match="Subtensor.*out of bounds"):
        T.tensor("float64", (3, None))[3]  # found statically


def test_bad_indices_are_rejected_when_built():
    x = T.dmatrix()
    with pytest.raises(IndexError):
        x[1, 2, 3]
    with pytest.raises(IndexError):
        x[1.5]
    with pytest.raises(IndexError):
        x[T.dvector()]
    with pytest.raises(IndexError):
        x[0.5:]
    with pytest.raises(IndexError):
        x[..., 0, ...]


# -- advanced indexing ----------------------------------------------------------------------------
ADVANCED_INDICES = [
    ([0, 2, 2],), ([-1, 0],), ([[0, 1], [3, 4]],), (slice(None), [3, 0]),
    ([0, 1], [2, 3]), ([[0], [4]], [1, 2, 3]), ([1, 2], slice(None), 0), (0, slice(None), [0, 1]),
    (slice(None), 0, [0, 1]), (slice(1, None), [[0], [1]], [0, 1, 2]), ([0, 3], 1, [2, 3]),
    ([4, 0], slice(None, None, -1)), (np.zeros(0, dtype=int),), ([],), (Ellipsis, [3, 1]),
    (None, [1, 0]), ([2, 3], None, slice(None, 3)),
]


@pytest.mark.parametrize("index", ADVANCED_INDICES, ids=str)
def test_advanced_indexing_matches_numpy(rng, index):
    x = T.dtensor3("x")
    value = rng.normal(size=(5, 6, 4))
    out = x[index]
    expected = value[index]
    np.testing.assert_array_equal(out.eval({x: value}), expected)
    assert out.ndim == expected.ndim
    check_shape_graph(out, [x], [value], expected.shape)
    check_infer_shape(out, [x], [value])


def test_advanced_indexing_with_symbolic_arrays(rng):
    x = T.dmatrix("x")
    rows, cols = T.lvectors("rows", "cols")
    grid = T.lmatrix("grid")
    value = rng.normal(size=(5, 4))
    r = rng.integers(-5, 5, size=7)
    c = rng.integers(-4, 4, size=7)
    g = rng.integers(0, 5, size=(2, 3))
    outs = [x[rows], x[rows, cols], x[grid], x[grid, 1:], x[:, cols], x[rows[:, None], cols]]
    f = sg.function([x, rows, cols, grid], outs, on_unused_input="ignore")
    expected = [value[r], value[r, c], value[g], value[g, 1:], value[:, c], value[r[:, None], c]]
    for got, want in zip(f(value, r, c, g), expected):
        np.testing.assert_array_equal(got, want)
    for out in outs:
        check_infer_shape(out, [x, rows, cols, grid], [value, r, c, g])


def test_boolean_masks(rng):
    x = T.dmatrix("x")
    m = T.tensor("bool", (None, None), name="m")
    row_mask = T.tensor("bool", (None,), name="row_mask")
    value = rng.normal(size=(4, 5))
    mask = rng.random((4, 5)) > 0.5
    rmask = np.array([True, False, True, True])
    cases = [(x[m], value[mask]), (x[x > 0], value[value > 0]), (x[row_mask], value[rmask]),
             (x[row_mask, 1:], value[rmask, 1:]), (x[1:, x[0] > 0], value[1:, value[0] > 0]),
             (x[x < -10], value[value < -10]), (x[[True, False, False, True]], value[[0, 3]])]
    f = sg.function([x, m, row_mask], [c[0] for c in cases], on_unused_input="ignore")
    for got, (_, want) in zip(f(value, mask, rmask), cases):
        np.testing.assert_array_equal(got, want)
    for out, _ in cases:
        check_infer_shape(out, [x, m, row_mask], [value, mask, rmask])


def test_two_boolean_masks_and_mask_with_array(rng):
    """Several masks (and masks with integer arrays) broadcast their nonzero() together."""
    x = T.dtensor3("x")
    first = T.tensor("bool", (None,), name="first")
    rest = T.tensor("bool", (None, None), name="rest")
    value = rng.normal(size=(3, 3, 2))
    fv = np.array([False, True, False])
    rv = rng.random((3, 2)) > 0.3
    out = x[first, rest]
    np.testing.assert_array_equal(out.eval({x: value, first: fv, rest: rv}), value[fv, rv])
    check_infer_shape(out, [x, first, rest], [value, fv, rv])
    mixed = x[[2, 0], :, np.array([True, False])]
    np.testing.assert_array_equal(mixed.eval({x: value}),
                                  value[[2, 0], :, np.array([True, False])])


def test_boolean_mask_of_wrong_shape_is_an_index_error(rng):
    x = T.dvector("x")
    m = T.tensor("bool", (None,), name="m")
    f = sg.function([x, m], x[m])
    with pytest.raises(IndexError, match="AdvancedSubtensor"):
        f(rng.normal(size=3), np.array([True, False]))


def test_nonzero_values(rng):
    x = T.dmatrix("x")
    value = rng.normal(size=(3, 4))
    value[value < 0] = 0
    np.testing.assert_array_equal(x.nonzero_values().eval({x: value}), value[value != 0])


# -- set_subtensor and inc_subtensor --------------------------------------------------------------
SET_CASES = [
    ((slice(1, 3),), (2, 4)), ((slice(1, 3),), (4,)), ((0,), ()),
    ((slice(None, None, -2), 1), (3,)),
    ((Ellipsis, 2), (1,)), (([0, 2, 4],), (3, 4)), (([1, 1, 3],), (4,)), (([0, 0], [1, 1]), ()),
    ((slice(None), [2, 0, 2]), (5, 1)), (([[0], [1]], [1, 2]), (2, 2)),
]


@pytest.mark.parametrize("index,y_shape", SET_CASES, ids=str)
def test_set_and_inc_subtensor_match_numpy(rng, index, y_shape):
    x = T.dmatrix("x")
    y = T.tensor("float64", (None,) * len(y_shape), name="y")
    xv = rng.normal(size=(5, 4))
    yv = rng.normal(size=y_shape)
    set_out = T.set_subtensor(x[index], y)
    inc_out = T.inc_subtensor(x[index], y)
    f = sg.function([x, y], [set_out, inc_out])
    got_set, got_inc = f(xv, yv)
    want_set = xv.copy()
    want_set[index] = yv
    want_inc = xv.copy()
    np.add.at(want_inc, index, yv)  # repeated indices accumulate
    np.testing.assert_allclose(got_set, want_set)
    np.testing.assert_allclose(got_inc, want_inc)
    np.testing.assert_array_equal(f(xv, yv)[0], got_set)  # x itself is left alone
    check_infer_shape(set_out, [x, y], [xv, yv])


def test_random_advanced_set_and_inc(rng):
    """Random integer-array indices with repeats: inc is np.add.at, set is NumPy's."""
    x = T.dmatrix("x")
    rows, cols = T.lvectors("rows", "cols")
    y = T.dvector("y")
    f = sg.function([x, rows, cols, y], [T.inc_subtensor(x[rows, cols], y),
                                         T.set_subtensor(x[rows, cols], y),
                                         T.inc_subtensor(x[rows], y[:, None])])
    for _ in range(10):
        n = int(rng.integers(0, 8))
        xv = rng.normal(size=(3, 4))
        r, c = rng.integers(-3, 3, size=n), rng.integers(-4, 4, size=n)
        yv = rng.normal(size=n)
        got_inc, got_set, got_rows = f(xv, r, c, yv)
        want_inc, want_set, want_rows = xv.copy(), xv.copy(), xv.copy()
        np.add.at(want_inc, (r, c), yv)
        want_set[r, c] = yv
        np.add.at(want_rows, r, yv[:, None])
        np.testing.assert_allclose(got_inc, want_inc)
        np.testing.assert_array_equal(got_set, want_set)
        np.testing.assert_allclose(got_rows, want_rows)


def test_inc_subtensor_repeated_indices_accumulate():
    x = T.dvector("x")
    idx = T.lvector("idx")
    out = T.inc_subtensor(x[idx], 1.0)
    result = out.eval({x: np.zeros(4), idx: np.array([0, 0, 3, 0, -1])})
    assert result.tolist() == [3.0, 0.0, 0.0, 2.0]
    assert isinstance(out.owner.op, AdvancedIncSubtensor)


def test_set_and_inc_with_symbolic_basic_index(rng):
    x = T.dmatrix("x")
    y = T.dvector("y")
    k = T.lscalar("k")
    xv, yv = rng.normal(size=(4, 3)), rng.normal(size=3)
    f = sg.function([x, y, k], [T.set_subtensor(x[k], y), T.inc_subtensor(x[k::-1], y)])
    for kv in [0, 2, -1]:
        got_set, got_inc = f(xv, yv, kv)
        want_set, want_inc = xv.copy(), xv.copy()
        want_set[kv] = yv
        want_inc[kv::-1] += yv
        np.testing.assert_array_equal(got_set, want_set)
        np.testing.assert_allclose(got_inc, want_inc)


def test_set_subtensor_with_boolean_mask(rng):
    x = T.dmatrix("x")
    xv = rng.normal(size=(3, 4))
    out = T.set_subtensor(x[x < 0], 0.0)
    np.testing.assert_array_equal(out.eval({x: xv}), np.maximum(xv, 0))
    inc = T.inc_subtensor(x[x > 0], x[x > 0])
    np.testing.assert_allclose(inc.eval({x: xv}), np.where(xv > 0, 2 * xv, xv))


def test_set_subtensor_casts_y_and_checks_ndim(rng):
    x = T.fmatrix("x")
    y = T.dvector("y")
    out = T.set_subtensor(x[0], y)
    assert out.dtype == "float32"
    with pytest.raises(ValueError):
        T.set_subtensor(T.dvector()[0:2], T.dmatrix())
    with pytest.raises(TypeError):
        T.set_subtensor(T.dvector() + 1, 1.0)


def test_inc_subtensor_shape_mismatch_names_the_op(rng):
    x = T.dmatrix("x")
    y = T.dvector("y")
    f = sg.function([x, y], T.inc_subtensor(x[1:3], y))
    with pytest.raises(ValueError, match="IncSubtensor|Inc"):
        f(rng.normal(size=(4, 3)), rng.normal(size=5))


# -- take -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("axis", [None, 0, 1, -1])
@pytest.mark.parametrize("indices", [[1, 0, 1], 2, [[0, 1], [-1, 0]], []], ids=str)
def test_take_matches_numpy(rng, axis, indices):
    a = T.dmatrix("a")
    value = rng.normal(size=(3, 3))
    np.testing.assert_array_equal(T.take(a, indices, axis=axis).eval({a: value}),
                                  np.take(value, indices, axis=axis))


@pytest.mark.parametrize("mode", ["wrap", "clip"])
def test_take_modes(rng, mode):
    a = T.dmatrix("a")
    idx = T.lvector("idx")
    value = rng.normal(size=(3, 4))
    iv = np.array([-7, -1, 0, 5, 13])
    for axis in (None, 0, 1):
        out = T.take(a, idx, axis=axis, mode=mode)
        np.testing.assert_array_equal(out.eval({a: value, idx: iv}),
                                      np.take(value, iv, axis=axis, mode=mode))


def test_take_errors(rng):
    a = T.dmatrix("a")
    with pytest.raises(IndexError):
        T.take(a, [0], axis=2)
    with pytest.raises(IndexError):
        T.take(a, [0.5])
    with pytest.raises(ValueError):
        T.take(a, [0], mode="bounce")
    f = sg.function([a], T.take(a, [5], axis=0))
    with pytest.raises(IndexError, match="AdvancedSubtensor"):
        f(rng.normal(size=(3, 2)))


def test_take_grad(rng):
    sg.verify_grad(lambda v: T.take(v, [2, 0, 2], axis=1), [rng.normal(size=(2, 3))], rng=rng)
    sg.verify_grad(lambda v: T.take(v, [[5, 0], [1, 1]]), [rng.normal(size=(2, 3))], rng=rng)


# -- gradients and R-ops --------------------------------------------------------------------------
@pytest.mark.parametrize("index", [
    (slice(1, None), 0), (slice(None, None, -2),), (-1, slice(1, 3)), (Ellipsis, None, 1),
    ([0, 2, 0],), ([1, 0], [2, 2]), (slice(None), [0, 0, 2]), ([[1], [0]], slice(1, None)),
], ids=str)
def test_indexing_grad(rng, index):
    sg.verify_grad(lambda v: v[index], [rng.normal(size=(3, 4))], rng=rng)


def test_boolean_mask_grad(rng):
    mask = np.array([[True, False, True], [False, False, True]])
    sg.verify_grad(lambda v: v[mask] ** 2, [rng.normal(size=(2, 3))], rng=rng)
    sg.verify_grad(lambda v: v[v > 0] * 3, [rng.normal(size=(4,))], rng=rng)


def test_indexing_grad_with_symbolic_index(rng):
    x = T.dmatrix("x")
    k = T.lscalar("k")
    idx = T.lvector("idx")
    cost = (x[k:, 1] ** 2).sum() + (x[idx] * 3).sum()
    gx = sg.grad(cost, x)
    xv = rng.normal(size=(4, 3))
    want = np.zeros_like(xv)
    want[2:, 1] += 2 * xv[2:, 1]
    np.add.at(want, [3, 3, 0], 3.0)
    np.testing.assert_allclose(gx.eval({x: xv, k: 2, idx: np.array([3, 3, 0])}), want)


def test_integer_tensor_indexing_has_zero_gradient():
    i = T.lvector("i")
    x = T.dscalar("x")
    g = sg.grad((i[1:] * x).sum(), [x, i])
    assert float(g[0].eval({x: 1.0, i: np.array([1, 2, 3])})) == 5.0


@pytest.mark.parametrize("index,y_shape", [
    ((slice(1, 3),), (2, 3)), ((slice(1, 3),), (3,)), ((0, slice(None, None, -1)), ()),
    (([0, 2, 0],), (3, 3)), (([0, 2, 0],), (1, 3)), (([1, 0], [2, 2]), (2,)),
    ((slice(None), [1, 1]), (4, 1)),
], ids=str)
@pytest.mark.parametrize("kind", ["set", "inc"])
def test_set_and_inc_grad_wrt_x_and_y(rng, index, y_shape, kind):
    """Set: the overwritten part of x gets no gradient, and with repeated indices only
    the y entries that were kept get one; inc: repeated indices add up."""
    op = T.set_subtensor if kind == "set" else T.inc_subtensor
    weights = rng.normal(size=(4, 3))
    sg.verify_grad(lambda a, b: op(a[index], b) * weights,
                   [rng.normal(size=(4, 3)), rng.normal(size=y_shape)], rng=rng)


def test_rop_of_indexing_ops(rng):
    x, ex = T.dmatrices("x", "ex")
    y, ey = T.dvectors("y", "ey")
    xv, exv = rng.normal(size=(4, 3)), rng.normal(size=(4, 3))
    yv, eyv = rng.normal(size=3), rng.normal(size=3)
    values = {x: xv, ex: exv, y: yv, ey: eyv}
    np.testing.assert_array_equal(sg.Rop(x[1:, ::-1], x, ex).eval(values), exv[1:, ::-1])
    np.testing.assert_array_equal(sg.Rop(x[[2, 2, 0]], x, ex).eval(values), exv[[2, 2, 0]])
    r = sg.Rop(T.set_subtensor(x[1], y), [x, y], [ex, ey]).eval(values)
    want = exv.copy()
    want[1] = eyv
    np.testing.assert_array_equal(r, want)
    r = sg.Rop(T.inc_subtensor(x[[0, 0]], y), [x, y], [ex, ey]).eval(values)
    want = exv.copy()
    want[0] += 2 * eyv
    np.testing.assert_allclose(r, want)


def test_ops_compare_by_index_structure():
    x = T.dmatrix()
    assert x[1:].owner.op == x[2:].owner.op  # the bounds are inputs, not props
    assert x[1:].owner.op != x[1].owner.op
    assert IncSubtensor(("i",)) != IncSubtensor(("i",), set_instead_of_inc=True)
    assert AdvancedSubtensor(("a",)) == AdvancedSubtensor(("a",))
