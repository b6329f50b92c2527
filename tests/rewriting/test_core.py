"""The rewrite framework: tracking, the equilibrium driver and its bound, error reporting,
replacement validation and rollback."""
import warnings

import numpy as np
import pytest

import symgraph as sg
import symgraph.tensor as T
from symgraph.config import change_flags
from symgraph.graph.fgraph import Feature, FunctionGraph, InconsistencyError
from symgraph.rewriting.core import (EquilibriumGraphRewriter, History, NodeRewriter,
                                     RewriteError, RewriteWarning, SequentialGraphRewriter,
                                     apply_replacements, graph_rewriter, node_rewriter)
from symgraph.tensor.elemwise import Elemwise


def evaluate(fgraph, *values):
    """Run a FunctionGraph's current outputs on ``values`` (unoptimized)."""
    fn = sg.function(list(fgraph.inputs), list(fgraph.outputs), mode=sg.Mode(optimizer=None),
                     on_unused_input="ignore")
    return fn(*values)


@node_rewriter([T.neg])
def neg_neg(fgraph, node):
    inner = node.inputs[0].owner
    if inner is not None and inner.op == T.neg:
        return [inner.inputs[0]]
    return None


class CountingRewriter(NodeRewriter):
    """Counts the nodes it is shown; never changes anything."""

    def __init__(self, tracks):
        self._tracks, self.seen, self.name = tracks, [], "counting"

    def tracks(self):
        return self._tracks

    def transform(self, fgraph, node):
        self.seen.append(node.op)
        return None


def test_rewriter_sees_only_the_ops_it_tracks():
    x = T.dvector("x")
    fg = FunctionGraph([x], [T.exp(T.log(x)) + T.exp(x)])
    by_instance = CountingRewriter([T.exp])
    by_class = CountingRewriter([Elemwise])
    everything = CountingRewriter(None)
    EquilibriumGraphRewriter([by_instance, by_class, everything]).rewrite(fg)
    assert by_instance.seen == [T.exp, T.exp]
    assert len(by_class.seen) == 4  # log, exp, exp, add
    assert len(everything.seen) == len(fg.apply_nodes) == 4


def test_equilibrium_reaches_a_fixed_point(rng):
    x = T.dvector("x")
    fg = FunctionGraph([x], [T.exp(-(-(-(-x))))])
    EquilibriumGraphRewriter([neg_neg]).rewrite(fg)
    assert [str(n.op) for n in fg.toposort()] == ["Elemwise{exp}"]
    v = rng.normal(size=3)
    np.testing.assert_allclose(evaluate(fg, v)[0], np.exp(v))
    assert fg.rewrite_profile.fired("neg_neg") == 2


def test_a_rewrite_that_never_stops_is_bounded_and_reported(rng):
    @node_rewriter([T.exp])
    def grow(fgraph, node):  # exp(x) -> exp(x + 0): fires on its own output forever
        return [T.exp(node.inputs[0] + 0.0)]

    x = T.dvector("x")
    fg = FunctionGraph([x], [T.exp(x)])
    with pytest.warns(RewriteWarning, match="'grow' fired more than"):
        EquilibriumGraphRewriter([grow], max_use_ratio=2).rewrite(fg)
    v = rng.normal(size=4)
    np.testing.assert_allclose(evaluate(fg, v)[0], np.exp(v))


def test_a_raising_rewrite_is_named_and_skipped(rng):
    @node_rewriter([T.exp])
    def broken(fgraph, node):
        raise ZeroDivisionError("oops")

    x = T.dvector("x")
    fg = FunctionGraph([x], [T.exp(-(-x))])
    with pytest.warns(RewriteWarning, match="'broken' failed on .*ZeroDivisionError: oops"):
        EquilibriumGraphRewriter([broken, neg_neg]).rewrite(fg)
    assert [str(n.op) for n in fg.toposort()] == ["Elemwise{exp}"]  # neg_neg still ran
    with change_flags(on_opt_error="raise"), pytest.raises(ZeroDivisionError):
        EquilibriumGraphRewriter([broken]).rewrite(FunctionGraph([x], [T.exp(x)]))


@pytest.mark.parametrize("bad", ["dtype", "broadcast", "ndim", "not_a_variable"])
def test_an_ill_typed_replacement_is_rejected(bad, rng):
    x = T.tensor("float64", (1,), name="x")

    @node_rewriter([T.exp])
    def wrong(fgraph, node):
        if bad == "dtype":
            return [T.cast(node.inputs[0], "float32")]
        if bad == "broadcast":  # (?,) may not stand for a (1,) output
            return [T.dvector()]
        if bad == "ndim":
            return [T.dmatrix()]
        return [3.0]

    fg = FunctionGraph([x], [T.exp(x)])
    with pytest.warns(RewriteWarning, match="'wrong' failed"):
        EquilibriumGraphRewriter([wrong]).rewrite(fg)
    assert [str(n.op) for n in fg.toposort()] == ["Elemwise{exp}"]
    v = rng.normal(size=1)
    np.testing.assert_allclose(evaluate(fg, v)[0], np.exp(v))


def test_a_replacement_needing_a_foreign_input_is_rejected():
    x, stranger = T.dvector("x"), T.dvector("stranger")

    @node_rewriter([T.exp])
    def foreign(fgraph, node):
        return [T.exp(stranger)]

    fg = FunctionGraph([x], [T.exp(x)])
    with pytest.warns(RewriteWarning, match="stranger"):
        EquilibriumGraphRewriter([foreign]).rewrite(fg)
    assert fg.outputs[0].owner.inputs[0] is fg.inputs[0]


def test_a_more_specific_type_is_accepted():
    x = T.dvector("x")

    @node_rewriter([T.exp])
    def specific(fgraph, node):
        return [T.specify_shape(T.exp(node.inputs[0]), (3,))]

    fg = FunctionGraph([x], [T.exp(x)])
    node = fg.outputs[0].owner
    assert apply_replacements(fg, node, specific.transform(fg, node), specific)
    assert fg.outputs[0].type.shape == (3,)
    assert node not in fg.apply_nodes


class RejectSqr(Feature):
    """Validation fails whenever the graph holds a sqr."""

    def validate(self, fgraph):
        if any(n.op == T.sqr for n in fgraph.apply_nodes):
            raise InconsistencyError("no sqr allowed")


def test_a_replacement_failing_validation_is_rolled_back(rng):
    x = T.dvector("x")
    fg = FunctionGraph([x], [T.exp(x * x), T.log(x)])
    fg.attach_feature(RejectSqr())
    before = [str(n.op) for n in fg.toposort()]

    @node_rewriter([T.mul])
    def to_sqr(fgraph, node):
        return [T.sqr(node.inputs[0])]

    with pytest.warns(RewriteWarning, match="no sqr allowed"):
        EquilibriumGraphRewriter([to_sqr]).rewrite(fg)
    assert [str(n.op) for n in fg.toposort()] == before
    v = rng.uniform(0.5, 2.0, size=3)
    got = evaluate(fg, v)
    np.testing.assert_allclose(got[0], np.exp(v * v))
    np.testing.assert_allclose(got[1], np.log(v))


def test_history_reverts_to_a_checkpoint_even_to_less_specific_types():
    x = T.dvector("x")
    out = T.exp(x)
    fg = FunctionGraph([x], [out])
    history = History()
    fg.attach_feature(history)
    checkpoint = fg.checkpoint()
    old = fg.outputs[0]
    fg.replace(old, T.specify_shape(T.log(fg.inputs[0]), (2,)))
    assert fg.outputs[0].type.shape == (2,)
    fg.revert(checkpoint)
    assert fg.outputs[0] is old
    assert [str(n.op) for n in fg.toposort()] == ["Elemwise{exp}"]
    assert fg.clients[fg.inputs[0]] == [(old.owner, 0)]
    assert len(fg.apply_nodes) == 1


def test_dict_results_and_none_entries():
    x = T.dvector("x")
    fg = FunctionGraph([x], [T.exp(x), T.log(x)])
    log_out = fg.outputs[1]

    @node_rewriter([T.exp])
    def swap_log(fgraph, node):
        if any(o is log_out for o in fgraph.outputs):
            return {log_out: T.log1p(node.inputs[0])}
        return None

    EquilibriumGraphRewriter([swap_log]).rewrite(fg)
    assert str(fg.outputs[1].owner.op) == "Elemwise{log1p}"
    assert str(fg.outputs[0].owner.op) == "Elemwise{exp}"


def test_graph_rewriters_run_in_sequence_and_are_profiled():
    calls = []

    @graph_rewriter
    def first(fgraph):
        calls.append("first")

    @graph_rewriter
    def second(fgraph):
        calls.append("second")

    x = T.dvector("x")
    fg = FunctionGraph([x], [T.exp(x)])
    SequentialGraphRewriter([first, second]).rewrite(fg)
    assert calls == ["first", "second"]
    assert fg.rewrite_profile.pass_stats["first"][0] == 1
    assert "first" in fg.rewrite_profile.summary()


def test_global_and_final_rewriters_repeat_until_nothing_changes():
    rounds = []

    @graph_rewriter
    def count_rounds(fgraph):
        rounds.append(len(fgraph.apply_nodes))

    x = T.dvector("x")
    fg = FunctionGraph([x], [T.exp(-(-x))])
    EquilibriumGraphRewriter([neg_neg], global_rewriters=[count_rounds],
                             final_rewriters=[count_rounds]).rewrite(fg)
    assert rounds == [3, 1]  # one round: before (3 nodes) and after (1 node)


def test_no_warning_for_a_normal_compile(rng):
    x = T.dmatrix("x")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        f = sg.function([x], T.log(1 + T.exp(x * 2)).sum())
    v = rng.normal(size=(2, 3))
    np.testing.assert_allclose(f(v), np.log1p(np.exp(v * 2)).sum())


def test_rewrite_error_is_raised_for_an_invalid_replacement_under_raise():
    x = T.dvector("x")

    @node_rewriter([T.exp])
    def wrong(fgraph, node):
        return [T.cast(node.inputs[0], "float32")]

    with change_flags(on_opt_error="raise"), pytest.raises(RewriteError, match="'wrong'"):
        EquilibriumGraphRewriter([wrong]).rewrite(FunctionGraph([x], [T.exp(x)]))


def test_a_raising_graph_rewriter_is_undone_and_reported(rng):
    @graph_rewriter
    def half_done(fgraph):
        out = fgraph.outputs[0]
        fgraph.replace(out, T.log(fgraph.inputs[0]))  # a wrong change, then a crash
        raise RuntimeError("crashed half way")

    x = T.dvector("x")
    fg = FunctionGraph([x], [T.exp(x)])
    with pytest.warns(RewriteWarning, match="'half_done' failed: RuntimeError: crashed half way"):
        SequentialGraphRewriter([half_done]).rewrite(fg)
    assert [str(n.op) for n in fg.toposort()] == ["Elemwise{exp}"]
    v = rng.normal(size=3)
    np.testing.assert_allclose(evaluate(fg, v)[0], np.exp(v))
