"""The scan rewrites (symgraph/scan/rewriting.py): each fires where it should (the
compiled graph's Scan nodes and their inner graphs are inspected) and leaves the values
as they were (against the same graph compiled without that rewrite, and NumPy)."""
import pickle

import numpy as np
import pytest

import symgraph as sg
import symgraph.tensor as T
from symgraph.graph.traversal import ancestors
from symgraph.scan import Scan, ScanInfo, scan, until
from symgraph.tensor.math import Dot

MODES = [pytest.param("py", id="py"), pytest.param("cvm", id="cvm")]


def scans(f):
    return [n for n in f.maker.fgraph.toposort() if isinstance(n.op, Scan)]


def inner_ops(node):
    return [type(n.op).__name__ if not hasattr(n.op, "scalar_op") else str(n.op)
            for n in node.op.fgraph.toposort()]


def with_and_without(inputs, outputs, rewrite, linker="py"):
    """The graph compiled with every rewrite, and without ``rewrite``."""
    on = sg.function(inputs, outputs, mode=sg.Mode(linker=linker))
    off = sg.function(inputs, outputs, mode=sg.Mode(linker=linker).excluding(rewrite))
    return on, off


def assert_same(on, off, *args):
    got, want = on(*args), off(*args)
    for g, w in zip(got if isinstance(got, list) else [got],
                    want if isinstance(want, list) else [want]):
        np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-12)
    return got


def numpy_rnn(xv, wv, uv, bv, h0):
    h, out = h0, []
    for row in xv:
        h = np.tanh(row @ wv + bv + h @ uv)
        out.append(h)
    return np.array(out)


def rnn(x, w, u, b, h0, **kwargs):
    hs, _ = scan(lambda xt, h, w, u, b: T.tanh(T.dot(xt, w) + b + T.dot(h, u)), sequences=x,
                 outputs_info=h0, non_sequences=[w, u, b], **kwargs)
    return hs


def rnn_point(rng, t=6, n_in=3, n_h=4):
    return [rng.normal(size=(t, n_in)), rng.normal(size=(n_in, n_h)),
            rng.normal(size=(n_h, n_h)) * 0.4, rng.normal(size=n_h), rng.normal(size=n_h)]


RNN_VARS = [T.dmatrix("x"), T.dmatrix("w"), T.dmatrix("u"), T.dvector("b"), T.dvector("h0")]


# -- 1. loop invariants ----------------------------------------------------------------
@pytest.mark.parametrize("linker", MODES)
def test_loop_invariants_are_computed_once_outside(rng, linker):
    h0, w, u = T.dvector("h0"), T.dmatrix("w"), T.dmatrix("u")
    hs, _ = scan(lambda h, w, u: T.tanh(T.dot(h, w * 2.0 + T.exp(u))), outputs_info=h0,
                 non_sequences=[w, u], n_steps=5)
    on, off = with_and_without([h0, w, u], hs, "scan_push_out_invariant", linker)
    (loop,) = scans(on)
    assert inner_ops(loop) == ["Dot", "Elemwise{tanh}"]  # exp, mul and add went out
    assert loop.op.info.n_non_seqs == 1  # w * 2 + exp(u): one new non-sequence
    assert any("exp" in str(n.op) for n in on.maker.fgraph.toposort())
    (slow,) = scans(off)
    assert "Elemwise{exp}" in inner_ops(slow)
    hv, wv, uv = rng.normal(size=3), rng.normal(size=(3, 3)) * 0.3, rng.normal(size=(3, 3))
    got = assert_same(on, off, hv, wv, uv)
    h, want = hv, []
    for _ in range(5):
        h = np.tanh(h @ (wv * 2 + np.exp(uv)))
        want.append(h)
    np.testing.assert_allclose(got, want, rtol=1e-12)


# -- 2. sequence-only computations -------------------------------------------------------
@pytest.mark.parametrize("linker", MODES)
def test_input_projection_becomes_one_batched_dot(rng, linker):
    hs = rnn(*RNN_VARS)
    on, off = with_and_without(RNN_VARS, hs, "scan_push_out_seq", linker)
    (loop,) = scans(on)
    # left in the loop: the recurrent product and the nonlinearity
    assert sum(isinstance(n.op, Dot) for n in loop.op.fgraph.toposort()) == 1
    assert loop.op.info.n_non_seqs == 1  # u only: w and b now act before the loop
    outer_products = [n for n in on.maker.fgraph.toposort()
                      if not isinstance(n.op, Scan) and "Dot" in type(n.op).__name__]
    assert outer_products and outer_products[0].inputs[0].ndim == 2  # dot(X, W)
    (slow,) = scans(off)
    assert sum(isinstance(n.op, Dot) for n in slow.op.fgraph.toposort()) == 2
    point = rnn_point(rng)
    np.testing.assert_allclose(assert_same(on, off, *point), numpy_rnn(*point), rtol=1e-12)


def test_elementwise_on_rows_and_transposed_products_move_out(rng):
    x, y, w, a = T.dmatrix("x"), T.dmatrix("y"), T.dmatrix("w"), T.dvector("a")

    def step(xt, yt, acc, w, a):
        return acc + T.exp(xt) * 2.0 + T.dot(w, yt) + (xt * a).sum()

    out, _ = scan(step, sequences=[x, y], outputs_info=T.zeros((3,), dtype="float64"),
                  non_sequences=[w, a])
    on, off = with_and_without([x, y, w, a], out, "scan_push_out_seq")
    (loop,) = scans(on)
    assert not any(op in inner_ops(loop) for op in ("Elemwise{exp}", "Dot"))
    xv, yv, wv, av = (rng.normal(size=(5, 3)), rng.normal(size=(6, 2)), rng.normal(size=(3, 2)),
                      rng.normal(size=3))
    got = assert_same(on, off, xv, yv, wv, av)
    rows = np.exp(xv) * 2 + yv[:5] @ wv.T + (xv * av).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(got, np.cumsum(rows, axis=0), rtol=1e-12)


def test_slices_of_rows_move_out_as_column_slices(rng):
    x, i = T.dmatrix("x"), T.lscalar("i")

    def step(xt, acc, i):
        return acc + T.nnet.sigmoid(xt[1:3]) * xt[i]

    out, _ = scan(step, sequences=x, outputs_info=T.zeros((2,), dtype="float64"),
                  non_sequences=i)
    on, off = with_and_without([x, i], out, "scan_push_out_seq")
    (loop,) = scans(on)
    assert "Subtensor" not in inner_ops(loop) and "Subtensor" in inner_ops(scans(off)[0])
    xv = rng.normal(size=(5, 4))
    got = assert_same(on, off, xv, 3)
    rows = 1 / (1 + np.exp(-xv[:, 1:3])) * xv[:, 3:4]
    np.testing.assert_allclose(got, np.cumsum(rows, axis=0), rtol=1e-12)


def test_a_loop_of_row_functions_disappears(rng):
    x = T.dmatrix("x")
    out, _ = scan(lambda v: T.exp(v) * 2.0, sequences=x)
    on, off = with_and_without([x], out, "scan_push_out_seq")
    assert not scans(on) and len(scans(off)) == 1
    xv = rng.normal(size=(4, 2))
    np.testing.assert_allclose(assert_same(on, off, xv), np.exp(xv) * 2, rtol=1e-12)


def test_sequence_push_out_keeps_the_length_check(rng):
    x, n = T.dvector("x"), T.lscalar("n")
    out, _ = scan(lambda v, acc: acc + T.exp(v), sequences=x, outputs_info=T.constant(0.0),
                  n_steps=n)
    f = sg.function([x, n], out)
    assert "Elemwise{exp}" not in inner_ops(scans(f)[0])
    xv = rng.normal(size=5)
    np.testing.assert_allclose(f(xv, 3), np.cumsum(np.exp(xv[:3])), rtol=1e-12)
    with pytest.raises(ValueError, match="fewer than"):
        f(xv, 7)


@pytest.mark.parametrize("linker", MODES)
def test_row_shapes_come_in_as_non_sequences(rng, linker):
    """A gradient reads shapes of rows (SumToShape): the sequence behind a row read only
    for its shape stops being an input, and what computed it outside goes."""
    x, w, u, b, h0 = RNN_VARS
    cost = (rnn(x, w, u, b, h0) ** 2).sum()
    g = sg.grad(cost, [w, u])
    on, off = with_and_without(RNN_VARS, g, "scan_push_out_row_shapes", linker)
    backward_on = next(n for n in scans(on) if n.op.name == "grad_of_scan")
    backward_off = next(n for n in scans(off) if n.op.name == "grad_of_scan")
    assert "Shape" not in inner_ops(backward_on)
    assert backward_on.op.info.n_seqs < backward_off.op.info.n_seqs
    products = [n for n in on.maker.fgraph.apply_nodes if "Dot" in type(n.op).__name__
                or "Gemm" in type(n.op).__name__]
    products_off = [n for n in off.maker.fgraph.apply_nodes if "Dot" in type(n.op).__name__
                    or "Gemm" in type(n.op).__name__]
    assert len(products) < len(products_off)  # the shape-only h_{t-1} u is not computed
    assert_same(on, off, *rnn_point(rng))


# -- 3. merging loops ---------------------------------------------------------------------
@pytest.mark.parametrize("linker", MODES)
def test_loops_over_the_same_steps_merge(rng, linker):
    x, w = T.dmatrix("x"), T.dvector("w")
    total, _ = scan(lambda xt, acc: acc + xt, sequences=x,
                    outputs_info=T.zeros((2,), dtype="float64"))
    prod, _ = scan(lambda xt, p, w: T.tanh(p * w + xt), sequences=x, outputs_info=w,
                   non_sequences=w)
    squares, _ = scan(lambda xt: (xt ** 2).sum(), sequences=x)
    on, off = with_and_without([x, w], [total, prod, squares], "scan_merge", linker)
    (loop,) = scans(on)
    assert loop.op.info.n_seqs == 1 and loop.op.info.n_states == 2  # x is read once
    assert len(scans(off)) == 2  # the sums of squares left the loop either way
    xv, wv = rng.normal(size=(5, 2)), rng.normal(size=2)
    got = assert_same(on, off, xv, wv)
    p, want = wv, []
    for row in xv:
        p = np.tanh(p * wv + row)
        want.append(p)
    np.testing.assert_allclose(got[0], np.cumsum(xv, axis=0), rtol=1e-12)
    np.testing.assert_allclose(got[1], want, rtol=1e-12)


def test_a_loop_reading_another_does_not_merge_with_it(rng):
    x = T.dvector("x")
    first, _ = scan(lambda v, acc: acc + v, sequences=x, outputs_info=T.constant(0.0))
    second, _ = scan(lambda v, acc: acc * 0.5 + v, sequences=first,
                     outputs_info=T.constant(0.0))
    f = sg.function([x], second)
    assert len(scans(f)) == 2
    xv = rng.normal(size=4)
    acc, want = 0.0, []
    for v in np.cumsum(xv):
        acc = acc * 0.5 + v
        want.append(acc)
    np.testing.assert_allclose(f(xv), want, rtol=1e-12)


def test_duplicate_inputs_and_states_merge(rng):
    x, w = T.dmatrix("x"), T.dvector("w")

    def step(xt, yt, a, b, w):
        return T.tanh(a * w + xt), T.tanh(b * w + yt), (a * xt).sum(), (b * yt).sum()

    outs, _ = scan(step, sequences=[x, x], outputs_info=[w, w, None, None], non_sequences=w)
    on, off = with_and_without([x, w], outs, "scan_merge_duplicates")
    info = scans(on)[0].op.info
    assert (info.n_seqs, info.n_states, info.n_nit_sot) == (1, 1, 1)
    info = scans(off)[0].op.info
    assert (info.n_seqs, info.n_states, info.n_nit_sot) == (2, 2, 2)
    xv, wv = rng.normal(size=(4, 2)), rng.normal(size=2)
    got = assert_same(on, off, xv, wv)
    p, hs = wv, []
    for row in xv:
        hs.append((p * row).sum())
        p = np.tanh(p * wv + row)
        hs[-1] = (p, hs[-1])
    np.testing.assert_allclose(got[0], [h for h, _ in hs], rtol=1e-12)
    np.testing.assert_allclose(got[1], got[0], rtol=1e-12)
    np.testing.assert_allclose(got[2], [y for _, y in hs], rtol=1e-12)
    np.testing.assert_allclose(got[3], got[2], rtol=1e-12)


# -- the Gauss-Newton product: two passes -----------------------------------------------
@pytest.mark.parametrize("linker", MODES)
def test_gauss_newton_product_runs_two_passes(rng, linker):
    x, w, u, b, h0 = RNN_VARS
    v = T.dmatrix("v")
    hs = rnn(x, w, u, b, h0)
    gauss_newton = sg.Lop(hs, u, sg.Rop(hs, u, v))  # J^T J v
    on, off = with_and_without(RNN_VARS + [v], gauss_newton, "scan_merge", linker)
    assert len(scans(off)) == 3  # forward, forward + tangent, backward
    forward, backward = scans(on)
    assert forward.op.info.n_states == 2  # h and its tangent, in one loop
    assert backward.op.name == "grad_of_scan"
    assert set(forward.outputs) & set(ancestors(backward.inputs))  # it reads the states
    point = rnn_point(rng, t=5, n_in=2, n_h=3)
    vv = rng.normal(size=(3, 3))
    got = assert_same(on, off, *point, vv)
    # J = d vec(hs) / d vec(u) by central differences; the product is J^T J v
    f_hs = sg.function(RNN_VARS, hs, mode=sg.Mode(linker=linker, optimizer=None))
    eps = 1e-6
    columns = []
    for e in np.eye(9):
        up, down = list(point), list(point)
        up[2], down[2] = point[2] + eps * e.reshape(3, 3), point[2] - eps * e.reshape(3, 3)
        columns.append(((f_hs(*up) - f_hs(*down)) / (2 * eps)).ravel())
    jac = np.stack(columns, axis=1)
    np.testing.assert_allclose(got, (jac.T @ jac @ vv.ravel()).reshape(3, 3), rtol=1e-6,
                               atol=1e-8)


# -- 4. one step ------------------------------------------------------------------------------
@pytest.mark.parametrize("linker", MODES)
def test_one_step_loop_is_unrolled(rng, linker):
    x, h0, w = T.dmatrix("x"), T.dmatrix("h0"), T.dvector("w")
    counter = sg.shared(np.float64(0.0), name="counter")

    def step(xt, h2, h1, w):
        new = T.tanh(h1 * w + h2 * 0.5 + xt)
        return [new, (new * xt).sum()], {counter: counter + new.sum()}

    (hs, ys), updates = scan(step, sequences=x, outputs_info=[dict(initial=h0, taps=[-2, -1]),
                                                              None],
                             non_sequences=w, n_steps=1)
    on = sg.function([x, h0, w], [hs, ys, updates[counter]], mode=sg.Mode(linker=linker))
    off = sg.function([x, h0, w], [hs, ys, updates[counter]],
                      mode=sg.Mode(linker=linker).excluding("scan_unroll_one_step"))
    assert not scans(on) and len(scans(off)) == 1
    xv, hv, wv = rng.normal(size=(3, 2)), rng.normal(size=(2, 2)), rng.normal(size=2)
    got = assert_same(on, off, xv, hv, wv)
    new = np.tanh(hv[1] * wv + hv[0] * 0.5 + xv[0])
    np.testing.assert_allclose(got[0], [new], rtol=1e-12)
    np.testing.assert_allclose(got[1], [(new * xv[0]).sum()], rtol=1e-12)
    np.testing.assert_allclose(got[2], new.sum(), rtol=1e-12)


# -- 5. memory --------------------------------------------------------------------------------
def test_circular_state_buffer_in_the_op(rng):
    x, h = T.dvector("x"), T.dvector("h")
    info = ScanInfo(n_seqs=1, state_taps=((-1,),), n_nit_sot=0, n_shared_outs=0, n_non_seqs=0,
                    state_keep=(3,))
    assert pickle.loads(pickle.dumps(info)) == info
    op = Scan([x, h], [h * 0.5 + x], info)
    seq, h0 = T.dmatrix("seq"), T.dmatrix("h0")
    f = sg.function([seq, h0], op(seq.shape[0], seq, h0), mode=sg.Mode(optimizer=None))
    xv, hv = rng.normal(size=(7, 2)), rng.normal(size=(1, 2))
    full = [hv[0]]
    for row in xv:
        full.append(full[-1] * 0.5 + row)
    np.testing.assert_allclose(f(xv, hv), full[-3:], rtol=1e-12)  # the last 3 of 8 rows
    np.testing.assert_allclose(f(xv[:1], hv), full[:2], rtol=1e-12)  # fewer rows than 3
    with pytest.raises(NotImplementedError, match="last rows"):
        sg.grad(op(seq.shape[0], seq, h0).sum(), seq)


@pytest.mark.parametrize("linker", MODES)
def test_only_the_last_steps_are_kept(rng, linker):
    x, h0 = T.dmatrix("x"), T.dmatrix("h0")
    hs, _ = scan(lambda xt, h3, h1: T.tanh(h1 * 0.9 - h3 * 0.2 + xt), sequences=x,
                 outputs_info=dict(initial=h0, taps=[-3, -1]))
    on, off = with_and_without([x, h0], [hs[-1], hs[-2:]], "scan_save_memory", linker)
    (loop,) = scans(on)
    assert loop.op.info.state_keep == (5,)  # 3 initial rows, then the last 2 steps
    assert scans(off)[0].op.info.state_keep == (0,)
    hv = rng.normal(size=(3, 2))
    for steps in (1, 2, 9):
        xv = rng.normal(size=(steps, 2))
        got = assert_same(on, off, xv, hv)
        rows = list(hv)
        for row in xv:
            rows.append(np.tanh(rows[-1] * 0.9 - rows[-3] * 0.2 + row))
        np.testing.assert_allclose(got[0], rows[-1], rtol=1e-12)
        np.testing.assert_allclose(got[1], rows[3:][-2:], rtol=1e-12)


def test_memory_saving_in_a_while_loop(rng):
    x0 = T.dscalar("x0")
    values, _ = scan(lambda v: (v * 1.5, until(v * 1.5 > 100.0)), outputs_info=x0,
                     n_steps=1000)
    on, off = with_and_without([x0], values[-1], "scan_save_memory")
    assert scans(on)[0].op.info.state_keep == (2,)
    got = assert_same(on, off, 1.0 + rng.uniform())
    assert 100 < got <= 150


def test_shape_of_the_kept_rows(rng):
    x = T.dvector("x")
    hs, _ = scan(lambda v, h: h + v, sequences=x, outputs_info=T.constant(0.0))
    last = hs[-2:]
    f = sg.function([x], [last, last.shape[0] * 1])  # the shape, inferred through the scan
    assert scans(f)[0].op.info.state_keep == (3,)
    for n in (1, 2, 6):
        xv = rng.normal(size=n)
        got = f(xv)
        np.testing.assert_allclose(got[0], np.cumsum(xv)[-2:], rtol=1e-12)
        assert got[1] == min(n, 2)


def test_full_history_used_keeps_the_buffer(rng):
    x = T.dvector("x")
    hs, _ = scan(lambda v, h: h + v, sequences=x, outputs_info=T.constant(0.0))
    f = sg.function([x], [hs[-1], hs.sum()])
    assert scans(f)[0].op.info.state_keep == (0,)
    xv = rng.normal(size=5)
    np.testing.assert_allclose(f(xv), [xv.sum(), np.cumsum(xv).sum()], rtol=1e-12)


# -- 6. unused outputs and inputs -----------------------------------------------------------
def test_unused_outputs_states_and_inputs_are_dropped(rng):
    x, w, unused = T.dmatrix("x"), T.dvector("w"), T.dvector("unused")

    def step(xt, a, b, w, unused):
        return T.tanh(a * w + xt), b + xt, (a * xt).sum()

    (a, b, c), _ = scan(step, sequences=x, outputs_info=[w, w, None],
                        non_sequences=[w, unused])
    on, off = with_and_without([x, w, unused], a, "scan_remove_unused")
    info = scans(on)[0].op.info
    assert (info.n_states, info.n_nit_sot, info.n_non_seqs) == (1, 0, 1)
    info = scans(off)[0].op.info
    assert (info.n_states, info.n_nit_sot) == (2, 1)
    xv, wv = rng.normal(size=(4, 2)), rng.normal(size=2)
    got = assert_same(on, off, xv, wv, wv)
    p, want = wv, []
    for row in xv:
        p = np.tanh(p * wv + row)
        want.append(p)
    np.testing.assert_allclose(got, want, rtol=1e-12)


def test_a_state_that_reads_no_taps_becomes_a_plain_output(rng):
    x, h0 = T.dmatrix("x"), T.dvector("h0")
    hs, _ = scan(lambda v, h: v[::-1] * 2.0, sequences=x, outputs_info=h0)
    kept = sg.Mode(linker="py").excluding("scan_push_out_seq")  # else no loop is left
    on = sg.function([x, h0], hs, mode=kept)
    off = sg.function([x, h0], hs, mode=kept.excluding("scan_remove_unused"))
    assert scans(on)[0].op.info.n_states == 0
    assert scans(off)[0].op.info.n_states == 1
    xv, hv = rng.normal(size=(3, 2)), rng.normal(size=2)
    np.testing.assert_allclose(assert_same(on, off, xv, hv), xv[:, ::-1] * 2, rtol=1e-12)


def test_backward_scan_skips_unrequested_sequence_gradients(rng):
    x, w, u, b, h0 = RNN_VARS
    cost = (rnn(x, w, u, b, h0) ** 2).sum()
    on, off = with_and_without(RNN_VARS, sg.grad(cost, u), "scan_remove_unused")
    backward = [n for n in scans(on) if n.op.name == "grad_of_scan"]
    # left: the per-step factor of u's gradient (dz_t; step_sums.py); gone: x's gradient
    # and the unrequested weights' per-step contributions
    assert backward and backward[0].op.info.n_nit_sot == 1
    assert [n for n in scans(off) if n.op.name == "grad_of_scan"][0].op.info.n_nit_sot > 1
    assert_same(on, off, *rnn_point(rng))
