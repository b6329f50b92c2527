"""The benchmark harness: implementations agree with the NumPy step, checks can fail,
timing and tables behave."""
import numpy as np
import pytest

from benchmarks import report
from benchmarks.harness import measure_cell, reference_update, update_error
from benchmarks.impls import Problem, Runner, Unavailable, cycling_loop, numpy_mlp
from benchmarks.mlp_spec import init_params, make_data, minibatches, numpy_step
from benchmarks.timing import Budget, measure

TINY = Budget(warmup_s=0.0, window_s=0.01, n_windows=2)


def _problem(sizes=(784, 12, 10), batch=5, n=20, seed=0):
    X, Y = make_data(n, seed=seed)
    return Problem(sizes, batch, init_params(sizes, seed=seed + 1), X, Y, 0.01, 1)


def test_numpy_step_gradient_matches_finite_differences():
    rng = np.random.default_rng(3)
    sizes = (784, 6, 10)
    params = [(W.astype(np.float64), b.astype(np.float64)) for W, b in init_params(sizes, 4)]
    x = rng.standard_normal((3, 784))
    y = np.array([1, 4, 9], np.int32)

    def loss(p):
        h = x
        for k, (W, b) in enumerate(p):
            h = h @ W + b
            h = np.tanh(h) if k + 1 < len(p) else h
        h = h - h.max(axis=1, keepdims=True)
        logp = h - np.log(np.exp(h).sum(axis=1, keepdims=True))
        return -logp[np.arange(3), y].mean()

    stepped = [(W.copy(), b.copy()) for W, b in params]
    numpy_step(stepped, x, y, lr=1.0)  # with lr = 1 the update is minus the gradient
    grad_b = params[0][1] - stepped[0][1]
    eps = 1e-6
    for j in rng.choice(6, 3, replace=False):
        up = [(W.copy(), b.copy()) for W, b in params]
        up[0][1][j] += eps
        down = [(W.copy(), b.copy()) for W, b in params]
        down[0][1][j] -= eps
        assert grad_b[j] == pytest.approx((loss(up) - loss(down)) / (2 * eps), rel=1e-5)


def test_measure_cell_of_numpy_passes_its_check():
    problem = _problem()
    record = measure_cell(numpy_mlp, "numpy", "numpy", problem, TINY)
    assert record["check"] == "ok" and record["check_error"] < 1e-5
    assert record["examples_per_sec"] > 0 and len(record["runs"]) == 2
    assert record["arch"] == "784-12-10" and record["batch"] == 5


class _WrongModule:
    """An implementation whose update is off by 10%: the check must catch it."""
    VARIANTS = {"numpy": ["wrong"]}

    @staticmethod
    def make(impl, variant, problem):
        params = [(W.copy(), b.copy()) for W, b in problem.params]

        def step(x, y):
            numpy_step(params, x, y, problem.lr * 1.1)

        return Runner(cycling_loop(step, minibatches(problem.X, problem.Y, problem.batch)),
                      lambda: params)


def test_check_fails_for_a_wrong_implementation():
    problem = _problem()
    record = measure_cell(_WrongModule, "numpy", "wrong", problem, TINY)
    assert record["check"] == "FAILED"
    assert record["check_error"] == pytest.approx(0.1, rel=0.05)


def test_update_error_is_zero_for_the_reference_itself():
    problem = _problem(batch=1)
    expected = reference_update(problem)
    assert update_error(problem, expected, expected) == 0.0


def test_cycling_loop_visits_minibatches_in_order_and_wraps():
    seen = []
    run = cycling_loop(lambda x, y: seen.append(int(y[0])), [(None, [k]) for k in range(3)])
    run(2)
    run(3)
    assert seen == [0, 1, 2, 0, 1]


def test_measure_reports_median_of_windows():
    calls = []

    def chunk():
        calls.append(1)
        return 4

    rate, runs = measure(chunk, warmup_s=0.0, window_s=0.005, n_windows=3)
    assert len(runs) == 3 and rate == sorted(runs)[1] and len(calls) >= 3


def test_table_has_ratios_against_peers_and_limit():
    def rec(impl, variant, rate, per_call=True, batch=10):
        return dict(arch="784-10", batch=batch, impl=impl, variant=variant,
                    examples_per_sec=rate, per_call=per_call, check="ok")

    rows = [rec("symgraph", "py", 2e3), rec("symgraph", "trust_input", 3e3),
            rec("reference", "c_blas", 1.2e4, per_call=False), rec("numpy", "numpy", 6e3),
            rec("jax_loop", "fori_loop", 9e4, per_call=False), rec("torch", "eager", 4e3)]
    table = report.format_table(rows)
    header, line = table.splitlines()
    assert header.split()[:4] == ["arch", "batch", "symgraph:py", "symgraph:trust_input"]
    # jax_loop runs many steps per call, so it is not the per-call peer: 3k / 6k.
    assert line.split()[-2:] == ["0.50x", "0.25x"]
    assert report.ratios([rec("numpy", "numpy", 1.0)]) == (None, None)


def test_unavailable_is_an_exception_with_a_reason():
    with pytest.raises(Unavailable, match="no variant"):
        numpy_mlp.make("numpy", "other", _problem())


def test_target_lines_report_the_worst_cell():
    def rec(impl, variant, rate, batch):
        return dict(arch="784-10", batch=batch, impl=impl, variant=variant,
                    examples_per_sec=rate, per_call=impl != "reference")

    rows = [rec("symgraph", "trust_input", 5.0, 1), rec("numpy", "numpy", 10.0, 1),
            rec("symgraph", "trust_input", 30.0, 10), rec("jax", "jit", 20.0, 10),
            rec("symgraph", "n_calls", 9.0, 10), rec("reference", "c_blas", 10.0, 10)]
    first, second = report.target_lines(rows)
    assert "not met (worst 0.50x, 784-10 batch 1)" in first
    assert "met (worst 0.90x, 784-10 batch 10)" in second
