"""The Scan op itself: its layout, equality, shapes, connections and run-time checks."""
import numpy as np
import pytest

import symgraph as sg
import symgraph.tensor as T
from symgraph.gradient import grad
from symgraph.scan import Scan, ScanInfo, scan, until


def test_info_layout_and_validation():
    info = ScanInfo(n_seqs=2, state_taps=((-1,), (-2, -1)), n_nit_sot=1, n_shared_outs=1,
                    n_non_seqs=3, as_while=True)
    assert info.state_lags == (1, 2) and info.n_sit_sot == 1 and info.n_mit_sot == 1
    assert info.n_outer_inputs == 1 + 2 + 2 + 1 + 3
    assert info.n_inner_inputs == 2 + 3 + 1 + 3
    assert info.n_inner_outputs == 2 + 1 + 1 + 1 and info.n_outer_outputs == 4
    inner = list("abcdefghi")
    assert info.split_inner_inputs(inner) == (["a", "b"], [["c"], ["d", "e"]], ["f"],
                                              ["g", "h", "i"])
    assert info.inner_to_outer_input() == [1, 2, 3, 4, 4, 5, 6, 7, 8]
    assert info == ScanInfo(2, ((-1,), (-2, -1)), 1, 1, 3, True) and hash(info)
    with pytest.raises(ValueError, match="negative"):
        ScanInfo(0, ((1,),), 0, 0, 0)
    with pytest.raises(ValueError, match="truncate"):
        ScanInfo(0, (), 1, 0, 0, truncate_gradient=0)


def cumulative_op():
    x, h = T.dscalar("x"), T.dscalar("h")
    info = ScanInfo(n_seqs=1, state_taps=((-1,),), n_nit_sot=1, n_shared_outs=0,
                    n_non_seqs=0)
    return Scan([x, h], [h + x, h * x], info)


def test_direct_construction_and_buffers(rng):
    op = cumulative_op()
    seq, h0 = T.dvector("seq"), T.dvector("h0")
    buf, prods = op(seq.shape[0], seq, h0)
    assert buf.type.shape == (None,) and "Scan" in str(op)
    xv = rng.normal(size=4)
    got_buf, got_prods = sg.function([seq, h0], [buf, prods])(xv, np.array([0.5]))
    want = np.concatenate([[0.5], 0.5 + np.cumsum(xv)])
    np.testing.assert_allclose(got_buf, want)  # the initial row, then one row per step
    np.testing.assert_allclose(got_prods, want[:-1] * xv)


def test_equal_inner_graphs_make_equal_ops():
    a, b = cumulative_op(), cumulative_op()
    assert a == b and hash(a) == hash(b)
    x, h = T.dscalar("x"), T.dscalar("h")
    other = Scan([x, h], [h - x, h * x], a.info)
    assert other != a


def test_make_node_checks_types():
    op = cumulative_op()
    with pytest.raises(TypeError, match="sequence 0"):
        op(3, T.fvector(), T.dvector())
    with pytest.raises(TypeError, match="n_steps"):
        op(T.dscalar(), T.dvector(), T.dvector())
    with pytest.raises(ValueError, match="inputs"):
        op(3, T.dvector())
    x, h = T.dscalar("x"), T.dscalar("h")
    with pytest.raises(TypeError, match="state 0"):
        Scan([x, h], [(h + x).astype("float32"), h], op.info)
    with pytest.raises(ValueError, match="not one of its inputs"):
        Scan([x, h], [h + T.dscalar("stranger"), h], op.info)


def test_run_time_checks(rng):
    op = cumulative_op()
    seq, h0, n = T.dvector("seq"), T.dvector("h0"), T.lscalar("n")
    f = sg.function([seq, h0, n], op(n, seq, h0)[0])
    with pytest.raises(ValueError, match="fewer than"):
        f(np.ones(2), np.ones(1), 3)
    with pytest.raises(ValueError, match="exactly 1"):
        f(np.ones(2), np.ones(2), 2)
    with pytest.raises(ValueError, match=">= 0"):
        f(np.ones(2), np.ones(1), -1)


def test_infer_shape_lifts_shapes_without_running_the_loop(rng):
    x, w, h0 = T.dmatrix("x"), T.dmatrix("w"), T.dvector("h0")
    (hs, ys), _ = scan(lambda xt, h, w: (T.tanh(xt + h), T.dot(xt, w)), sequences=x,
                       outputs_info=[h0, None], non_sequences=w)
    f = sg.function([x, w, h0], [hs.shape, ys.shape], on_unused_input="ignore")
    assert not any(isinstance(n.op, Scan) for n in f.maker.fgraph.apply_nodes)
    got = f(rng.normal(size=(5, 3)), rng.normal(size=(3, 7)), rng.normal(size=3))
    assert [g.tolist() for g in got] == [[5, 3], [5, 7]]


def test_debug_mode_checks_perform_and_infer_shape(rng):
    x, h0 = T.dmatrix("x"), T.dvector("h0")
    hs, _ = scan(lambda xt, h: T.tanh(xt * h), sequences=x, outputs_info=h0)
    f = sg.function([x, h0], hs, mode="DebugMode")
    xv, hv = rng.normal(size=(4, 2)), rng.normal(size=2)
    want, h = [], hv
    for row in xv:
        h = np.tanh(row * h)
        want.append(h)
    np.testing.assert_allclose(f(xv, hv), want)


def test_connection_pattern_follows_the_recurrences():
    x, a, b, w = T.dvector("x"), T.dscalar("a"), T.dscalar("b"), T.dscalar("w")
    # a feeds b's recurrence; w only feeds the per-step output
    (ha, hb, y), _ = scan(lambda xt, a, b, w: (a * 0.5, b + a, xt * w), sequences=x,
                          outputs_info=[a, b, None], non_sequences=w)
    node = ha.owner.inputs[0].owner
    pattern = node.op.connection_pattern(node)
    inputs = ["n_steps", "x", "a", "b", "w"]
    connected = {name: [j for j, c in enumerate(row) if c] for name, row in zip(inputs, pattern)}
    assert connected == {"n_steps": [], "x": [2], "a": [0, 1], "b": [1], "w": [2]}
    with pytest.raises(sg.gradient.DisconnectedInputError):
        grad(ha.sum(), w)


def test_a_while_loop_grows_its_buffers(rng):
    x0 = T.dscalar("x0")
    out, _ = scan(lambda v: (v + 1.0, until(v + 1.0 >= 100.0)), outputs_info=x0,
                  n_steps=10 ** 9)
    np.testing.assert_allclose(sg.function([x0], out)(0.0), np.arange(1.0, 101.0))


def test_errors_in_the_step_point_at_the_scan(rng):
    x = T.dmatrix("x")
    out, _ = scan(lambda row: T.dot(row, x), sequences=x)
    with pytest.raises(ValueError) as info:
        # without the scan rewrites, which would move this dot out of the loop
        sg.function([x], out, mode=sg.Mode().excluding("scan"))(np.ones((2, 3)))
    assert "Scan" in str(info.value)
