import numpy as np
import pytest

import symgraph as sg
import symgraph.tensor as T
from symgraph.gradient import verify_grad
from symgraph.tensor.subtensor import AdvancedIncSubtensor1
from tests.tensor.rewriting.checks import ops, rewritten


def test_inc_by_zeros_is_removed(rng):
    x = T.dmatrix("x")
    f = rewritten([x], T.inc_subtensor(x[1:], T.zeros_like(x[1:])), rng.random((3, 2)))
    assert not any("Inc" in name for name in ops(f))


def test_inc_into_zeros_becomes_a_set(rng):
    x, y = T.dmatrix("x"), T.dvector("y")
    out = T.inc_subtensor(T.zeros_like(x)[1], y)
    f = rewritten([x, y], out, rng.random((3, 2)), rng.random(2))
    assert any(name.startswith("SetSubtensor") for name in ops(f))
    assert not any(name.startswith("IncSubtensor") for name in ops(f))


def test_row_gather_gradient_uses_the_row_scatter_op(rng):
    W, idx = T.dmatrix("W"), T.lvector("idx")
    cost = (W[idx] ** 2).sum()
    g = sg.grad(cost, W)
    value, index = rng.random((5, 3)), np.array([0, 3, 3, 1])
    f = rewritten([W, idx], g, value, index)
    assert any("AdvancedIncSubtensor1" in name for name in ops(f))
    expected = np.zeros_like(value)
    np.add.at(expected, index, 2 * value[index])
    np.testing.assert_allclose(f(value, index), expected)


def test_set_rows_is_specialized_too(rng):
    x, y, idx = T.dmatrix("x"), T.dvector("y"), T.lvector("idx")
    f = rewritten([x, y, idx], T.set_subtensor(x[idx], y), rng.random((4, 3)), rng.random(3),
                  np.array([2, 0]))
    assert any(name.startswith("AdvancedSetSubtensor1") for name in ops(f))


def test_row_scatter_op_matches_add_at(rng):
    x, y, idx = T.dmatrix("x"), T.dmatrix("y"), T.lvector("idx")
    f = sg.function([x, y, idx], AdvancedIncSubtensor1()(x, y, idx))
    xv, yv, iv = rng.random((6, 2)), rng.random((5, 2)), rng.integers(-6, 6, 5)
    expected = xv.copy()
    np.add.at(expected, iv, yv)
    np.testing.assert_allclose(f(xv, yv, iv), expected)
    assert f.maker.fgraph.toposort()  # the input was not overwritten:
    np.testing.assert_allclose(f(xv, yv, iv), expected)


def test_row_scatter_bounds_error_names_the_op(rng):
    x, y, idx = T.dmatrix("x"), T.dvector("y"), T.lvector("idx")
    f = sg.function([x, y, idx], AdvancedIncSubtensor1()(x, y, idx))
    with pytest.raises(IndexError, match="AdvancedIncSubtensor1.*out of bounds"):
        f(rng.random((2, 3)), rng.random(3), np.array([0, 5]))


@pytest.mark.parametrize("set_instead_of_inc", [False, True])
def test_row_scatter_gradients(rng, set_instead_of_inc):
    index = np.array([1, 3, 1, 0])
    if set_instead_of_inc:
        index = np.array([1, 3, 0])
    op = AdvancedIncSubtensor1(set_instead_of_inc)
    verify_grad(lambda x, y: op(x, y, T.as_tensor(index)),
                [rng.random((4, 2)), rng.random((len(index), 2))], rng=rng)


def test_row_scatter_into_fresh_zeros_runs_in_place(rng):
    W, idx = T.dmatrix("W"), T.lvector("idx")
    g = sg.grad((W[idx] ** 2).sum(), W)
    f = sg.function([W, idx], g)
    assert "AdvancedIncSubtensor1{inplace}" in ops(f)
    value = rng.random((4, 2))
    before = value.copy()
    f(value, np.array([1, 1, 2]))
    np.testing.assert_array_equal(value, before)  # the user's array is untouched


# -- linear maps of increments into zeros ----------------------------------------------------
from symgraph.tensor.subtensor import AdvancedIncSubtensor, IncSubtensor  # noqa: E402
from symgraph.tensor.rewriting.utils import is_constant  # noqa: E402
from tests.tensor.rewriting.checks import fired  # noqa: E402

_INC_OPS = (IncSubtensor, AdvancedIncSubtensor, AdvancedIncSubtensor1)
_REPEATED = np.array([3, 0, 3, 3, 1])


def _increment_of_zeros(kind, x, v, idx):
    """``(symbolic increment of zeros_like(x), the NumPy version)`` for one index ``kind``:
    a basic slice, a column array with a slice (AdvancedIncSubtensor) or rows
    (AdvancedIncSubtensor1); ``idx`` repeats."""
    zeros = T.zeros_like(x)
    if kind == "basic":
        return T.inc_subtensor(zeros[1:3], v), lambda z, vv, iv: z.__setitem__(
            slice(1, 3), z[1:3] + vv)
    if kind == "columns":
        return T.inc_subtensor(zeros[:, idx], v), lambda z, vv, iv: np.add.at(
            z, (slice(None), iv), vv)
    return T.inc_subtensor(zeros[idx], v), lambda z, vv, iv: np.add.at(z, iv, vv)


def _case(kind, rng, dtype):
    """Symbolic ``x, v, idx``, their values, the increment and its NumPy reference."""
    xv = rng.standard_normal((4, 6)).astype(dtype)
    shape = {"basic": (2, 6), "columns": (4, len(_REPEATED)), "rows": (len(_REPEATED), 6)}[kind]
    vv = rng.standard_normal(shape).astype(dtype)
    x, v, idx = T.matrix("x", dtype=dtype), T.matrix("v", dtype=dtype), T.lvector("idx")
    inc, reference = _increment_of_zeros(kind, x, v, idx)

    def numpy_inc(base=None):
        z = np.zeros_like(xv) if base is None else base.copy()
        reference(z, vv, _REPEATED)
        return z

    return (x, v, idx), (xv, vv, _REPEATED), inc, numpy_inc


def _output_op(f):
    return f.maker.fgraph.outputs[0].owner.op


KINDS = ["basic", "columns", "rows"]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_scaled_increment_into_zeros_scales_the_values(rng, kind, dtype):
    inputs, values, inc, numpy_inc = _case(kind, rng, dtype)
    c = T.scalar("c", dtype=dtype)
    cv = np.asarray(rng.uniform(0.5, 2.0), dtype=dtype)
    forms = [(c * inc, cv * numpy_inc()), (-inc, -numpy_inc()), (inc / c, numpy_inc() / cv),
             (T.constant(np.full((1, 1), 0.5, dtype)) * inc, 0.5 * numpy_inc())]
    for out, expected in forms:
        f = rewritten([*inputs, c], out, *values, cv, rtol=1e-6, atol=1e-6)
        assert fired(f, "local_scale_of_inc_zeros") >= 1
        assert isinstance(_output_op(f), _INC_OPS), ops(f)
        got = f(*values, cv)
        assert got.dtype == dtype
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_sum_with_increment_into_zeros_increments_the_other_term(rng, kind, dtype):
    inputs, values, inc, numpy_inc = _case(kind, rng, dtype)
    x, xv = inputs[0], values[0]
    forms = [(x + inc, numpy_inc(xv)), (inc + x, numpy_inc(xv)),
             (x - inc, xv - numpy_inc()), (x - 0.5 * inc, xv - 0.5 * numpy_inc())]
    for out, expected in forms:
        f = rewritten(list(inputs), out, *values, rtol=1e-6, atol=1e-6)
        assert fired(f, "local_add_inc_zeros") == 1
        assert isinstance(_output_op(f), _INC_OPS), ops(f)
        assert "Alloc" not in ops(f)  # no dense zeros left
        got = f(*values)
        assert got.dtype == dtype
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


def test_a_vector_scale_is_not_moved_into_the_increment(rng):
    inputs, values, inc, numpy_inc = _case("rows", rng, "float64")
    c, cv = T.dvector("c"), rng.standard_normal(6)
    f = rewritten([*inputs, c], c * inc, *values, cv)
    assert fired(f, "local_scale_of_inc_zeros") == 0
    np.testing.assert_allclose(f(*values, cv), cv * numpy_inc())


def test_a_scale_with_more_dims_is_not_moved_into_the_increment(rng):
    inputs, values, inc, numpy_inc = _case("rows", rng, "float64")
    c, cv = T.tensor("float64", (1, 1, 1), "c"), np.full((1, 1, 1), 3.0)
    f = rewritten([*inputs, c], c * inc, *values, cv)
    assert fired(f, "local_scale_of_inc_zeros") == 0
    assert f(*values, cv).shape == (1, 4, 6)
    np.testing.assert_allclose(f(*values, cv), 3.0 * numpy_inc()[None])


def test_a_float64_scale_of_a_float32_increment_keeps_the_float64_result(rng):
    inputs, values, inc, numpy_inc = _case("rows", rng, "float32")
    c, cv = T.dscalar("c"), np.float64(1.0 / 3.0)
    f = rewritten([*inputs, c], c * inc, *values, cv, rtol=1e-6, atol=1e-6)
    assert fired(f, "local_scale_of_inc_zeros") == 1
    got = f(*values, cv)
    assert got.dtype == np.float64
    np.testing.assert_allclose(got, cv * numpy_inc().astype(np.float64), rtol=1e-6)


@pytest.mark.parametrize("other", ["unknown_shape", "row"])
def test_a_term_of_another_shape_is_not_incremented(rng, other):
    inputs, values, inc, numpy_inc = _case("rows", rng, "float64")
    y = T.dmatrix("y") if other == "unknown_shape" else T.tensor("float64", (1, None), "y")
    yv = rng.standard_normal((4, 6) if other == "unknown_shape" else (1, 6))
    f = rewritten([*inputs, y], y + inc, *values, yv)
    assert fired(f, "local_add_inc_zeros") == 0
    np.testing.assert_allclose(f(*values, yv), yv + numpy_inc())


def test_a_set_with_repeated_indices_is_not_turned_into_an_increment(rng):
    (x, v, idx), (xv, vv, iv), _, _ = _case("rows", rng, "float64")
    out = x + T.set_subtensor(T.zeros_like(x)[idx], v)
    f = rewritten([x, v, idx], out, xv, vv, iv)
    assert fired(f, "local_add_inc_zeros") == 0
    expected = np.zeros_like(xv)
    expected[iv] = vv
    np.testing.assert_allclose(f(xv, vv, iv), xv + expected)


def test_a_basic_set_into_zeros_counts_as_an_increment(rng):
    x, v = T.dmatrix("x"), T.dvector("v")
    xv, vv = rng.standard_normal((4, 3)), rng.standard_normal(3)
    f = rewritten([x, v], x - 2.0 * T.set_subtensor(T.zeros_like(x)[1:3], v), xv, vv)
    assert fired(f, "local_add_inc_zeros") == 1
    assert isinstance(_output_op(f), IncSubtensor) and not _output_op(f).set_instead_of_inc
    expected = xv.copy()
    expected[1:3] -= 2.0 * vv
    np.testing.assert_allclose(f(xv, vv), expected)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_embedding_update_is_an_in_place_row_scatter(rng, dtype):
    Ev = rng.standard_normal((7, 3)).astype(dtype)
    E = sg.shared(Ev.copy(), name="E")
    x, g = T.ivector("x"), T.matrix("g", dtype=dtype)
    f = sg.function([x, g], [], updates=[(E, E - 0.1 * sg.grad((E[x] * g).sum(), E))])
    update = f.maker.fgraph.outputs[-1].owner
    assert str(update.op) == "AdvancedIncSubtensor1{inplace}", ops(f)
    assert update.inputs[0] in f.maker.fgraph.inputs  # E itself
    allocs = [n for n in f.maker.fgraph.apply_nodes if str(n.op) == "Alloc"]
    assert not any(is_constant(n.inputs[0], 0) for n in allocs)  # no dense zeros gradient
    iv, gv = np.array([2, 5, 2, 0], dtype=np.int32), rng.standard_normal((4, 3)).astype(dtype)
    f(iv, gv)
    expected = Ev.copy()
    np.add.at(expected, iv, -np.asarray(0.1, dtype) * gv)
    np.testing.assert_allclose(E.get_value(), expected, rtol=1e-6)


def test_module_examples():
    import doctest

    from symgraph.tensor.rewriting import subtensor

    assert doctest.testmod(subtensor).failed == 0
