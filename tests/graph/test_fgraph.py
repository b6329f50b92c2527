"""FunctionGraph: clients bookkeeping, replace, pruning, change_input, features."""
import numpy as np
import pytest

import symgraph as sg
import symgraph.tensor as T
from symgraph.graph.fgraph import Feature, FunctionGraph, InconsistencyError, MissingInputError


def _check_clients(fg):
    """Every client list agrees with the nodes' inputs and the outputs (and nothing else)."""
    expected = {v: [] for v in fg.variables}
    for node in fg.apply_nodes:
        for i, inp in enumerate(node.inputs):
            expected[inp].append((node, i))
    for i, out in enumerate(fg.outputs):
        expected[out].append(("output", i))
    assert set(fg.clients) == set(expected)
    for var, clients in expected.items():
        assert sorted(map(repr, fg.clients[var])) == sorted(map(repr, clients)), var
    for node in fg.apply_nodes:
        assert all(o in fg.variables for o in node.outputs)
        assert all(i in fg.variables for i in node.inputs)


def _graph():
    x, y = T.dvectors("x", "y")
    return x, y, T.exp(x * 2.0) + y


def test_construction_clones_and_books_clients():
    x, y, z = _graph()
    fg = FunctionGraph([x, y], [z])
    assert fg.inputs[0] is not x and fg.inputs[0].name == "x"
    assert fg.outputs[0] is not z
    assert len(fg.apply_nodes) == 4  # DimShuffle of 2.0, mul, exp, add
    assert fg.clients[fg.outputs[0]] == [("output", 0)]
    _check_clients(fg)
    assert fg.equiv[x] is fg.inputs[0]


def test_without_clone_uses_the_given_variables():
    x, y, z = _graph()
    fg = FunctionGraph([x, y], [z], clone=False)
    assert fg.inputs == [x, y] and fg.outputs == [z]
    _check_clients(fg)


def test_missing_input_is_reported_with_its_trace():
    x, y, z = _graph()
    with pytest.raises(MissingInputError, match=r"needs input y.*test_fgraph\.py"):
        FunctionGraph([x], [z])


def test_replace_updates_clients_and_prunes():
    x, y, z = _graph()
    fg = FunctionGraph([x, y], [z])
    xi, yi = fg.inputs
    exp_out = fg.outputs[0].owner.inputs[0]
    mul_node = exp_out.owner.inputs[0].owner
    fg.replace(exp_out, xi, reason="test")
    add_node = fg.outputs[0].owner
    assert add_node.inputs == [xi, yi]
    # exp, mul, the DimShuffle and the constant are gone: nothing uses them
    assert fg.apply_nodes == {add_node}
    assert mul_node not in fg.apply_nodes
    assert not any(isinstance(v, sg.Constant) for v in fg.variables)
    assert fg.clients[xi] == [(add_node, 0)]
    _check_clients(fg)
    rng = np.random.default_rng(0)
    xv, yv = rng.normal(size=3), rng.normal(size=3)
    f = sg.function([xi, yi], fg.outputs[0])
    np.testing.assert_allclose(f(xv, yv), xv + yv)


def test_replace_with_a_new_subgraph_imports_it():
    x, y, z = _graph()
    fg = FunctionGraph([x, y], [z])
    xi, yi = fg.inputs
    exp_out = fg.outputs[0].owner.inputs[0]
    new = T.tanh(yi) * xi
    fg.replace(exp_out, new)
    assert new.owner in fg.apply_nodes and new.owner.inputs[0].owner in fg.apply_nodes
    _check_clients(fg)
    rng = np.random.default_rng(1)
    xv, yv = rng.normal(size=4), rng.normal(size=4)
    got = sg.function([xi, yi], fg.outputs[0])(xv, yv)
    np.testing.assert_allclose(got, np.tanh(yv) * xv + yv)


def test_nodes_built_by_a_rewrite_inherit_the_replaced_trace():
    x, y, z = _graph()
    fg = FunctionGraph([x, y], [z])
    xi, yi = fg.inputs
    exp_out = fg.outputs[0].owner.inputs[0]
    new = T.tanh(yi) * xi  # built here, as a rewrite would build it
    fg.replace(exp_out, new)
    assert new.tag.trace == exp_out.tag.trace == z.owner.inputs[0].tag.trace
    assert new.owner.inputs[0].tag.trace == exp_out.tag.trace
    assert yi.tag.trace == y.tag.trace  # variables already in the graph keep theirs


def test_replace_an_output():
    x, y, z = _graph()
    fg = FunctionGraph([x, y], [z])
    xi, yi = fg.inputs
    fg.replace(fg.outputs[0], yi)
    assert fg.outputs == [yi]
    assert fg.apply_nodes == set()
    assert fg.clients[yi] == [("output", 0)]
    _check_clients(fg)


def test_replace_rejects_incompatible_types():
    x, y, z = _graph()
    fg = FunctionGraph([x, y], [z])
    xi, _ = fg.inputs
    with pytest.raises(TypeError, match="cannot replace"):
        fg.replace(xi, T.dmatrix("m"))
    with pytest.raises(TypeError, match="float32"):
        fg.replace(xi, T.fvector("f"))
    _check_clients(fg)  # nothing changed


def test_replace_with_a_more_specific_static_shape_is_allowed():
    x = T.dvector("x")
    fg = FunctionGraph([x], [T.exp(x)], clone=False)
    specific = T.tensor("float64", (3,), name="s")
    fg.add_input(specific)
    fg.replace(x, specific)
    assert fg.outputs[0].owner.inputs[0] is specific


def test_change_input_checks_type_and_keeps_clients():
    x, y, z = _graph()
    fg = FunctionGraph([x, y], [z])
    xi, yi = fg.inputs
    add_node = fg.outputs[0].owner
    fg.change_input(add_node, 1, xi)
    assert add_node.inputs[1] is xi
    assert fg.clients[yi] == []
    assert (add_node, 1) in fg.clients[xi]
    _check_clients(fg)
    with pytest.raises(TypeError, match="types differ"):
        fg.change_input(add_node, 1, T.lvector("i"))
    fg.change_input("output", 0, yi)
    assert fg.outputs == [yi] and fg.apply_nodes == set()
    _check_clients(fg)


def test_shared_nodes_are_pruned_only_when_unused():
    x = T.dvector("x")
    e = T.exp(x)
    fg = FunctionGraph([x], [e + 1.0, e * 2.0], clone=False)
    fg.replace(fg.outputs[0], x)
    assert e.owner in fg.apply_nodes  # still needed by the second output
    _check_clients(fg)
    fg.replace(fg.outputs[1], x)
    assert fg.apply_nodes == set()
    _check_clients(fg)


class Recorder(Feature):
    def __init__(self):
        self.events = []

    def on_attach(self, fgraph):
        self.events.append(("attach",))

    def on_detach(self, fgraph):
        self.events.append(("detach",))

    def on_import(self, fgraph, node, reason):
        self.events.append(("import", str(node.op), reason))

    def on_prune(self, fgraph, node, reason):
        self.events.append(("prune", str(node.op), reason))

    def on_change_input(self, fgraph, node, i, old, new, reason):
        self.events.append(("change", i, old, new, reason))


def test_features_receive_callbacks():
    x, y = T.dvectors("x", "y")
    out = T.exp(x) + y
    recorder = Recorder()
    fg = FunctionGraph([x, y], [out], features=[recorder], clone=False)
    assert recorder.events == [("attach",)]
    fg.replace(out.owner.inputs[0], T.tanh(y), reason="swap")
    kinds = [e[0] for e in recorder.events[1:]]
    assert kinds == ["import", "change", "prune"]
    assert recorder.events[1] == ("import", "Elemwise{tanh}", "swap")
    change = recorder.events[2]
    assert change[1] == 0 and change[3].owner.op == T.tanh and change[4] == "swap"
    assert recorder.events[3] == ("prune", "Elemwise{exp}", "swap")
    fg.remove_feature(recorder)
    assert recorder.events[-1] == ("detach",)
    fg.replace(out, y)
    assert len(recorder.events) == 5  # detached: no more events


def test_validate_calls_features_and_replace_all_validate_raises():
    class Refuse(Feature):
        def validate(self, fgraph):
            if any(n.op == T.tanh for n in fgraph.apply_nodes):
                raise InconsistencyError("no tanh allowed")

    x = T.dvector("x")
    out = T.exp(x)
    fg = FunctionGraph([x], [out], features=[Refuse()], clone=False)
    fg.validate()
    with pytest.raises(InconsistencyError, match="no tanh"):
        fg.replace_all_validate([(out, T.tanh(x))])


def test_toposort_and_clone():
    x, y, z = _graph()
    fg = FunctionGraph([x, y], [z])
    order = fg.toposort()
    position = {node: k for k, node in enumerate(order)}
    for node in order:
        for inp in node.inputs:
            if inp.owner is not None:
                assert position[inp.owner] < position[node]
    copy = fg.clone()
    assert copy.inputs[0] is not fg.inputs[0]
    assert not (copy.apply_nodes & fg.apply_nodes)
    assert [str(n.op) for n in copy.toposort()] == [str(n.op) for n in order]
    _check_clients(copy)


def test_pruning_a_deep_chain_does_not_recurse():
    x = T.dscalar("x")
    out = x
    for _ in range(3000):
        out = T.neg(out)
    fg = FunctionGraph([x], [out], clone=False)
    fg.replace(out, x)
    assert fg.apply_nodes == set()
    assert fg.clients == {x: [("output", 0)]}


def test_a_failed_change_leaves_the_graph_unchanged():
    x, y, z = _graph()
    fg = FunctionGraph([x, y], [z])
    xi, _ = fg.inputs
    stranger = T.dvector("stranger")
    (mul_node, _), = fg.clients[xi]
    with pytest.raises(MissingInputError, match="stranger"):
        fg.replace(xi, T.exp(stranger))
    assert mul_node.inputs[0] is xi and fg.clients[xi] == [(mul_node, 0)]
    _check_clients(fg)
