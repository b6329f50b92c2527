"""Per-call times of the softmax family's C kernels against NumPy.

    OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 python benchmarks/run_softmax.py

Prints microseconds per call (best of 7 repeats of many calls) of functions
compiled with the default mode (the C VM): a float32 ``softmax`` of 20x1000
and 60x500 logits, a float64 one of 20x1000, and the float32 20x1000 loss
``categorical_crossentropy(softmax(x), y)`` with its gradient (the rewrites
make it ``CrossentropySoftmax1Hot`` and ``CrossentropySoftmax1HotGrad``), each
next to NumPy doing the same arithmetic.
"""
import os
import sys
import timeit

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402

import symgraph as sg  # noqa: E402
import symgraph.tensor as T  # noqa: E402


def best_us(call, number):
    """The best per-call time of ``call`` in microseconds."""
    return min(timeit.repeat(call, number=number, repeat=7)) / number * 1e6


def numpy_softmax(x):
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def numpy_loss_and_grad(x, y):
    """The mean cross-entropy of softmax(x) against y and its gradient wrt x."""
    m = x.max(axis=1, keepdims=True)
    e = np.exp(x - m)
    total = e.sum(axis=1, keepdims=True)
    rows = np.arange(len(y))
    nll = np.log(total[:, 0]) - (x[rows, y] - m[:, 0])
    g = e / total * np.float32(1.0 / len(y))
    g[rows, y] -= np.float32(1.0 / len(y))
    return nll.mean(), g


def softmax_line(rows, cols, dtype, rng, number):
    x = T.matrix("x", dtype=dtype)
    f = sg.function([x], T.nnet.softmax(x))
    v = rng.normal(size=(rows, cols)).astype(dtype) * 3
    np.testing.assert_allclose(f(v), numpy_softmax(v), rtol=1e-5, atol=1e-9)
    ours = best_us(lambda: f(v), number)
    theirs = best_us(lambda: numpy_softmax(v), number)
    print(f"softmax {dtype} {rows}x{cols}: symgraph {ours:8.2f} us   numpy {theirs:8.2f} us")


def loss_line(rows, cols, rng, number):
    x, y = T.fmatrix("x"), T.ivector("y")
    cost = T.mean(T.nnet.categorical_crossentropy(T.nnet.softmax(x), y))
    f = sg.function([x, y], [cost, sg.grad(cost, x)])
    ops = {type(n.op).__name__ for n in f.fn.nodes}
    assert {"CrossentropySoftmax1Hot", "CrossentropySoftmax1HotGrad"} <= ops, ops
    v = rng.normal(size=(rows, cols)).astype("float32") * 3
    t = rng.integers(0, cols, rows).astype("int32")
    got, want = f(v, t), numpy_loss_and_grad(v, t)
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-8)
    ours = best_us(lambda: f(v, t), number)
    theirs = best_us(lambda: numpy_loss_and_grad(v, t), number)
    print(f"crossentropy(softmax) + grad float32 {rows}x{cols}: symgraph {ours:8.2f} us   "
          f"numpy {theirs:8.2f} us")


def main():
    rng = np.random.default_rng(0)
    softmax_line(20, 1000, "float32", rng, 2000)
    softmax_line(60, 500, "float32", rng, 2000)
    softmax_line(20, 1000, "float64", rng, 2000)
    loss_line(20, 1000, rng, 2000)


if __name__ == "__main__":
    main()
