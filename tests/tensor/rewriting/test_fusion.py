"""Elementwise fusion (symgraph/tensor/rewriting/elemwise.py, stage ``fusion``): chains of
Elemwise nodes become one Elemwise(Composite); values do not change."""
import numpy as np
import pytest

import symgraph as sg
import symgraph.tensor as T
from symgraph.compile.mode import get_mode
from symgraph.graph.fgraph import FunctionGraph
from symgraph.scalar.composite import Composite
from symgraph.tensor.elemwise import Elemwise
from symgraph.tensor.rewriting.elemwise import ElemwiseFusion
from tests.tensor.rewriting.checks import NO_REWRITES, fired, ops
from tests.tensor.rewriting.test_mlp import mlp_training

NO_FUSION = get_mode("FAST_RUN").excluding("fusion")


def fused_nodes(f):
    return [n for n in f.maker.fgraph.apply_nodes
            if isinstance(n.op, Elemwise) and isinstance(n.op.scalar_op, Composite)]


def elemwise_nodes(f):
    return [n for n in f.maker.fgraph.apply_nodes if isinstance(n.op, Elemwise)]


def check_values(inputs, outputs, *values, rtol=1e-12):
    """Compile with FAST_RUN and with no rewrites; values, shapes and dtypes must agree."""
    f = sg.function(inputs, outputs)
    g = sg.function(inputs, outputs, mode=NO_REWRITES)
    got, want = f(*values), g(*values)
    if not isinstance(outputs, (list, tuple)):
        got, want = [got], [want]
    for a, b in zip(got, want):
        assert a.shape == b.shape and a.dtype == b.dtype
        np.testing.assert_allclose(a, b, rtol=rtol, atol=1e-14)
    return f


def test_bias_and_tanh_after_a_dot_fuse(rng):
    x, W, b = T.dmatrix("x"), T.dmatrix("W"), T.dvector("b")
    f = check_values([x, W, b], T.tanh(T.dot(x, W) + b), rng.normal(size=(5, 4)),
                     rng.normal(size=(4, 3)), rng.normal(size=3))
    (node,) = fused_nodes(f)
    assert str(node.op) == "Elemwise{Composite{tanh(add(i0, i1))}}"
    assert len(elemwise_nodes(f)) == 1 and fired(f, "elemwise_fusion") == 0  # a graph pass
    assert f.maker.fgraph.rewrite_profile.pass_stats["elemwise_fusion"][0] == 1


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_a_ten_op_chain_becomes_one_node(dtype, rng):
    x, y = T.vector("x", dtype=dtype), T.vector("y", dtype=dtype)
    e = x
    for k in range(5):
        e = T.tanh(e * y) + T.exp(-e)  # 5 ops a round, y used by every round
    f = check_values([x, y], e, rng.normal(size=50).astype(dtype),
                     rng.normal(size=50).astype(dtype), rtol=1e-5 if dtype == "float32" else 1e-12)
    assert len(f.maker.fgraph.apply_nodes) == 1 and len(fused_nodes(f)) == 1
    assert len(fused_nodes(f)[0].op.scalar_op.statements) == 25


def test_broadcasting_inside_the_fused_loop(rng):
    col, row, m = T.tensor("float64", (None, 1), name="c"), T.dvector("r"), T.dmatrix("m")
    expr = T.exp(col) + T.tanh(row) * m + 2.0
    f = check_values([col, row, m], expr, rng.normal(size=(3, 1)), rng.normal(size=4),
                     rng.normal(size=(3, 4)))
    assert len(fused_nodes(f)) == 1 and len(elemwise_nodes(f)) == 1
    # size-1 dimensions broadcast at run time too
    v, w = T.dvector("v"), T.dvector("w")
    g = check_values([v, w], T.exp(v) * w + 1.0, rng.normal(size=1), rng.normal(size=5))
    assert len(fused_nodes(g)) == 1


def test_a_shared_intermediate_becomes_a_second_output(rng):
    x, y = T.dvectors("x", "y")
    e = T.exp(x * y)
    f = check_values([x, y], [e * 2.0 + 1.0, e.sum()], *rng.normal(size=(2, 6)))
    (node,) = fused_nodes(f)
    assert len(node.outputs) == 2 and len(elemwise_nodes(f)) == 1
    assert str(node.op.scalar_op).startswith("Composite{exp(mul(i0, i1)), add(")


def test_an_intermediate_that_may_be_smaller_stays_inside(rng):
    """exp(x) is used outside, but x may broadcast against y at run time: exp(x) cannot
    be an output of the fused node (it would take y's shape)."""
    x, y = T.dvectors("x", "y")
    e = T.exp(x)
    outputs = [T.tanh(e + y), e.sum()]
    f = check_values([x, y], outputs, rng.normal(size=1), rng.normal(size=5))
    for node in fused_nodes(f):
        assert all(o.type.ndim == 1 for o in node.outputs)
    got = f(np.array([0.5]), rng.normal(size=5))
    assert np.isclose(got[1], np.exp(0.5))
    # with static shapes that prove it, exp(x) is exposed instead
    xs, ys = T.tensor("float64", (5,), name="xs"), T.tensor("float64", (5,), name="ys")
    es = T.exp(xs)
    g = check_values([xs, ys], [T.tanh(es + ys), es.sum()], *rng.normal(size=(2, 5)))
    assert len(elemwise_nodes(g)) == 1 and len(fused_nodes(g)[0].outputs) == 2


def test_fusion_does_not_create_a_cycle(rng):
    """exp(x) feeds sum(exp(x)), which feeds the chain again: the sum must run between
    exp and the rest, so exp is not fused with them."""
    x = T.dvector("x")
    e = T.exp(x)
    out = T.tanh(e + 1.0) * e.sum()
    f = check_values([x], out, rng.normal(size=7))
    order = f.maker.fgraph.toposort()  # raises on a cycle
    assert len(order) == len(f.maker.fgraph.apply_nodes)


def test_two_groups_that_would_make_a_cycle_together(rng):
    """Each group alone is fine, but A's exp feeds B (through a transpose) while B's sin
    feeds A: fused together they would each wait for the other.  One is given up."""
    X = T.tensor("float64", (3, 4), name="X")
    Y = T.tensor("float64", (4, 3), name="Y")
    a_top, b_top = T.exp(X), T.sin(Y)
    outputs = [a_top * b_top.T, b_top + a_top.T]
    f = check_values([X, Y], outputs, rng.normal(size=(3, 4)), rng.normal(size=(4, 3)))
    assert len(fused_nodes(f)) == 1
    order = f.maker.fgraph.toposort()  # raises on a cycle
    assert len(order) == len(f.maker.fgraph.apply_nodes)


def test_integer_and_float_chains_keep_their_dtypes(rng):
    a, b = T.bvectors("a", "b")
    x = T.fvector("x")
    expr = T.switch(T.gt((a + b) * a, 0), x * 2.0, -x) + T.cast(a + b, "float32")
    vals = (rng.integers(-128, 127, size=9).astype("int8"),
            rng.integers(-128, 127, size=9).astype("int8"), rng.normal(size=9).astype("float32"))
    f = check_values([a, b, x], expr, *vals)
    assert len(elemwise_nodes(f)) == 1 and f(*vals).dtype == "float32"


def test_excluding_fusion_keeps_the_separate_nodes(rng):
    x = T.dvector("x")
    f = sg.function([x], T.exp(-x) + 1.0, mode=NO_FUSION)
    assert not fused_nodes(f) and len(elemwise_nodes(f)) >= 2


def test_fusing_a_fused_graph_inlines_the_composites(rng):
    x, y = T.dvectors("x", "y")
    inner = Elemwise(Composite(2, [(T.mul.scalar_op, (0, 1))], [2]))(x, y)
    fg = FunctionGraph([x, y], [T.exp(inner) + x])
    ElemwiseFusion().rewrite(fg)
    (node,) = fg.apply_nodes
    assert str(node.op) == "Elemwise{Composite{add(exp(mul(i0, i1)), i0)}}"


def test_the_number_of_inputs_is_bounded(rng):
    xs = [T.dvector(f"x{k}") for k in range(8)]
    expr = xs[0]
    for x in xs[1:]:
        expr = T.tanh(expr) * x
    fg = FunctionGraph(xs, [expr])
    ElemwiseFusion(max_inputs=4).rewrite(fg)
    composites = [n for n in fg.apply_nodes if isinstance(n.op.scalar_op, Composite)]
    assert composites and all(len(n.inputs) <= 4 for n in composites)
    f = sg.function(xs, expr)
    vals = rng.normal(size=(8, 3))
    want = vals[0]
    for v in vals[1:]:
        want = np.tanh(want) * v
    np.testing.assert_allclose(f(*vals), want)


def test_the_mlp_training_step_has_one_fused_op_per_chain(rng):
    sizes = (12, 9, 7, 4)
    seed = int(rng.integers(1 << 30))
    data = (rng.normal(size=(5, 12)), rng.integers(0, 4, size=5))
    results, fns = [], []
    for mode in (None, NO_REWRITES, NO_FUSION):
        inputs, cost, updates, params = mlp_training(sizes, np.random.default_rng(seed))
        f = sg.function(inputs, cost, updates=updates, mode=mode)
        results.append([f(*data)] + [p.get_value() for p in params])
        fns.append(f)
    for got, want in zip(results[0], results[1]):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
    fused, unfused = fns[0], fns[2]
    tanh_chains = [n for n in fused_nodes(fused) if "tanh" in str(n.op)]
    assert len(tanh_chains) == 2  # bias + tanh of each hidden layer, one node each
    assert len(elemwise_nodes(fused)) < len(elemwise_nodes(unfused)) - 4


def test_the_debugprint_shows_the_composite(rng):
    x, W, b = T.dmatrix("x"), T.dmatrix("W"), T.dvector("b")
    f = sg.function([x, W, b], T.tanh(T.dot(x, W) + b))
    assert "Composite{tanh(add(i0, i1))}" in "\n".join(ops(f))
