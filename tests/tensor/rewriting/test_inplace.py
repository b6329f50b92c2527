"""In-place rewrites (symgraph/tensor/rewriting/inplace.py): they fire on intermediates,
values do not change, and the caller's arrays and shared values are never overwritten."""
import numpy as np
import pytest

import symgraph as sg
import symgraph.tensor as T
from symgraph.compile.io import In
from symgraph.graph.fgraph import FunctionGraph, InconsistencyError
from symgraph.scalar import basic as scal
from symgraph.tensor.elemwise import Elemwise
from symgraph.tensor.rewriting.inplace import inplace_elemwise
from symgraph.tensor.subtensor import IncSubtensor
from tests.tensor.rewriting.checks import NO_REWRITES, fired


def destroyers(f):
    return [n for n in f.maker.fgraph.apply_nodes if n.op.destroy_map]


def check(inputs, outputs, values, updates=None):
    """FAST_RUN and no rewrites agree; the arguments are not changed by either."""
    copies = [np.copy(v) for v in values]
    f = sg.function(inputs, outputs, updates=updates)
    got = f(*values)
    for v, c in zip(values, copies):
        np.testing.assert_array_equal(v, c)  # the caller's arrays are untouched
    want = sg.function(inputs, outputs, mode=NO_REWRITES)(*values)
    if not isinstance(outputs, (list, tuple)):
        got, want = [got], [want]
    for a, b in zip(got, want):
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_allclose(a, b, rtol=1e-12)
    return f


def test_elemwise_on_an_intermediate_goes_in_place(rng):
    x = T.dmatrix("x")
    f = check([x], T.exp(x.sum(axis=0)) * 2.0, [rng.normal(size=(3, 4))])
    (node,) = destroyers(f)
    assert node.op.inplace_pattern == ((0, 0),) and fired(f, "inplace_elemwise") == 1
    # the result really is the summed array, overwritten
    a = rng.normal(size=(3, 4))
    np.testing.assert_allclose(f(a), np.exp(a.sum(axis=0)) * 2)


def test_fused_chain_after_a_dot_goes_in_place(rng):
    A, v = T.dmatrix("A"), T.dvector("v")
    f = check([A, v], T.tanh(T.dot(A, v)) * 3.0 + 1.0, [rng.normal(size=(4, 5)),
                                                      rng.normal(size=5)])
    (node,) = destroyers(f)
    assert isinstance(node.op, Elemwise) and "Composite" in str(node.op)
    assert str(node.op).endswith(",inplace}")


def test_graph_inputs_are_never_overwritten(rng):
    x, y = T.dvectors("x", "y")
    m = T.dmatrix("m")
    cases = [(T.exp(x), [x]), (x * 2.0 + y, [x, y]), (T.tanh(m).T, [m]),
             (T.set_subtensor(x[1:], y[:2]), [x, y]), (T.inc_subtensor(m[0], x), [m, x]),
             ((m.T * 2.0).T + 1.0, [m])]
    for expr, inputs in cases:
        values = [rng.normal(size=(3,) * i.ndim) for i in inputs]
        f = check(inputs, expr, values)
        for node in destroyers(f):
            for i in sum(node.op.destroy_map.values(), []):
                assert node.inputs[i].owner is not None


def test_shared_values_are_never_overwritten(rng):
    w = sg.shared(rng.normal(size=4), name="w")
    x = T.dvector("x")
    f = sg.function([x], T.exp(w) + x, updates=[(w, w * 0.5 + x)])
    held = w.get_value(borrow=True)
    before = held.copy()
    xv = rng.normal(size=4)
    got = f(xv)
    np.testing.assert_array_equal(held, before)  # the old value array is untouched
    np.testing.assert_allclose(got, np.exp(before) + xv)
    np.testing.assert_allclose(w.get_value(), before * 0.5 + xv)
    for node in destroyers(f):
        assert all(node.inputs[i].owner is not None for i in sum(node.op.destroy_map.values(), []))
    held = w.get_value(borrow=True)
    before = held.copy()
    g = sg.function([], T.exp(w) * 2.0)  # w is the only array it could write into
    np.testing.assert_allclose(g(), np.exp(before) * 2)
    np.testing.assert_array_equal(held, before)
    assert not destroyers(g)


def test_a_mutable_input_may_be_overwritten(rng):
    x = T.dmatrix("x")
    f = sg.function([In(x, mutable=True)], T.exp(x) * 2.0)
    (node,) = destroyers(f)
    assert node.inputs[0] is f.maker.fgraph.inputs[0]
    a = rng.normal(size=(2, 3))
    want = np.exp(a) * 2
    got = f(a)
    np.testing.assert_allclose(got, want)
    np.testing.assert_allclose(a, want)  # overwritten, as allowed


def test_a_value_read_elsewhere_is_overwritten_only_after_its_readers(rng):
    A, v = T.dmatrix("A"), T.dvector("v")
    t = T.dot(A, v)
    outputs = [T.exp(t), t.sum(), T.tanh(t)]
    f = check([A, v], outputs, [rng.normal(size=(3, 4)), rng.normal(size=4)])
    assert len(destroyers(f)) <= 1  # only one node may overwrite t
    order = f.maker.fgraph.toposort()
    for d in destroyers(f):
        readers = [c for c, _ in f.maker.fgraph.clients[d.inputs[0]] if c is not d]
        assert all(order.index(r) < order.index(d) for r in readers)


def test_an_output_is_not_overwritten(rng):
    A, v = T.dmatrix("A"), T.dvector("v")
    t = T.dot(A, v)
    f = check([A, v], [t, T.exp(t)], [rng.normal(size=(3, 4)), rng.normal(size=4)])
    assert not destroyers(f)


def test_a_broadcast_input_is_not_overwritten(rng):
    x, W, b = T.dmatrix("x"), T.dmatrix("W"), T.dvector("b")
    # dot(x, W) might be (n, 1) at run time and broadcast against b: not provably safe
    f = check([x, W, b], T.dot(x, W) * b, [rng.normal(size=(2, 3)), rng.normal(size=(3, 1)),
                                          rng.normal(size=4)])
    assert not [n for n in destroyers(f) if isinstance(n.op, Elemwise)]
    # a shape the static types give is provably safe
    xs = T.tensor("float64", (2, 3), name="xs")
    Ws = T.tensor("float64", (3, 4), name="Ws")
    bs = T.tensor("float64", (4,), name="bs")
    g = check([xs, Ws, bs], T.exp(T.dot(xs, Ws)) * bs,
              [rng.normal(size=(2, 3)), rng.normal(size=(3, 4)), rng.normal(size=4)])
    assert [n for n in destroyers(g) if isinstance(n.op, Elemwise)]


def test_inc_subtensor_goes_in_place(rng):
    x, y = T.dvectors("x", "y")
    z = x * 2.0
    expr = T.set_subtensor(T.inc_subtensor(z[1:3], y)[0], 7.0)
    f = check([x, y], expr, [rng.normal(size=5), rng.normal(size=2)])
    incs = [n for n in destroyers(f) if isinstance(n.op, IncSubtensor)]
    assert len(incs) == 2 and all(n.op.inplace for n in incs)
    assert fired(f, "inplace_incsubtensor") == 2
    idx = T.lvector("idx")
    g = check([x, idx, y], T.inc_subtensor((x * 3.0)[idx], y),
              [rng.normal(size=5), np.array([0, 0, 4]), rng.normal(size=3)])
    # the row increment is specialized to AdvancedIncSubtensor1, which also goes in place
    assert [n for n in destroyers(g)
            if type(n.op).__name__ in ("AdvancedIncSubtensor", "AdvancedIncSubtensor1")]


def test_runtime_broadcast_of_the_destroyed_input_falls_back_to_a_new_array(rng):
    x, y = T.dvectors("x", "y")
    out = Elemwise(scal.add, {0: 0})(T.exp(x), y)
    f = sg.function([x, y], out, accept_inplace=True)
    xv, yv = rng.normal(size=1), rng.normal(size=4)
    np.testing.assert_allclose(f(xv, yv), np.exp(xv) + yv)


def test_unsafe_in_place_graphs_are_refused(rng):
    x = T.dvector("x")
    with pytest.raises(TypeError, match="accept_inplace"):
        sg.function([x], Elemwise(scal.exp, {0: 0})(x * 2.0))
    with pytest.raises(InconsistencyError, match="graph input x"):
        sg.function([x], Elemwise(scal.exp, {0: 0})(x), accept_inplace=True)
    t = x * 2.0
    with pytest.raises(InconsistencyError, match="output of the graph"):
        sg.function([x], [t, Elemwise(scal.exp, {0: 0})(t)], accept_inplace=True)


def test_the_rewriter_on_a_bare_function_graph_protects_every_input(rng):
    x = T.dvector("x")
    fg = FunctionGraph([x], [T.exp(x) + 1.0, T.exp(x * 2.0)])
    inplace_elemwise.rewrite(fg)
    destroyed = [n.inputs[i] for n in fg.apply_nodes for i in sum(n.op.destroy_map.values(), [])]
    assert destroyed and all(v.owner is not None for v in destroyed)
    assert fg.destroy_handler.orderings(fg) is not None
