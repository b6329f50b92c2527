"""The MLP training graph written the usual way (softmax, categorical_crossentropy with
integer labels, mean, SGD updates on shared parameters): under FAST_RUN its weight
updates are gemm calls and the softmax + cross-entropy is one fused op, forward and
backward; one training step gives the values of the unrewritten graph."""
import numpy as np
import pytest

import symgraph as sg
import symgraph.tensor as T
from symgraph.tensor.blas import Gemm
from symgraph.tensor.nnet import Softmax, SoftmaxGrad
from symgraph.tensor.nnet.losses import (CrossentropyCategorical1Hot,
                                         CrossentropyCategorical1HotGrad)
from symgraph.tensor.nnet.softmax_crossentropy import (CrossentropySoftmax1Hot,
                                                       CrossentropySoftmax1HotGrad)
from tests.tensor.rewriting.checks import NO_REWRITES

LR = 0.01


def mlp_training(sizes, rng, dtype="float64"):
    """(inputs, cost, updates, weights, params) of one SGD step on a tanh MLP."""
    x, y = T.tensor(dtype, (None, None), name="x"), T.lvector("y")
    params, weights, h = [], [], x
    for k, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        W = sg.shared((rng.normal(size=(n_in, n_out)) / np.sqrt(n_in)).astype(dtype),
                      name=f"W{k}")
        b = sg.shared((rng.normal(size=n_out) * 0.1).astype(dtype), name=f"b{k}")
        params += [W, b]
        weights.append(W)
        h = T.dot(h, W) + b
        if k < len(sizes) - 2:
            h = T.tanh(h)
    cost = T.mean(T.nnet.categorical_crossentropy(T.nnet.softmax(h), y))
    updates = [(p, p - LR * g) for p, g in zip(params, sg.grad(cost, params))]
    return [x, y], cost, updates, weights, params


def update_nodes(f):
    """``{shared variable: the node computing its new value}`` in the compiled graph."""
    fgraph, maker = f.maker.fgraph, f.maker
    n_out = len(maker.outputs)
    return {var: fgraph.outputs[n_out + k].owner for k, (var, _) in enumerate(maker.updates)}


def fgraph_input(f, shared_var):
    maker = f.maker
    return maker.fgraph.inputs[len(maker.inputs) + maker.shared.index(shared_var)]


def test_the_784_1000_1000_1000_10_training_graph_uses_gemm_and_the_fused_loss(rng):
    inputs, cost, updates, weights, _ = mlp_training((784, 1000, 1000, 1000, 10), rng)
    f = sg.function(inputs, cost, updates=updates)
    nodes = update_nodes(f)
    for W in weights:  # W - lr * dot(h.T, delta) -> gemm(W, -lr, h.T, delta, 1)
        node = nodes[W]
        assert isinstance(node.op, Gemm), (W, node.op)
        z, alpha, _, _, beta = node.inputs
        assert z is fgraph_input(f, W)
        assert alpha.data == pytest.approx(-LR) and beta.data == 1
    kinds = [type(n.op) for n in f.maker.fgraph.apply_nodes]
    assert kinds.count(CrossentropySoftmax1Hot) == 1
    assert kinds.count(CrossentropySoftmax1HotGrad) == 1
    for unfused in (Softmax, SoftmaxGrad, CrossentropyCategorical1Hot,
                    CrossentropyCategorical1HotGrad):
        assert unfused not in kinds
    profile = f.maker.fgraph.rewrite_profile
    assert profile.fired("local_gemm") == len(weights)
    assert profile.total_time < 1.0, profile.summary()  # about 10 ms when measured


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_a_training_step_matches_the_unrewritten_graph(dtype, rng):
    sizes = (12, 9, 7, 4)
    seed = int(rng.integers(1 << 30))
    data = (rng.normal(size=(5, 12)).astype(dtype), rng.integers(0, 4, size=5))
    results = []
    for mode in (None, NO_REWRITES):
        inputs, cost, updates, _, params = mlp_training(sizes, np.random.default_rng(seed), dtype)
        f = sg.function(inputs, cost, updates=updates, mode=mode)
        results.append([f(*data)] + [p.get_value() for p in params])
    tol = 1e-5 if dtype == "float32" else 1e-12
    for got, want in zip(*results):
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol)


def test_huge_logits_give_finite_updates(rng):
    inputs, cost, updates, weights, params = mlp_training((4, 3), rng)
    weights[0].set_value(rng.normal(size=(4, 3)) * 1e4)
    f = sg.function(inputs, cost, updates=updates)
    value = f(rng.normal(size=(6, 4)), rng.integers(0, 3, size=6))
    assert np.isfinite(value) and value > 0
    assert all(np.all(np.isfinite(p.get_value())) for p in params)
