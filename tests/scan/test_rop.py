"""Rop through scan (forward mode: a loop carrying tangents beside the states) against
finite-difference directional derivatives, and the Gauss-Newton product built on it."""
import copy

import numpy as np
import pytest

import symgraph as sg
import symgraph.tensor as T
from symgraph.scan import Scan, scan, until

MODES = [pytest.param(sg.Mode(linker="py"), id="py"),
         pytest.param(sg.Mode(linker="cvm"), id="cvm")]
EPS = 1e-6


def directional(f, point, direction):
    """(f(p + eps v) - f(p - eps v)) / 2 eps, for lists of arrays p and v."""
    up = f(*[p + EPS * v for p, v in zip(point, direction)])
    down = f(*[p - EPS * v for p, v in zip(point, direction)])
    if isinstance(up, list):
        return [(a - b) / (2 * EPS) for a, b in zip(up, down)]
    return (up - down) / (2 * EPS)


def check_rop(inputs, output, point, rng, mode=None):
    """Rop of ``output`` w.r.t. all ``inputs`` along a random direction."""
    tangents = [x.type.make_variable(name=f"d{x.name}") for x in inputs]
    jv = sg.Rop(output, inputs, tangents)
    f = sg.function(inputs, output, mode=mode)
    f_jv = sg.function(inputs + tangents, jv, mode=mode)
    direction = [rng.normal(size=np.shape(p)) for p in point]
    got = f_jv(*point, *direction)
    want = directional(f, point, direction)
    if isinstance(got, list):
        for g, w in zip(got, want):
            np.testing.assert_allclose(g, w, atol=1e-6, rtol=1e-5)
    else:
        np.testing.assert_allclose(got, want, atol=1e-6, rtol=1e-5)
    return jv


@pytest.mark.parametrize("mode", MODES)
def test_rop_through_an_rnn(rng, mode):
    x, w, h0 = T.dmatrix("x"), T.dmatrix("w"), T.dvector("h0")
    hs, _ = scan(lambda xt, h, w: T.tanh(xt + T.dot(h, w)), sequences=x, outputs_info=h0,
                 non_sequences=w, mode=mode)
    point = [rng.normal(size=(5, 3)), rng.normal(size=(3, 3)) * 0.5, rng.normal(size=3)]
    jv = check_rop([x, w, h0], hs, point, rng, mode)
    # one loop computes the states and their tangents together
    loop = jv.owner.inputs[0].owner  # jv is the tangent buffer without its initial row
    assert isinstance(loop.op, Scan) and loop.op.name == "rop_of_scan"
    assert loop.op.info.state_taps == ((-1,), (-1,))


def test_rop_with_taps_and_several_outputs(rng):
    x, h0, w = T.dmatrix("x"), T.dmatrix("h0"), T.dvector("w")

    def step(a, b, h1, h3, w):
        new = T.tanh(a * w + b + 0.5 * h1 - 0.3 * h3)
        return new, (new * a).sum()

    (hs, ys), _ = scan(step, sequences=dict(input=x, taps=[-1, 2]),
                       outputs_info=[dict(initial=h0, taps=[-1, -3]), None], non_sequences=w)
    point = [rng.normal(size=(8, 2)), rng.normal(size=(3, 2)), rng.normal(size=2)]
    check_rop([x, h0, w], [hs, ys], point, rng)


def test_rop_with_respect_to_part_of_the_inputs(rng):
    x, w, h0 = T.dmatrix("x"), T.dmatrix("w"), T.dvector("h0")
    hs, _ = scan(lambda xt, h, w: T.tanh(xt + T.dot(h, w)), sequences=x, outputs_info=h0,
                 non_sequences=w)
    v = T.dmatrix("v")
    f_jv = sg.function([x, w, h0, v], sg.Rop(hs, w, v))
    f = sg.function([x, w, h0], hs)
    xv, wv, hv, vv = (rng.normal(size=(4, 3)), rng.normal(size=(3, 3)) * 0.5,
                      rng.normal(size=3), rng.normal(size=(3, 3)))
    want = (f(xv, wv + EPS * vv, hv) - f(xv, wv - EPS * vv, hv)) / (2 * EPS)
    np.testing.assert_allclose(f_jv(xv, wv, hv, vv), want, atol=1e-6)


def test_rop_through_until(rng):
    x, w = T.dmatrix("x"), T.dvector("w")

    def step(xt, h, w):
        return T.tanh(h * w + xt), until(xt.sum() > 1.5)

    hs, _ = scan(step, sequences=x, outputs_info=T.zeros((2,), dtype="float64"),
                 non_sequences=w)
    xv = rng.uniform(-0.5, 0.5, size=(8, 2))
    xv[3] = 1.0
    check_rop([x, w], hs, [xv, rng.normal(size=2)], rng)


def test_rop_through_a_shared_state(rng):
    acc = sg.shared(rng.normal(size=3), name="acc")
    x, w = T.dmatrix("x"), T.dvector("w")

    def step(xt, w):
        new = acc * 0.5 + xt * w
        return T.sin(new), {acc: new}

    out, updates = scan(step, sequences=x, non_sequences=w)
    check_rop([x, w], [out, updates[acc]], [rng.normal(size=(4, 3)), rng.normal(size=3)], rng)


def test_rop_with_noise_drawn_in_the_loop(rng):
    from symgraph.tensor.random import RandomStreams

    srng = RandomStreams(seed=2)
    x, w = T.dmatrix("x"), T.dvector("w")
    hs, _ = scan(lambda xt, h, w: T.tanh(xt * w + h) * srng.uniform((3,)), sequences=x,
                 outputs_info=T.zeros((3,), dtype="float64"), non_sequences=w)
    v = T.dvector("v")
    f_jv = sg.function([x, w, v], sg.Rop(hs, w, v))  # no updates: the same noise each call
    generator, noise = srng.state_updates[0][0].get_value(), []
    for _ in range(4):
        generator = copy.deepcopy(generator)
        noise.append(generator.uniform(size=3))
    xv, wv, vv = rng.normal(size=(4, 3)), rng.normal(size=3), rng.normal(size=3)

    def forward(wv):
        h, out = np.zeros(3), []
        for row, n in zip(xv, noise):
            h = np.tanh(row * wv + h) * n
            out.append(h)
        return np.array(out)

    want = (forward(wv + EPS * vv) - forward(wv - EPS * vv)) / (2 * EPS)
    np.testing.assert_allclose(f_jv(xv, wv, vv), want, atol=1e-6)


def test_gauss_newton_product_of_an_rnn(rng):
    x, w, h0, v = T.dmatrix("x"), T.dmatrix("w"), T.dvector("h0"), T.dmatrix("v")
    hs, _ = scan(lambda xt, h, w: T.tanh(xt + T.dot(h, w)), sequences=x, outputs_info=h0,
                 non_sequences=w)
    gauss_newton = sg.Lop(hs, w, sg.Rop(hs, w, v))  # J^T J v
    f = sg.function([x, w, h0, v], gauss_newton)
    f_hs = sg.function([x, w, h0], hs)
    xv, wv, hv, vv = (rng.normal(size=(4, 2)), rng.normal(size=(2, 2)) * 0.5,
                      rng.normal(size=2), rng.normal(size=(2, 2)))
    jacobian = np.stack([directional(lambda w_: f_hs(xv, w_, hv), [wv], [e.reshape(2, 2)])
                         for e in np.eye(4)], axis=-1).reshape(-1, 4)
    want = (jacobian.T @ jacobian @ vv.reshape(-1)).reshape(2, 2)
    np.testing.assert_allclose(f(xv, wv, hv, vv), want, atol=1e-6)
