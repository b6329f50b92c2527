"""Merge (common subexpressions) and constant folding."""
import numpy as np

import symgraph as sg
import symgraph.tensor as T
from symgraph.config import change_flags
from symgraph.graph.basic import Apply, Constant, Op
from symgraph.graph.fgraph import FunctionGraph
from symgraph.rewriting.basic import constant_folding, constant_folding_node, merge
from symgraph.rewriting.core import EquilibriumGraphRewriter


def ops(fgraph):
    return [str(n.op) for n in fgraph.toposort()]


def evaluate(fgraph, *values):
    fn = sg.function(list(fgraph.inputs), list(fgraph.outputs), mode=sg.Mode(optimizer=None),
                     on_unused_input="ignore")
    return fn(*values)


def test_merge_shares_equal_subexpressions(rng):
    x, y = T.dvectors("x", "y")
    a = T.exp(x) * y
    b = T.exp(x) * y
    fg = FunctionGraph([x, y], [a + b, T.exp(x)])
    merge(fg)
    assert ops(fg).count("Elemwise{exp}") == 1
    assert ops(fg).count("Elemwise{mul}") == 1
    assert fg.outputs[1] is fg.outputs[0].owner.inputs[0].owner.inputs[0]
    xv, yv = rng.normal(size=3), rng.normal(size=3)
    got = evaluate(fg, xv, yv)
    np.testing.assert_allclose(got[0], 2 * np.exp(xv) * yv)


def test_merge_keeps_different_computations_apart():
    x = T.dvector("x")
    fg = FunctionGraph([x], [T.exp(x) + T.log(x), x.sum(axis=0) + x.max(axis=0)])
    merge(fg)
    assert ops(fg).count("Elemwise{add}") == 2


def test_merge_shares_equal_constants():
    x = T.dvector("x")
    fg = FunctionGraph([x], [x * np.float64(2.5) + T.exp(x) * np.float64(2.5)])
    merge(fg)
    used = {id(v) for v in fg.variables if isinstance(v, Constant) and fg.clients[v]}
    assert len(used) == 1


def test_constant_folding_computes_constant_nodes(rng):
    x = T.dvector("x")
    c = T.constant(np.arange(3.0))
    fg = FunctionGraph([x], [x + T.exp(c) * 2.0])
    constant_folding(fg)
    assert ops(fg) == ["Elemwise{add}"]
    xv = rng.normal(size=3)
    np.testing.assert_allclose(evaluate(fg, xv)[0], xv + np.exp(np.arange(3.0)) * 2)


def test_constant_folding_respects_the_size_bound():
    c = T.constant(np.arange(100.0))
    with change_flags(constant_folding_max_size=50):
        fg = FunctionGraph([], [T.exp(c)])
        constant_folding(fg)
        assert ops(fg) == ["Elemwise{exp}"]
    fg = FunctionGraph([], [T.exp(c)])
    constant_folding(fg)
    assert ops(fg) == []


def test_constant_folding_does_not_materialize_broadcasts():
    big = T.zeros((300, 300))  # an alloc: cheap to run, costly to store
    fg = FunctionGraph([], [big])
    constant_folding(fg)
    assert ops(fg) == ["Alloc"]
    small = T.zeros((2, 3))
    fg = FunctionGraph([], [small])
    constant_folding(fg)
    assert ops(fg) == [] and fg.outputs[0].data.shape == (2, 3)


class FailsOnPerform(Op):
    """Fails when run, as an op given bad constant inputs would."""

    def make_node(self, x):
        return Apply(self, [x], [x.type()])

    def perform(self, node, inputs, output_storage):
        raise ValueError("bad input")


def test_constant_folding_leaves_errors_for_run_time():
    fg = FunctionGraph([], [FailsOnPerform()(T.constant(np.arange(6.0)))])
    constant_folding(fg)
    assert ops(fg) == ["FailsOnPerform"]


def test_folding_node_rewriter_folds_constants_made_by_other_rewrites():
    x = T.dvector("x")
    two = T.constant(np.float64(2.0))
    fg = FunctionGraph([x], [x * T.exp(T.log(two))])
    EquilibriumGraphRewriter([constant_folding_node]).rewrite(fg)
    assert ops(fg) == ["Elemwise{mul}"]
    assert np.isclose(fg.outputs[0].owner.inputs[1].data, 2.0)
