"""One module per implementation of the RNN benchmark, behind the MLP harness's interface.

Each module has ``VARIANTS`` (``{impl: [variant, ...]}``) and ``make(impl, variant,
problem)`` returning a ``benchmarks.impls.Runner`` whose ``run(n)`` trains on the next
``n`` sequences and whose ``get_params()`` returns ``[E, W, b, U, c]`` as NumPy arrays,
or raising ``benchmarks.impls.Unavailable``.  :class:`RNNProblem` gives the harness
(benchmarks/harness.py) what it needs to check and time an RNN: its own reference
update, error measure, and sequence elements per step.

>>> from benchmarks.impls_rnn import numpy_rnn
>>> problem = RNNProblem("elman", hidden=8, vocab=30, seq_len=5, n_sequences=3)
>>> runner = numpy_rnn.make("numpy", "numpy", problem)
>>> runner.run(1)
>>> problem.update_error(runner.get_params(), problem.reference_update())
0.0
>>> problem.arch, problem.examples_per_step
('elman-8', 5)
"""
import importlib

import numpy as np

from benchmarks.impls_rnn import spec


class RNNProblem:
    """One benchmark cell: model ('elman' or 'lstm'), hidden size, vocabulary, sequence
    length, the shared initial parameters and data, learning rate and threads."""

    batch = 1  # one sequence per update

    def __init__(self, model, hidden, vocab=spec.VOCAB, seq_len=spec.SEQ_LEN,
                 n_sequences=spec.N_SEQUENCES, lr=spec.LEARNING_RATE, threads=1, seed=0):
        self.model, self.hidden, self.vocab = model, int(hidden), int(vocab)
        self.seq_len, self.lr, self.threads = int(seq_len), lr, threads
        self.params = spec.init_params(model, self.vocab, self.hidden, seed=seed + 1)
        self.X, self.Y = spec.make_data(self.vocab, self.seq_len, n_sequences, seed=seed)

    @property
    def n_sequences(self):
        return len(self.X)

    @property
    def examples_per_step(self):
        """Sequence elements trained on per update: the benchmark's unit."""
        return self.seq_len

    @property
    def arch(self):
        return f"{self.model}-{self.hidden}"

    def record_fields(self):
        """What the result records carry beside the harness's fields."""
        return {"model": self.model, "hidden": self.hidden, "vocab": self.vocab,
                "seq_len": self.seq_len}

    def fresh_params(self):
        return [p.copy() for p in self.params]

    def reference_update(self):
        """The parameters after one NumPy step on sequence 0, from the initial parameters."""
        params = self.fresh_params()
        spec.numpy_step(self.model, params, self.X[0], self.Y[0], self.lr)
        return params

    def update_error(self, got, expected):
        """Largest difference of the one-step updates, relative to the largest update."""
        worst, scale = 0.0, 0.0
        for start, new, ref in zip(self.params, got, expected):
            change_ref = ref.astype(np.float64) - start
            change = np.asarray(new, np.float64).reshape(start.shape) - start
            worst = max(worst, float(np.abs(change - change_ref).max()))
            scale = max(scale, float(np.abs(change_ref).max()))
        return worst / max(scale, 1e-30)


# The implementations in the order of the table's columns.
MODULES = [
    "benchmarks.impls_rnn.symgraph_rnn",
    "benchmarks.impls_rnn.reference_rnn",
    "benchmarks.impls_rnn.numpy_rnn",
    "benchmarks.impls_rnn.torch_rnn",
    "benchmarks.impls_rnn.jax_rnn",
]
IMPLS = ("symgraph", "reference", "numpy", "torch", "jax", "jax_loop")


def load_all():
    """``[(impl, variant, module)]`` for every implementation module, in table order."""
    entries = []
    for name in MODULES:
        module = importlib.import_module(name)
        for impl, variants in module.VARIANTS.items():
            entries += [(impl, variant, module) for variant in variants]
    return sorted(entries, key=lambda entry: IMPLS.index(entry[0]))
