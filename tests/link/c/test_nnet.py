"""Generated C for the softmax family and the categorical cross-entropy ops against
``perform`` (the Python linker on the same graph): axes, dtypes, strided inputs,
extreme logits, NaN and -inf rows, target dtypes and broadcasting, errors.

Each test compiles one function of several nodes (one gcc run).  C and NumPy sum a
row pairwise in the output dtype, but exp comes from different libraries (glibc;
NumPy's SIMD code), so float32 is compared to a relative 1e-5, float64 to 1e-12.
"""
import re
import shutil
import subprocess
import warnings

import numpy as np
import pytest

import symgraph as sg
import symgraph.tensor as T
from symgraph.link.c import compiler
from symgraph.tensor.nnet import (CrossentropyCategorical1HotGrad, LogSoftmax, Softmax,
                                  SoftmaxGrad, crossentropy_categorical_1hot)
from symgraph.tensor.nnet.softmax_crossentropy import (CrossentropySoftmax1Hot,
                                                       CrossentropySoftmax1HotGrad)

FLOATS = ["float32", "float64"]


def _assert_close(got, want, what):
    assert got.dtype == want.dtype and got.shape == want.shape, what
    rtol = 1e-5 if want.dtype == np.float32 else 1e-12
    np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol * 1e-3, equal_nan=True,
                               err_msg=what)


class _Pair:
    """The same graph (no rewrites) under cvm, where every node must run in C, and under
    the Python linker, the reference."""

    def __init__(self, inputs, outputs, flags=compiler.QUICK_FLAGS):
        self.outputs = outputs
        with compiler.using_flags(flags):
            self.c = sg.function(inputs, outputs, mode=sg.Mode(linker="cvm", optimizer=None),
                                 on_unused_input="ignore")
        self.py = sg.function(inputs, outputs, mode=sg.Mode(linker="py", optimizer=None),
                              on_unused_input="ignore")
        in_python = [str(n.op) for n, is_c in zip(self.c.fn.nodes, self.c.fn.step_is_c)
                     if not is_c]
        assert not in_python, f"nodes run through perform: {in_python}"

    def check(self, *values):
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            want = self.py(*values)
            got = self.c(*values)
        for out, result, expected in zip(self.outputs, got, want):
            _assert_close(result, expected, str(out.owner))
        return got


def _strided(array, rng):
    """``array``'s values in a random layout: contiguous, transposed, a strided slice,
    or reversed along the first axis."""
    choice = rng.integers(4)
    if choice == 1:
        return np.asfortranarray(array)
    if choice == 2 and array.ndim:
        return np.repeat(array, 3, axis=-1)[..., 1::3]
    if choice == 3 and array.ndim:
        return np.flip(np.flip(array, 0).copy(), 0)
    return array.copy()


def _logits(rng, shape, dtype):
    """Logits from N(0, 3), one row (where there are rows) with huge values."""
    x = rng.normal(size=shape) * 3
    if len(shape) >= 2 and shape[0] > 1 and shape[-1] > 1:
        x[0, ..., 0], x[0, ..., -1] = 1e4, -1e4
    return x.astype(dtype)


def _probabilities(rng, shape, dtype):
    """Rows of probabilities along the last axis (a softmax of moderate logits)."""
    e = np.exp(rng.normal(size=shape))
    return (e / e.sum(axis=-1, keepdims=True)).astype(dtype)


# -- softmax, log-softmax and the softmax gradient ---------------------------------------

@pytest.mark.parametrize("dtype", FLOATS)
def test_softmax_and_log_softmax_along_every_axis(dtype, rng):
    x = T.tensor(dtype=dtype, shape=(None,) * 3, name="x")
    v = T.tensor(dtype=dtype, shape=(None,), name="v")
    outputs = [op(axis)(x) for op in (Softmax, LogSoftmax) for axis in (0, 1, 2, None)]
    outputs += [Softmax(0)(v), LogSoftmax(None)(v)]
    pair = _Pair([x, v], outputs)
    for shape in [(3, 4, 5), (2, 1, 37), (1, 6, 1), (2, 0, 3)]:
        for _ in range(3):
            pair.check(_strided(_logits(rng, shape, dtype), rng),
                       _strided(_logits(rng, (shape[-1] + 3,), dtype), rng))


def test_softmax_of_rows_with_nan_and_infinities(rng):
    """As perform: a NaN row gives NaNs; +inf makes its row NaN (inf - inf); -inf
    entries get probability 0; an all--inf row is NaN."""
    x = T.dmatrix("x")
    pair = _Pair([x], [Softmax(1)(x), LogSoftmax(1)(x), Softmax(0)(x)])
    value = rng.normal(size=(5, 11))
    value[0, 3] = np.nan
    value[1, 4] = np.inf
    value[2, [1, 7]] = -np.inf
    value[3, :] = -np.inf
    got = pair.check(value)
    assert np.isnan(got[0][0]).all() and got[0][2, 1] == 0.0 and np.isnan(got[0][3]).all()


@pytest.mark.parametrize("dtypes", [("float64", "float64"), ("float32", "float64"),
                                    ("float32", "float32")], ids="-".join)
def test_softmax_grad_matches_perform(dtypes, rng):
    dy = T.tensor(dtype=dtypes[0], shape=(None,) * 3, name="dy")
    sm = T.tensor(dtype=dtypes[1], shape=(None,) * 3, name="sm")
    outputs = [SoftmaxGrad(axis)(dy, sm) for axis in (0, 2, None)]
    pair = _Pair([dy, sm], outputs)
    for shape in [(3, 4, 5), (2, 1, 19), (0, 2, 2)]:
        pair.check(_strided(rng.normal(size=shape).astype(dtypes[0]), rng),
                   _strided(_probabilities(rng, shape, dtypes[1]), rng))


def test_softmax_grad_shape_mismatch_raises(rng):
    dy, sm = T.dmatrix("dy"), T.dmatrix("sm")
    f = _Pair([dy, sm], [SoftmaxGrad(1)(dy, sm)]).c
    with pytest.raises(ValueError, match=r"dy of shape \(2, 3\) .* shape \(2, 4\)"):
        f(rng.normal(size=(2, 3)), rng.normal(size=(2, 4)))


# -- the row helpers: unit-stride (vectorized) and strided rows --------------------------

def _layouts(array):
    """``array``'s values in every layout the row helpers tell apart: C-contiguous rows
    (the vectorized loops), Fortran order, a strided slice and reversed rows."""
    strided = np.repeat(array, 2, axis=-1)[..., ::2]
    return {"contiguous": array.copy(), "fortran": np.asfortranarray(array),
            "strided": strided, "reversed": np.flip(np.flip(array, -1).copy(), -1)}


@pytest.mark.parametrize("dtype", FLOATS)
def test_row_helpers_on_every_row_length_and_layout(dtype, rng):
    """Rows of 1, 7, 1000 and 1003 elements (a multiple of the vector width or not) in
    every layout, built with the default flags (what users run): each pass of the softmax
    family (exp(x - m), (x - m) - log(total), sm * g, (dy - total) * sm) against perform."""
    x, dy, sm = (T.tensor(dtype=dtype, shape=(None, None), name=n) for n in ("x", "dy", "sm"))
    y, g = T.tensor(dtype="int64", shape=(None,), name="y"), T.tensor(dtype=dtype, shape=(None,))
    outputs = [Softmax(1)(x), LogSoftmax(1)(x), Softmax(None)(x), LogSoftmax(None)(x),
               SoftmaxGrad(1)(dy, sm), SoftmaxGrad(None)(dy, sm)]
    outputs += list(CrossentropySoftmax1Hot()(x, y)) + [CrossentropySoftmax1HotGrad()(g, sm, y)]
    pair = _Pair([x, dy, sm, y, g], outputs, flags=compiler.MODULE_FLAGS)
    for classes in (1, 7, 1000, 1003):
        shape = (3, classes)
        values = [_layouts(_logits(rng, shape, dtype)), _layouts(rng.normal(size=shape).astype(
            dtype)), _layouts(_probabilities(rng, shape, dtype))]
        for layout in values[0]:
            pair.check(*[v[layout] for v in values], _targets(rng, 3, classes, "int64"),
                       rng.normal(size=3).astype(dtype))


def test_softmax_exp_loop_calls_vector_exp():
    """gcc vectorizes the unit-stride exp(x - m) loop into libmvec calls (where glibc has
    libmvec and binutils' objdump is installed): one exp call per vector, not per element."""
    if not compiler.vector_math_level() or not shutil.which("objdump"):
        pytest.skip("no libmvec or no objdump")
    from symgraph.link.c.module import ModuleSource, build_module
    import symgraph.link.c.generators  # noqa: F401

    source = ModuleSource()
    source.add(Softmax(1)(T.fmatrix("x")).owner)
    listing = subprocess.run(["objdump", "-d", build_module(source).path], capture_output=True,
                             text=True, check=True).stdout
    unit = listing.split("<sg_nn_exp_shift_float32_float32_unit>:")[1].split("\n\n")[0]
    assert re.search(r"call.*<_ZGV\w+expf", unit), unit


# -- cross-entropy against integer targets -----------------------------------------------

def _targets(rng, shape, classes, dtype):
    return rng.integers(0, classes, shape).astype(dtype)


@pytest.mark.parametrize("dtype", FLOATS)
def test_crossentropy_softmax_and_its_grad(dtype, rng):
    x = T.tensor(dtype=dtype, shape=(None, None), name="x")
    x3 = T.tensor(dtype=dtype, shape=(None, None, None), name="x3")
    y = T.tensor(dtype="int32", shape=(None,), name="y")
    y_one = T.tensor(dtype="uint8", shape=(1,), name="y_one")     # broadcast to every row
    y3 = T.tensor(dtype="int64", shape=(None, None), name="y3")
    g = T.tensor(dtype=dtype, shape=(None,), name="g")
    outputs = list(CrossentropySoftmax1Hot()(x, y)) + list(CrossentropySoftmax1Hot()(x, y_one))
    outputs += list(CrossentropySoftmax1Hot()(x3, y3))
    sm = T.tensor(dtype=dtype, shape=(None, None), name="sm")
    outputs += [CrossentropySoftmax1HotGrad()(g, sm, y),
                CrossentropySoftmax1HotGrad()(g, sm, y_one)]
    pair = _Pair([x, x3, y, y_one, y3, g, sm], outputs)
    for rows, classes in [(6, 10), (1, 3), (4, 40), (0, 5)]:
        pair.check(_strided(_logits(rng, (rows, classes), dtype), rng),
                   _strided(_logits(rng, (2, 3, classes), dtype), rng),
                   _targets(rng, rows, classes, "int32"), _targets(rng, 1, classes, "uint8"),
                   _targets(rng, (2, 3), classes, "int64"),
                   _strided(rng.normal(size=rows).astype(dtype), rng),
                   _strided(_probabilities(rng, (rows, classes), dtype), rng))


@pytest.mark.parametrize("dtypes", [("float64", "float64"), ("float32", "float64"),
                                    ("float64", "float32")], ids="-".join)
def test_crossentropy_categorical_and_its_grad(dtypes, rng):
    p = T.tensor(dtype=dtypes[1], shape=(None, None), name="p")
    y = T.tensor(dtype="int16", shape=(None,), name="y")
    g = T.tensor(dtype=dtypes[0], shape=(None,), name="g")
    g_one = T.tensor(dtype=dtypes[0], shape=(1,), name="g_one")
    outputs = [crossentropy_categorical_1hot(p, y), CrossentropyCategorical1HotGrad()(g, p, y),
               CrossentropyCategorical1HotGrad()(g_one, p, y)]
    pair = _Pair([p, y, g, g_one], outputs)
    for rows, classes in [(7, 10), (1, 1), (0, 4)]:
        pair.check(_strided(_probabilities(rng, (rows, classes), dtypes[1]), rng),
                   _targets(rng, rows, classes, "int16"),
                   rng.normal(size=rows).astype(dtypes[0]), rng.normal(size=1).astype(dtypes[0]))


@pytest.mark.parametrize("bad", [5, -1])
def test_target_out_of_range_is_a_value_error_like_perform(bad, rng):
    """perform raises ValueError naming the index and the number of classes; so does C,
    for the first bad target in C order, before computing anything."""
    x, p, g = T.dmatrix("x"), T.dmatrix("p"), T.dvector("g")
    y = T.tensor(dtype="int8", shape=(None,), name="y")
    outputs = [CrossentropySoftmax1Hot()(x, y)[0], crossentropy_categorical_1hot(p, y),
               CrossentropySoftmax1HotGrad()(g, p, y), CrossentropyCategorical1HotGrad()(g, p, y)]
    for out in outputs:
        node_inputs = out.owner.inputs
        f = _Pair([v for v in (x, p, g, y) if v in node_inputs], [out]).c
        values = {x: rng.normal(size=(3, 5)), p: np.full((3, 5), 0.2), g: rng.normal(size=3),
                  y: np.array([1, bad, 7], "int8")}
        with pytest.raises(ValueError, match=f"class index {bad} is out of range for 5 classes"):
            f(*[values[v] for v in (x, p, g, y) if v in node_inputs])


def test_targets_of_the_wrong_shape_raise(rng):
    x = T.dmatrix("x")
    y = T.tensor(dtype="int64", shape=(None,), name="y")
    f = _Pair([x, y], list(CrossentropySoftmax1Hot()(x, y))).c
    with pytest.raises(ValueError, match=r"targets of shape \(2,\) do not match logits"):
        f(rng.normal(size=(3, 4)), np.array([0, 1]))


def test_training_graph_runs_its_softmax_and_loss_in_c(rng):
    """The rewrites fuse softmax + indexing cross-entropy into CrossentropySoftmax1Hot
    and its gradient; under cvm none of those nodes goes through perform."""
    x, y = T.fmatrix("x"), T.ivector("y")
    w = sg.shared(rng.normal(size=(6, 4)).astype("float32") * 0.1, name="w")
    p = T.nnet.softmax(T.dot(x, w))
    cost = -T.mean(T.log(p)[T.arange(y.shape[0]), y])
    updates = [(w, w - np.float32(0.1) * sg.grad(cost, w))]
    f = sg.function([x, y], [cost, T.argmax(p, axis=1)], updates=updates,
                    mode=sg.Mode(linker="cvm"))
    nnet_ops = (CrossentropySoftmax1Hot, CrossentropySoftmax1HotGrad, Softmax, SoftmaxGrad)
    fused = [n for n in f.fn.nodes if isinstance(n.op, nnet_ops)]
    assert fused and all(is_c for n, is_c in zip(f.fn.nodes, f.fn.step_is_c) if n in fused)
    vx, vy = rng.normal(size=(5, 6)).astype("float32"), rng.integers(0, 4, 5).astype("int32")
    logits = vx @ w.get_value()
    logp = logits - logits.max(1, keepdims=True)
    logp -= np.log(np.exp(logp).sum(1, keepdims=True))
    cost_value, predicted = f(vx, vy)
    np.testing.assert_allclose(cost_value, -logp[np.arange(5), vy].mean(), rtol=1e-5)
    np.testing.assert_array_equal(predicted, logits.argmax(1))
