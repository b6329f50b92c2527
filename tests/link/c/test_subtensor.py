"""Generated C for indexing (symgraph/link/c/subtensor.py) against the 'py' linker:
basic slicing with symbolic bounds (negative, out of range, negative steps), set/inc
on slices (copies and in place), integer-array gathers and scatters (repeated indices
accumulate as np.add.at), and errors with perform's exception types.
"""
import numpy as np
import symgraph as sg
import symgraph.tensor as T
from symgraph.tensor.subtensor import (AdvancedIncSubtensor, AdvancedIncSubtensor1,
                                       AdvancedSubtensor, IncSubtensor, Subtensor)
from tests.link.c.test_shape import (CVM, PY, assert_all_c, assert_same, compile_both, layout,
                                     raises_like_py)


def _bound(rng, size):
    """A slice bound or index: inside, negative, or beyond either end."""
    return int(rng.integers(-size - 3, size + 3))


def test_basic_slicing_matches_py(rng):
    x = T.tensor("float32", (None, None, None), name="x")
    a, b = T.lscalar("a"), T.iscalar("b")
    c, s = T.tensor("uint8", (), name="c"), T.tensor("int8", (), name="s")
    outs = [x[a:b], x[a:b:s], x[::s, c], x[-1, b:, ::-1], x[:, :, c], x[c:, s::s, 1:-1],
            x[1, 2, 0]]
    f, g = compile_both([x, a, b, c, s], outs)
    assert_all_c(f, Subtensor)
    for trial in range(40):
        vx = layout(rng, rng.normal(size=(4, 5, 3)).astype("float32"))
        step = int(rng.choice([-3, -2, -1, 1, 2, 3]))
        values = [vx, _bound(rng, 4), _bound(rng, 4), np.uint8(rng.integers(0, 3)), np.int8(step)]
        assert_same(f(*values), g(*values))


def test_slicing_errors_match_py(rng):
    x = T.dmatrix("x")
    i, s = T.lscalar("i"), T.lscalar("s")
    f, g = compile_both([x, i, s], [x[i, ::s], x[::s, i]])
    vx = rng.normal(size=(3, 4))
    assert_same(f(vx, -3, -1), g(vx, -3, -1))
    for values in [(vx, 3, 1), (vx, -4, 1), (vx, 1, 0), (vx, 4, 1)]:
        message = raises_like_py(f, g, list(values))
        assert "Subtensor" in message


def test_set_and_inc_on_slices_match_py(rng):
    x = T.dmatrix("x")
    y = T.dvector("y")
    k = T.tensor("int32", (None, None), name="k")
    flags = T.tensor("bool", (None,), name="flags")
    a, b = T.lscalar("a"), T.lscalar("b")
    doubled = x * 2  # an intermediate: the rewrites make these in place
    outs = [T.set_subtensor(doubled[a:b], y), T.inc_subtensor(x[:, a], y[:3]),
            T.inc_subtensor(x[a, ::-1], 1.5), T.set_subtensor(k[1:, b], 7),
            T.inc_subtensor(k[::-1, :], k[0]), T.inc_subtensor(flags[a:], flags[0])]
    f, g = compile_both([x, y, k, flags, a, b], outs)
    assert_all_c(f, IncSubtensor)
    assert any(getattr(n.op, "inplace", False) for n in f.maker.fgraph.toposort())
    for trial in range(20):
        vx = layout(rng, rng.normal(size=(3, 4)))
        vy = layout(rng, rng.normal(size=4))
        vk = layout(rng, rng.integers(-100, 100, size=(4, 3)).astype("int32"))
        vf = rng.random(5) < 0.5
        values = [vx, vy, vk, vf, int(rng.integers(-3, 3)), int(rng.integers(-3, 3))]
        keep = [v.copy() for v in values[:4]]
        assert_same(f(*values), g(*values))
        for v, k0 in zip(values, keep):
            np.testing.assert_array_equal(v, k0)  # inputs untouched


def test_set_subtensor_broadcast_mismatch_is_a_value_error(rng):
    x, y = T.dmatrix("x"), T.dvector("y")
    f, g = compile_both([x, y], T.set_subtensor(x[1:], y))
    assert "could not broadcast" in raises_like_py(f, g, [rng.normal(size=(3, 4)),
                                                          rng.normal(size=3)])


def test_in_place_inc_with_an_overlapping_value_copies_first(rng):
    """IncSubtensor{inplace}(x, y) called with y a view of x's own memory: writing into x
    would change y while it is read; the C code must write a fresh buffer instead."""
    x, y = T.dmatrix("x"), T.dmatrix("y")
    a = T.lscalar("a")
    out = IncSubtensor(Subtensor((("s", True, False, False),)).idx_list, inplace=True)(x, y, a)
    f = sg.function([sg.In(x, mutable=True), y, a], out, mode=CVM, accept_inplace=True)
    assert_all_c(f, IncSubtensor)  # and a DeepCopyOp: the output is x's own buffer
    base = rng.normal(size=(4, 3))
    want = base.copy()
    want[1:] += base[:-1]
    np.testing.assert_array_equal(f(base, base[:-1], 1), want)
    fresh = base.copy()
    np.testing.assert_array_equal(f(fresh, base[:-1].copy(), 1), want)
    np.testing.assert_array_equal(fresh, want)  # no overlap: x itself was updated


def test_gathers_match_py(rng):
    x = T.tensor("float64", (None, None, None), name="x")
    v = T.lvector("v")
    w = T.tensor("int32", (None, None), name="w")
    u = T.tensor("uint16", (None,), name="u")
    a = T.lscalar("a")
    outs = [x[v], x[:, v], x[1:, w], x[::-1, :, u], x[a:, v, ::2], T.take(x, v, axis=2)]
    f, g = compile_both([x, v, w, u, a], outs)
    assert_all_c(f, AdvancedSubtensor)
    for trial in range(15):
        vx = layout(rng, rng.normal(size=(4, 5, 3)))
        values = [vx, rng.integers(-3, 3, size=rng.integers(0, 6)),
                  rng.integers(-4, 4, size=(2, 3)).astype("int32"),
                  rng.integers(0, 3, size=4).astype("uint16"), int(rng.integers(-4, 4))]
        values[1:4] = [layout(rng, i) for i in values[1:4]]
        assert_same(f(*values), g(*values))


def test_scatters_accumulate_repeated_indices(rng):
    x = T.dmatrix("x")
    y = T.dmatrix("y")
    row = T.dvector("row")
    v = T.lvector("v")
    n = T.tensor("int16", (None,), name="n")
    ints = T.tensor("int64", (None, None), name="ints")
    outs = [T.inc_subtensor(x[v], y), T.set_subtensor(x[v], row), T.inc_subtensor(x[:, n], 1.0),
            T.set_subtensor(x[1:, n], y[:3, :1]), T.inc_subtensor(ints[v], 3),
            T.inc_subtensor((x * 2)[v], row)]
    f, g = compile_both([x, y, row, v, n, ints], outs, on_unused_input="ignore")
    assert_all_c(f, AdvancedIncSubtensor1, AdvancedIncSubtensor)
    for trial in range(15):
        vv = rng.integers(-4, 4, size=5)
        vv[1] = vv[3]  # at least one repeat
        values = [layout(rng, rng.normal(size=(4, 3))), layout(rng, rng.normal(size=(5, 3))),
                  layout(rng, rng.normal(size=3)), layout(rng, vv),
                  rng.integers(-3, 3, size=4).astype("int16"),
                  layout(rng, rng.integers(-9, 9, size=(4, 2)))]
        assert_same(f(*values), g(*values))


def test_index_errors_name_the_index_and_size(rng):
    x, y = T.dmatrix("x"), T.dvector("y")
    v = T.lvector("v")
    f, g = compile_both([x, y, v], [x[v], T.inc_subtensor(x[v], y), x[:, v]])
    vx, vy = rng.normal(size=(4, 4)), rng.normal(size=4)
    assert_same(f(vx, vy, np.array([-4, 3])), g(vx, vy, np.array([-4, 3])))
    for bad in ([0, 4], [-5], [9, 0]):
        message = raises_like_py(f, g, [vx, vy, np.array(bad)])
        assert str([b for b in bad if not -4 <= b < 4][0]) in message and "4" in message
    scatter = AdvancedIncSubtensor1()(x, y, v)
    f, g = compile_both([x, y, v], scatter)
    assert_all_c(f, AdvancedIncSubtensor1)
    message = raises_like_py(f, g, [vx, vy, np.array([1, 7])])
    assert "index 7" in message and "size 4" in message


def test_boolean_masks_run_through_perform(rng):
    x = T.dmatrix("x")
    mask = T.tensor("bool", (None, None), name="mask")
    f, g = compile_both([x, mask], [x[mask], x[:, 0][mask[0]]])
    assert f.fn.n_c_steps < f.fn.n_steps
    values = [rng.normal(size=(3, 3)), rng.random((3, 3)) < 0.5]
    assert_same(f(*values), g(*values))


def test_dtypes_with_production_flags(rng):
    """-O3 code (vectorized copy loops) on larger arrays of several dtypes."""
    v = T.lvector("v")
    inputs, outs, values = [v], [], [rng.integers(-65, 65, size=200)]
    for dtype in ["float32", "int8"]:
        x = T.tensor(dtype, (None, None), name=dtype)
        inputs.append(x)
        outs += [x[v], T.inc_subtensor(x[v], x[0])]
        values.append(layout(rng, (rng.normal(size=(65, 33)) * 9).astype(dtype)))
    f = sg.function(inputs, outs, mode=CVM)
    g = sg.function(inputs, outs, mode=PY)
    assert f.fn.n_c_steps == f.fn.n_steps
    assert_same(f(*values), g(*values))
