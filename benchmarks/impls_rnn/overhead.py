"""The per-step overhead of symgraph's scan loop, at H = 50 (Elman), where it dominates.

Two measurements, both as differences between sequences of T = 20 and T = 10 words, so
that what is paid once per call (the call itself, a loop's setup, the per-sequence
updates) cancels and what is paid per step remains: ``(t(20) - t(10)) / 10``.

1. The whole training step (``marginal``): symgraph (``trust_input``), NumPy and the C
   reference, timed by the harness, interleaved.  This per-step time also holds the
   output layer's row of the step (the softmax over V words and its gradient), so it
   shows how every per-step cost compares, not the loop alone.
2. The loops alone (``scan``): the time symgraph spends inside its Scan nodes (the
   forward scan and the backpropagation-through-time scan), read from its profiler,
   against the C reference's step with V = 1, in which the output layer costs nothing
   and only the recurrence is left: E[x_t] + b + h @ W, tanh, and backward the tanh
   derivative and W @ d_z, i.e. the arithmetic of the two loops' steps.  The
   difference is the overhead of the loop per step (forward and backward together).

>>> from benchmarks.timing import Budget
>>> result = scan_loop_times(vocab=20, threads=1, budget=Budget(0.0, 0.01, 1), hidden=6)
>>> sorted(result)
['c_recurrence', 'symgraph_scans']
"""
import statistics
import time

HIDDEN, LENGTHS = 50, (10, 20)
MARGINAL_IMPLS = (("symgraph", "trust_input"), ("reference", "c_blas"), ("numpy", "numpy"))


def per_step(times):
    """``(t(long) - t(short)) / (long - short)`` from ``{T: seconds per sequence}``."""
    short, long_ = LENGTHS
    if short not in times or long_ not in times:
        return None
    return (times[long_] - times[short]) / (long_ - short)


def marginal_step_times(vocab, threads, budget, prepare_all, impls=None):
    """Seconds per sequence at each T and per step for the whole training step:
    ``{impl/variant: {"seconds_per_sequence": {T: s}, "per_step_s": s, "checks": [...]}}``.
    ``prepare_all(entries, problem, label)`` builds and checks the candidates; ``impls``
    limits the implementations (default: those of MARGINAL_IMPLS)."""
    from benchmarks.harness import measure_interleaved
    from benchmarks.impls_rnn import RNNProblem, load_all

    entries = [e for e in load_all() if (e[0], e[1]) in MARGINAL_IMPLS
               and (impls is None or e[0] in impls)]
    candidates = []
    for seq_len in LENGTHS:
        problem = RNNProblem("elman", HIDDEN, vocab, seq_len, threads=threads)
        candidates += prepare_all(entries, problem, f"[overhead] elman H={HIDDEN} T={seq_len}")
    result = {}
    for record in measure_interleaved(candidates, budget):
        value = result.setdefault(f"{record['impl']}/{record['variant']}",
                                  {"seconds_per_sequence": {}, "checks": []})
        value["seconds_per_sequence"][record["seq_len"]] = \
            record["seq_len"] / record["examples_per_sec"]
        value["checks"].append(record["check"])
    for value in result.values():
        value["per_step_s"] = per_step(value["seconds_per_sequence"])
    return result


def _scan_seconds(profile):
    from symgraph.scan import Scan

    return sum(s for nodes, seconds, _, _ in profile.functions
               for node, s in zip(nodes, seconds)
               if node is not None and isinstance(node.op, Scan))


def _profiled_training_function(problem):
    import symgraph as sg
    import symgraph.tensor as T
    from benchmarks.impls_rnn import symgraph_rnn

    params = symgraph_rnn._shared_params(problem)
    x, y = T.ivector("x"), T.ivector("y")
    nll, updates = symgraph_rnn.build_training_graph(problem.model, params, x, y, problem.lr)
    f = sg.function([x, y], nll, updates=updates, profile=True)
    f.trust_input = True
    return f


def _window(run, seconds):
    """Call ``run()`` until ``seconds`` have passed; the number of calls."""
    calls, deadline = 0, time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        run()
        calls += 1
    return calls


def scan_loop_times(vocab, threads, budget, hidden=HIDDEN):
    """Seconds per sequence spent in symgraph's Scan nodes, and in the C reference's step
    with V = 1 (the recurrence alone), at each T; and their per-step differences."""
    from benchmarks.impls_rnn import RNNProblem
    from benchmarks.reference.rnn import CReferenceRNN

    runs = {}
    for seq_len in LENGTHS:
        problem = RNNProblem("elman", hidden, vocab, seq_len, threads=threads)
        f = _profiled_training_function(problem)
        data = list(zip(problem.X, problem.Y))
        tiny = RNNProblem("elman", hidden, 1, seq_len, threads=threads)
        c_model = CReferenceRNN("elman", tiny.params, seq_len, tiny.lr)
        runs[seq_len] = (f, data, c_model, tiny)
    samples = {("symgraph_scans", T): [] for T in LENGTHS}
    samples.update({("c_recurrence", T): [] for T in LENGTHS})
    for n_window in range(budget.n_windows + 1):  # the first window warms up
        for seq_len, (f, data, c_model, tiny) in runs.items():
            before, state = _scan_seconds(f.profile), {"k": 0}

            def one_sg():
                f(*data[state["k"] % len(data)])
                state["k"] += 1

            calls = _window(one_sg, max(budget.window_s, 0.01))
            sg_per_call = (_scan_seconds(f.profile) - before) / calls
            start = time.perf_counter()
            c_calls = _window(lambda: c_model.train(tiny.X, tiny.Y, 0, 10),
                              max(budget.window_s, 0.01))
            c_per_call = (time.perf_counter() - start) / (10 * c_calls)
            if n_window:
                samples[("symgraph_scans", seq_len)].append(sg_per_call)
                samples[("c_recurrence", seq_len)].append(c_per_call)
    result = {}
    for (name, seq_len), values in samples.items():
        entry = result.setdefault(name, {"seconds_per_sequence": {}})
        entry["seconds_per_sequence"][seq_len] = statistics.median(values)
    for entry in result.values():
        entry["per_step_s"] = per_step(entry["seconds_per_sequence"])
    return result


def overhead_lines(marginal, scans):
    """The two measurements as text, and the overhead per step against the 2 us target."""
    short, long_ = LENGTHS
    lines = []

    def table(title, rows):
        lines.append(title)
        for key, value in rows.items():
            times, step = value["seconds_per_sequence"], value.get("per_step_s")
            lines.append(f"  {key:22s} per sequence: T={short} {times.get(short, 0) * 1e6:8.1f} "
                         f"us, T={long_} {times.get(long_, 0) * 1e6:8.1f} us; per step "
                         + (f"{step * 1e6:7.2f} us" if step is not None else "-"))

    if marginal:
        table(f"per-step cost of the whole training step, elman H={HIDDEN} "
              f"((t(T={long_}) - t(T={short})) / {long_ - short}, forward + backward):",
              marginal)
        sg = marginal.get("symgraph/trust_input", {}).get("per_step_s")
        for other in ("reference/c_blas", "numpy/numpy"):
            theirs = marginal.get(other, {}).get("per_step_s")
            if sg is not None and theirs is not None:
                lines.append(f"  symgraph per step minus {other} per step: "
                             f"{(sg - theirs) * 1e6:.2f} us")
    if scans:
        table("per-step cost of the loops alone: symgraph's Scan nodes (profiler) against "
              "the C step with V = 1 (the recurrence's arithmetic):", scans)
        sg = scans.get("symgraph_scans", {}).get("per_step_s")
        c = scans.get("c_recurrence", {}).get("per_step_s")
        if sg is not None and c is not None:
            verdict = "met" if sg - c < 2e-6 else "not met"
            lines.append(f"target: scan loop overhead per step < 2 us: {verdict} "
                         f"({(sg - c) * 1e6:.2f} us per step, forward + backward)")
    return lines
