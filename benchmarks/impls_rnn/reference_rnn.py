"""The C reference (the "limit"): many BPTT + SGD steps per call, the loop in C
(benchmarks/reference/rnn_step.c).

>>> from benchmarks.impls_rnn import RNNProblem
>>> problem = RNNProblem("elman", hidden=8, vocab=30, seq_len=5, n_sequences=3)
>>> runner = make("reference", "c_blas", problem)
>>> runner.run(1)
>>> problem.update_error(runner.get_params(), problem.reference_update()) < 1e-4
True
"""
from benchmarks.impls import Runner, Unavailable

VARIANTS = {"reference": ["c_blas"]}


def make(impl, variant, problem):
    """A runner whose ``run(n)`` is one call into C that trains ``n`` sequences."""
    if (impl, variant) != ("reference", "c_blas"):
        raise Unavailable(f"no variant {impl}/{variant}")
    try:
        from benchmarks.reference.rnn import CReferenceRNN

        model = CReferenceRNN(problem.model, problem.params, problem.seq_len, problem.lr)
    except ImportError as exc:
        raise Unavailable(f"the C reference needs cffi and scipy: {exc}") from None
    X, Y = problem.X, problem.Y
    state = {"next": 0}

    def run(n_steps):
        model.train(X, Y, state["next"], n_steps)
        state["next"] = (state["next"] + n_steps) % problem.n_sequences

    return Runner(run, lambda: model.params, per_call=False)
