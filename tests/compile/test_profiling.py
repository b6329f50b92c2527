"""Profiling (symgraph/compile/profiling.py): calls and time per node and op at run time,
time per rewrite at compile time, a printable table; nothing is timed when it is off."""
import numpy as np

import symgraph as sg
import symgraph.tensor as T
from symgraph.compile import profiling
from symgraph.compile.function import Function
from symgraph.compile.profiling import ProfiledFunction, ProfileStats
from symgraph.config import change_flags


def test_profile_counts_calls_and_nodes(rng):
    x, W = T.dvector("x"), T.dmatrix("W")
    f = sg.function([x, W], T.tanh(T.dot(W, x)).sum(), profile=True, name="layer")
    assert isinstance(f, ProfiledFunction) and isinstance(f.profile, ProfileStats)
    xv, Wv = rng.normal(size=30), rng.normal(size=(20, 30))
    for _ in range(3):
        np.testing.assert_allclose(f(xv, Wv), np.tanh(Wv @ xv).sum())
    stats = f.profile
    assert stats.calls == 3 and stats.name == "layer"
    rows = stats.node_rows()
    assert len(rows) == len(f.maker.fgraph.apply_nodes)
    assert all(row.calls == 3 for row in rows)
    assert abs(sum(row.share for row in rows) - 1.0) < 1e-9
    assert 0 < stats.node_seconds() <= stats.call_seconds
    assert rows == sorted(rows, key=lambda r: -r.seconds)
    assert stats.compile_seconds >= stats.rewrite_seconds() > 0


def test_ops_are_aggregated(rng):
    x, y = T.dvectors("x", "y")
    outs = [T.dot(x, y), T.dot(x * 2.0, y), T.dot(x, y * 3.0)]
    f = sg.function([x, y], outs, profile=True)
    f(*rng.normal(size=(2, 5)))
    dots = [row for row in f.profile.op_rows() if "Dot" in row.name]
    assert len(dots) == 1 and dots[0].count == 3 and dots[0].calls == 3


def test_summary_is_a_table_with_ops_nodes_and_rewrites(rng):
    x = T.dvector("x")
    f = sg.function([x], T.log(1 + T.exp(x)).sum(), profile="softplus sum")
    f(rng.normal(size=4))
    text = f.profile.summary()
    assert text.startswith("Profile 'softplus sum': 1 functions, 1 calls")
    assert "ops (slowest first):" in text and "nodes (slowest first):" in text
    assert "share" in text and "us/call" in text and "Sum" in text
    assert "compile time per rewrite:" in text and "local_log1p" in text
    assert str(f.profile) == text


def test_one_profile_for_several_functions(rng):
    stats = ProfileStats("both")
    x = T.dvector("x")
    f = sg.function([x], T.exp(x), profile=stats)
    g = sg.function([x], T.sin(x) * 2.0, profile=stats)
    f(rng.normal(size=3))
    g(rng.normal(size=3))
    g(rng.normal(size=3))
    assert f.profile is g.profile is stats
    assert stats.calls == 3 and len(stats.functions) == 2


def test_config_profile_turns_it_on(rng, monkeypatch):
    at_exit = []
    monkeypatch.setattr(profiling, "_printed_at_exit", at_exit)  # not this test's output
    x = T.dvector("x")
    with change_flags(profile=True):
        f = sg.function([x], T.exp(x))
    assert isinstance(f, ProfiledFunction)
    f(rng.normal(size=2))
    assert f.profile.calls == 1
    assert at_exit == [f.profile]  # printed when the program exits


def test_off_means_nothing_is_timed(rng):
    x = T.dvector("x")
    py = sg.Mode(linker="py")
    f = sg.function([x], T.exp(x) * 2.0, mode=py)
    assert type(f) is Function and f.profile is None
    assert all(t.__name__ == "thunk" for t in f.fn.vm.thunks)  # not wrapped
    g = sg.function([x], T.exp(x) * 2.0, profile=True, mode=py)
    assert all(t.__name__ == "run" for t in g.fn.vm.thunks)


def test_profile_with_updates_and_errors(rng):
    w = sg.shared(np.zeros(3), name="w")
    x = T.dvector("x")
    f = sg.function([x], (w + x).sum(), updates=[(w, w + x)], profile=True)
    f(np.ones(3))
    f(np.ones(3))
    np.testing.assert_allclose(w.get_value(), [2.0, 2.0, 2.0])
    try:
        f(np.ones(4))  # a shape error still counts as a call
    except ValueError:
        pass
    assert f.profile.calls == 3
