"""Residuals: the recurrent products a backward step reads are stored by the forward loop
(symgraph/scan/residuals.py), not recomputed; gradients are unchanged."""
import numpy as np
import pytest

import symgraph as sg
import symgraph.tensor as T
from symgraph.gradient import verify_grad
from symgraph.scan import Scan, grad as scan_grad_module, scan
from symgraph.scan.residuals import recurrent_products

MODES = [pytest.param(sg.Mode(linker="py"), id="py"),
         pytest.param(sg.Mode(linker="cvm"), id="cvm")]
PRODUCTS = ("Dot", "BlasDot", "Gemv", "Gemm", "Ger", "Matmul")


def lstm(x, w, h0, c0):
    """An LSTM layer whose gates read ``z = x_t + h_{t-1} w``: their derivatives need z."""
    n = h0.shape[0]

    def step(xt, h, c, w):
        z = xt + T.dot(h, w)
        i, f, g = T.nnet.sigmoid(z[:n]), T.nnet.sigmoid(z[n:2 * n]), T.tanh(z[2 * n:])
        c_new = f * c + i * g
        return T.tanh(c_new) * i, c_new

    (hs, _), _ = scan(step, sequences=x, outputs_info=[h0, c0], non_sequences=w)
    return hs


def lstm_point(rng, t=5, n=3):
    return [rng.normal(size=(t, 3 * n)), rng.normal(size=(n, 3 * n)) * 0.5,
            rng.normal(size=n), rng.normal(size=n)]


def products_in(f):
    """Matrix products per loop (and outside) in a compiled function, in the loops'
    compiled inner functions (where duplicates are merged) too."""
    counts = {}

    def walk(nodes, where):
        for node in nodes:
            if node is None:  # a jump
                continue
            if isinstance(node.op, Scan):
                walk(node.op.inner_program().nodes, node.op.name or "scan")
            elif type(node.op).__name__ in PRODUCTS:
                counts[where] = counts.get(where, 0) + 1

    walk(f.maker.fgraph.apply_nodes, "outer")
    return counts


def lstm_grad_function(mode):
    x, w, h0, c0 = T.dmatrix("x"), T.dmatrix("w"), T.dvector("h0"), T.dvector("c0")
    cost = (lstm(x, w, h0, c0) ** 2).sum()
    return sg.function([x, w, h0, c0], [cost] + sg.grad(cost, [x, w, h0, c0]), mode=mode)


@pytest.mark.parametrize("mode", MODES)
def test_the_backward_pass_reads_the_stored_products(rng, mode, monkeypatch):
    f = lstm_grad_function(mode)
    scans = [n for n in f.maker.fgraph.apply_nodes if isinstance(n.op, Scan)]
    assert len(scans) == 2  # the forward loop and the one that stores: merged
    forward = next(n for n in scans if not (n.op.name or "").startswith("grad_of"))
    assert forward.op.info.n_nit_sot == 1  # z_t's product, row by row
    with_residuals = products_in(f)
    point = lstm_point(rng)
    got = f(*point)
    monkeypatch.setattr(scan_grad_module, "recurrent_products", lambda op: [])
    g = lstm_grad_function(mode)
    without = products_in(g)
    # recomputing z costs one more product: in the backward loop or moved out of it
    assert sum(without.values()) == sum(with_residuals.values()) + 1
    for a, b in zip(got, g(*point)):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("mode", MODES)
def test_lstm_gradient_matches_finite_differences(rng, mode):
    verify_grad(lambda x, w, h0, c0: lstm(x, w, h0, c0), lstm_point(rng), rng=rng, mode=mode,
                n_tests=1)


def test_gradient_of_a_gradient_through_stored_products(rng):
    point = lstm_point(rng, t=4, n=2)
    direction = rng.normal(size=point[1].shape)

    def grad_projection(x, w, h0, c0):
        cost = (lstm(x, w, h0, c0) ** 2).sum()
        return (sg.grad(cost, w) * direction).sum()

    verify_grad(grad_projection, point, rng=rng, n_tests=1)


def test_an_elman_step_stores_nothing(rng):
    """tanh's derivative needs its output, which the loop keeps anyway: no residual."""
    x, w, h0 = T.dmatrix("x"), T.dmatrix("w"), T.dvector("h0")
    hs, _ = scan(lambda xt, h, w: T.tanh(xt + T.dot(h, w)), sequences=x, outputs_info=h0,
                 non_sequences=w)
    op = next(v.owner.op for v in sg.graph.traversal.ancestors([hs])
              if v.owner is not None and isinstance(v.owner.op, Scan))
    assert [type(v.owner.op).__name__ for v in recurrent_products(op)] == ["Dot"]
    g = sg.grad((hs ** 2).sum(), w)
    loops = [v.owner for v in sg.graph.traversal.ancestors([g])
             if v.owner is not None and isinstance(v.owner.op, Scan)]
    assert all(n.op.info.n_nit_sot == 0 for n in loops if not (n.op.name or "").startswith("grad_of"))
