"""Scan's loop in C (csrc/scan_loop.c) against the Python loop and NumPy.

Each test compiles one function and runs it twice, with the C loop and with the Python
loop (``symgraph.scan.loop.python_loops()``), on fresh random inputs: the two must agree,
and both must agree with a NumPy loop.  Scan rewrites are left out (``excluding("scan")``)
so that the loops run as built.
"""
import contextlib

import numpy as np
import pytest

import symgraph as sg
import symgraph.tensor as T
from symgraph.graph.basic import Apply, Op
from symgraph.scan import Scan, ScanInfo, loop, scan, until

@pytest.fixture(params=["cvm", "cvm_nogc"])
def inner_mode(request, monkeypatch):
    """The mode of the scans' inner functions; both run the C loop.  A scan's C VM keeps
    its buffers across steps (op._inner_mode makes 'cvm' 'cvm_nogc'); for 'cvm' that is
    switched off here, so that the VM that frees its intermediates is tested too."""
    from symgraph.compile.mode import get_mode
    from symgraph.scan import op

    if request.param == "cvm":
        monkeypatch.setattr(op, "_inner_mode", get_mode)
    return sg.Mode(linker=request.param)


C_VM = sg.Mode(linker="cvm")  # the inner functions' mode where the linker does not matter


def outer_mode():
    return sg.Mode(linker="cvm").excluding("scan")


def run_both(f, *args):
    """``f(*args)`` with the C loop, then with the Python loop; the C results, after checking
    that the two agree.  The C loop must really run: the Python loop is off meanwhile."""
    python_loop = loop._Loop._run_python
    try:
        loop._Loop._run_python = _forbidden
        with_c = _copies(f(*args))
    finally:
        loop._Loop._run_python = python_loop
    with loop.python_loops():
        with_python = _copies(f(*args))
    for c_value, py_value in zip(_as_list(with_c), _as_list(with_python)):
        assert np.shape(c_value) == np.shape(py_value)
        assert np.asarray(c_value).dtype == np.asarray(py_value).dtype
        np.testing.assert_allclose(c_value, py_value, rtol=1e-12, atol=0)
    return with_c


def _forbidden(self):
    raise AssertionError("the Python loop ran where the C loop should have")


def _copies(values):
    if isinstance(values, list):
        return [np.array(v, copy=True) for v in values]
    return np.array(values, copy=True)


def _as_list(values):
    return values if isinstance(values, list) else [values]


def test_elman_rnn_matches_numpy(rng, inner_mode):
    H = 7
    W, Wh, b = rng.normal(size=(H, H)), rng.normal(size=(H, H)) / 3, rng.normal(size=H)
    X, h0 = T.dmatrix("X"), T.dvector("h0")
    hs, _ = scan(lambda x, h, W, Wh, b: T.tanh(T.dot(x, W) + T.dot(h, Wh) + b), sequences=X,
                 outputs_info=h0, non_sequences=[T.constant(W), T.constant(Wh), T.constant(b)],
                 mode=inner_mode)
    f = sg.function([X, h0], hs, mode=outer_mode())
    xv, hv = rng.normal(size=(9, H)), rng.normal(size=H)
    got = run_both(f, xv, hv)
    want, h = [], hv
    for x in xv:
        h = np.tanh(x @ W + h @ Wh + b)
        want.append(h)
    np.testing.assert_allclose(got, want, rtol=1e-12)
    node = next(n for n in f.maker.fgraph.apply_nodes if isinstance(n.op, Scan))
    assert node.op.inner_program().gc == (inner_mode.linker == "cvm")


def test_sequence_and_state_taps(rng, inner_mode):
    x, init = T.dvector("x"), T.dmatrix("init")
    out, _ = scan(lambda a, b, c, s3, s1, s2: a * b - c + 0.5 * s3 + s1 * 0.25 - s2,
                  sequences=dict(input=x, taps=[-2, 0, 3]),
                  outputs_info=dict(initial=init, taps=[-3, -1, -2]), mode=inner_mode)
    f = sg.function([x, init], out, mode=outer_mode())
    xv, iv = rng.normal(size=12), rng.normal(size=(3, 2))
    got = run_both(f, xv, iv)
    rows = list(iv)
    for t in range(len(xv) - 5):
        a, b, c = xv[t], xv[t + 2], xv[t + 5]
        rows.append(a * b - c + 0.5 * rows[-3] + rows[-1] * 0.25 - rows[-2])
    np.testing.assert_allclose(got, rows[3:], rtol=1e-12)


def test_several_outputs_of_mixed_rank_and_dtype_with_nit_sots(rng, inner_mode):
    x = T.fmatrix("x")
    h0, k0 = T.dvector("h0"), T.lscalar("k0")

    def step(row, h, k):
        total = row.sum()
        return [h + row.astype("float64"), k + 1, row * 2, T.outer(row, row),
                T.cast(total > 0, "int8")]

    outs, _ = scan(step, sequences=x, outputs_info=[h0, k0, None, None, None],
                   mode=inner_mode)
    f = sg.function([x, h0, k0], outs, mode=outer_mode())
    xv = rng.normal(size=(6, 3)).astype("float32")
    hv = rng.normal(size=3)
    h_seq, k_seq, doubled, outers, signs = run_both(f, xv, hv, np.int64(4))
    np.testing.assert_allclose(h_seq, hv + np.cumsum(xv.astype("float64"), axis=0), rtol=1e-12)
    np.testing.assert_array_equal(k_seq, 5 + np.arange(6))
    assert doubled.dtype == np.float32 and outers.shape == (6, 3, 3)
    np.testing.assert_allclose(doubled, xv * 2)
    np.testing.assert_allclose(outers, np.einsum("ti,tj->tij", xv, xv), rtol=1e-6)
    np.testing.assert_array_equal(signs, (xv.sum(axis=1) > 0).astype("int8"))


@pytest.mark.parametrize("steps", [1, 2, 40])
def test_circular_state_buffers(rng, inner_mode, steps):
    # a state kept in a circular buffer of its last rows (the memory-saving rewrite's)
    x, h = T.dvector("x"), T.dvector("h")
    h3, h1 = T.dvector("h3"), T.dvector("h1")
    info = ScanInfo(n_seqs=1, state_taps=((-1,), (-3, -1)), n_nit_sot=0, n_shared_outs=0,
                    n_non_seqs=0, state_keep=(2, 4))
    op = Scan([x, h, h3, h1], [h * 0.5 + x, T.tanh(h1 * 0.9 - h3 * 0.2 + x)], info,
              mode=inner_mode)
    seq, a0, b0 = T.dmatrix("seq"), T.dmatrix("a0"), T.dmatrix("b0")
    f = sg.function([seq, a0, b0], op(seq.shape[0], seq, a0, b0), mode=outer_mode())
    xv, av, bv = rng.normal(size=(steps, 2)), rng.normal(size=(1, 2)), rng.normal(size=(3, 2))
    got_a, got_b = run_both(f, xv, av, bv)
    rows_a, rows_b = list(av), list(bv)
    for row in xv:
        rows_a.append(rows_a[-1] * 0.5 + row)
        rows_b.append(np.tanh(rows_b[-1] * 0.9 - rows_b[-3] * 0.2 + row))
    np.testing.assert_allclose(got_a, rows_a[-2:], rtol=1e-12)
    np.testing.assert_allclose(got_b, rows_b[-4:], rtol=1e-12)


@pytest.mark.parametrize("limit", [3.0, 25.0, 1e9])  # stops at once, after growing, never
def test_until_stops_early_and_buffers_grow(rng, inner_mode, limit):
    x0, n = T.dscalar("x0"), T.lscalar("n")
    outs, _ = scan(lambda acc: (acc + 1.0, acc * 2, until(acc + 1.0 > limit)),
                   outputs_info=[x0, None], n_steps=n, mode=inner_mode)
    f = sg.function([x0, n], outs, mode=outer_mode())
    start = rng.uniform(0, 1)
    acc, doubled = run_both(f, start, 100)
    steps = min(100, int(np.floor(limit - start)) + 1)
    np.testing.assert_allclose(acc, start + 1.0 + np.arange(steps), rtol=1e-12)
    np.testing.assert_allclose(doubled, 2 * (start + np.arange(steps)), rtol=1e-12)


def test_go_backwards_and_strided_sequences(rng, inner_mode):
    x = T.dmatrix("x")
    out, _ = scan(lambda a, b, acc: acc * 0.5 + a - b, sequences=dict(input=x.T, taps=[-1, 0]),
                  outputs_info=T.zeros((x.shape[0],), "float64"), go_backwards=True,
                  mode=inner_mode)
    f = sg.function([x], out, mode=outer_mode())
    xv = rng.normal(size=(3, 8))
    got = run_both(f, xv)
    seq, acc, want = xv.T, np.zeros(3), []
    for t in range(len(seq) - 1, 0, -1):  # the current index runs from the end
        acc = acc * 0.5 + seq[t - 1] - seq[t]
        want.append(acc)
    np.testing.assert_allclose(got, want, rtol=1e-12)


def test_shared_updates_and_random_streams(rng, inner_mode):
    from symgraph.tensor.random import RandomStreams

    counter = sg.shared(np.int64(0), name="counter")
    total = sg.shared(rng.normal(size=2), name="total")
    srng = RandomStreams(seed=int(rng.integers(1 << 30)))
    x = T.dmatrix("x")
    out, updates = scan(lambda v: (v * counter + total + srng.uniform(()),
                                   {counter: counter + 1, total: total + v}),
                        sequences=x, mode=inner_mode)
    f = sg.function([x], out, updates=updates, mode=outer_mode())
    xv = rng.normal(size=(5, 2))
    state = srng.state_updates[0][0]
    generator = state.get_value()
    start_total = total.get_value()
    with_c = _copies(f(xv))
    assert counter.get_value() == 5
    np.testing.assert_allclose(total.get_value(), start_total + xv.sum(axis=0), rtol=1e-12)
    after_c = (counter.get_value(), total.get_value(), state.get_value())
    # the same call from the same state, through the Python loop
    counter.set_value(np.int64(0)), total.set_value(start_total), state.set_value(generator)
    with loop.python_loops():
        with_python = f(xv)
    np.testing.assert_allclose(with_c, with_python, rtol=1e-12)
    assert counter.get_value() == after_c[0]
    np.testing.assert_allclose(total.get_value(), after_c[1], rtol=1e-12)
    assert state.get_value().uniform() == after_c[2].uniform()
    noise = with_c - (xv * np.arange(5)[:, None] + start_total + np.cumsum(xv, 0) - xv)
    assert len(set(noise[:, 0].round(12))) == 5  # a fresh draw at every step
    np.testing.assert_allclose(noise[:, 0], noise[:, 1], rtol=1e-12)


def test_zero_steps(rng, inner_mode):
    x, h0 = T.dmatrix("x"), T.dvector("h0")
    outs, _ = scan(lambda row, h: [h + row, row * 3], sequences=x, outputs_info=[h0, None],
                   mode=inner_mode)
    f = sg.function([x, h0], outs, mode=outer_mode())
    states, nits = run_both(f, np.empty((0, 4)), rng.normal(size=4))
    assert states.shape == (0, 4) and nits.shape[0] == 0


def test_outputs_that_are_the_inputs_or_views_of_them(rng, inner_mode):
    # the loop moves its row views from row to row: a view the step returns (or keeps)
    # must still show its own row
    x = T.dmatrix("x")
    outs, _ = scan(lambda row: [row, row[::-1], row.T, row[1:] * 1.0], sequences=x,
                   mode=inner_mode)
    f = sg.function([x], outs, mode=outer_mode())
    xv = rng.normal(size=(5, 4))
    same, reversed_, transposed, tail = run_both(f, xv)
    np.testing.assert_array_equal(same, xv)
    np.testing.assert_array_equal(reversed_, xv[:, ::-1])
    np.testing.assert_array_equal(transposed, xv)
    np.testing.assert_array_equal(tail, xv[:, 1:])


class KeepInputs(Op):
    """Doubles its input, keeping every input it sees (as a Python op may keep references)."""

    __props__ = ()
    kept = []

    def make_node(self, x):
        return Apply(self, [x], [x.type.make_variable()])

    def perform(self, node, inputs, output_storage):
        self.kept.append(inputs[0])
        output_storage[0][0] = inputs[0] * 2.0


def test_row_views_kept_by_the_step_keep_their_rows(rng, inner_mode):
    x = T.dmatrix("x")
    out, _ = scan(lambda row: KeepInputs()(row), sequences=x, mode=inner_mode)
    f = sg.function([x], out, mode=outer_mode())
    xv = rng.normal(size=(6, 3))
    KeepInputs.kept.clear()
    np.testing.assert_array_equal(run_both(f, xv), xv * 2)
    assert len(KeepInputs.kept) == 12  # 6 steps with the C loop, 6 with the Python loop
    np.testing.assert_array_equal(KeepInputs.kept[:6], xv)
    KeepInputs.kept.clear()


class SumAsPythonFloat(Op):
    """A float32 scalar output given as a Python float (a perform may return a scalar)."""

    __props__ = ()

    def make_node(self, x):
        return Apply(self, [x], [T.TensorType("float32", ()).make_variable()])

    def perform(self, node, inputs, output_storage):
        output_storage[0][0] = float(inputs[0].sum())


def test_step_values_that_are_not_arrays_of_the_dtype_are_converted(rng, inner_mode):
    x = T.dmatrix("x")
    out, _ = scan(lambda row: SumAsPythonFloat()(row), sequences=x, mode=inner_mode)
    f = sg.function([x], out, mode=outer_mode())
    xv = rng.normal(size=(5, 3))
    got = run_both(f, xv)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, xv.sum(axis=1), rtol=1e-6)


def test_non_contiguous_step_outputs_are_copied_by_strides(rng, inner_mode):
    m = T.dtensor3("m")
    out, _ = scan(lambda mat: mat.T[::2] + 0.0 * mat.T[::2], sequences=m,
                  mode=inner_mode)
    strided, _ = scan(lambda mat: mat.T, sequences=m, mode=inner_mode)
    f = sg.function([m], [out, strided], mode=outer_mode())
    mv = rng.normal(size=(4, 3, 5))
    got, got_strided = run_both(f, mv)
    np.testing.assert_array_equal(got, mv.transpose(0, 2, 1)[:, ::2])
    np.testing.assert_array_equal(got_strided, mv.transpose(0, 2, 1))


def test_nested_scans_both_run_in_c(rng):
    m = T.dtensor3("m")

    def outer_step(mat):
        inner, _ = scan(lambda row, acc: acc + row, sequences=mat,
                        outputs_info=T.zeros((mat.shape[1],), "float64"), mode=C_VM)
        return inner[-1]

    out, _ = scan(outer_step, sequences=m, mode=C_VM)
    f = sg.function([m], out, mode=outer_mode())
    mv = rng.normal(size=(3, 4, 2))
    np.testing.assert_allclose(run_both(f, mv), mv.sum(axis=1), rtol=1e-12)


def test_a_step_whose_output_changes_shape_is_an_error(rng):
    n = T.lvector("n")
    out, _ = scan(lambda k: T.arange(k, dtype="float64"), sequences=n, mode=C_VM)
    f = sg.function([n], out, mode=outer_mode())
    np.testing.assert_array_equal(run_both(f, np.array([3, 3])), [[0, 1, 2]] * 2)
    for loops in (contextlib.nullcontext, loop.python_loops):
        with loops(), pytest.raises(ValueError) as info:
            f(np.array([3, 3, 4]))
        message = str(info.value)
        assert "at step 2, output 0 has shape (4,)" in message, message
        assert "have shape (3,)" in message and "Scan" in message


def test_errors_inside_a_step_name_the_node_and_the_step(rng):
    x, idx = T.dmatrix("x"), T.lvector("idx")
    out, _ = scan(lambda i, x: x[i] * 2.0, sequences=idx, non_sequences=x, mode=C_VM)
    f = sg.function([x, idx], out, mode=outer_mode())
    xv = rng.normal(size=(3, 2))
    np.testing.assert_allclose(run_both(f, xv, np.array([2, 0])), xv[[2, 0]] * 2)
    for loops in (contextlib.nullcontext, loop.python_loops):
        with loops(), pytest.raises(IndexError) as info:
            f(xv, np.array([1, 0, 7, 1]))
        message = str(info.value)
        assert "In step 2 of Scan" in message, message
        assert "Apply node that caused the error" in message and "Subtensor" in message


def test_the_c_loop_called_directly_checks_lengths_and_copies_byte_swapped_rows(rng):
    from symgraph.link.c.runtime import cvm

    x = T.dvector("x")
    out, _ = scan(lambda v: v + 1.0, sequences=x, mode=C_VM)
    f = sg.function([x], out, mode=outer_mode())
    node = next(n for n in f.maker.fgraph.apply_nodes if isinstance(n.op, Scan))
    plan = node.op.c_loop_plan()
    assert f.fn.step_is_c[f.fn.nodes.index(node)]  # a loop step: no Python in the call
    with pytest.raises(ValueError, match="sequence 0 has 3 steps, fewer than the 5"):
        cvm().scan(plan, [np.int64(5), np.ones(3)])
    with pytest.raises(ValueError, match="n_steps is -1"):
        cvm().scan(plan, [np.int64(-1), np.ones(3)])
    with pytest.raises(ValueError, match="expected 2 inputs"):
        cvm().scan(plan, [np.int64(1)])
    [stack] = cvm().scan(plan, [np.int64(3), np.arange(4.0)])
    np.testing.assert_array_equal(stack, [1.0, 2.0, 3.0])
    swapped = rng.normal(size=4).astype(">f8")  # C code reads native values: copied first
    [stack] = cvm().scan(plan, [np.int64(4), swapped])
    np.testing.assert_array_equal(stack, swapped + 1.0)
    [stack] = cvm().scan(plan, [np.int64(0), swapped])
    assert stack.shape == (0,) and stack.dtype == np.float64


def test_a_malformed_plan_is_refused():
    from symgraph.link.c.runtime import cvm

    x = T.dvector("x")
    out, _ = scan(lambda v: v + 1.0, sequences=x, mode=C_VM)
    f = sg.function([x], out, mode=outer_mode())
    plan = next(n.op for n in f.maker.fgraph.apply_nodes if isinstance(n.op, Scan)).c_loop_plan()
    with pytest.raises(ValueError, match="do not match the layout"):
        cvm().scan(plan[:2] + (2,) + plan[3:], [np.int64(1), np.ones(1), np.ones(1)])
    with pytest.raises(TypeError):
        cvm().scan(plan[:1] + ("not a VM",) + plan[2:], [np.int64(1), np.ones(1)])