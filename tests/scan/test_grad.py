"""Gradients through scan (backpropagation through time) against finite differences and
NumPy references: RNNs, taps, several outputs, truncation, until, shared states, random
streams, and the gradient of a gradient."""
import copy

import numpy as np
import pytest

import symgraph as sg
import symgraph.tensor as T
from symgraph.gradient import verify_grad
from symgraph.scan import Scan, scan, until

MODES = [pytest.param(sg.Mode(linker="py"), id="py"),
         pytest.param(sg.Mode(linker="cvm"), id="cvm")]


def rnn(x, w, u, h0, **kwargs):
    hs, _ = scan(lambda xt, h, w, u: T.tanh(T.dot(xt, w) + T.dot(h, u)), sequences=x,
                 outputs_info=h0, non_sequences=[w, u], **kwargs)
    return hs


@pytest.mark.parametrize("mode", MODES)
def test_rnn_gradient_matches_finite_differences(rng, mode):
    point = [rng.normal(size=(4, 2)), rng.normal(size=(2, 3)), rng.normal(size=(3, 3)) * 0.5,
             rng.normal(size=3)]
    verify_grad(lambda x, w, u, h0: rnn(x, w, u, h0, mode=mode), point, rng=rng, mode=mode,
                n_tests=1)


def test_taps_on_sequences_and_states(rng):
    def fn(x, h0, w):
        def step(a, b, h1, h3, w):
            return T.tanh(a * w + b + 0.5 * h1 - 0.3 * h3)

        out, _ = scan(step, sequences=dict(input=x, taps=[-1, 2]),
                      outputs_info=dict(initial=h0, taps=[-1, -3]), non_sequences=w)
        return out

    verify_grad(fn, [rng.normal(size=(8, 2)), rng.normal(size=(3, 2)), rng.normal(size=2)],
                rng=rng, n_tests=1)


def test_several_outputs_backwards(rng):
    def fn(x, a0, b0, w):
        def step(xt, a, b, w):
            return T.sin(a + xt * w), a * b + xt, (a * xt).sum()

        outs, _ = scan(step, sequences=x, outputs_info=[a0, b0, None], non_sequences=w,
                       go_backwards=True)
        return outs[0].sum() + (outs[1] ** 2).sum() + outs[2].prod()

    verify_grad(fn, [rng.normal(size=(4, 2)), rng.normal(size=2), rng.normal(size=2),
                     rng.normal(size=2)], rng=rng, n_tests=1)


def numpy_truncated_bptt(xv, wv, hv, k):
    """d/d(x, w, h0) of sum(h_t ** 2), h_t = tanh(x_t + h_{t-1} w), the backward pass
    running over the last k steps only (Theano's truncate_gradient)."""
    hs = [hv]
    for x in xv:
        hs.append(np.tanh(x + hs[-1] @ wv))
    gx, gw, carry = np.zeros_like(xv), np.zeros_like(wv), np.zeros_like(hv)
    steps = len(xv)
    for t in range(steps - 1, max(steps - k, 0) - 1, -1):
        da = (carry + 2 * hs[t + 1]) * (1 - hs[t + 1] ** 2)
        gx[t], carry = da, da @ wv.T
        gw += np.outer(hs[t], da)
    return gx, gw, (carry if k >= steps else np.zeros_like(hv))


@pytest.mark.parametrize("k", [1, 3, 10])
def test_truncated_gradient_matches_numpy_truncated_bptt(rng, k):
    x, w, h0 = T.dmatrix("x"), T.dmatrix("w"), T.dvector("h0")
    hs, _ = scan(lambda xt, h, w: T.tanh(xt + T.dot(h, w)), sequences=x, outputs_info=h0,
                 non_sequences=w, truncate_gradient=k)
    f = sg.function([x, w, h0], sg.grad((hs ** 2).sum(), [x, w, h0]))
    xv, wv, hv = rng.normal(size=(5, 3)), rng.normal(size=(3, 3)) * 0.5, rng.normal(size=3)
    for got, want in zip(f(xv, wv, hv), numpy_truncated_bptt(xv, wv, hv, k)):
        np.testing.assert_allclose(got, want, atol=1e-12)


def test_until_gradient_runs_over_the_steps_taken(rng):
    def fn(x, w):
        def step(xt, h, w):
            new = T.tanh(h * w + xt)
            return new, until(xt.sum() > 1.5)

        out, _ = scan(step, sequences=x, outputs_info=T.zeros((2,), dtype="float64"),
                      non_sequences=w)
        return out

    xv = rng.uniform(-0.5, 0.5, size=(8, 2))
    xv[4] = 1.0  # the loop stops after step 4, far from the threshold
    verify_grad(fn, [xv, rng.normal(size=2)], rng=rng, n_tests=1)
    x, w = T.dmatrix("x"), T.dvector("w")
    gx = sg.grad(fn(x, w).sum(), x)
    got = sg.function([x, w], gx)(xv, rng.normal(size=2))
    assert np.all(got[5:] == 0) and np.all(got[:5] != 0)


def test_gradient_of_a_gradient_through_an_rnn(rng):
    def gradient_norm(x, w, h0):
        hs, _ = scan(lambda xt, h, w: T.tanh(xt + T.dot(h, w)), sequences=x, outputs_info=h0,
                     non_sequences=w)
        gw = sg.grad((hs ** 2).sum(), w)
        return (gw ** 2).sum()

    verify_grad(gradient_norm, [rng.normal(size=(3, 2)), rng.normal(size=(2, 2)) * 0.5,
                                rng.normal(size=2)], rng=rng, n_tests=1)


def test_hessian_vector_product_of_an_rnn_cost(rng):
    x, w, h0, v = T.dmatrix("x"), T.dmatrix("w"), T.dvector("h0"), T.dmatrix("v")
    hs, _ = scan(lambda xt, h, w: T.tanh(xt + T.dot(h, w)), sequences=x, outputs_info=h0,
                 non_sequences=w)
    cost = (hs ** 2).sum()
    gw = sg.grad(cost, w)
    hv_prod = sg.grad((gw * v).sum(), w)
    f_grad = sg.function([x, w, h0], gw)
    f_hv = sg.function([x, w, h0, v], hv_prod)
    xv, wv, hv, vv = (rng.normal(size=(4, 2)), rng.normal(size=(2, 2)) * 0.5,
                      rng.normal(size=2), rng.normal(size=(2, 2)))
    eps = 1e-6
    numeric = (f_grad(xv, wv + eps * vv, hv) - f_grad(xv, wv - eps * vv, hv)) / (2 * eps)
    np.testing.assert_allclose(f_hv(xv, wv, hv, vv), numeric, atol=1e-6)


def test_gradient_through_a_shared_state(rng):
    acc = sg.shared(rng.normal(size=3), name="acc")
    x, w = T.dmatrix("x"), T.dvector("w")

    def step(xt, w):
        new = acc * 0.5 + xt * w
        return new.sum() * acc.sum(), {acc: new}

    out, updates = scan(step, sequences=x, non_sequences=w)
    f = sg.function([x, w], [out, sg.grad(out.sum() + updates[acc].sum(), w)])
    xv, wv = rng.normal(size=(5, 3)), rng.normal(size=3)

    def reference(wv):
        a, total = acc.get_value(), 0.0
        for row in xv:
            new = a * 0.5 + row * wv
            total += new.sum() * a.sum()
            a = new
        return total + a.sum()

    numeric = [(reference(wv + e) - reference(wv - e)) / 2e-6 for e in np.eye(3) * 1e-6]
    np.testing.assert_allclose(f(xv, wv)[1], numeric, atol=1e-6)


def test_a_counter_does_not_cost_a_second_loop(rng):
    counter = sg.shared(np.int64(0), name="counter")
    x, w = T.dvector("x"), T.dscalar("w")
    out, updates = scan(lambda xt, w: (T.sin(xt * w), {counter: counter + 1}), sequences=x,
                        non_sequences=w)
    f = sg.function([x, w], sg.grad(out.sum(), w), updates=updates,
                    mode=sg.Mode().excluding("scan"))  # the loops as built, not merged
    forward_loops = [n for n in f.maker.fgraph.apply_nodes
                     if isinstance(n.op, Scan) and not n.op.name]
    assert len(forward_loops) == 1
    xv, wv = rng.normal(size=4), 0.7
    np.testing.assert_allclose(f(xv, wv), (np.cos(xv * wv) * xv).sum())
    assert counter.get_value() == 4


def test_gradient_with_dropout_noise_drawn_in_the_loop(rng):
    from symgraph.tensor.random import RandomStreams

    srng = RandomStreams(seed=11)
    x, w = T.dmatrix("x"), T.dvector("w")
    hs, updates = scan(lambda xt, h, w: T.tanh(xt * w + h) * srng.uniform((3,)), sequences=x,
                       outputs_info=T.zeros((3,), dtype="float64"), non_sequences=w)
    f = sg.function([x, w], [hs, sg.grad((hs ** 2).sum(), w)], updates=updates)
    generator = srng.state_updates[0][0].get_value()
    noise = []
    for _ in range(4):
        generator = copy.deepcopy(generator)
        noise.append(generator.uniform(size=3))
    xv, wv = rng.normal(size=(4, 3)), rng.normal(size=3)

    def forward(wv):
        h, out = np.zeros(3), []
        for row, n in zip(xv, noise):
            h = np.tanh(row * wv + h) * n
            out.append(h)
        return np.array(out)

    got_hs, got_gw = f(xv, wv)
    np.testing.assert_allclose(got_hs, forward(wv))
    numeric = [((forward(wv + e) ** 2).sum() - (forward(wv - e) ** 2).sum()) / 2e-6
               for e in np.eye(3) * 1e-6]
    np.testing.assert_allclose(got_gw, numeric, atol=1e-6)


def test_sequence_longer_than_n_steps_gets_zero_gradient_past_the_end(rng):
    x, w = T.dvector("x"), T.dscalar("w")
    out, _ = scan(lambda xt, h, w: h * w + xt, sequences=x, outputs_info=T.constant(0.0),
                  non_sequences=w, n_steps=3)
    gx = sg.function([x, w], sg.grad(out.sum(), x))(rng.normal(size=6), 0.5)
    np.testing.assert_allclose(gx, [1 + 0.5 + 0.25, 1 + 0.5, 1, 0, 0, 0])


def test_integer_inputs_are_not_differentiated(rng):
    x = T.dvector("x")
    k0 = T.constant(np.int64(1))
    (values, counts), _ = scan(lambda xt, v, k: (v * xt + k, k + 1), sequences=x,
                               outputs_info=[T.constant(1.0), k0])
    gx = sg.function([x], sg.grad(values.sum(), x))(np.array([0.5, 2.0, -1.0]))
    # v1 = x0 + 1, v2 = v1 x1 + 2, v3 = v2 x2 + 3
    v1, v2 = 1.5, 1.5 * 2.0 + 2
    np.testing.assert_allclose(gx, [1 + 2.0 + 2.0 * -1.0, v1 + v1 * -1.0, v2])


def test_values_fresh_across_calls_when_the_c_vm_keeps_buffers(rng):
    x, w, h0 = T.dmatrix("x"), T.dmatrix("w"), T.dvector("h0")
    keep = sg.Mode(linker="cvm_nogc")
    hs, _ = scan(lambda xt, h, w: T.tanh(xt + T.dot(h, w)), sequences=x, outputs_info=h0,
                 non_sequences=w, mode=keep)
    outputs = [hs] + sg.grad((hs ** 2).sum(), [x, w, h0])
    fast = sg.function([x, w, h0], outputs, mode=keep)
    reference = sg.function([x, w, h0], outputs, mode=sg.Mode(linker="py"))
    for _ in range(2):
        point = rng.normal(size=(5, 3)), rng.normal(size=(3, 3)) * 0.5, rng.normal(size=3)
        for got, want in zip(fast(*point), reference(*point)):
            np.testing.assert_allclose(got, want)


def test_integer_sequence_indexing_an_embedding(rng):
    idx, emb, w = T.lvector("idx"), T.dmatrix("emb"), T.dmatrix("w")
    hs, _ = scan(lambda i, h, emb, w: T.tanh(emb[i] + T.dot(h, w)), sequences=idx,
                 outputs_info=T.zeros((3,), dtype="float64"), non_sequences=[emb, w])
    cost = (hs ** 2).sum()
    f_grad = sg.function([idx, emb, w], sg.grad(cost, emb))
    f_cost = sg.function([idx, emb, w], cost)
    iv, ev, wv = np.array([0, 2, 1, 2]), rng.normal(size=(3, 3)), rng.normal(size=(3, 3)) * 0.5
    numeric = np.zeros_like(ev)
    for k in np.ndindex(*ev.shape):
        step = np.zeros_like(ev)
        step[k] = 1e-6
        numeric[k] = (f_cost(iv, ev + step, wv) - f_cost(iv, ev - step, wv)) / 2e-6
    np.testing.assert_allclose(f_grad(iv, ev, wv), numeric, atol=1e-6)
