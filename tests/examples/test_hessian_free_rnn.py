"""The Hessian-free example (examples/hessian_free_rnn.py): its Gauss-Newton product is
J^T H J v (explicit Jacobian by finite differences) computed in two loops, its CG
solves quadratics, and a short run learns the first-bit memory task (chance 0.693)."""
import importlib.util
import os

import numpy as np
import pytest

EXAMPLE = os.path.join(os.path.dirname(__file__), os.pardir, os.pardir, "examples",
                       "hessian_free_rnn.py")


@pytest.fixture(scope="module")
def hf():
    spec = importlib.util.spec_from_file_location("hessian_free_rnn_example", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def net(hf):
    return hf.RecurrentClassifier(n_hidden=10)


def test_gauss_newton_product_is_two_passes_and_matches_jacobians(hf, net):
    import symgraph as sg
    import symgraph.tensor as T

    loops = net.scan_nodes(net.gauss_newton)
    assert len(loops) == 2  # forward (with tangents), then backward; not three
    assert [n.op.name for n in loops] == ["rop_of_scan", "grad_of_scan"]
    rng = np.random.default_rng(3)
    theta = net.initial_parameters(rng)
    x, _ = hf.remember_first_bit(5, 4, rng)
    v, damping, structural = rng.normal(size=net.size), 0.3, 0.2
    t, xs = T.dvector("theta"), T.dtensor3("x")
    forward = sg.function([t, xs], list(net._forward(t, xs)))
    eps = 1e-6

    def jacobian(k):  # of output k (0: the hidden states, 1: the logits), flattened
        return np.stack([(forward(theta + eps * e, x)[k] - forward(theta - eps * e, x)[k])
                         .ravel() / (2 * eps) for e in np.eye(net.size)], axis=1)

    j_h, j_z = jacobian(0), jacobian(1)
    p = 1.0 / (1.0 + np.exp(-forward(theta, x)[1]))
    want = j_z.T @ (p * (1 - p) / 5 * (j_z @ v)) + structural / 5 * j_h.T @ (j_h @ v)
    got = net.gauss_newton(theta, x, v, damping, structural)
    np.testing.assert_allclose(got, want + damping * v, rtol=1e-5, atol=1e-8)


def test_conjugate_gradient_solves_a_quadratic(hf):
    rng = np.random.default_rng(0)
    m = rng.normal(size=(12, 12))
    a, g = m @ m.T + 0.5 * np.eye(12), rng.normal(size=12)
    iterates = hf.conjugate_gradient(lambda d: a @ d, g, np.zeros(12), max_iters=40,
                                     tolerance=1e-12)
    d, q = iterates[-1]
    np.testing.assert_allclose(d, -np.linalg.solve(a, g), rtol=1e-6, atol=1e-8)
    assert q == pytest.approx(g @ d + 0.5 * d @ a @ d)
    assert [q for _, q in iterates] == sorted(q for _, q in iterates)[::-1]  # decreasing


def test_hessian_free_learns_to_remember_the_first_bit(hf, net):
    rng = np.random.default_rng(0)
    train, test = hf.remember_first_bit(1000, 20, rng), hf.remember_first_bit(500, 20, rng)
    theta = net.initial_parameters(rng)
    start_loss, start_acc = hf.accuracy(net, theta, test)
    assert start_loss > 0.6  # about chance at first
    lines = []
    theta, history = hf.hessian_free(net, theta, train, curvature_batch=200, iterations=20,
                                     rng=rng, log=lines.append)
    assert len(lines) == 20 and lines[0].startswith("iteration   1")
    loss, acc = hf.accuracy(net, theta, test)
    assert loss < 0.2 * hf.CHANCE and acc > 0.95, lines


def test_main_prints_progress(hf, capsys):
    hf.main(["--steps", "6", "--hidden", "4", "--iterations", "2", "--train", "50",
             "--curvature-batch", "20"])
    out = capsys.readouterr().out
    assert "runs 2 loops" in out and "iteration   2" in out and "held-out loss" in out
