"""The hand-written NumPy peer: the forward loop and BPTT written out (``spec.numpy_step``).

>>> from benchmarks.impls_rnn import RNNProblem
>>> problem = RNNProblem("lstm", hidden=6, vocab=20, seq_len=4, n_sequences=2)
>>> runner = make("numpy", "numpy", problem)
>>> runner.run(3)
>>> [p.shape for p in runner.get_params()]
[(20, 24), (6, 24), (24,), (6, 20), (20,)]
"""
from benchmarks.impls import Runner, Unavailable, cycling_loop
from benchmarks.impls_rnn.spec import numpy_step

VARIANTS = {"numpy": ["numpy"]}


def sequences(problem):
    """The data set as a list of ``(x, y)`` rows, so a timed loop only indexes a list."""
    return list(zip(problem.X, problem.Y))


def make(impl, variant, problem):
    """A runner calling ``numpy_step`` once per sequence from Python."""
    if (impl, variant) != ("numpy", "numpy"):
        raise Unavailable(f"no variant {impl}/{variant}")
    params = problem.fresh_params()
    model, lr = problem.model, problem.lr

    def step(x, y):
        numpy_step(model, params, x, y, lr)

    return Runner(cycling_loop(step, sequences(problem)), lambda: params)
