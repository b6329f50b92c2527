"""Sums over scan steps as products of stacked factors (symgraph/scan/step_sums.py), and
the backward scan that uses them: no weight-sized state or per-step stack."""
import numpy as np
import pytest

import symgraph as sg
import symgraph.tensor as T
from symgraph.gradient import verify_grad
from symgraph.scan import Scan, scan
from symgraph.scan.step_sums import sum_over_steps

MODES = [pytest.param(sg.Mode(linker="py"), id="py"),
         pytest.param(sg.Mode(linker="cvm"), id="cvm")]


def _scans(f):
    return [n for n in f.maker.fgraph.toposort() if isinstance(n.op, Scan)]


def _numpy_elman_grads(x, w, u, b):
    """Gradients of sum(h**2) for h_t = tanh(x_t w + h_{t-1} u + b), h_0 = 0, by BPTT."""
    hs, h = [np.zeros(u.shape[0])], np.zeros(u.shape[0])
    for xt in x:
        h = np.tanh(xt @ w + h @ u + b)
        hs.append(h)
    gw, gu, gb = np.zeros_like(w), np.zeros_like(u), np.zeros_like(b)
    carry = np.zeros_like(h)
    for t in range(len(x), 0, -1):
        dz = (2 * hs[t] + carry) * (1 - hs[t] ** 2)
        gw += np.outer(x[t - 1], dz)
        gu += np.outer(hs[t - 1], dz)
        gb += dz
        carry = u @ dz
    return gw, gu, gb


@pytest.mark.parametrize("mode", MODES)
def test_elman_weight_gradients_without_weight_sized_loop_values(rng, mode):
    x, w, u, b = T.dmatrix("x"), T.dmatrix("w"), T.dmatrix("u"), T.dvector("b")
    h0 = T.zeros((u.shape[0],))
    hs, _ = scan(lambda xt, h: T.tanh(T.dot(xt, w) + T.dot(h, u) + b), sequences=x,
                 outputs_info=h0)
    f = sg.function([x, w, u, b], sg.grad((hs ** 2).sum(), [w, u, b]), mode=mode)
    backward = [n for n in _scans(f) if n.op.name == "grad_of_scan"]
    assert len(backward) == 1
    for out in backward[0].outputs:  # only vectors per step: no (steps, n, m) value
        assert out.ndim <= 2, out.type
    xv, wv = rng.normal(size=(6, 3)), rng.normal(size=(3, 4))
    uv, bv = rng.normal(size=(4, 4)) * 0.5, rng.normal(size=4)
    for got, want in zip(f(xv, wv, uv, bv), _numpy_elman_grads(xv, wv, uv, bv)):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("mode", MODES)
def test_batched_weight_gradient_matches_finite_differences(rng, mode):
    def cost(x, u, h0):
        hs, _ = scan(lambda xt, h: T.tanh(xt + T.dot(h, u)), sequences=x, outputs_info=h0,
                     mode=mode)
        return hs

    point = [rng.normal(size=(4, 2, 3)), rng.normal(size=(3, 3)) * 0.5,
             rng.normal(size=(2, 3))]
    verify_grad(cost, point, rng=rng, mode=mode, n_tests=1)
    x, u, h0 = T.dtensor3("x"), T.dmatrix("u"), T.dmatrix("h0")
    f = sg.function([x, u, h0], sg.grad(cost(x, u, h0).sum(), u), mode=mode)
    backward = [n for n in _scans(f) if n.op.name == "grad_of_scan"]
    assert backward and all(o.ndim <= 3 for o in backward[0].outputs)  # rows of (batch, n)


def test_sum_over_steps_factors_outer_and_dot_terms_and_keeps_the_rest(rng):
    x, y = T.dmatrix("x"), T.dtensor3("y")
    w = T.dmatrix("w")

    def step(xt, yt):
        a = T.tanh(xt)  # a factor computed in the step: stacked by the loop
        return T.outer(a, xt) + T.dot(yt.T, yt) + w * xt.sum(), xt * 2.0

    (terms, doubled), _ = scan(step, sequences=[x, y])
    node = terms.owner
    new_node, remap, sums = sum_over_steps(node, [0])
    assert new_node is not node
    assert remap[node.outputs[1]].owner is new_node
    f = sg.function([x, y, w], [sums[0], remap[node.outputs[1]]], mode=sg.Mode(linker="py"))
    xv, yv, wv = rng.normal(size=(5, 3)), rng.normal(size=(5, 2, 3)), rng.normal(size=(3, 3))
    want = sum(np.outer(np.tanh(xt), xt) + yt.T @ yt + wv * xt.sum() for xt, yt in zip(xv, yv))
    got_sum, got_doubled = f(xv, yv, wv)
    np.testing.assert_allclose(got_sum, want, rtol=1e-12)
    np.testing.assert_allclose(got_doubled, xv * 2.0)


def test_sum_over_steps_of_a_plain_output_is_a_sum(rng):
    x = T.dmatrix("x")
    out, _ = scan(lambda xt: T.exp(xt), sequences=x)
    new_node, _, sums = sum_over_steps(out.owner, [0])
    assert new_node is out.owner
    xv = rng.normal(size=(4, 3))
    np.testing.assert_allclose(sums[0].eval({x: xv}), np.exp(xv).sum(0), rtol=1e-12)
