"""conv2d training work: forward plus both gradients, images per second, symgraph and peers.

One step of a layer is what training does with it: ``y = conv2d(x, w)`` and, given an
output gradient, the gradients with respect to the images and the filters.  Layers
(float32, valid mode, stride 1, correlation, i.e. ``filter_flip=False``, as the peers):

- ``lenet-1``: batch 64, 1x28x28 images, 20 5x5 filters;
- ``lenet-2``: batch 64, 20x12x12 (after a 2x2 pool), 50 5x5 filters;
- ``audio-1``: batch 128, 1x11x40 windows (11 frames of 40 mel bands), 32 3x3 filters;
- ``audio-2``: batch 128, 32x4x19 (after a 2x2 pool), 32 2x2 filters.

Implementations: symgraph's ``py`` and ``cvm`` linkers, hand-written NumPy (im2col through
``sliding_window_view`` + ``tensordot``) and PyTorch eager autograd on the CPU when it is
installed.  Each is first checked against a float64 NumPy step, then timed window by
window in turn (load from other processes falls on all alike).

    python benchmarks/run_conv.py --threads 1 --json benchmarks/results/DATE_conv_full_t1.json
    python benchmarks/run_conv.py --quick
"""
import argparse
import json
import os
import statistics
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO not in sys.path:
    sys.path.insert(0, REPO)

from benchmarks.threads import pin_threads  # noqa: E402  (imports no NumPy)

# name: (batch, (channels, height, width), (filters, kh, kw))
LAYERS = {
    "lenet-1": (64, (1, 28, 28), (20, 5, 5)),
    "lenet-2": (64, (20, 12, 12), (50, 5, 5)),
    "audio-1": (128, (1, 11, 40), (32, 3, 3)),
    "audio-2": (128, (32, 4, 19), (32, 2, 2)),
}
IMPLS = (("symgraph", "py"), ("symgraph", "cvm"), ("numpy", "numpy"), ("torch", "eager"))
CHECK_TOLERANCE = 1e-3  # largest error over the largest value, float32 against float64


class Unavailable(Exception):
    """The implementation cannot run here; the message says why."""


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="short warm-up and windows")
    p.add_argument("--threads", type=int, default=1, help="BLAS/OpenMP threads (default 1)")
    p.add_argument("--layers", default=",".join(LAYERS), help="subset of " + ",".join(LAYERS))
    p.add_argument("--impls", default="symgraph,numpy,torch", help="subset of symgraph,numpy,torch")
    p.add_argument("--windows", type=int, help="timed windows per measurement")
    p.add_argument("--window-s", type=float, help="seconds per window")
    p.add_argument("--warmup-s", type=float, help="seconds of warm-up")
    p.add_argument("--json", metavar="PATH", help="write {machine, settings, notes, results}")
    return p.parse_args(argv)


def _budget(args):
    from benchmarks.timing import FULL, QUICK, Budget

    base = QUICK if args.quick else FULL
    return Budget(base.warmup_s if args.warmup_s is None else args.warmup_s,
                  base.window_s if args.window_s is None else args.window_s,
                  base.n_windows if args.windows is None else args.windows)


# -- the implementations: each make_* returns step(x, w, top) -> (y, dx, dw) ----------
def numpy_step(x, w, top):
    """Valid, stride-1 correlation and its two gradients, written out in NumPy."""
    import numpy as np

    windows = np.lib.stride_tricks.sliding_window_view
    kh, kw = w.shape[2:]
    cols = windows(x, (kh, kw), axis=(2, 3))  # (N, C, Ho, Wo, kh, kw), no copy
    y = np.tensordot(cols, w, axes=([1, 4, 5], [1, 2, 3])).transpose(0, 3, 1, 2)
    dw = np.tensordot(top, cols, axes=([0, 2, 3], [0, 2, 3]))
    # the image gradient: the full correlation of top with the rotated filters
    padded = np.pad(top, ((0, 0), (0, 0), (kh - 1, kh - 1), (kw - 1, kw - 1)))
    dx = np.tensordot(windows(padded, (kh, kw), axis=(2, 3)), w[:, :, ::-1, ::-1],
                      axes=([1, 4, 5], [0, 2, 3])).transpose(0, 3, 1, 2)
    return y, dx, dw


def make_numpy(variant, threads):
    return numpy_step


def make_symgraph(variant, threads):
    import symgraph as sg
    import symgraph.tensor as T
    from symgraph.gradient import Lop

    x, w, top = (T.tensor4(name, dtype="float32") for name in ("x", "w", "top"))
    y = T.nnet.conv2d(x, w, filter_flip=False)
    dx, dw = Lop(y, [x, w], top)
    f = sg.function([x, w, top], [y, dx, dw], mode=sg.Mode(linker=variant))
    f.trust_input = True  # the inputs are float32 arrays already: time the work, not checks
    return f


def make_torch(variant, threads):
    try:
        import torch
    except ImportError:
        raise Unavailable("PyTorch is not installed") from None
    torch.set_num_threads(threads)
    conv2d = torch.nn.functional.conv2d

    def step(x, w, top):
        xt = torch.from_numpy(x).requires_grad_()
        wt = torch.from_numpy(w).requires_grad_()
        y = conv2d(xt, wt)
        dx, dw = torch.autograd.grad(y, [xt, wt], torch.from_numpy(top))
        return y.detach().numpy(), dx.numpy(), dw.numpy()

    return step


MAKERS = {"symgraph": make_symgraph, "numpy": make_numpy, "torch": make_torch}


# -- checking and timing ------------------------------------------------------------
def layer_data(name, rng):
    batch, (c, h, w), (o, kh, kw) = LAYERS[name]
    x = rng.normal(size=(batch, c, h, w)).astype("float32")
    filters = (rng.normal(size=(o, c, kh, kw)) / (c * kh * kw) ** 0.5).astype("float32")
    top = rng.normal(size=(batch, o, h - kh + 1, w - kw + 1)).astype("float32")
    return x, filters, top


def check_error(step, data):
    """The largest deviation from the float64 NumPy step, over the largest reference value."""
    import numpy as np

    want = numpy_step(*[a.astype("float64") for a in data])
    got = step(*data)
    return max(float(np.abs(np.asarray(g, "float64") - e).max() / max(np.abs(e).max(), 1e-30))
               for g, e in zip(got, want))


class Timed:
    """One implementation on one layer: its step, chunk size and window rates."""

    def __init__(self, impl, variant, step, data, compile_s, error):
        from benchmarks.timing import steps_per_chunk

        self.impl, self.variant, self.step, self.data = impl, variant, step, data
        self.compile_s, self.error, self.runs = compile_s, error, []
        start = time.perf_counter()
        step(*data)
        self.steps = steps_per_chunk(time.perf_counter() - start, target_s=0.02)

    def chunk(self):
        for _ in range(self.steps):
            self.step(*self.data)
        return self.steps * self.data[0].shape[0]


def prepare(impl, variant, data, threads):
    start = time.perf_counter()
    step = MAKERS[impl](variant, threads)
    step(*data)
    compile_s = time.perf_counter() - start
    return Timed(impl, variant, step, data, compile_s, check_error(step, data))


def measure_layer(name, candidates, budget, threads):
    """Warm every candidate up, then time them window by window in turn."""
    from benchmarks.timing import run_for

    for c in candidates:
        run_for(c.chunk, budget.warmup_s)
    for _ in range(budget.n_windows):
        for c in candidates:
            images, elapsed = run_for(c.chunk, budget.window_s)
            c.runs.append(images / elapsed)
    batch, image, filters = LAYERS[name]
    return [{"arch": name, "batch": batch, "image": list(image), "filters": list(filters),
             "impl": c.impl, "variant": c.variant, "threads": threads,
             "examples_per_sec": statistics.median(c.runs), "runs": c.runs, "per_call": True,
             "steps_per_chunk": c.steps, "compile_s": round(c.compile_s, 3),
             "check_error": c.error,
             "check": "ok" if c.error <= CHECK_TOLERANCE else "FAILED"} for c in candidates]


def run_benchmark(args, notes):
    import numpy as np

    wanted = [i.strip() for i in args.impls.split(",")]
    budget, records = _budget(args), []
    for name in [n.strip() for n in args.layers.split(",")]:
        if name not in LAYERS:
            raise SystemExit(f"unknown layer {name!r}: choose from {', '.join(LAYERS)}")
        data = layer_data(name, np.random.default_rng(0))
        candidates = []
        for impl, variant in IMPLS:
            if impl not in wanted:
                continue
            try:
                candidates.append(prepare(impl, variant, data, args.threads))
            except Unavailable as exc:
                if f"{impl}/{variant}: {exc}" not in notes:
                    notes.append(f"{impl}/{variant}: {exc}")
        print(f"timing {name}: {len(candidates)} implementations, interleaved",
              file=sys.stderr, flush=True)
        records += measure_layer(name, candidates, budget, args.threads)
    return records


def ratio_lines(records):
    """symgraph's cvm and py rates over each peer's, per layer."""
    lines = []
    for name in dict.fromkeys(r["arch"] for r in records):
        rate = {(r["impl"], r["variant"]): r["examples_per_sec"]
                for r in records if r["arch"] == name}
        parts = [f"{mine}/{peer} {rate[('symgraph', mine)] / rate[key]:.2f}x"
                 for mine in ("cvm", "py") if ("symgraph", mine) in rate
                 for key, peer in ((("numpy", "numpy"), "numpy"), (("torch", "eager"), "torch"))
                 if key in rate]
        lines.append(f"{name}: " + ", ".join(parts))
    return lines


def main(argv=None):
    args = parse_args(argv)
    pin_threads(args.threads)
    from benchmarks import report
    from benchmarks.machine import describe_machine, machine_line

    notes, started = [], time.time()
    records = run_benchmark(args, notes)
    machine = describe_machine(args.threads)
    budget = _budget(args)
    print(machine_line(machine))
    print(f"float32 conv2d forward + both gradients, images/s, median of {budget.n_windows} "
          f"windows of {budget.window_s}s ('!' marks a failed check)")
    print(report.format_table(records))
    print("\n".join(ratio_lines(records)))
    for note in notes:
        print(f"note: {note}")
    failed = [r for r in records if r["check"] == "FAILED"]
    for r in failed:
        print(f"warning: {r['impl']}/{r['variant']} on {r['arch']} differs from the NumPy step "
              f"(relative error {r['check_error']:.2e})")
    if args.json:
        settings = {"quick": args.quick, "budget": vars(budget), "argv": sys.argv[1:],
                    "wall_s": round(time.time() - started, 1), "layers": LAYERS}
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        with open(args.json, "w") as f:
            json.dump({"machine": machine, "settings": settings, "notes": notes,
                       "results": records}, f, indent=1)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
