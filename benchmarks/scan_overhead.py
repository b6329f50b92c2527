"""Per-step overhead of Scan's loop: the C loop (csrc/scan_loop.c) against the Python loop.

The step is an Elman RNN's, ``h_t = tanh(x_t W + h_{t-1} W_h + b)`` (float64), at
H = 50 by default, where the loop's overhead is a large share of a step.  Printed, in
microseconds of process CPU time per step (the best and the median over repeats of a
T-step scan; on a busy machine the best is the least disturbed run, and CPU time leaves
out the time spent waiting for a core):

- ``scan, C loop`` and ``scan, Python loop``: a call of the compiled scan, divided by T;
- ``arithmetic (hand-written C)``: the same T steps written in C on the same BLAS (two
  dgemv, the bias, tanh) in one call: the arithmetic alone;
- ``overhead``: each loop's time per step beyond the arithmetic (the target for the C
  loop: under 2 us at H = 50);
- for a step with no arithmetic to speak of (``h_t = h_{t-1} + x_t`` on scalars): the
  time per step of both loops, and the fixed cost of a call (a one-step scan).

Both are measured with the inner function's C VM keeping its buffers from step to step
(the default, ``cvm_nogc``) and freeing them after their last use (``cvm``).

    python benchmarks/scan_overhead.py [--hidden 50] [--steps 1000] [--repeats 30]
"""
import argparse
import contextlib
import os
import statistics
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO not in sys.path:
    sys.path.insert(0, REPO)

from benchmarks.threads import pin_threads  # noqa: E402  (imports no NumPy)

_ELMAN_C = r"""
#include <math.h>
#include <string.h>
typedef void (*dgemv_fn)(char *, int *, int *, double *, double *, int *, double *, int *,
                         double *, double *, int *);

/* hs[t] = tanh(xs[t] W + hs[t-1] Wh + b), hs[-1] = h0; W, Wh row-major H x H. */
void elman_forward(dgemv_fn dgemv, int T, int H, const double *xs, const double *h0,
                   const double *W, const double *Wh, const double *b, double *hs)
{
    char trans = 'N';
    int one = 1;
    double alpha = 1.0, beta = 1.0;
    for (int t = 0; t < T; t++) {
        double *h = hs + (long)t * H;
        const double *prev = t ? h - H : h0;
        memcpy(h, b, sizeof(double) * H);
        /* row vector times row-major matrix = BLAS column-major W^T times the vector */
        dgemv(&trans, &H, &H, &alpha, (double *)W, &H, (double *)(xs + (long)t * H), &one,
              &beta, h, &one);
        dgemv(&trans, &H, &H, &alpha, (double *)Wh, &H, (double *)prev, &one, &beta, h, &one);
        for (int j = 0; j < H; j++)
            h[j] = tanh(h[j]);
    }
}
"""
_ELMAN_CDEF = """
typedef void (*dgemv_fn)(char *, int *, int *, double *, double *, int *, double *, int *,
                         double *, double *, int *);
void elman_forward(dgemv_fn dgemv, int T, int H, const double *xs, const double *h0,
                   const double *W, const double *Wh, const double *b, double *hs);
"""
VARIANTS = {"keeps buffers (cvm_nogc, default)": True, "frees buffers (cvm)": False}


def time_interleaved(runs, repeats):
    """``{name: (best, median)}`` in us per step: ``runs[name] = (run, steps)``, where
    ``run()`` runs ``steps`` steps; the runs are timed in turn, round after round, so that
    load from other processes falls on all of them alike.  The clock is the process's CPU
    time (the benchmark runs one thread)."""
    for run, _ in runs.values():
        run()  # warm-up (and compilation)
    times = {name: [] for name in runs}
    for _ in range(repeats):
        for name, (run, steps) in runs.items():
            start = time.process_time()
            run()
            times[name].append((time.process_time() - start) / steps * 1e6)
    return {name: (min(t), statistics.median(t)) for name, t in times.items()}


@contextlib.contextmanager
def inner_buffers(keep):
    """Scans built inside keep their inner C VM's buffers across steps (the default) or
    free them after their last use."""
    from symgraph.compile.mode import get_mode
    from symgraph.scan import op

    default = op._inner_mode
    if not keep:
        op._inner_mode = get_mode
    try:
        yield
    finally:
        op._inner_mode = default


def elman_scan(hidden, rng):
    """A compiled Elman scan ``(X, h0) -> hs`` (C VM inside and out), and its weights."""
    import symgraph as sg
    import symgraph.tensor as T
    from symgraph.scan import scan

    W = rng.normal(size=(hidden, hidden)) / hidden ** 0.5
    Wh = rng.normal(size=(hidden, hidden)) / hidden ** 0.5
    b = rng.normal(size=hidden)
    X, h0 = T.matrix("X", dtype="float64"), T.vector("h0", dtype="float64")
    Wv, Whv, bv = (sg.shared(v, name=n) for v, n in ((W, "W"), (Wh, "Wh"), (b, "b")))
    mode = sg.Mode(linker="cvm")
    hs, _ = scan(lambda x, h, W, Wh, b: T.tanh(T.dot(x, W) + T.dot(h, Wh) + b),
                 sequences=X, outputs_info=h0, non_sequences=[Wv, Whv, bv], mode=mode)
    fn = sg.function([X, h0], hs, mode=mode)
    fn(*(np_zeros(hidden)))  # compile the inner function now (inside inner_buffers)
    return fn, (W, Wh, b)


def np_zeros(hidden):
    import numpy as np

    return np.zeros((1, hidden)), np.zeros(hidden)


def cumulative_scan():
    import numpy as np
    import symgraph as sg
    import symgraph.tensor as T
    from symgraph.scan import scan

    x, h0 = T.dvector("x"), T.dscalar("h0")
    mode = sg.Mode(linker="cvm")
    hs, _ = scan(lambda x_t, h: h + x_t, sequences=x, outputs_info=h0, mode=mode)
    fn = sg.function([x, h0], hs, mode=mode)
    fn(np.zeros(1), np.float64(0))
    return fn


def loop_runs(fn, args, calls=1):
    """``{"c": run, "python": run}``: ``calls`` calls ``fn(*args)`` with the C loop, with
    the Python loop."""
    import contextlib

    from symgraph.scan import loop

    def with_loop(loops):
        def run():
            with loops():
                for _ in range(calls):
                    fn(*args)
        return run

    return {"c": with_loop(contextlib.nullcontext), "python": with_loop(loop.python_loops)}


def arithmetic_run(args, weights):
    """The Elman forward pass hand-written in C on SciPy's dgemv: ``(run, hs)``, the
    states written into ``hs`` by each run."""
    import numpy as np

    from benchmarks.reference.blas import blas_address
    from benchmarks.reference.build import DEFAULT_CACHE, build_c_module

    folder = os.path.join(DEFAULT_CACHE, "scan_overhead")
    os.makedirs(folder, exist_ok=True)
    source = os.path.join(folder, "elman_forward.c")
    with open(source, "w") as f:
        f.write(_ELMAN_C)
    module = build_c_module(source, _ELMAN_CDEF, "_scan_overhead_elman")
    ffi, lib = module.ffi, module.lib
    X, h0 = (np.ascontiguousarray(a) for a in args)
    W, Wh, b = (np.ascontiguousarray(a) for a in weights)
    hs = np.empty_like(X)
    dgemv = ffi.cast("dgemv_fn", blas_address("dgemv"))
    T, H = X.shape

    def ptr(a):
        return ffi.cast("double *", a.ctypes.data)

    def run():
        lib.elman_forward(dgemv, T, H, ptr(X), ptr(h0), ptr(W), ptr(Wh), ptr(b), ptr(hs))

    return run, hs


def measure(hidden, steps, repeats, rng):
    """Every figure, per variant: ``{variant: {name: (best, median)}}`` in us/step."""
    import numpy as np

    args = (rng.normal(size=(steps, hidden)), rng.normal(size=hidden))
    small_args = (rng.normal(size=steps), np.float64(0.5))
    one_step = (rng.normal(size=1), np.float64(0.5))
    runs, checks = {}, []
    for variant, keep in VARIANTS.items():
        with inner_buffers(keep):
            elman, weights = elman_scan(hidden, rng)
            cumulative = cumulative_scan()
        for loop_kind, run in loop_runs(elman, args).items():
            runs[variant, f"elman {loop_kind}"] = (run, steps)
        for loop_kind, run in loop_runs(cumulative, small_args).items():
            runs[variant, f"scalar {loop_kind}"] = (run, steps)
        for loop_kind, run in loop_runs(cumulative, one_step, calls=200).items():
            runs[variant, f"one step {loop_kind}"] = (run, 200)
        arithmetic, reference = arithmetic_run(args, weights)
        runs[variant, "elman arithmetic"] = (arithmetic, steps)
        checks.append((elman, reference))
    figures = time_interleaved(runs, repeats)
    for elman, reference in checks:  # the same states as the hand-written C
        np.testing.assert_allclose(elman(*args), reference, rtol=1e-10, atol=1e-12)
    return {variant: {name: value for (v, name), value in figures.items() if v == variant}
            for variant in VARIANTS}


def report(figures, hidden, variant):
    def row(label, best, median):
        print(f"  {label:36s} {best:8.3f} {median:8.3f}")

    def difference(label, key, minus):
        row(label, figures[key][0] - figures[minus][0], figures[key][1] - figures[minus][1])

    print(f"inner C VM {variant}:")
    print(f" Elman step, H = {hidden}, us/step{'best':>24s} {'median':>8s}")
    row("scan, C loop", *figures["elman c"])
    row("scan, Python loop", *figures["elman python"])
    row("arithmetic (hand-written C)", *figures["elman arithmetic"])
    difference("overhead, C loop", "elman c", "elman arithmetic")
    difference("overhead, Python loop", "elman python", "elman arithmetic")
    print(" scalar step h + x_t, us/step:")
    row("scan, C loop", *figures["scalar c"])
    row("scan, Python loop", *figures["scalar python"])
    print(" a one-step scalar scan, us/call (the fixed cost of a call):")
    row("scan, C loop", *figures["one step c"])
    row("scan, Python loop", *figures["one step python"])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--hidden", type=int, default=50)
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--threads", type=int, default=1)
    opts = parser.parse_args(argv)
    pin_threads(opts.threads)
    import numpy as np

    import symgraph as sg

    print(f"Scan loop overhead: process CPU time, T = {opts.steps} steps, best and median of "
          f"{opts.repeats} runs, {opts.threads} thread(s), float64, "
          f"config.openmp={sg.config.openmp}")
    results = measure(opts.hidden, opts.steps, opts.repeats, np.random.default_rng(0))
    for variant, figures in results.items():
        report(figures, opts.hidden, variant)
    return results


if __name__ == "__main__":
    main()
