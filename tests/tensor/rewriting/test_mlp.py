"""The whole pipeline on an MLP training graph (tanh layers, softmax cross-entropy written
with exp/sum/log, SGD updates): values unchanged, no duplicate subexpressions, the
hand-written log-softmax stabilized, and the optimizer fast."""
import numpy as np

import symgraph as sg
import symgraph.tensor as T
from tests.tensor.rewriting.checks import NO_REWRITES


def mlp_training(sizes, rng, lr=0.01):
    """(inputs, cost, updates, params) of one SGD step on a tanh MLP."""
    x, y = T.dmatrix("x"), T.lvector("y")
    params, h = [], x
    for k, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        W = sg.shared(rng.normal(size=(n_in, n_out)) / np.sqrt(n_in), name=f"W{k}")
        b = sg.shared(rng.normal(size=n_out) * 0.1, name=f"b{k}")
        params += [W, b]
        h = T.dot(h, W) + b
        if k < len(sizes) - 2:
            h = T.tanh(h)
    e = T.exp(h - h.max(axis=1, keepdims=True))
    log_p = T.log(e / e.sum(axis=1, keepdims=True))
    cost = -T.mean(log_p[T.arange(y.shape[0]), y])
    updates = [(p, p - lr * g) for p, g in zip(params, sg.grad(cost, params))]
    return [x, y], cost, updates, params


def test_training_step_matches_the_unrewritten_graph(rng):
    sizes = (12, 9, 7, 4)
    seed = int(rng.integers(1 << 30))
    data = (rng.normal(size=(5, 12)), rng.integers(0, 4, size=5))
    results = []
    for mode in (None, NO_REWRITES):
        inputs, cost, updates, params = mlp_training(sizes, np.random.default_rng(seed))
        f = sg.function(inputs, cost, updates=updates, mode=mode)
        results.append([f(*data)] + [p.get_value() for p in params])
    for got, want in zip(*results):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


def test_the_optimized_graph_has_no_duplicate_subexpressions(rng):
    inputs, cost, updates, _ = mlp_training((6, 5, 5, 3), rng)
    f = sg.function(inputs, cost, updates=updates)
    keys = [(n.op, tuple(n.inputs)) for n in f.maker.fgraph.apply_nodes if not n.op.destroy_map]
    assert len(keys) == len(set(keys))


def test_large_logits_give_a_finite_cost(rng):
    inputs, cost, updates, params = mlp_training((4, 3), rng)
    params[0].set_value(rng.normal(size=(4, 3)) * 1e4)
    f = sg.function(inputs, cost)
    value = f(rng.normal(size=(6, 4)), rng.integers(0, 3, size=6))
    assert np.isfinite(value) and value > 0


def test_optimizer_time_of_the_784_1000_1000_1000_10_graph(rng):
    inputs, cost, updates, _ = mlp_training((784, 1000, 1000, 1000, 10), rng)
    f = sg.function(inputs, cost, updates=updates)
    profile = f.maker.fgraph.rewrite_profile
    assert profile.total_time < 1.0, profile.summary()  # about 15 ms when measured
