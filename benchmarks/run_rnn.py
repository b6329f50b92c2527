"""The Theano paper's recurrent benchmark: BPTT training speed of an RNN language model,
symgraph beside its peers.

An Elman (tanh) layer, and an LSTM layer, trained as RNNLM trains: batch size 1, word
ids in (the one-hot input product is the row lookup ``E[x_t]``), a softmax over the
V = 1000 words out, the mean NLL of the next words, full backpropagation through time
over sequences of T = 20 words, one float32 SGD update (learning rate 0.1) per sequence;
hidden sizes H = 50, 100, 200 and 500.  The model is written out in
benchmarks/impls_rnn/spec.py.  Each implementation is checked against the NumPy step
(same initial weights, same sequence, same update within 0.2%), then timed: sequence
elements (words) per second over fixed wall-time windows after a warm-up, the median
of the windows, the implementations of one cell timed window by window in turn.

    python benchmarks/run_rnn.py                       # quick: a few minutes
    python benchmarks/run_rnn.py --full --threads 1 --json out.json --plot out.png

Columns: symgraph's variants, ``limit(C)`` (the hand-written C + BLAS step of
benchmarks/reference/rnn_step.c, many steps per call), then the peers; ``sg/peer`` is
symgraph's best per-call rate over the best per-call peer's, ``sg/limit`` its best rate
over the C reference's.

The per-step overhead of symgraph's scan loop is measured at H = 50 (Elman), from the
time per sequence at T = 20 and at T = 10, ``(t(20) - t(10)) / 10``: for the whole
training step (symgraph, NumPy, C), and for the loops alone (the time in symgraph's Scan
nodes from its profiler, against the C step with V = 1, which is the recurrence's
arithmetic); see benchmarks/impls_rnn/overhead.py.  ``--no-overhead`` skips it.
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

ALL_IMPLS = ("symgraph", "reference", "numpy", "torch", "jax", "jax_loop")
MODELS = ("elman", "lstm")
# The RNNLM toolkit (0.3e, full softmax, -class 1), Elman, V = 1000, T = 20, 1 thread,
# sequence elements/s, measured on this machine when the benchmark was specified (issue 6);
# not measured by this script.
RNNLM_ANCHORS = {50: 15.0e3, 100: 6.1e3, 200: 2.8e3, 500: 0.73e3}


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true",
                      help="short warm-up and windows (the default)")
    mode.add_argument("--full", action="store_true", help="longer warm-up and windows")
    p.add_argument("--threads", type=int, default=1,
                   help="BLAS/OpenMP threads for every implementation (default 1)")
    p.add_argument("--impls", default=",".join(ALL_IMPLS),
                   help=f"comma-separated subset of {','.join(ALL_IMPLS)}")
    p.add_argument("--models", default=",".join(MODELS), help="subset of elman,lstm")
    p.add_argument("--sizes", default="50,100,200,500", help="hidden sizes")
    p.add_argument("--vocab", type=int, default=1000, help="vocabulary size V")
    p.add_argument("--seq-len", type=int, default=20, help="sequence length T")
    p.add_argument("--no-overhead", dest="overhead", action="store_false",
                   help="skip the per-step overhead measurement")
    p.add_argument("--bind-cpus", action="store_true",
                   help="also bind the process to --threads CPUs (sched_setaffinity)")
    p.add_argument("--windows", type=int, help="timed windows per measurement")
    p.add_argument("--window-s", type=float, help="seconds per window")
    p.add_argument("--warmup-s", type=float, help="seconds of warm-up before the windows")
    p.add_argument("--json", metavar="PATH", help="write {machine, settings, notes, results}")
    p.add_argument("--plot", metavar="PATH", help="write a bar chart (needs matplotlib)")
    args = p.parse_args(argv)
    if args.threads < 1:
        p.error("--threads must be at least 1")
    args.impls = [s.strip() for s in args.impls.split(",") if s.strip()]
    args.models = [s.strip() for s in args.models.split(",") if s.strip()]
    args.sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    unknown = (set(args.impls) - set(ALL_IMPLS)) | (set(args.models) - set(MODELS))
    if unknown:
        p.error(f"unknown implementations or models: {', '.join(sorted(unknown))}")
    return args


def _budget(args):
    from benchmarks.timing import FULL, QUICK, Budget

    base = FULL if args.full else QUICK
    return Budget(args.warmup_s if args.warmup_s is not None else base.warmup_s,
                  args.window_s if args.window_s is not None else base.window_s,
                  args.windows if args.windows is not None else base.n_windows)


def _progress(message):
    print(message, file=sys.stderr, flush=True)


def _first_line(exc):
    text = str(exc)
    return f"{type(exc).__name__}: {text.splitlines()[0] if text else ''}"


def prepare_all(entries, problem, unavailable, notes, label):
    """Build and check every implementation on ``problem``; the candidates ready to time.
    ``unavailable`` collects ``(impl, variant) -> reason`` so that they are not retried."""
    from benchmarks.harness import prepare
    from benchmarks.impls import Unavailable

    expected = problem.reference_update()
    candidates = []
    for impl, variant, module in entries:
        if (impl, variant) in unavailable:
            continue
        where = f"{label} {impl}/{variant}"
        try:
            candidates.append(prepare(module, impl, variant, problem, expected))
        except Unavailable as exc:
            unavailable[(impl, variant)] = str(exc)
            _progress(f"{where}: not available: {exc}")
            continue
        except Exception as exc:  # a peer's failure is a note, never the end of the run
            notes.append(f"{impl}/{variant} failed on {problem.arch}: {_first_line(exc)}")
            _progress(f"{where}: FAILED: {_first_line(exc)}")
            continue
        c = candidates[-1]
        _progress(f"{where}: built and checked in {c.compile_s:.1f}s "
                  f"(update error {c.error:.1e})")
    return candidates


def run_benchmark(args, notes, unavailable):
    """Every (model, H, impl, variant) measurement, as records."""
    from benchmarks.harness import measure_interleaved
    from benchmarks.impls_rnn import RNNProblem, load_all

    entries = [e for e in load_all() if e[0] in args.impls]
    budget = _budget(args)
    records, cells = [], [(m, h) for m in args.models for h in args.sizes]
    for k, (model, hidden) in enumerate(cells, 1):
        problem = RNNProblem(model, hidden, args.vocab, args.seq_len, threads=args.threads)
        label = f"[{k}/{len(cells)}] {model} H={hidden}"
        candidates = prepare_all(entries, problem, unavailable, notes, label)
        _progress(f"{label}: timing {len(candidates)} implementations, interleaved")
        for record in measure_interleaved(candidates, budget):
            records.append(record)
            _progress(f"  {record['impl']}/{record['variant']}: "
                      f"{record['examples_per_sec']:,.0f} elements/s (check {record['check']})")
    return records


def measure_overhead(args, notes, unavailable):
    """Both per-step measurements of benchmarks/impls_rnn/overhead.py."""
    from benchmarks.impls_rnn import overhead

    def prepare_for(entries, problem, label):
        return prepare_all(entries, problem, unavailable, notes, label)

    _progress("[overhead] whole training step at T = 10 and T = 20, interleaved")
    marginal = overhead.marginal_step_times(args.vocab, args.threads, _budget(args),
                                            prepare_for, args.impls)
    scans = {}
    if "symgraph" in args.impls and "reference" in args.impls:
        _progress("[overhead] symgraph's Scan nodes (profiler) and the C recurrence (V = 1)")
        try:
            scans = overhead.scan_loop_times(args.vocab, args.threads, _budget(args))
        except ImportError as exc:  # the C reference needs cffi and scipy
            notes.append(f"scan loop overhead not measured: {exc}")
    return {"marginal": marginal, "scan_loops": scans}


def format_table(records):
    """One row per model and hidden size: elements/s of every implementation, then ratios."""
    from benchmarks import report

    columns = report.columns_of(records)
    header = ["model", "H"] + [report.column_label(*c) for c in columns] + ["sg/peer",
                                                                            "sg/limit"]
    lines = [header]
    cells = {}
    for r in records:
        cells.setdefault((MODELS.index(r["model"]), r["hidden"]), []).append(r)
    for key in sorted(cells):
        cell = cells[key]
        by_key = {(r["impl"], r["variant"]): r for r in cell}
        row = [cell[0]["model"], str(cell[0]["hidden"])]
        for c in columns:
            r = by_key.get(c)
            mark = "!" if r is not None and r.get("check") == "FAILED" else ""
            row.append(report.human(r["examples_per_sec"]) + mark if r else "-")
        to_peer, to_limit = report.ratios(cell)
        row += [f"{to_peer:.2f}x" if to_peer else "-", f"{to_limit:.2f}x" if to_limit else "-"]
        lines.append(row)
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    return "\n".join("  ".join([line[0].ljust(widths[0])] +
                               [v.rjust(w) for v, w in zip(line[1:], widths[1:])]).rstrip()
                     for line in lines)


def target_lines(records, threads):
    """Issue 6's targets: symgraph (per call) >= 1.0x the best per-call peer at every H,
    and >= 4x the RNNLM anchors (Elman, 1 thread)."""
    from benchmarks import report

    worst = None
    beat_rnnlm = []
    for model in MODELS:
        for hidden in sorted({r["hidden"] for r in records if r["model"] == model}):
            cell = [r for r in records if (r["model"], r["hidden"]) == (model, hidden)]
            to_peer, _ = report.ratios(cell)
            if to_peer is not None and (worst is None or to_peer < worst[0]):
                worst = (to_peer, f"{model} H={hidden}")
            sg = [r["examples_per_sec"] for r in cell if r["impl"] == "symgraph"
                  and r.get("per_call", True)]
            if model == "elman" and sg and hidden in RNNLM_ANCHORS and threads == 1:
                beat_rnnlm.append((max(sg) / RNNLM_ANCHORS[hidden], hidden))
    lines = []
    if worst is None:
        lines.append("target: symgraph >= 1.0x best per-call peer: not measured")
    else:
        lines.append(f"target: symgraph >= 1.0x best per-call peer at every H: "
                     f"{'met' if worst[0] >= 1.0 else 'not met'} (worst {worst[0]:.2f}x, "
                     f"{worst[1]})")
    if beat_rnnlm:
        text = ", ".join(f"H={h} {ratio:.1f}x" for ratio, h in beat_rnnlm)
        verdict = "met" if min(beat_rnnlm)[0] >= 4.0 else "not met"
        lines.append(f"target: symgraph >= 4x RNNLM (issue 6's anchors, not measured here): "
                     f"{verdict} ({text})")
    return lines


def _load_line():
    if not hasattr(os, "getloadavg"):
        return None
    return [round(v, 2) for v in os.getloadavg()]


def _cpu_notes(records, notes):
    for r in records:
        if r["cpu_per_wall"] > r["threads"] + 0.3:
            notes.append(f"{r['impl']}/{r['variant']} {r['arch']} used {r['cpu_per_wall']:.2f} "
                         f"CPU seconds per second with --threads {r['threads']}")


def main(argv=None):
    args = parse_args(argv)
    if args.threads > available_cpus():
        _progress(f"note: --threads {args.threads} exceeds the {available_cpus()} CPUs "
                  f"available")
    pin_threads(args.threads, bind=args.bind_cpus)
    from benchmarks import report
    from benchmarks.machine import describe_machine, machine_line

    notes, unavailable, started, load_at_start = [], {}, time.time(), _load_line()
    skipped = [i for i in ALL_IMPLS if i not in args.impls]
    if skipped:
        notes.append(f"not run: {', '.join(skipped)} (see --impls)")
    records = run_benchmark(args, notes, unavailable)
    overhead = measure_overhead(args, notes, unavailable) if args.overhead else {}
    notes += [f"{impl}/{variant}: not available: {why}"
              for (impl, variant), why in unavailable.items()]
    _cpu_notes(records, notes)
    machine = describe_machine(args.threads)
    budget = _budget(args)
    print(machine_line(machine))
    print(f"load average at start {load_at_start}, at end {_load_line()}")
    print(f"RNN LM training, V={args.vocab}, T={args.seq_len}, batch 1, full BPTT, float32 "
          f"SGD lr 0.1: sequence elements/s, median of {budget.n_windows} windows of "
          f"{budget.window_s}s ('!' marks a failed check)")
    print(format_table(records))
    print("the same per CPU second of this process (all its threads): less sensitive to "
          "other processes' load; a library using more threads than asked pays for them")
    print(format_table([dict(r, examples_per_sec=r["examples_per_cpu_sec"]) for r in records]))
    lines = target_lines(records, args.threads)
    if overhead:
        from benchmarks.impls_rnn.overhead import overhead_lines

        lines += overhead_lines(overhead["marginal"], overhead["scan_loops"])
    for line in lines:
        print(line)
    for note in notes:
        print(f"note: {note}")
    failed = [r for r in records if r["check"] == "FAILED"]
    for r in failed:
        print(f"warning: {r['impl']}/{r['variant']} {r['arch']} differs from the NumPy step "
              f"(relative error {r['check_error']:.2e})")
    settings = {"full": args.full, "vocab": args.vocab, "seq_len": args.seq_len,
                "unit": "sequence elements per second (examples_per_sec)",
                "budget": vars(budget), "load_at_start": load_at_start,
                "load_at_end": _load_line(), "bind_cpus": args.bind_cpus,
                "wall_s": round(time.time() - started, 1), "argv": sys.argv[1:]}
    if args.json:
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        with open(args.json, "w") as f:
            json.dump({"machine": machine, "settings": settings, "notes": notes,
                       "overhead": overhead, "results": records}, f, indent=1)
    title = (f"RNN LM BPTT training (V={args.vocab}, T={args.seq_len}, batch 1), "
             f"elements/s: {machine['cpu']}, threads={args.threads}, {machine['date'][:10]}, "
             f"commit {(machine['commit'] or '?')[:10]}")
    if args.plot and not report.plot(records, args.plot, title, panel="model", group="hidden",
                                     group_label="H = {}", ylabel="sequence elements / s"):
        _progress("note: --plot skipped: matplotlib is not installed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
