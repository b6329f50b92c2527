"""The Theano paper's Figure 1: SGD training speed of an MLP, symgraph beside its peers.

Float32 SGD (learning rate 0.01) with a 10-class softmax + negative log-likelihood
on 784-dim inputs and tanh hidden layers, for the architectures 784-10, 784-500-10
and 784-1000-1000-1000-10 at batch sizes 1, 10 and 60.  Each implementation is
checked against a NumPy step, then timed: examples per second over fixed
wall-time windows after a warm-up, the median of the windows.

    python benchmarks/run_mlp.py                      # quick: about a minute
    python benchmarks/run_mlp.py --full --threads 1 --json out.json --plot out.png

Columns: symgraph's variants, ``limit(C)`` (the hand-written C + BLAS step of
benchmarks/reference/, many steps per call), then the peers; ``sg/peer`` is
symgraph's best per-call rate over the best per-call peer's, ``sg/limit`` its
best rate over the C reference's.
"""
import argparse
import json
import os
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO not in sys.path:
    sys.path.insert(0, REPO)

from benchmarks.threads import available_cpus, pin_threads  # noqa: E402  (imports no NumPy)

QUICK_IMPLS = ("symgraph", "reference", "numpy", "torch", "jax", "jax_loop")
ALL_IMPLS = ("symgraph", "reference", "numpy", "torch", "torch_compile", "jax", "jax_loop",
             "pytensor")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--full", action="store_true",
                   help="every peer, longer warm-up and windows (several minutes)")
    p.add_argument("--threads", type=int, default=1,
                   help="BLAS/OpenMP threads for every implementation (default 1)")
    p.add_argument("--impls", help=f"comma-separated subset of {','.join(ALL_IMPLS)} "
                                   f"(default: all with --full, else {','.join(QUICK_IMPLS)})")
    p.add_argument("--archs", default="a,b,c", help="subset of a (784-10), b (784-500-10), "
                                                     "c (784-1000x3-10)")
    p.add_argument("--batches", default="1,10,60", help="batch sizes")
    p.add_argument("--bind-cpus", action="store_true",
                   help="also bind the process to --threads CPUs (sched_setaffinity)")
    p.add_argument("--data", choices=("random", "fashion-mnist"), default="random")
    p.add_argument("--windows", type=int, help="timed windows per measurement")
    p.add_argument("--window-s", type=float, help="seconds per window")
    p.add_argument("--warmup-s", type=float, help="seconds of warm-up before the windows")
    p.add_argument("--json", metavar="PATH", help="write {machine, results} as JSON")
    p.add_argument("--plot", metavar="PATH", help="write a bar chart (needs matplotlib)")
    args = p.parse_args(argv)
    if args.threads < 1:
        p.error("--threads must be at least 1")
    return args


def _budget(args):
    from benchmarks.timing import FULL, QUICK, Budget

    base = FULL if args.full else QUICK
    return Budget(args.warmup_s if args.warmup_s is not None else base.warmup_s,
                  args.window_s if args.window_s is not None else base.window_s,
                  args.windows if args.windows is not None else base.n_windows)


def _load_data(kind, notes):
    from benchmarks import mlp_spec

    if kind == "fashion-mnist":
        if mlp_spec.fashion_mnist_available():
            return mlp_spec.load_fashion_mnist(), "fashion-mnist"
        notes.append(f"--data fashion-mnist: {mlp_spec.FASHION_MNIST_DIR} is not installed; "
                     f"used random normal data instead")
    return mlp_spec.make_data(), "random"


def _progress(message):
    print(message, file=sys.stderr, flush=True)


def run_benchmark(args, notes):
    """Every (arch, batch, impl, variant) measurement, as records."""
    from benchmarks import mlp_spec
    from benchmarks.harness import measure_interleaved, prepare, reference_update
    from benchmarks.impls import Problem, Unavailable, load_all

    wanted = args.impls.split(",") if args.impls else (ALL_IMPLS if args.full else QUICK_IMPLS)
    unknown = set(wanted) - set(ALL_IMPLS)
    if unknown:
        raise SystemExit(f"unknown implementations: {', '.join(sorted(unknown))}")
    skipped = [i for i in ALL_IMPLS if i not in wanted]
    if skipped:
        notes.append(f"not run: {', '.join(skipped)} (use --full or --impls to include)")
    entries = [e for e in load_all() if e[0] in wanted]
    (X, Y), data_name = _load_data(args.data, notes)
    budget = _budget(args)
    archs = [mlp_spec.ARCHITECTURES[a.strip()] for a in args.archs.split(",")]
    batches = [int(b) for b in args.batches.split(",")]
    unavailable = {}  # (impl, variant) -> reason: not retried in later cells
    records, total, done = [], len(archs) * len(batches) * len(entries), 0
    for sizes in archs:
        params = mlp_spec.init_params(sizes)
        for batch in batches:
            problem = Problem(sizes, batch, params, X, Y, mlp_spec.LEARNING_RATE, args.threads)
            expected = reference_update(problem)
            candidates = []
            for impl, variant, module in entries:
                done += 1
                label = f"[{done}/{total}] {mlp_spec.arch_name(sizes)} batch {batch} " \
                        f"{impl}/{variant}"
                if (impl, variant) in unavailable:
                    continue
                try:
                    candidates.append(prepare(module, impl, variant, problem, expected))
                except Unavailable as exc:
                    unavailable[(impl, variant)] = str(exc)
                    _progress(f"{label}: not available: {exc}")
                    continue
                except Exception as exc:  # a peer's failure is a note, never the end of the run
                    first_line = str(exc).splitlines()[0] if str(exc) else ""
                    notes.append(f"{impl}/{variant} failed on {mlp_spec.arch_name(sizes)} "
                                 f"batch {batch}: {type(exc).__name__}: {first_line}")
                    _progress(f"{label}: FAILED: {type(exc).__name__}: {first_line}")
                    continue
                _progress(f"{label}: built in {candidates[-1].compile_s:.1f}s")
            _progress(f"timing {mlp_spec.arch_name(sizes)} batch {batch}: "
                      f"{len(candidates)} implementations, interleaved")
            for record in measure_interleaved(candidates, budget):
                record["data"] = data_name
                records.append(record)
                _progress(f"  {record['impl']}/{record['variant']}: "
                          f"{record['examples_per_sec']:,.0f} examples/s (check {record['check']})")
    notes += [f"{impl}/{variant}: not available: {why}"
              for (impl, variant), why in unavailable.items()]
    return records


def _environment_notes(notes, records):
    if any(r["impl"] == "symgraph" for r in records):
        from benchmarks.impls.symgraph_mlp import softmax_source

        notes.append(f"symgraph softmax: {softmax_source()}")
    if any(r["impl"] == "pytensor" for r in records):
        from benchmarks.impls.pytensor_mlp import blas_note

        notes.append(blas_note())
    for r in records:
        if r["cpu_per_wall"] > r["threads"] + 0.3:
            notes.append(f"{r['impl']}/{r['variant']} {r['arch']} batch {r['batch']} used "
                         f"{r['cpu_per_wall']:.2f} CPU seconds per second with --threads "
                         f"{r['threads']}")


def main(argv=None):
    args = parse_args(argv)
    if args.threads > available_cpus():
        print(f"note: --threads {args.threads} exceeds the {available_cpus()} CPUs available",
              file=sys.stderr)
    pin_threads(args.threads, bind=args.bind_cpus)
    from benchmarks import report
    from benchmarks.machine import describe_machine, machine_line

    notes, started = [], time.time()
    load_at_start = list(os.getloadavg()) if hasattr(os, "getloadavg") else None
    records = run_benchmark(args, notes)
    _environment_notes(notes, records)
    machine = describe_machine(args.threads)
    print(machine_line(machine))
    print(f"float32 SGD, lr 0.01, examples/s, median of {_budget(args).n_windows} windows of "
          f"{_budget(args).window_s}s ('!' marks a failed check)")
    print(report.format_table(records))
    for line in report.target_lines(records):
        print(line)
    for note in notes:
        print(f"note: {note}")
    failed = [r for r in records if r["check"] == "FAILED"]
    for r in failed:
        print(f"warning: {r['impl']}/{r['variant']} {r['arch']} batch {r['batch']} differs from "
              f"the NumPy step (relative error {r['check_error']:.2e})")
    settings = {"full": args.full, "data": args.data, "budget": vars(_budget(args)),
                "load_at_start": load_at_start, "bind_cpus": args.bind_cpus,
                "wall_s": round(time.time() - started, 1), "argv": sys.argv[1:]}
    if args.json:
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        with open(args.json, "w") as f:
            json.dump({"machine": machine, "settings": settings, "notes": notes,
                       "results": records}, f, indent=1)
    title = (f"float32 SGD training, examples/s: {machine['cpu']}, threads={args.threads}, "
             f"{machine['date'][:10]}, commit {(machine['commit'] or '?')[:10]}")
    if args.plot and not report.plot(records, args.plot, title):
        print("note: --plot skipped: matplotlib is not installed", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
