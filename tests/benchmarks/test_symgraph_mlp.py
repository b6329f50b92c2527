"""symgraph's benchmark model computes the same SGD steps as the NumPy reference."""
import numpy as np
import pytest

from benchmarks.impls import Problem, Unavailable, symgraph_mlp
from benchmarks.mlp_spec import init_params, make_data, numpy_step


def _problem(batch, sizes=(784, 12, 10), n=30, seed=2):
    X, Y = make_data(n, seed=seed)
    return Problem(sizes, batch, init_params(sizes, seed=seed), X, Y, 0.01, 1)


def _numpy_steps(problem, minibatch_indices):
    params = [(W.copy(), b.copy()) for W, b in problem.params]
    B = problem.batch
    for k in minibatch_indices:
        numpy_step(params, problem.X[k * B:(k + 1) * B], problem.Y[k * B:(k + 1) * B],
                   problem.lr)
    return params


def _assert_close(got, expected):
    for (W, b), (W_ref, b_ref) in zip(got, expected):
        np.testing.assert_allclose(W, W_ref, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(b, b_ref, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("variant", ["py", "trust_input"])
@pytest.mark.parametrize("batch", [1, 6])
def test_per_call_variants_match_numpy(variant, batch):
    problem = _problem(batch)
    runner = symgraph_mlp.make("symgraph", variant, problem)
    runner.run(3)
    _assert_close(runner.get_params(), _numpy_steps(problem, [0, 1, 2]))


def test_shared_data_function_walks_the_minibatches_and_wraps():
    problem = _problem(batch=10)  # 3 minibatches
    params = symgraph_mlp._shared_params(problem)
    f = symgraph_mlp.build_shared_data_function(problem, params)
    for _ in range(4):
        f()
    got = [(W.get_value(), b.get_value()) for W, b in params]
    _assert_close(got, _numpy_steps(problem, [0, 1, 2, 0]))


@pytest.mark.parametrize("variant", ["cvm", "n_calls"])
def test_later_variants_match_numpy_or_are_unavailable(variant):
    """A variant whose backend exists must compute the NumPy steps; one whose backend
    does not exist yet must say so (Unavailable), never run something else."""
    problem = _problem(batch=5)
    try:
        runner = symgraph_mlp.make("symgraph", variant, problem)
    except Unavailable as exc:
        assert variant in str(exc) or "n_calls" in str(exc)
        return
    runner.run(2)
    _assert_close(runner.get_params(), _numpy_steps(problem, [0, 1]))
