"""scan(): each feature against a NumPy loop, under the Python VM and the C VM."""
import numpy as np
import pytest

import symgraph as sg
import symgraph.tensor as T
from symgraph.scan import Scan, scan, until

MODES = [pytest.param(sg.Mode(linker="py"), id="py"),
         pytest.param(sg.Mode(linker="cvm"), id="cvm")]


def compile_fn(inputs, outputs, mode, **kwargs):
    return sg.function(inputs, outputs, mode=mode, **kwargs)


def rnn_reference(xs, h0, w, u):
    h, out = h0, []
    for x in xs:
        h = np.tanh(x @ w + h @ u)
        out.append(h)
    return np.array(out)


@pytest.mark.parametrize("mode", MODES)
def test_rnn_with_non_sequences(rng, mode):
    x, w, u, h0 = T.dmatrix("x"), T.dmatrix("w"), T.dmatrix("u"), T.dvector("h0")
    hs, updates = scan(lambda xt, h, w, u: T.tanh(T.dot(xt, w) + T.dot(h, u)),
                       sequences=x, outputs_info=h0, non_sequences=[w, u], mode=mode)
    assert updates == {}
    f = compile_fn([x, w, u, h0], hs, mode)
    xv, wv, uv, hv = (rng.normal(size=(6, 3)), rng.normal(size=(3, 4)),
                      rng.normal(size=(4, 4)) * 0.5, rng.normal(size=4))
    np.testing.assert_allclose(f(xv, wv, uv, hv), rnn_reference(xv, hv, wv, uv))


@pytest.mark.parametrize("mode", MODES)
def test_sequence_taps(rng, mode):
    x, y = T.dvector("x"), T.dvector("y")
    out, _ = scan(lambda a, b, c, d: a + 10 * b + 100 * c - d,
                  sequences=[dict(input=x, taps=[-2, 0, 3]), y], mode=mode)
    xv, yv = rng.normal(size=11), rng.normal(size=9)
    # x allows 11 - 5 = 6 steps, y 9: the shorter wins; step t reads x[t+2+k], y[t]
    want = [xv[t] + 10 * xv[t + 2] + 100 * xv[t + 5] - yv[t] for t in range(6)]
    np.testing.assert_allclose(compile_fn([x, y], out, mode)(xv, yv), want)


def test_only_negative_or_positive_sequence_taps(rng):
    x = T.dvector("x")
    past, _ = scan(lambda a, b: a - b, sequences=dict(input=x, taps=[-3, -1]))
    future, _ = scan(lambda a: a * 2, sequences=dict(input=x, taps=[2]))
    xv = rng.normal(size=8)
    got_past, got_future = sg.function([x], [past, future])(xv)
    # the sequence must cover tap 0 as well (Theano): current index t + 3 for [-3, -1]
    np.testing.assert_allclose(got_past, [xv[t] - xv[t + 2] for t in range(5)])
    np.testing.assert_allclose(got_future, 2 * xv[2:])


@pytest.mark.parametrize("mode", MODES)
def test_recurrent_taps_and_initial_rows(rng, mode):
    init = T.dmatrix("init")
    out, _ = scan(lambda a, b, c: 0.5 * a - b + 0.25 * c,
                  outputs_info=dict(initial=init, taps=[-3, -1, -2]), n_steps=7, mode=mode)
    iv = rng.normal(size=(3, 2))
    rows = list(iv)
    for _ in range(7):
        rows.append(0.5 * rows[-3] - rows[-1] + 0.25 * rows[-2])
    np.testing.assert_allclose(compile_fn([init], out, mode)(iv), rows[3:])


def test_initial_value_longer_than_the_taps_need(rng):
    init = T.dvector("init")
    fib, _ = scan(lambda a, b: a + b, outputs_info=dict(initial=init, taps=[-2, -1]), n_steps=5)
    # Theano takes the first -min(taps) rows of the initial value
    np.testing.assert_allclose(sg.function([init], fib)(np.array([0.0, 1.0, 99.0])),
                               [1, 2, 3, 5, 8])


@pytest.mark.parametrize("mode", MODES)
def test_several_outputs_of_mixed_dtype_and_ndim_with_none(rng, mode):
    x = T.dvector("x")
    count0 = T.constant(np.int32(0))

    def step(v, total, count):
        return (total + v, T.outer(T.stack([v, v]), T.stack([v, 1.0])),
                count + (v > 0).astype("int32"), (v * 2).astype("float32"))

    outs, _ = scan(step, sequences=x, outputs_info=[T.constant(0.0), None, count0, None],
                   mode=mode)
    xv = rng.normal(size=5)
    total, outer, count, doubled = compile_fn([x], outs, mode)(xv)
    np.testing.assert_allclose(total, np.cumsum(xv))
    np.testing.assert_allclose(outer, [np.outer([v, v], [v, 1.0]) for v in xv])
    assert count.dtype == np.int32 and count.tolist() == np.cumsum(xv > 0).tolist()
    assert doubled.dtype == np.float32
    np.testing.assert_allclose(doubled, 2 * xv, rtol=1e-6)


@pytest.mark.parametrize("mode", MODES)
def test_symbolic_n_steps_without_sequences(rng, mode):
    n, a = T.lscalar("n"), T.dscalar("a")
    powers, _ = scan(lambda p, a: p * a, outputs_info=T.constant(1.0), non_sequences=a,
                     n_steps=n, mode=mode)
    f = compile_fn([n, a], powers, mode)
    av = rng.uniform(0.5, 2.0)
    for steps in (0, 1, 5):
        np.testing.assert_allclose(f(steps, av), av ** np.arange(1, steps + 1))


def test_n_steps_shorter_than_the_sequence_and_too_long(rng):
    x, n = T.dvector("x"), T.lscalar("n")
    out, _ = scan(lambda v: v + 1, sequences=x, n_steps=n)
    f = sg.function([x, n], out)
    xv = rng.normal(size=5)
    np.testing.assert_allclose(f(xv, 3), xv[:3] + 1)
    with pytest.raises(ValueError, match="fewer than"):
        f(xv, 7)


@pytest.mark.parametrize("mode", MODES)
def test_until_stops_after_the_step_where_the_condition_holds(rng, mode):
    x0, limit = T.dscalar("x0"), T.dscalar("limit")

    def step(v, limit):
        new = v * 1.5 + 1.0
        return new, v * 10, until(new > limit)

    (values, scaled), _ = scan(step, outputs_info=[x0, None], non_sequences=limit,
                               n_steps=1000, mode=mode)
    f = compile_fn([x0, limit], [values, scaled], mode)
    start = rng.uniform(0.1, 1.0)
    want, v = [], start
    while True:
        v = v * 1.5 + 1.0
        want.append(v)
        if v > 40.0:
            break
    got_values, got_scaled = f(start, 40.0)
    np.testing.assert_allclose(got_values, want)
    np.testing.assert_allclose(got_scaled, 10 * np.array([start] + want[:-1]))
    assert len(f(start, 1e300)[0]) == 1000  # never true: n_steps bounds the loop


def test_until_with_a_sequence_stops_early(rng):
    x = T.dvector("x")
    out, _ = scan(lambda v, acc: (acc + v, until(acc + v > 2.0)), sequences=x,
                  outputs_info=T.constant(0.0))
    xv = np.abs(rng.normal(size=40)) + 0.1
    got = sg.function([x], out)(xv)
    sums = np.cumsum(xv)
    stop = int(np.argmax(sums > 2.0))
    np.testing.assert_allclose(got, sums[:stop + 1])


@pytest.mark.parametrize("mode", MODES)
def test_go_backwards(rng, mode):
    x = T.dvector("x")
    out, _ = scan(lambda a, b, acc: acc * 0.5 + a - b, sequences=dict(input=x, taps=[-1, 0]),
                  outputs_info=T.constant(0.0), go_backwards=True, mode=mode)
    xv = rng.normal(size=6)
    acc, want = 0.0, []
    for t in range(5, 0, -1):  # the current index runs from the end; tap -1 is x[t-1]
        acc = acc * 0.5 + xv[t - 1] - xv[t]
        want.append(acc)
    np.testing.assert_allclose(compile_fn([x], out, mode)(xv), want)


@pytest.mark.parametrize("mode", MODES)
def test_updates_of_a_shared_counter(rng, mode):
    counter = sg.shared(np.int64(0), name="counter")
    x = T.dvector("x")
    out, updates = scan(lambda v: (v * counter, {counter: counter + 1}), sequences=x,
                        mode=mode)
    assert list(updates) == [counter]
    f = compile_fn([x], out, mode, updates=updates)
    xv = rng.normal(size=4)
    np.testing.assert_allclose(f(xv), xv * np.arange(4))
    assert counter.get_value() == 4
    np.testing.assert_allclose(f(xv), xv * np.arange(4, 8))
    assert counter.get_value() == 8


def test_updates_only_and_outputs_none():
    total = sg.shared(np.float64(0.0), name="total")
    x = T.dvector("x")
    out, updates = scan(lambda v: {total: total + v}, sequences=x)
    assert out is None
    f = sg.function([x], [], updates=updates)
    f(np.array([1.0, 2.0, 3.5]))
    assert total.get_value() == 6.5


@pytest.mark.parametrize("mode", MODES)
def test_shared_and_closure_variables_found_without_non_sequences(rng, mode):
    w = sg.shared(rng.normal(size=(3, 3)), name="w")
    bias = T.dvector("bias")
    x = T.dmatrix("x")
    out, _ = scan(lambda xt: T.dot(xt, w) + bias, sequences=x, mode=mode)
    node = out.owner
    assert isinstance(node.op, Scan) and node.op.info.n_non_seqs == 2
    xv, bv = rng.normal(size=(4, 3)), rng.normal(size=3)
    np.testing.assert_allclose(compile_fn([x, bias], out, mode)(xv, bv),
                               xv @ w.get_value() + bv)
    w.set_value(rng.normal(size=(3, 3)))  # the shared value is read at each call
    np.testing.assert_allclose(compile_fn([x, bias], out, mode)(xv, bv),
                               xv @ w.get_value() + bv)


def test_strict_refuses_variables_not_given():
    w = sg.shared(np.ones(2), name="w")
    x = T.dmatrix("x")
    with pytest.raises(ValueError, match="strict"):
        scan(lambda xt: xt * w, sequences=x, strict=True)
    out, _ = scan(lambda xt, w: xt * w, sequences=x, non_sequences=w, strict=True)
    np.testing.assert_allclose(sg.function([x], out)(np.ones((2, 2)) * 3), np.full((2, 2), 3.0))


def test_random_stream_inside_the_loop_is_updated():
    from symgraph.tensor.random import RandomStreams

    srng = RandomStreams(seed=5)
    x = T.dvector("x")
    out, updates = scan(lambda v: v + srng.uniform(()), sequences=x)
    assert len(updates) == 1
    f = sg.function([x], out, updates=updates)
    first, second = f(np.zeros(3)), f(np.zeros(3))
    assert len(set(first.tolist() + second.tolist())) == 6  # every step draws anew
    generator = np.random.default_rng(0)
    srng.state_updates[0][0].set_value(generator)
    draws, g = [], generator
    for _ in range(3):  # each draw copies the state and advances the copy
        import copy
        g = copy.deepcopy(g)
        draws.append(g.uniform())
    np.testing.assert_allclose(f(np.zeros(3)), draws)


def test_return_list_and_single_output_conventions():
    x = T.dvector("x")
    single, _ = scan(lambda v: v * 2, sequences=x)
    listed, _ = scan(lambda v: v * 2, sequences=x, return_list=True)
    assert not isinstance(single, list) and isinstance(listed, list) and len(listed) == 1


def test_what_fn_may_return():
    s = sg.shared(np.float64(0.0), name="s")
    x = T.dvector("x")
    forms = [
        lambda v: (v, {s: s + v}),
        lambda v: ([v], {s: s + v}, until(v > 100)),
        lambda v: ([v], until(v > 100)),
        lambda v: ({s: s + v}, until(v > 100)),
        lambda v: [(s, s + v)],
    ]
    for form in forms:
        scan(form, sequences=x)
    with pytest.raises(ValueError, match="outputs first"):
        scan(lambda v: ({s: s + v}, v), sequences=x)
    with pytest.raises(ValueError, match="cannot parse"):
        scan(lambda v: (v, "nonsense"), sequences=x)


def test_argument_errors():
    x, h = T.dvector("x"), T.dscalar("h")
    with pytest.raises(ValueError, match="number of steps"):
        scan(lambda a: a * 2, outputs_info=h)
    with pytest.raises(ValueError, match="outputs_info has"):
        scan(lambda v, a: (a + v, v), sequences=x, outputs_info=[h])
    with pytest.raises(ValueError, match="negative"):
        scan(lambda a: a, outputs_info=dict(initial=x, taps=[0]), n_steps=2)
    with pytest.raises(TypeError, match="same dtype"):
        scan(lambda a: (a * 2).astype("float32"), outputs_info=h, n_steps=2)
    with pytest.raises(TypeError, match="n_steps"):
        scan(lambda a: a * 2, outputs_info=h, n_steps=T.dscalar())


def test_a_state_must_keep_its_shape():
    h = T.dvector("h")
    out, _ = scan(lambda a: T.concatenate([a, a]), outputs_info=h, n_steps=2)
    with pytest.raises(ValueError, match="keep one shape"):
        sg.function([h], out)(np.ones(2))


def test_initial_state_of_static_shape_with_a_general_step():
    w = T.dmatrix("w")
    out, _ = scan(lambda a, w: T.dot(w, a), outputs_info=T.constant(np.ones(2)),
                  non_sequences=w, n_steps=3)
    wv = np.array([[0.0, 1.0], [2.0, 0.5]])
    want, a = [], np.ones(2)
    for _ in range(3):
        a = wv @ a
        want.append(a)
    np.testing.assert_allclose(sg.function([w], out)(wv), want)


def test_equal_scans_merge(rng):
    x = T.dvector("x")
    a, _ = scan(lambda v: T.exp(v) * 2, sequences=x)
    b, _ = scan(lambda v: T.exp(v) * 2, sequences=x)
    c, _ = scan(lambda v: T.exp(v) * 3, sequences=x)
    f = sg.function([x], [a + b, c], mode=sg.Mode().excluding("scan"))  # no scan rewrites
    assert sum(isinstance(n.op, Scan) for n in f.maker.fgraph.apply_nodes) == 2
    xv = rng.normal(size=3)
    np.testing.assert_allclose(f(xv)[0], 4 * np.exp(xv))
