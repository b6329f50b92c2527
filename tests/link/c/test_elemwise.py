"""Generated C for Elemwise against ``perform``: every scalar op and dtype, shapes,
broadcasting, strides, in-place nodes.

The op-by-dtype sweep compiles unoptimized (``QUICK_FLAGS``: it checks what each
expression computes; 4 ms of gcc per node instead of 20); the shape tests and
a float32 sweep use the production flags, so the vectorized loops are checked too.
"""
import warnings

import numpy as np
import pytest

import symgraph as sg
import symgraph.tensor as T
from symgraph.link.c import compiler
from symgraph.link.c.scalar_c import scalar_c_expression
from symgraph.scalar import basic as scal
from symgraph.tensor.basic import cast
from symgraph.tensor.elemwise import Elemwise

DTYPES = ["bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
          "float32", "float64"]
MIXED = [("int8", "float32"), ("uint8", "int8"), ("bool", "int32"), ("int16", "uint16"),
         ("float32", "float64"), ("int64", "float32"), ("uint64", "int8"), ("uint32", "int32"),
         ("float64", "bool")]
SCALAR_OPS = sorted((op for op in vars(scal).values() if isinstance(op, scal.ScalarOp)),
                    key=lambda op: op.name)
# every op whose table entry has a C expression (and that NumPy defines on floats) must
# get C code for float64
FLOAT_OPS_WITH_C = [op.name for op in SCALAR_OPS if op.c_expr is not None]


def _n_c_elemwise(f):
    """Elemwise steps of ``f`` that run generated C (other ops may have C of their own)."""
    return sum(1 for node, is_c in zip(f.fn.nodes, f.fn.step_is_c)
               if is_c and isinstance(node.op, Elemwise))


def _values(rng, dtype, n=12):
    """Random values with the awkward ones first: NaN, infinities, signed zeros, extremes."""
    if dtype == "bool":
        return rng.random(n) > 0.5
    if dtype.startswith("float"):
        special = [np.nan, np.inf, -np.inf, 0.0, -0.0, 1.0, -1.0]
        return np.r_[special, rng.normal(size=n) * 3].astype(dtype)
    info = np.iinfo(dtype)
    special = [0, 1, info.max] + ([-1, info.min] if info.min < 0 else [2])
    return np.r_[special, rng.integers(max(info.min, -50), 50, size=n)].astype(dtype)


def _reference(node, values):
    """``perform``'s result, or None where perform itself refuses (e.g. -bool)."""
    cells = [[None]]
    try:
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            node.op.perform(node, values, cells)
    except Exception:
        return None
    return cells[0][0]


def _assert_same(got, want, what):
    assert got.dtype == want.dtype, what
    assert got.shape == want.shape, what
    if want.dtype.kind == "f":
        rtol = 1e-5 if want.dtype == np.float32 else 1e-12
        np.testing.assert_allclose(got, want, rtol=rtol, atol=1e-30, equal_nan=True,
                                   err_msg=what)
    else:
        np.testing.assert_array_equal(got, want, err_msg=what)


def _check_nodes(builders, rng, flags=compiler.QUICK_FLAGS):
    """Compile every node ``builders`` make into one cvm function; compare with perform."""
    cases, value_of = [], {}
    for inputs, make in builders:
        try:
            out = make(*inputs)
        except Exception:
            continue  # the op refuses these dtypes at graph-build time
        for v in inputs:
            if id(v) not in value_of:
                value_of[id(v)] = _values(rng, v.dtype)
        values = [value_of[id(v)] for v in inputs]
        want = _reference(out.owner, values)
        if want is not None:
            cases.append((inputs, out, values, want))
    inputs = list({id(v): v for c in cases for v in c[0]}.values())
    with compiler.using_flags(flags):
        f = sg.function(inputs, [c[1] for c in cases], mode=sg.Mode(linker="cvm"),
                        on_unused_input="ignore")
    got = f(*[value_of[id(v)] for v in inputs])
    for (_, out, _, want), result in zip(cases, got):
        _assert_same(result, want, str(out.owner))
    return f, cases


def _op_builders(dtypes):
    xs = [T.tensor(dtype=d, shape=(None,), name=f"x{k}") for k, d in enumerate(dtypes)]
    builders = []
    for op in SCALAR_OPS:
        nin = 2 if op.nin == -1 else op.nin
        if nin <= len(xs):
            builders.append((xs[:nin], Elemwise(op)))
    return builders


@pytest.mark.parametrize("dtype", DTYPES)
def test_every_scalar_op_matches_perform(dtype, rng):
    f, cases = _check_nodes(_op_builders([dtype] * 3), rng)
    assert _n_c_elemwise(f) >= sum(1 for c in cases if _has_c(c[1].owner))
    if dtype == "float64":
        computed = {c[1].owner.op.scalar_op.name for c in cases}  # perform accepts floats
        with_c = {c[1].owner.op.scalar_op.name for c in cases if _has_c(c[1].owner)}
        assert set(FLOAT_OPS_WITH_C) & computed <= with_c


@pytest.mark.parametrize("dtypes", MIXED, ids="-".join)
def test_mixed_dtypes_match_perform(dtypes, rng):
    builders = [b for b in _op_builders(dtypes) if len(b[0]) == 2]
    _check_nodes(builders, rng)


def test_float32_sweep_with_production_flags(rng):
    f, cases = _check_nodes(_op_builders(["float32"] * 3), rng, flags=compiler.MODULE_FLAGS)
    assert _n_c_elemwise(f) == len(cases)


def _has_c(node):
    return scalar_c_expression(node.op.scalar_op, [v.dtype for v in node.inputs],
                               node.outputs[0].dtype, ["a", "b", "c"][:len(node.inputs)]) \
        is not None


def test_variadic_add_wraps_like_numpy_reduce(rng):
    """reduce(np.add, [int8, int8, float32]) wraps the int8 partial sum first."""
    a, b = T.tensor(dtype="int8", shape=(None,)), T.tensor(dtype="int8", shape=(None,))
    c = T.tensor(dtype="float32", shape=(None,))
    out = Elemwise(scal.add)(a, b, c)
    mul = Elemwise(scal.mul)(a, b, c)
    f = sg.function([a, b, c], [out, mul], mode=sg.Mode(linker="cvm"))
    va = np.array([100, -100, 7], "int8")
    vb = np.array([100, -100, 9], "int8")
    vc = rng.normal(size=3).astype("float32")
    got = f(va, vb, vc)
    with np.errstate(all="ignore"):
        np.testing.assert_array_equal(got[0], (va + vb) + vc)
        np.testing.assert_array_equal(got[1], (va * vb) * vc)
    assert _n_c_elemwise(f) == 2


@pytest.mark.parametrize("source", DTYPES)
def test_casts_match_astype(source, rng):
    x = T.tensor(dtype=source, shape=(None,))
    targets = [d for d in DTYPES if d != source]
    if source.startswith("float"):  # in range of every target: C leaves the rest undefined
        value = np.r_[0.0, 0.5, 99.9, 1.0, rng.uniform(0, 100, size=20)].astype(source)
    else:
        value = _values(rng, source)
    with compiler.using_flags(compiler.QUICK_FLAGS):
        f = sg.function([x], [cast(x, d) for d in targets], mode=sg.Mode(linker="cvm"))
    assert _n_c_elemwise(f) == len(targets)
    for target, got in zip(targets, f(value)):
        with np.errstate(all="ignore"):
            _assert_same(got, value.astype(target), f"{source} -> {target}")


# -- shapes, broadcasting and strides (production flags) -------------------------

def _layout(rng, array):
    """``array``'s values, stored contiguously, transposed, strided or reversed."""
    choice = rng.integers(4)
    if choice == 1 and array.ndim >= 2:
        return np.ascontiguousarray(array.T).T
    if choice == 2 and array.ndim >= 1:
        axis = rng.integers(array.ndim)
        wide = np.repeat(array, 2, axis=axis)
        index = [slice(None)] * array.ndim
        index[axis] = slice(None, None, 2)
        return wide[tuple(index)]
    if choice == 3 and array.ndim >= 1:
        return np.flip(np.flip(array, 0).copy(), 0)
    return array.copy()


@pytest.mark.parametrize("ndim", [0, 1, 2, 3, 4])
def test_broadcasting_and_strides(ndim, rng):
    a, b = T.tensor(dtype="float64", shape=(None,) * ndim), T.tensor(dtype="float32",
                                                                     shape=(None,) * ndim)
    c = T.tensor(dtype="int32", shape=(None,) * ndim)
    out = a * b + c - T.exp(b)
    f = sg.function([a, b, c], [out, T.switch(a > b, a, c)], mode=sg.Mode(linker="cvm"))
    assert _n_c_elemwise(f) == _n_elemwise(f) >= 1
    for trial in range(25):
        shape = rng.integers(0 if trial % 7 == 0 else 1, 6, size=ndim)
        values = []
        for dtype in ("float64", "float32", "int32"):
            own = np.where(rng.random(ndim) < 0.3, 1, shape)  # some dims broadcast
            raw = rng.normal(size=own) * 4
            values.append(_layout(rng, raw.astype(dtype)))
        got = f(*values)
        va, vb, vc = values
        with np.errstate(all="ignore"):
            want = va * vb + vc - np.exp(vb)
            np.testing.assert_allclose(got[0], want, rtol=1e-6, atol=1e-5)  # float32 exp: ulps
            np.testing.assert_array_equal(got[1], np.where(va > vb, va, vc))


def _n_elemwise(f):
    return sum(isinstance(n.op, Elemwise) for n in f.maker.fgraph.toposort())


def test_static_broadcast_inputs_and_long_loops(rng):
    """Statically size-1 inputs take the hoisted-scalar loop; odd lengths end vector loops."""
    x = T.tensor(dtype="float32", shape=(None, None))
    s = T.tensor(dtype="float32", shape=(1, 1))
    row = T.tensor(dtype="float32", shape=(1, None))
    f = sg.function([x, s, row], [x * s + row, T.maximum(x, s)], mode=sg.Mode(linker="cvm"))
    for shape in [(1, 1031), (7, 129), (3, 1), (0, 5)]:
        vx = rng.normal(size=shape).astype("float32")
        vs = rng.normal(size=(1, 1)).astype("float32")
        vr = rng.normal(size=(1, shape[1])).astype("float32")
        got = f(vx, vs, vr)
        np.testing.assert_array_equal(got[0], vx * vs + vr)
        np.testing.assert_array_equal(got[1], np.maximum(vx, vs))


def test_inplace_node_overwrites_its_input(rng):
    x, y = T.dvector("x"), T.dvector("y")
    doubled = x * 2
    out = Elemwise(scal.add, {0: 0})(doubled, y)
    f = sg.function([x, y], out, mode=sg.Mode(linker="cvm"), accept_inplace=True)
    assert _n_c_elemwise(f) == 2
    vx, vy = rng.normal(size=9), rng.normal(size=9)
    np.testing.assert_array_equal(f(vx, vy), vx * 2 + vy)


def test_inplace_node_with_a_broadcast_destination_gets_a_fresh_buffer(rng):
    """As perform: an input smaller than the output cannot hold it; correct, not in place."""
    x, y = T.dvector("x"), T.dvector("y")
    out = Elemwise(scal.add, {0: 0})(x * 2, y)
    f = sg.function([x, y], out, mode=sg.Mode(linker="cvm"), accept_inplace=True)
    assert _n_c_elemwise(f) == 2
    vx, vy = rng.normal(size=1), rng.normal(size=4)
    np.testing.assert_array_equal(f(vx, vy), vx * 2 + vy)


def test_inplace_node_does_not_overwrite_memory_another_input_reads(rng):
    """add(x, y) into x, called with y = x.T: writing x would change y's later elements."""
    x, y = T.dmatrix("x"), T.dmatrix("y")
    out = Elemwise(scal.add, {0: 0})(x, y)
    f = sg.function([sg.In(x, mutable=True), y], out, mode=sg.Mode(linker="cvm"),
                    accept_inplace=True)
    assert _n_c_elemwise(f) == 1
    vx = rng.normal(size=(5, 5))
    want = vx + vx.T
    np.testing.assert_array_equal(f(vx, vx.T), want)
    np.testing.assert_array_equal(f(vx.copy(), vx.T.copy()), want)


def test_broadcast_mismatch_raises_with_node_info(rng):
    x, y = T.dvector("x"), T.dvector("y")
    f = sg.function([x, y], x + y, mode=sg.Mode(linker="cvm"))
    with pytest.raises(ValueError) as info:
        f(rng.normal(size=3), rng.normal(size=4))
    message = str(info.value)
    assert "(3,)" in message and "(4,)" in message
    assert "Apply node that caused the error" in message and "test_elemwise.py" in message


# -- fused (Composite) nodes ---------------------------------------------------------

def _composite(*args, **kwargs):
    from symgraph.scalar.composite import Composite

    return Composite(*args, **kwargs)


def test_composite_with_several_outputs_and_mixed_dtypes(rng):
    # t0 = i0 * i1 (float64), t1 = exp(t0), t2 = i2 < t1 (bool), t3 = switch(t2, t1, i2)
    comp = _composite(3, [(scal.mul, (0, 1)), (scal.exp, (3,)), (scal.lt, (2, 4)),
                          (scal.switch, (5, 4, 2))], [4, 5, 6, 1])
    a = T.tensor(dtype="float32", shape=(None, None), name="a")
    b = T.tensor(dtype="float64", shape=(None,), name="b")
    c = T.tensor(dtype="int16", shape=(None, None), name="c")
    node = Elemwise(comp)(a, b, c)[0].owner
    assert len(node.outputs) == 4
    f = sg.function([a, b, c], node.outputs, mode=sg.Mode(linker="cvm", optimizer=None))
    assert _n_c_elemwise(f) == 1
    va = rng.normal(size=(3, 4)).astype("float32")
    vb, vc = rng.normal(size=4), rng.integers(-3, 4, size=(3, 4)).astype("int16")
    want = [[None] for _ in node.outputs]
    node.op.perform(node, [va, vb, vc], want)
    for got, (w,) in zip(f(va, vb, vc), want):
        _assert_same(got, w, "composite")


def test_composite_in_place_matches_perform(rng):
    comp = _composite(2, [(scal.add, (0, 1)), (scal.tanh, (2,))], [3])
    x, y = T.dmatrix("x"), T.dvector("y")
    doubled = x * 2
    out = Elemwise(comp, {0: 0})(doubled, y)
    f = sg.function([x, y], out, mode=sg.Mode(linker="cvm", optimizer=None),
                    accept_inplace=True)
    assert _n_c_elemwise(f) == 2
    vx, vy = rng.normal(size=(4, 3)), rng.normal(size=3)
    np.testing.assert_allclose(f(vx, vy), np.tanh(vx * 2 + vy), rtol=1e-14)


def test_composite_with_a_statement_without_c_runs_perform(rng):
    comp = _composite(2, [(scal.pow, (0, 1)), (scal.neg, (2,))], [3])  # int pow: no C
    x = T.tensor(dtype="int32", shape=(None,), name="x")
    out = Elemwise(comp)(x, x)
    f = sg.function([x], out, mode=sg.Mode(linker="cvm", optimizer=None))
    assert _n_c_elemwise(f) == 0
    v = rng.integers(0, 4, size=6).astype("int32")
    np.testing.assert_array_equal(f(v), -(v ** v))


def test_fusion_makes_one_c_loop(rng):
    x, y = T.fmatrix("x"), T.fvector("y")
    out = T.tanh(x * y + 1) * T.exp(-x) - y
    f = sg.function([x, y], out, mode=sg.Mode(linker="cvm"))
    nodes = f.maker.fgraph.toposort()
    assert _n_c_elemwise(f) == _n_elemwise(f) >= 1
    assert any(hasattr(getattr(n.op, "scalar_op", None), "c_lines") for n in nodes)  # fused
    vx, vy = rng.normal(size=(5, 6)).astype("float32"), rng.normal(size=6).astype("float32")
    np.testing.assert_allclose(f(vx, vy), np.tanh(vx * vy + 1) * np.exp(-vx) - vy, rtol=1e-5)
