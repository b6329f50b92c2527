"""DestroyHandler (symgraph/graph/destroyhandler.py): which node destroys what, the
orderings that put readers first, and the graphs it refuses."""
import numpy as np
import pytest

import symgraph.tensor as T
from symgraph.graph.basic import Apply, Op
from symgraph.graph.destroyhandler import DestroyHandler, add_destroy_handler
from symgraph.graph.fgraph import FunctionGraph, InconsistencyError
from symgraph.rewriting.core import ensure_history
from symgraph.scalar import basic as scal
from symgraph.tensor.elemwise import Elemwise
from symgraph.tensor.subtensor import IncSubtensor, Subtensor

exp_inplace = Elemwise(scal.exp, {0: 0})


class AxpyInplace(Op):
    """``y += a * x`` written into its *second* input: a Gemm-like op with its own
    destroy_map, to show the handler reads only destroy_map."""

    destroy_map = {0: [1]}

    def make_node(self, x, y):
        return Apply(self, [x, y], [y.type.make_variable()])

    def perform(self, node, inputs, output_storage):
        x, y = inputs
        y += 2.0 * x
        output_storage[0][0] = y


def graph(inputs, outputs, mutable=()):
    fg = FunctionGraph(inputs, outputs, clone=False)
    fg.attach_feature(DestroyHandler(mutable))
    return fg


def test_no_destroyer_costs_nothing():
    x = T.dvector("x")
    fg = graph([x], [T.exp(x) * 2.0])
    assert fg.destroy_handler.orderings(fg) == {} and fg.orderings() == {}
    fg.validate()


def test_destroyers_are_tracked_through_replacements_and_rollbacks():
    x = T.dvector("x")
    t = x * 2.0
    e = T.exp(t)
    fg = graph([x], [e + 1.0])
    handler = fg.destroy_handler
    history = ensure_history(fg)
    checkpoint = len(history.changes)
    fg.replace(e, exp_inplace(t))
    assert [str(n.op) for n in handler.destroyers] == ["Elemwise{exp,inplace}"]
    fg.validate()
    history.revert(fg, checkpoint)
    assert not handler.destroyers


def test_readers_run_before_the_destroyer():
    x = T.dvector("x")
    t = x * 2.0
    destroyed = exp_inplace(t)
    total = t.sum()
    fg = graph([x], [destroyed, total])  # the plain DFS would run exp first
    order = fg.toposort()
    sum_node = total.owner
    assert order.index(sum_node) < order.index(destroyed.owner)
    assert fg.orderings() == {destroyed.owner: [sum_node]}


def test_readers_of_a_view_count_too():
    m = T.dmatrix("m")
    t = m * 2.0
    view = t.T  # shares t's buffer
    reader = view.sum(axis=0)
    destroyed = exp_inplace(t)
    fg = graph([m], [destroyed, reader])
    order = fg.toposort()
    assert order.index(reader.owner) < order.index(destroyed.owner)
    assert order.index(view.owner) < order.index(destroyed.owner)


def test_a_reader_that_needs_the_destroyer_is_a_cycle():
    x = T.dvector("x")
    t = x * 2.0
    destroyed = exp_inplace(t)
    late_reader = t + destroyed  # reads t, but only after exp overwrote it
    fg = graph([x], [late_reader])
    with pytest.raises(InconsistencyError, match="still needs"):
        fg.validate()


def test_graph_inputs_constants_and_outputs_are_protected():
    x = T.dvector("x")
    with pytest.raises(InconsistencyError, match="graph input x"):
        graph([x], [exp_inplace(x)]).validate()
    with pytest.raises(InconsistencyError, match="through its view"):
        graph([x], [exp_inplace(x[1:])]).validate()
    with pytest.raises(InconsistencyError, match="constant"):
        graph([x], [exp_inplace(T.constant(np.ones(3))) + x]).validate()
    t = x * 2.0
    with pytest.raises(InconsistencyError, match="output of the graph"):
        graph([x], [t, exp_inplace(t)]).validate()
    graph([x], [exp_inplace(x)], mutable=[x]).validate()  # declared mutable: allowed


def test_one_destroyer_per_buffer():
    x = T.dvector("x")
    t = x * 2.0
    fg = graph([x], [exp_inplace(t) + exp_inplace(t[1:])])
    with pytest.raises(InconsistencyError, match="already overwrites"):
        fg.validate()


def test_a_destroyer_may_not_read_the_buffer_through_another_input():
    x = T.dvector("x")
    t = x * 2.0
    add_inplace = Elemwise(scal.add, {0: 0})
    with pytest.raises(InconsistencyError, match="also reading it"):
        graph([x], [add_inplace(t, t[::-1])]).validate()


def test_chained_destroyers_are_fine():
    x = T.dvector("x")
    t = x * 2.0
    a = exp_inplace(t)
    b = exp_inplace(a)  # destroys the first destroyer's output
    fg = graph([x], [b])
    fg.validate()
    assert fg.toposort().index(a.owner) < fg.toposort().index(b.owner)


def test_any_op_with_a_destroy_map(rng):
    x, y = T.dvectors("x", "y")
    t = y * 1.0
    s = t.sum()
    out = AxpyInplace()(x, t)
    fg = graph([x, y], [out, s])
    order = fg.toposort()
    assert order.index(s.owner) < order.index(out.owner)
    with pytest.raises(InconsistencyError, match="graph input y"):
        graph([x, y], [AxpyInplace()(x, y)]).validate()


def test_inc_subtensor_in_place_on_an_intermediate():
    x, y = T.dvectors("x", "y")
    t = x * 2.0
    idx = t[1:3].owner.op.idx_list
    inc = IncSubtensor(idx, inplace=True)(t, y, *t[1:3].owner.inputs[1:])
    peek = Subtensor(idx)(t, *t[1:3].owner.inputs[1:]).sum()  # reads t through a view
    fg = graph([x, y], [inc, peek])
    order = fg.toposort()
    assert order.index(peek.owner) < order.index(inc.owner)


def test_add_destroy_handler_keeps_an_existing_one():
    x = T.dvector("x")
    fg = graph([x], [x * 2.0])
    handler = fg.destroy_handler
    assert add_destroy_handler(fg) is handler
    with pytest.raises(ValueError, match="already has"):
        fg.attach_feature(DestroyHandler())


def test_quick_check_decides_locally_when_it_can():
    x = T.dvector("x")
    t = x * 2.0
    destroyed = exp_inplace(t)
    total = t.sum()
    fg = graph([x], [destroyed, total])
    handler = fg.destroy_handler
    d, s, m = destroyed.owner, total.owner, t.owner
    assert handler.quick_check(fg, d, {m: 0, s: 1, d: 2}) is True  # the reader runs first
    assert handler.quick_check(fg, d, {m: 0, d: 1, s: 2}) is False  # only validate can tell
    bad = graph([x], [exp_inplace(x)])
    with pytest.raises(InconsistencyError, match="graph input x"):
        bad.destroy_handler.quick_check(bad, bad.outputs[0].owner, {})
