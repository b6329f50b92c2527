"""Time of one SGD step on an embedding matrix: ``E <- E - lr * grad(cost, E)`` where the
cost reads the rows ``E[x]`` of a few word ids.

The gradient is a scatter of the looked-up rows into zeros.  Without the sparse-update
rewrites (``symgraph/tensor/rewriting/subtensor.py``) each call allocates a dense V x H
gradient and makes a full pass over ``E``; with them the update is one in-place row
scatter into ``E``.  Printed: microseconds per call (median over repeats of a timed
loop; float32, V = 1000, 20 ids per call) for each hidden size, with all rewrites and
with the sparse-update rewrites excluded (``before``).

    python benchmarks/embedding_update.py [--vocab 1000] [--hidden 50 500 2000]
"""
import argparse
import os
import statistics
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO not in sys.path:
    sys.path.insert(0, REPO)

from benchmarks.threads import pin_threads  # noqa: E402  (imports no NumPy)

SPARSE_UPDATE_REWRITES = ("local_scale_of_inc_zeros", "local_add_inc_zeros")


def build(vocab, hidden, n_ids, exclude, seed=0):
    """``(f, inputs, E)``: the compiled step (rewrites ``exclude``-d), its inputs, the shared E."""
    import numpy as np
    import symgraph as sg
    import symgraph.tensor as T
    from symgraph.compile.mode import get_mode

    rng = np.random.default_rng(seed)
    E = sg.shared(rng.random((vocab, hidden), dtype=np.float32), name="E")
    x, g = T.ivector("x"), T.fmatrix("g")
    cost = (E[x] * g).sum()
    mode = get_mode("FAST_RUN").excluding(*exclude) if exclude else None
    f = sg.function([x, g], [], updates=[(E, E - 0.1 * sg.grad(cost, E))], mode=mode)
    f.trust_input = True
    inputs = (rng.integers(0, vocab, n_ids).astype(np.int32),
              rng.random((n_ids, hidden), dtype=np.float32))
    return f, inputs, E


def time_per_call(f, inputs, repeats, calls):
    """Median seconds per call over ``repeats`` loops of ``calls`` calls."""
    f(*inputs)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(calls):
            f(*inputs)
        times.append((time.perf_counter() - start) / calls)
    return statistics.median(times)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vocab", type=int, default=1000)
    parser.add_argument("--hidden", type=int, nargs="+", default=[50, 500, 2000])
    parser.add_argument("--ids", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--calls", type=int, default=200)
    args = parser.parse_args(argv)
    pin_threads(1)
    print(f"V={args.vocab}, {args.ids} ids per call, float32; us per call (median)")
    print(f"{'H':>6} {'before':>10} {'after':>10} {'speed-up':>9}")
    for hidden in args.hidden:
        row = []
        for exclude in (SPARSE_UPDATE_REWRITES, ()):
            f, inputs, _ = build(args.vocab, hidden, args.ids, exclude)
            row.append(time_per_call(f, inputs, args.repeats, args.calls) * 1e6)
        print(f"{hidden:>6} {row[0]:>10.1f} {row[1]:>10.1f} {row[0] / row[1]:>8.1f}x")


if __name__ == "__main__":
    main()
