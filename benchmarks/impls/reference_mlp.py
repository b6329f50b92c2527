"""The C reference (the "limit"): many SGD steps per call, the loop in C.

>>> from benchmarks.impls import Problem
>>> from benchmarks.mlp_spec import init_params, make_data
>>> X, Y = make_data(20)
>>> runner = make("reference", "c_blas", Problem((784, 10), 10, init_params((784, 10)), X, Y,
...                                                0.01, 1))
>>> runner.run(3)
"""
from benchmarks.impls import Runner, Unavailable

VARIANTS = {"reference": ["c_blas"]}


def make(impl, variant, problem):
    """A runner whose ``run(n)`` is one call into C that trains ``n`` minibatches."""
    if (impl, variant) != ("reference", "c_blas"):
        raise Unavailable(f"no variant {impl}/{variant}")
    try:
        from benchmarks.reference import CReferenceMLP

        model = CReferenceMLP(problem.params, problem.batch, problem.lr)
    except ImportError as exc:
        raise Unavailable(f"the C reference needs cffi and scipy: {exc}") from None
    X, Y = problem.X, problem.Y
    state = {"next": 0}

    def run(n_steps):
        model.train(X, Y, state["next"], n_steps)
        state["next"] = (state["next"] + n_steps) % problem.n_batches

    return Runner(run, lambda: model.params, per_call=False)
