"""Walking graphs: ancestors, graph_inputs, io_toposort (order and cycles)."""
import numpy as np
import pytest

import symgraph.tensor as T
from symgraph.graph.traversal import (ancestors, graph_inputs, io_toposort, is_in_ancestors,
                                      toposort)


def _assert_topological(order):
    position = {node: k for k, node in enumerate(order)}
    assert len(position) == len(order), "a node appears twice"
    for node in order:
        for inp in node.inputs:
            if inp.owner in position:
                assert position[inp.owner] < position[node]


def _random_graph(rng, n_inputs=3, n_nodes=25):
    """A random DAG of binary elementwise ops over a few inputs."""
    pool = list(T.dvectors(*[f"x{i}" for i in range(n_inputs)]))
    inputs = list(pool)
    ops = [T.add, T.mul, T.sub, T.maximum]
    for _ in range(n_nodes):
        a, b = rng.choice(len(pool), size=2)
        pool.append(ops[rng.integers(len(ops))](pool[a], pool[b]))
    return inputs, pool[-3:], pool


def test_toposort_of_random_graphs():
    rng = np.random.default_rng(0)
    for _ in range(5):
        inputs, outputs, pool = _random_graph(rng)
        order = io_toposort(inputs, outputs)
        _assert_topological(order)
        needed = {v.owner for v in ancestors(outputs) if v.owner is not None}
        assert set(order) == needed


def test_toposort_stops_at_inputs():
    x = T.dvector("x")
    h = T.exp(x)
    out = T.tanh(h) * 2.0
    order = io_toposort([h], [out])
    assert h.owner not in order
    assert [n.op for n in order][-1] == T.mul
    assert io_toposort([out], [out]) == []
    assert toposort([out])[0] in (h.owner, out.owner.inputs[1].owner)


def test_toposort_of_a_deep_chain_does_not_recurse():
    x = T.dscalar("x")
    out = x
    for _ in range(3000):
        out = T.neg(out)
    order = io_toposort([x], [out])
    assert len(order) == 3000 and order[-1] is out.owner
    assert len(ancestors([out])) == 3001


def test_cycle_is_detected():
    a = T.dscalar("a")
    b = T.exp(a)
    c = T.tanh(b)
    b.owner.inputs[0] = c  # make a cycle by hand
    with pytest.raises(ValueError, match="cycle"):
        io_toposort([], [c])


def test_ancestors_and_graph_inputs():
    x, y = T.dvectors("x", "y")
    h = T.exp(x)
    out = h * y + 1.0
    anc = ancestors([out])
    assert anc[0] is out
    assert x in anc and y in anc and h in anc
    inputs = graph_inputs([out])
    assert x in inputs and y in inputs and h not in inputs
    assert any(getattr(v, "data", None) is not None for v in inputs)  # the constant 1.0
    blocked = graph_inputs([out], blockers=[h])
    assert h in blocked and x not in blocked
    assert is_in_ancestors(out.owner, x)
    assert not is_in_ancestors(h.owner, y)
