"""Generated C for Reduce (sum, prod, max, min, all, any), Argmax and CumOp against
``perform``: every dtype, axis sets, strided / transposed / reversed inputs, NaNs,
ties, empty arrays.

Each test compiles one function holding many nodes (one gcc run); the sweeps use
``QUICK_FLAGS`` (the helpers carry their own -O1).  Float sums: C and NumPy both sum
contiguous runs pairwise in the output dtype, but where they split or order runs
differently the float32 results differ in the last bits, so float32 is compared to
a relative 1e-5 and float64 to 1e-12; cumulative ops are sequential in both and
compared exactly.
"""
import warnings

import numpy as np
import pytest

import symgraph as sg
import symgraph.tensor as T
from symgraph.link.c import compiler
from symgraph.tensor.extra_ops import CumOp
from symgraph.tensor.math import Argmax, Reduce

# bool, small ints and unsigned ones accumulate in 64 bits; the walk over axes and
# strides is the same for every dtype
DTYPES = ["bool", "int8", "uint64", "float32", "float64"]
AXES = [(), (0,), (1,), (2,), (0, 2), (1, 2), (0, 1, 2)]
KINDS = ["sum", "prod", "max", "min", "all", "any"]


def _values(rng, dtype, shape, nan=0.0):
    """Random values of ``dtype``: small integers (ties, and products that wrap), floats
    around 1 (products stay finite), a fraction ``nan`` of them NaN."""
    if dtype == "bool":
        return rng.random(shape) < 0.7
    if dtype.startswith("float"):
        values = rng.uniform(0.5, 1.5, shape) * rng.choice([-1, 1], shape)
        values[rng.random(shape) < nan] = np.nan
        return values.astype(dtype)
    low = 0 if dtype.startswith("u") else -4
    return rng.integers(low, 5, shape).astype(dtype)


def _layouts(array):
    """The same values as a contiguous array, transposed (Fortran order), a strided
    slice of a larger array, and with the first axis reversed."""
    wide = np.repeat(array, 2, axis=-1)[..., ::2] if array.ndim else array.copy()
    reversed_ = np.flip(np.flip(array, 0).copy(), 0) if array.ndim else array.copy()
    return [array.copy(), np.asfortranarray(array), wide, reversed_]


def _assert_same(got, want, what, exact=False):
    assert got.dtype == want.dtype and got.shape == want.shape, what
    if want.dtype.kind == "f" and not exact:
        rtol = 1e-5 if want.dtype == np.float32 else 1e-12
        np.testing.assert_allclose(got, want, rtol=rtol, atol=0, equal_nan=True, err_msg=what)
    else:
        np.testing.assert_array_equal(got, want, err_msg=what)


class _Pair:
    """The same graph (no rewrites) under cvm, where every node must run in C, and under
    the Python linker, whose ``perform`` results are the reference."""

    def __init__(self, inputs, outputs, flags=compiler.QUICK_FLAGS):
        self.outputs = outputs if isinstance(outputs, list) else [outputs]
        kwargs = dict(on_unused_input="ignore")
        with compiler.using_flags(flags):
            self.c = sg.function(inputs, self.outputs, mode=sg.Mode(linker="cvm", optimizer=None),
                                 **kwargs)
        self.py = sg.function(inputs, self.outputs, mode=sg.Mode(linker="py", optimizer=None),
                              **kwargs)
        in_python = [str(n.op) for n, is_c in zip(self.c.fn.nodes, self.c.fn.step_is_c)
                     if not is_c]
        assert not in_python, f"nodes run through perform: {in_python}"

    def check(self, *values, exact=False):
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            want = self.py(*values)
            got = self.c(*values)
        for out, result, expected in zip(self.outputs, got, want):
            _assert_same(result, expected, str(out.owner), exact)
        return got


# -- Reduce ---------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
def test_reductions_match_perform(dtype, rng):
    x = T.tensor(dtype=dtype, shape=(None,) * 3, name="x")
    outputs = [Reduce(kind, axes)(x) for kind in KINDS for axes in AXES]
    outputs += [T.sum(x, axis=1, dtype="float64"), T.prod(x, axis=(0, 2), dtype="int16"),
                T.sum(T.cast(x, "int32"), axis=(0, 1))]
    pair = _Pair([x], outputs)
    nan = 0.05 if dtype.startswith("float") else 0.0
    for shape in [(3, 4, 5), (2, 1, 19), (1, 3, 1)]:
        for value in _layouts(_values(rng, dtype, shape, nan)):
            pair.check(value)


def test_reductions_of_long_runs_take_the_vector_paths(rng):
    """Runs of 8 and more: the hand-vectorized float sum, max and min, with odd tails,
    reduced along the contiguous axis (a run per output) and across it (rows)."""
    x = T.fmatrix("x")
    y = T.dmatrix("y")
    outputs = [Reduce(kind, axes)(v) for v in (x, y) for kind in ("sum", "max", "min")
               for axes in [(0,), (1,), (0, 1)]]
    pair = _Pair([x, y], outputs, flags=compiler.module_flags())
    for shape in [(37, 301), (300, 9), (8, 8), (2, 1031)]:
        vx = _values(rng, "float32", shape, nan=0.0)
        vy = _values(rng, "float64", shape, nan=0.001 if shape[1] > 100 else 0.0)
        for layout in range(3):
            pair.check(_layouts(vx)[layout], _layouts(vy)[layout])


def test_float32_sum_is_pairwise_like_numpy(rng):
    """A plain float32 loop over 10^6 elements would be off by ~1e-4 relative; pairwise
    summation keeps the error near NumPy's."""
    x = T.fvector("x")
    f = _Pair([x], T.sum(x), flags=compiler.module_flags()).c
    value = rng.uniform(0, 1, 10 ** 6).astype("float32")
    exact = value.astype("float64").sum()
    error, numpy_error = abs(float(f(value)[0]) - exact), abs(float(value.sum()) - exact)
    assert error <= 4 * numpy_error + 1e-6 * exact


def test_reductions_of_empty_arrays(rng):
    x = T.tensor(dtype="float32", shape=(None,) * 3, name="x")
    outputs = [Reduce(kind, axes)(x) for kind in ("sum", "prod", "all", "any")
               for axes in AXES]
    outputs += [Reduce(kind, (0,))(x) for kind in ("max", "min")]  # axis 0 is not empty
    pair = _Pair([x], outputs)
    for shape in [(2, 0, 3), (3, 4, 0)]:
        pair.check(_values(rng, "float32", shape))


@pytest.mark.parametrize("kind", ["max", "min"])
def test_max_and_min_of_nothing_raise_like_numpy(kind, rng):
    x = T.fmatrix("x")
    f = _Pair([x], Reduce(kind, (1,))(x)).c
    with pytest.raises(ValueError, match=r"zero-size array .* \(3, 0\)") as info:
        f(np.zeros((3, 0), "float32"))
    assert "Apply node that caused the error" in str(info.value)
    np.testing.assert_array_equal(f(np.zeros((0, 4), "float32"))[0], np.zeros(0, "float32"))


# -- Argmax ---------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", ["bool", "uint64", "int64", "float32", "float64"])
def test_argmax_and_argmin_match_perform(dtype, rng):
    x = T.tensor(dtype=dtype, shape=(None,) * 3, name="x")
    outputs = [Argmax(axes, kind)(x) for kind in ("max", "min") for axes in AXES]
    pair = _Pair([x], outputs)
    nan = 0.02 if dtype.startswith("float") else 0.0
    for shape in [(3, 4, 5), (2, 3, 37), (40, 3, 2), (1, 1, 1)]:
        for value in _layouts(_values(rng, dtype, shape, nan)):
            pair.check(value)


def test_argmax_finds_the_first_nan_and_the_first_tie(rng):
    """NaN wins over every number, the first NaN over later ones, and of equal maxima
    the first: in the vector part of a long run, in its tail, and across lanes."""
    x = T.dmatrix("x")
    outputs = [T.argmax(x, axis=1), T.argmin(x, axis=1), T.argmax(x, axis=0)]
    pair = _Pair([x], outputs)
    value = np.tile(rng.uniform(-1, 1, 41), (6, 1))
    value[0, [5, 17]] = 9.0          # ties in two lanes: the first wins
    value[1, [30, 12]] = np.nan      # NaNs in the vector part
    value[2, 40] = np.nan            # NaN in the tail
    value[3, 0] = np.nan             # NaN first
    value[4, [3, 11, 19]] = -9.0     # ties of the minimum in one lane and another
    for layout in _layouts(value):
        pair.check(layout)
    got = pair.c(value)
    assert got[0][:4].tolist() == [5, 12, 40, 0] and got[1][4] == 3


def test_argmax_of_an_empty_array_raises_like_perform():
    x = T.fmatrix("x")
    f = _Pair([x], T.argmax(x, axis=0)).c
    with pytest.raises(ValueError, match="argmax of an empty sequence"):
        f(np.zeros((0, 3), "float32"))


# -- CumOp ----------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", ["bool", "int8", "uint64", "float32", "float64"])
def test_cumsum_and_cumprod_match_numpy_exactly(dtype, rng):
    x = T.tensor(dtype=dtype, shape=(None,) * 3, name="x")
    outputs = [CumOp(axis, mode)(x) for mode in ("add", "mul") for axis in (None, 0, 1, 2)]
    pair = _Pair([x], outputs)
    for shape in [(3, 4, 5), (1, 6, 1), (2, 0, 3)]:
        for value in _layouts(_values(rng, dtype, shape)):
            pair.check(value, exact=True)


def test_cumsum_of_a_scalar_and_integer_overflow(rng):
    s = T.scalar("s", dtype="float64")
    v = T.tensor(dtype="int8", shape=(None,), name="v")
    outputs = [T.cumsum(s), T.cumprod(s), CumOp(0, "mul")(T.cast(v, "int64"))]
    pair = _Pair([s, v], outputs)
    value = np.full(70, 3, "int8")  # 3**70 wraps in int64, as in NumPy
    got = pair.check(np.float64(2.5), value, exact=True)
    assert got[0].tolist() == [2.5] and got[1].tolist() == [2.5]
    with np.errstate(all="ignore"):
        np.testing.assert_array_equal(got[2], np.cumprod(value.astype("int64")))
