"""The hand-written C training step (the benchmark's "limit" column).

``CReferenceMLP`` owns float32 parameters in NumPy arrays and runs SGD steps
entirely in C (``mlp_step.c``), calling symgraph's BLAS (benchmarks/reference/blas.py) through raw pointers.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> params = [(rng.standard_normal((784, 10)).astype(np.float32) * 0.01,
...            np.zeros(10, np.float32))]
>>> model = CReferenceMLP(params, batch=2, lr=0.01)
>>> x = rng.standard_normal((2, 784)).astype(np.float32)
>>> loss = model.step(x, np.array([3, 7], np.int32))
>>> 1.0 < loss < 4.0
True
"""
import numpy as np

from benchmarks.reference.blas import blas_address
from benchmarks.reference.build import build_reference

MAX_LAYERS = 8


class CReferenceMLP:
    """SGD on a tanh MLP with a softmax output, run by the C reference.

    ``params`` is a list of ``(W, b)`` pairs (W: n_in x n_out); they are copied
    to float32 C-ordered arrays, updated in place, and readable as ``.params``.
    """

    def __init__(self, params, batch, lr=0.01, cache_dir=None):
        if not 1 <= len(params) <= MAX_LAYERS:
            raise ValueError(f"the C reference takes 1 to {MAX_LAYERS} layers")
        self._module = build_reference(cache_dir)
        ffi, self._lib = self._module.ffi, self._module.lib
        self.params = [(np.array(W, np.float32, order="C"), np.array(b, np.float32, order="C"))
                       for W, b in params]
        self.sizes = [self.params[0][0].shape[0]] + [W.shape[1] for W, _ in self.params]
        self.batch = int(batch)
        # act[l] and delta[l], l = 1..L, kept alive here because C holds raw pointers.
        self._scratch = [np.zeros((self.batch, n), np.float32) for n in self.sizes[1:] * 2]
        self._struct = ffi.new("mlp_t *")
        self._fill_struct(ffi, lr)

    def _fill_struct(self, ffi, lr):
        m = self._struct
        m.n_layers, m.batch, m.lr = len(self.params), self.batch, lr
        for i, n in enumerate(self.sizes):
            m.sizes[i] = n
        n_layers = len(self.params)
        for l, (W, b) in enumerate(self.params):
            m.W[l] = ffi.cast("float *", W.ctypes.data)
            m.b[l] = ffi.cast("float *", b.ctypes.data)
            m.act[l + 1] = ffi.cast("float *", self._scratch[l].ctypes.data)
            m.delta[l + 1] = ffi.cast("float *", self._scratch[n_layers + l].ctypes.data)
        m.sgemm = ffi.cast("sgemm_fn", blas_address("sgemm"))
        m.sgemv = ffi.cast("sgemv_fn", blas_address("sgemv"))
        m.sger = ffi.cast("sger_fn", blas_address("sger"))

    def step(self, x, y):
        """One SGD step on the minibatch ``(x, y)``; returns its mean NLL (before the step)."""
        x, y = self._check(x, y)
        ffi = self._module.ffi
        return self._lib.mlp_step(self._struct, ffi.cast("float *", x.ctypes.data),
                                  ffi.cast("int *", y.ctypes.data))

    def train(self, X, Y, first, n_steps):
        """``n_steps`` steps over consecutive minibatches of ``(X, Y)`` from minibatch ``first``.

        The loop runs in C; returns the loss of the last step.
        """
        X, Y = self._check(X, Y)
        if len(X) % self.batch:
            raise ValueError("the data set size must be a multiple of the batch size")
        ffi = self._module.ffi
        return self._lib.mlp_train(self._struct, ffi.cast("float *", X.ctypes.data),
                                   ffi.cast("int *", Y.ctypes.data), len(X), int(first),
                                   int(n_steps))

    def _check(self, x, y):
        if x.dtype != np.float32 or not x.flags.c_contiguous or x.shape[-1] != self.sizes[0]:
            raise TypeError(f"inputs must be C-contiguous float32 with {self.sizes[0]} columns")
        if y.dtype != np.int32 or not y.flags.c_contiguous or len(y) != len(x):
            raise TypeError("labels must be C-contiguous int32, one per input row")
        if len(x) < self.batch or y.min() < 0 or y.max() >= self.sizes[-1]:
            raise ValueError("minibatch too small, or a label out of range")
        return x, y
