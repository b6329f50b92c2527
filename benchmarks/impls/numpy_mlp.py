"""The hand-written NumPy peer: forward, backward and update written out (``numpy_step``).

>>> from benchmarks.impls import Problem
>>> from benchmarks.mlp_spec import init_params, make_data
>>> X, Y = make_data(10)
>>> runner = make("numpy", "numpy", Problem((784, 10), 10, init_params((784, 10)), X, Y, 0.01, 1))
>>> runner.run(1)
"""
from benchmarks.impls import Runner, Unavailable, cycling_loop
from benchmarks.mlp_spec import minibatches, numpy_step

VARIANTS = {"numpy": ["numpy"]}


def make(impl, variant, problem):
    """A runner calling ``numpy_step`` once per minibatch from Python."""
    if (impl, variant) != ("numpy", "numpy"):
        raise Unavailable(f"no variant {impl}/{variant}")
    params = [(W.copy(), b.copy()) for W, b in problem.params]
    lr = problem.lr

    def step(x, y):
        numpy_step(params, x, y, lr)

    run = cycling_loop(step, minibatches(problem.X, problem.Y, problem.batch))
    return Runner(run, lambda: params)
