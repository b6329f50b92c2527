"""One module per implementation of the MLP benchmark, behind one interface.

Each module has ``VARIANTS`` (``{impl: [variant, ...]}``: the implementations it
holds, by their names in the results, and the variants each can report) and
``make(impl, variant, problem)`` returning a :class:`Runner`, or raising
:class:`Unavailable` when the library or the variant does not exist here.

>>> from benchmarks.impls import numpy_mlp
>>> from benchmarks.mlp_spec import init_params, make_data
>>> X, Y = make_data(20)
>>> problem = Problem((784, 10), 10, init_params((784, 10)), X, Y, lr=0.01, threads=1)
>>> runner = numpy_mlp.make("numpy", "numpy", problem)
>>> runner.run(2)
>>> [W.shape for W, b in runner.get_params()]
[(784, 10)]
"""
import importlib


class Unavailable(Exception):
    """This implementation or variant cannot run here; the message says why."""


class Problem:
    """One benchmark cell: layer sizes, batch, initial params, data, learning rate, threads."""

    def __init__(self, sizes, batch, params, X, Y, lr, threads):
        self.sizes, self.batch, self.params = tuple(sizes), int(batch), params
        self.X, self.Y, self.lr, self.threads = X, Y, lr, threads

    @property
    def n_batches(self):
        return len(self.X) // self.batch


class Runner:
    """``run(n)`` trains on the next ``n`` minibatches (cycling through the data set);
    ``get_params()`` returns the current ``(W, b)`` pairs as NumPy arrays; ``sync()``
    waits for queued work (asynchronous libraries); ``per_call`` is False for
    implementations that run many steps per call."""

    def __init__(self, run, get_params, sync=None, per_call=True):
        self.run, self.get_params = run, get_params
        self.sync = sync or (lambda: None)
        self.per_call = per_call


def cycling_loop(step, batches):
    """A ``run(n)`` that calls ``step(x, y)`` on consecutive minibatches, wrapping around."""
    state = {"next": 0}
    count = len(batches)

    def run(n_steps):
        k = state["next"]
        for _ in range(n_steps):
            x, y = batches[k]
            step(x, y)
            k += 1
            if k == count:
                k = 0
        state["next"] = k

    return run


# The implementations in the order of the table's columns.
MODULES = [
    "benchmarks.impls.symgraph_mlp",
    "benchmarks.impls.reference_mlp",
    "benchmarks.impls.numpy_mlp",
    "benchmarks.impls.torch_mlp",
    "benchmarks.impls.jax_mlp",
    "benchmarks.impls.pytensor_mlp",
]
IMPLS = ("symgraph", "reference", "numpy", "torch", "torch_compile", "jax", "jax_loop",
         "pytensor")


def load_all():
    """``[(impl, variant, module)]`` for every implementation module, in table order."""
    entries = []
    for name in MODULES:
        module = importlib.import_module(name)
        for impl, variants in module.VARIANTS.items():
            entries += [(impl, variant, module) for variant in variants]
    return sorted(entries, key=lambda entry: IMPLS.index(entry[0]))
