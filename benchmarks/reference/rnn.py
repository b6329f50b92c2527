"""The hand-written C training step of the RNN benchmark (its "limit" column).

``CReferenceRNN`` owns float32 parameters ``[E, W, b, U, c]`` in NumPy arrays and runs
BPTT + SGD steps entirely in C (``rnn_step.c``), calling symgraph's BLAS through raw
pointers, like the MLP's reference.

>>> from benchmarks.impls_rnn.spec import init_params, make_data
>>> X, Y = make_data(vocab=40, seq_len=6, n_sequences=2)
>>> model = CReferenceRNN("elman", init_params("elman", vocab=40, hidden=8), seq_len=6)
>>> loss = model.step(X[0], Y[0])
>>> 3.0 < loss < 4.5  # about log(40) for a fresh model
True
"""
import os

import numpy as np

from benchmarks.reference.blas import blas_address
from benchmarks.reference.build import HERE, build_c_module

SOURCE = os.path.join(HERE, "rnn_step.c")
CDEF = """
typedef void (*sgemm_fn)(char *, char *, int *, int *, int *, float *, float *, int *,
                         float *, int *, float *, float *, int *);
typedef void (*sgemv_fn)(char *, int *, int *, float *, float *, int *, float *, int *,
                         float *, float *, int *);
typedef struct {
    int lstm;
    int V, H, T;
    float *E, *W, *b, *U, *c;
    float *states, *cells, *gates, *tanh_c, *probs, *d_h, *d_z, *carry_h, *carry_c;
    float lr;
    sgemm_fn sgemm;
    sgemv_fn sgemv;
} rnn_t;
float rnn_step(rnn_t *m, const int *x, const int *y);
float rnn_train(rnn_t *m, const int *X, const int *Y, int n_sequences, long first,
                long n_steps);
"""
# Vector expf/tanhf from glibc's libmvec (gcc calls them only under -ffast-math): NumPy's
# SIMD loops and XLA's own approximations are vectorized too, and the softmax over V words
# is a good part of the step at small H.
EXTRA_FLAGS = ("-ffast-math",)
_SCRATCH = ("states", "cells", "gates", "tanh_c", "probs", "d_h", "d_z", "carry_h", "carry_c")


class CReferenceRNN:
    """BPTT + SGD on an Elman (``model='elman'``) or LSTM layer with a softmax output, run
    by the C reference.  ``params`` (``[E, W, b, U, c]``) are copied to float32 C-ordered
    arrays, updated in place, and readable as ``.params``."""

    def __init__(self, model, params, seq_len, lr=0.1, cache_dir=None):
        if model not in ("elman", "lstm"):
            raise ValueError(f"unknown model {model!r}")
        self._module = build_c_module(SOURCE, CDEF, "_rnn_reference", cache_dir,
                                      EXTRA_FLAGS)
        self.params = [np.array(p, np.float32, order="C") for p in params]
        E, W, _, U, _ = self.params
        self.vocab, self.hidden, self.seq_len = U.shape[1], W.shape[0], int(seq_len)
        self.lstm = model == "lstm"
        if E.shape != (self.vocab, W.shape[1]) or W.shape[1] != (4 if self.lstm else 1) * \
                self.hidden:
            raise ValueError("parameter shapes do not fit the model")
        # Kept alive here because C holds raw pointers into them.
        self._scratch = self._allocate_scratch()
        self._struct = self._module.ffi.new("rnn_t *")
        self._fill_struct(lr)

    def _allocate_scratch(self):
        T, H, V = self.seq_len, self.hidden, self.vocab
        G = 4 if self.lstm else 1
        shapes = {"states": (T + 1, H), "cells": (T + 1, H), "gates": (T, 4 * H),
                  "tanh_c": (T, H), "probs": (T, V), "d_h": (T, H), "d_z": (T, G * H),
                  "carry_h": (H,), "carry_c": (H,)}
        return {name: np.zeros(shapes[name], np.float32) for name in _SCRATCH}

    def _fill_struct(self, lr):
        ffi, m = self._module.ffi, self._struct
        m.lstm, m.V, m.H, m.T, m.lr = int(self.lstm), self.vocab, self.hidden, self.seq_len, lr
        pointer = lambda a: ffi.cast("float *", a.ctypes.data)  # noqa: E731
        m.E, m.W, m.b, m.U, m.c = (pointer(p) for p in self.params)
        for name, array in self._scratch.items():
            setattr(m, name, pointer(array))
        m.sgemm = ffi.cast("sgemm_fn", blas_address("sgemm"))
        m.sgemv = ffi.cast("sgemv_fn", blas_address("sgemv"))

    def step(self, x, y):
        """One step on the word ids ``x`` with next words ``y``; the mean NLL before it."""
        x, y = self._check(x), self._check(y)
        if len(x) != self.seq_len or len(y) != self.seq_len:
            raise ValueError(f"a sequence has {self.seq_len} steps")
        ffi = self._module.ffi
        return self._module.lib.rnn_step(self._struct, ffi.cast("int *", x.ctypes.data),
                                         ffi.cast("int *", y.ctypes.data))

    def train(self, X, Y, first, n_steps):
        """``n_steps`` steps over consecutive rows of ``(X, Y)`` (sequences x T) from row
        ``first``, wrapping around; the loop runs in C.  Returns the last loss."""
        X, Y = self._check(X), self._check(Y)
        if X.shape != Y.shape or X.ndim != 2 or X.shape[1] != self.seq_len:
            raise ValueError(f"X and Y must be (sequences, {self.seq_len})")
        ffi = self._module.ffi
        return self._module.lib.rnn_train(self._struct, ffi.cast("int *", X.ctypes.data),
                                          ffi.cast("int *", Y.ctypes.data), len(X),
                                          int(first), int(n_steps))

    def _check(self, ids):
        if ids.dtype != np.int32 or not ids.flags.c_contiguous:
            raise TypeError("word ids must be C-contiguous int32")
        if ids.size and (ids.min() < 0 or ids.max() >= self.vocab):
            raise ValueError(f"a word id is outside [0, {self.vocab})")
        return ids
