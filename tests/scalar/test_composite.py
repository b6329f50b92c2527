"""Composite (symgraph/scalar/composite.py) and the ScalarProgram that evaluates it
(symgraph/scalar/program.py): values and dtypes against the separate Elemwise nodes and
NumPy, broadcasting, several outputs, the block-wise path, in-place destinations, the
code-generator description and the gradient."""
import numpy as np
import pytest

import symgraph as sg
import symgraph.tensor as T
from symgraph.compile.mode import Mode
from symgraph.gradient import verify_grad
from symgraph.scalar import basic as scal
from symgraph.scalar import program as program_module
from symgraph.scalar.composite import Composite
from symgraph.scalar.program import ScalarProgram, program_for, ufunc_of
from symgraph.tensor.elemwise import Elemwise
from symgraph.tensor.type import TensorType

NO_REWRITES = Mode(optimizer=None)

# tanh(x * y + y), exp(-tanh(...)): a shared intermediate and two outputs
CHAIN = Composite(2, [(scal.mul, (0, 1)), (scal.add, (2, 1)), (scal.tanh, (3,)),
                      (scal.neg, (4,)), (scal.exp, (5,))], [4, 6])


def chain_reference(x, y):
    t = np.tanh(x * y + y)
    return [t, np.exp(-t)]


@pytest.fixture
def small_blocks(monkeypatch):
    """Make the block-wise path run on small arrays (blocks of 16 elements)."""
    monkeypatch.setattr(program_module, "CHUNK", 16)
    monkeypatch.setattr(program_module, "CHUNK_MIN", 32)


def test_name_equality_and_pruning():
    dead = Composite(1, [(scal.exp, (0,)), (scal.neg, (0,))], [2])  # exp is unused
    assert str(dead) == "Composite{neg(i0)}" and len(dead.statements) == 1
    assert dead == Composite(1, [(scal.neg, (0,))], [1])
    assert hash(dead) == hash(Composite(1, [(scal.neg, (0,))], [1]))
    assert dead != Composite(1, [(scal.exp, (0,))], [1])
    assert str(CHAIN) == "Composite{tanh(add(mul(i0, i1), i1)), exp(neg(tanh(add(mul(i0, i1), " \
                         "i1))))}"


def test_bad_statements_are_refused():
    with pytest.raises(ValueError, match="earlier statements"):
        Composite(1, [(scal.exp, (1,))], [1])
    with pytest.raises(TypeError, match="takes 1 inputs"):
        Composite(2, [(scal.exp, (0, 1))], [2])
    with pytest.raises(TypeError, match="single-output"):
        Composite(2, [(CHAIN, (0, 1))], [2])
    with pytest.raises(ValueError, match="outputs"):
        Composite(1, [(scal.exp, (0,))], [5])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_values_and_dtypes_with_broadcasting(dtype, rng):
    for shape_x, shape_y in [((3, 4), (3, 4)), ((3, 1), (1, 4)), ((2, 3), ()), ((0, 3), (1, 3))]:
        x = rng.normal(size=shape_x).astype(dtype)
        y = np.asarray(rng.normal(size=shape_y), dtype=dtype)
        got = CHAIN.impl(x, y)
        for value, want in zip(got, chain_reference(x, y)):
            assert value.dtype == dtype and value.shape == np.broadcast_shapes(x.shape, y.shape)
            np.testing.assert_allclose(value, want, rtol=1e-6 if dtype == "float32" else 1e-14)


def test_every_output_is_its_own_array(rng):
    same_twice = Composite(1, [(scal.exp, (0,))], [1, 1, 0])
    x = rng.normal(size=5)
    a, b, c = same_twice.impl(x)
    np.testing.assert_array_equal(a, np.exp(x))
    assert a is not b and not np.shares_memory(a, b) and np.array_equal(a, b)
    assert not np.shares_memory(c, x) and np.array_equal(c, x)


def test_integer_folds_wrap_like_the_separate_nodes(rng):
    """add(i8, i8, i16): the int8 pair wraps before the int16 is added, as reduce does."""
    comp = Composite(3, [(scal.add, (0, 1, 2)), (scal.mul, (3, 0))], [4])
    a, b = np.array([100, -120, 5], "int8"), np.array([100, -100, 7], "int8")
    c = rng.integers(-300, 300, size=3).astype("int16")
    s = a + b  # int8: wraps
    want = (s + c) * a
    got = comp.impl(a, b, c)
    assert got.dtype == "int16" and comp.output_dtype("int8", "int8", "int16") == "int16"
    np.testing.assert_array_equal(got, want)


def test_dtype_mixes_match_the_unfused_graph(rng):
    """int8 and float32 inputs, a comparison, a switch and a cast, through Elemwise."""
    a, b = T.bvector("a"), T.fvector("b")
    comp = Composite(2, [(scal.mul, (0, 0)), (scal.gt, (2, 1)), (scal.true_div, (0, 1)),
                         (scal.switch, (3, 4, 1)), (scal.Cast("float64"), (5,)),
                         (scal.exp, (0,))], [6, 3, 7])
    fused = Elemwise(comp)(a, b)
    a_v = rng.integers(-20, 20, size=7).astype("int8")
    b_v = rng.normal(size=7).astype("float32") * 10
    sq = a * a
    separate = [T.cast(T.switch(T.gt(sq, b), a / b, b), "float64"), T.gt(sq, b), T.exp(a)]
    got = sg.function([a, b], fused)(a_v, b_v)
    want = sg.function([a, b], separate, mode=NO_REWRITES)(a_v, b_v)
    for g, w in zip(got, want):
        assert g.dtype == w.dtype
        np.testing.assert_array_equal(g, w)


def test_weak_constants_are_not_promoted_again(rng):
    x = T.fvector("x")
    c = (x * 2.5).owner.inputs[1]  # a weak constant, already float32
    comp = Composite(2, [(scal.mul, (0, 1))], [2])
    out = Elemwise(comp)(x, c)
    assert out.dtype == "float32"
    x_v = rng.normal(size=4).astype("float32")
    np.testing.assert_array_equal(out.eval({x: x_v}), x_v * np.float32(2.5))


@pytest.mark.parametrize("shape_y", [(1, 1), (40, 3)])
def test_block_wise_path_matches_numpy(small_blocks, shape_y, rng):
    x = rng.normal(size=(40, 3))
    y = rng.normal(size=shape_y)
    got = CHAIN.impl(x, y)
    for value, want in zip(got, chain_reference(x, y)):
        np.testing.assert_allclose(value, want, rtol=1e-14)
    prog = CHAIN.program(["float64", "float64"])
    assert program_module._chunkable([x, y], (40, 3))
    hoisted = Composite(2, [(scal.exp, (1,)), (scal.add, (0, 2))], [3, 2])  # exp(y) once
    total, ey = hoisted.impl(x, np.array([[0.5]]))
    np.testing.assert_allclose(total, x + np.exp(0.5))
    assert ey.shape == (40, 3) and np.all(ey == np.exp(0.5))
    assert prog.output_dtypes == ["float64", "float64"]


def test_a_destination_input_receives_the_output(small_blocks, rng):
    for n in (5, 40):  # whole arrays, then blocks
        x, y = rng.normal(size=n), rng.normal(size=n)
        x_before = x.copy()
        prog = program_for(CHAIN, ["float64", "float64"])
        t, e = prog.run([x, y], targets=[0, None])
        assert t is x  # written where x was
        np.testing.assert_allclose(t, np.tanh(x_before * y + y))
        np.testing.assert_allclose(e, np.exp(-t))


def test_a_destination_still_read_later_is_not_used(small_blocks, rng):
    """exp(x) then x + 1: writing exp(x) into x would corrupt x + 1."""
    comp = Composite(1, [(scal.exp, (0,)), (scal.add, (0, 0))], [1, 2])
    for n in (5, 40):
        x = rng.normal(size=n)
        before = x.copy()
        e, d = comp.program(["float64"]).run([x], targets=[0, None])
        assert e is not x
        np.testing.assert_array_equal(x, before)
        np.testing.assert_allclose(d, 2 * before)
        e, d = comp.program(["float64"]).run([x], targets=[None, 0])
        assert d is x  # the last reader of x may write there
        np.testing.assert_allclose(d, 2 * before)
        np.testing.assert_allclose(e, np.exp(before))


def test_temporaries_are_reused(rng, monkeypatch):
    """A 10-op chain on whole arrays writes every step into one array: each intermediate
    goes back to the pool as its only reader runs, and that reader writes into it."""
    ops = [scal.exp, scal.neg, scal.tanh, scal.sin, scal.cos, scal.sqr, scal.neg, scal.exp,
           scal.tanh, scal.neg]
    comp = Composite(1, [(op, (k,)) for k, op in enumerate(ops)], [len(ops)])
    prog = comp.program(["float64"])
    assert len(prog.steps) == 10 and all(s.kind == "ufunc" for s in prog.steps)
    monkeypatch.setattr(program_module, "POOL_MIN", 0)  # the pool, even for 50 elements
    written = []
    run = program_module.Step.run
    monkeypatch.setattr(program_module.Step, "run",
                        lambda self, values, out=None: written.append(run(self, values, out))
                        or written[-1])
    x = rng.normal(size=50)
    want = x
    for op in ops:
        want = op.impl(want)
    np.testing.assert_allclose(prog.run([x])[0], want)
    assert len(written) == 10 and len({id(a) for a in written}) == 1


def test_ufunc_of_picks_exact_ufuncs():
    assert ufunc_of(scal.exp, 1) is np.exp
    assert ufunc_of(scal.add, 3) is None and ufunc_of(scal.mul, 2) is np.multiply
    assert ufunc_of(scal.sigmoid, 1).__name__ == "expit"
    assert ufunc_of(scal.relu, 1) is None  # a lambda: called as is


def test_describe_and_c_lines():
    inputs, statements, outputs = CHAIN.describe(["float32", "float32"])
    assert inputs == [("i0", "float32"), ("i1", "float32")]
    assert [(name, dtype, str(op), args) for name, dtype, op, args, _ in statements] == [
        ("t0", "float32", "mul", ["i0", "i1"]), ("t1", "float32", "add", ["t0", "i1"]),
        ("t2", "float32", "tanh", ["t1"]), ("t3", "float32", "neg", ["t2"]),
        ("t4", "float32", "exp", ["t3"])]
    assert outputs == ["t2", "t4"]
    lines = CHAIN.c_lines(["float32"] * 2, lambda op, dts, dt, args: op.c_expr.format(*args),
                          lambda dtype: {"float32": "float"}.get(dtype))
    assert lines[-1] == "const float t4 = exp(t3);" and len(lines) == 5
    no_c = Composite(1, [(scal.clip, (0, 0, 0))], [1])
    assert no_c.c_lines(["float64"], lambda op, dts, dt, args: op.c_expr, str) is None


def test_c_lines_with_the_c_backend_expressions():
    scalar_c = pytest.importorskip("symgraph.link.c.scalar_c")
    lines = CHAIN.c_lines(["float64", "float64"], scalar_c.scalar_c_expression, scalar_c.c_type)
    assert lines is not None and lines[2].startswith("const double t2 = ")


def test_expand_builds_the_separate_nodes(rng):
    x, y = T.dmatrix("x"), T.tensor("float64", (1, None), name="y")
    t, e = CHAIN.expand([x, y])
    assert str(e.owner.op) == "Elemwise{exp}" and str(t.owner.op) == "Elemwise{tanh}"
    xv, yv = rng.normal(size=(3, 4)), rng.normal(size=(1, 4))
    got = sg.function([x, y], [t, e], mode=NO_REWRITES)(xv, yv)
    for g, w in zip(got, chain_reference(xv, yv)):
        np.testing.assert_allclose(g, w)


def test_gradient_of_a_single_output_composite(rng):
    comp = Composite(2, [(scal.mul, (0, 1)), (scal.sin, (2,)), (scal.add, (3, 0)),
                         (scal.sqr, (4,))], [5])
    verify_grad(lambda x, y: Elemwise(comp)(x, y),
                [rng.normal(size=(3, 4)), rng.normal(size=(1, 4))], rng=rng)
    verify_grad(lambda x: Elemwise(comp)(x, x), [rng.normal(size=5)], rng=rng)


def test_gradient_of_several_outputs(rng):
    def both(x, y):
        t, e = Elemwise(CHAIN)(x, y)
        return t * 3 + e

    verify_grad(both, [rng.normal(size=(2, 3)), rng.normal(size=(2, 1))], rng=rng)

    def only_second(x, y):  # the first output's gradient is disconnected
        return Elemwise(CHAIN)(x, y)[1]

    verify_grad(only_second, [rng.normal(size=4), rng.normal(size=4)], rng=rng)


def test_gradient_matches_the_separate_nodes(rng):
    x, y = T.dvector("x"), T.dvector("y")
    t, e = Elemwise(CHAIN)(x, y)
    ts, es = CHAIN.expand([x, y])
    fused = sg.grad((t * e).sum(), [x, y])
    separate = sg.grad((ts * es).sum(), [x, y])
    xv, yv = rng.normal(size=6), rng.normal(size=6)
    got = sg.function([x, y], fused)(xv, yv)
    want = sg.function([x, y], separate, mode=NO_REWRITES)(xv, yv)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-12)


def test_r_op_of_a_composite(rng):
    x, v = T.dvector("x"), T.dvector("v")
    y = T.constant(np.array([0.3, -0.2, 0.1]))
    single = Composite(2, [(scal.mul, (0, 1)), (scal.tanh, (2,))], [3])
    jv = sg.Rop(Elemwise(single)(x, y), x, v)
    t, _ = Elemwise(CHAIN)(x, y)
    jv2 = sg.Rop(t, x, v)
    xv, vv = rng.normal(size=3), rng.normal(size=3)
    yv = np.array([0.3, -0.2, 0.1])
    np.testing.assert_allclose(jv.eval({x: xv, v: vv}), (1 - np.tanh(xv * yv) ** 2) * yv * vv)
    t_ref = np.tanh(xv * yv + yv)
    np.testing.assert_allclose(jv2.eval({x: xv, v: vv}), (1 - t_ref ** 2) * yv * vv)


def test_elemwise_of_a_composite_types_and_shape(rng):
    x = T.tensor("float32", (None, 3), name="x")
    y = T.tensor("float64", (1, None), name="y")
    t, e = Elemwise(CHAIN)(x, y)
    assert t.type == TensorType("float64", (None, 3)) and e.type == t.type
    f = sg.function([x, y], [t.shape, e])
    xv, yv = rng.normal(size=(2, 3)).astype("float32"), rng.normal(size=(1, 3))
    shape, ev = f(xv, yv)
    assert tuple(shape) == (2, 3)
    np.testing.assert_allclose(ev, chain_reference(xv.astype("float64"), yv)[1])


@pytest.mark.parametrize("path", ["small", "pool", "blocks"])
def test_every_evaluation_path_gives_the_same_values(path, monkeypatch, rng):
    """Casts, a comparison, a switch (a plain call), a repeated output and an input as an
    output, over int8 and float32 arrays with a broadcast scalar."""
    if path != "small":
        monkeypatch.setattr(program_module, "POOL_MIN", 0)
    if path == "blocks":
        monkeypatch.setattr(program_module, "CHUNK", 16)
        monkeypatch.setattr(program_module, "CHUNK_MIN", 32)
    comp = Composite(3, [(scal.mul, (0, 0)), (scal.gt, (3, 1)), (scal.true_div, (0, 1)),
                         (scal.switch, (4, 5, 2)), (scal.exp, (2,)), (scal.add, (6, 7, 1))],
                     [6, 4, 8, 8, 1, 7])
    a = rng.integers(-20, 20, size=(8, 5)).astype("int8")
    b = (rng.normal(size=(8, 5)) * 10).astype("float32")
    c = np.array([[0.25]], dtype="float32")
    got = comp.impl(a, b, c)
    sq = a * a
    ratio = a / b
    sw = np.where(sq > b, ratio, c)
    total = sw + np.exp(c) + b
    want = [sw, sq > b, total, total, b, np.broadcast_to(np.exp(c), a.shape)]
    for g, w in zip(got, want):
        assert g.shape == (8, 5) and g.dtype == np.asarray(w).dtype
        np.testing.assert_array_equal(g, w)
    assert got[2] is not got[3] and not np.shares_memory(got[4], b)
