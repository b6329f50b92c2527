"""Measure one implementation on one benchmark cell: build, check, calibrate, time.

Implementations of one cell are timed window by window in turn
(:func:`measure_interleaved`), so that load from other processes falls on all of
them alike.  The check trains one step from the shared initial parameters on minibatch 0 and
compares the parameter update with the NumPy reference step; a wrong
implementation is reported as such, never silently timed.

A problem other than the MLP's (the RNN's, benchmarks/impls_rnn) brings its own check
and units: ``reference_update()``, ``update_error(got, expected)``,
``examples_per_step`` (what one step trains on), ``arch`` and ``record_fields()``.

>>> from benchmarks.impls import Problem, numpy_mlp
>>> from benchmarks.mlp_spec import init_params, make_data
>>> from benchmarks.timing import Budget
>>> X, Y = make_data(60)
>>> problem = Problem((784, 10), 10, init_params((784, 10)), X, Y, 0.01, 1)
>>> record = measure_cell(numpy_mlp, "numpy", "numpy", problem, Budget(0.01, 0.02, 2))
>>> record["impl"], record["check"], len(record["runs"])
('numpy', 'ok', 2)
"""
import statistics
import time

import numpy as np

from benchmarks.mlp_spec import arch_name, numpy_step
from benchmarks.timing import run_for

CHECK_TOLERANCE = 2e-3  # of the largest parameter change, in float32


def reference_update(problem):
    """The parameters after one NumPy step on minibatch 0, from the initial parameters."""
    params = [(W.copy(), b.copy()) for W, b in problem.params]
    numpy_step(params, problem.X[:problem.batch], problem.Y[:problem.batch], problem.lr)
    return params


def update_error(problem, got, expected):
    """Largest difference of the one-step updates, relative to the largest update."""
    worst, scale = 0.0, 0.0
    for (W0, b0), (W, b), (W_ref, b_ref) in zip(problem.params, got, expected):
        for start, new, ref in ((W0, W, W_ref), (b0, b, b_ref)):
            change_ref = ref.astype(np.float64) - start
            change = np.asarray(new, np.float64) - start
            worst = max(worst, float(np.abs(change - change_ref).max()))
            scale = max(scale, float(np.abs(change_ref).max()))
    return worst / max(scale, 1e-30)


def _expected_update(problem):
    own = getattr(problem, "reference_update", None)
    return own() if own else reference_update(problem)


def _check_error(problem, got, expected):
    own = getattr(problem, "update_error", None)
    return own(got, expected) if own else update_error(problem, got, expected)


def _time_steps(runner, steps):
    start = time.perf_counter()
    runner.run(steps)
    runner.sync()
    return time.perf_counter() - start


def _calibrate(runner, target_s):
    """Steps per chunk so that one chunk takes about ``target_s``.  Each trial is the
    faster of two runs, so one moment of preemption cannot shrink the chunks."""
    steps = 1
    while True:
        elapsed = min(_time_steps(runner, steps), _time_steps(runner, steps))
        if elapsed >= target_s / 4 or steps >= 1 << 20:
            return max(1, round(steps * target_s / max(elapsed, 1e-9)))
        steps *= 4


class Candidate:
    """An implementation built, checked and calibrated on one cell, ready to be timed."""

    def __init__(self, impl, variant, problem, runner, compile_s, error, steps):
        self.impl, self.variant, self.problem, self.runner = impl, variant, problem, runner
        self.compile_s, self.error, self.steps = compile_s, error, steps
        self.runs, self.cpu_s, self.wall_s, self.examples = [], 0.0, 0.0, 0

    def _chunk(self):
        self.runner.run(self.steps)
        return self.steps * getattr(self.problem, "examples_per_step", self.problem.batch)

    def warm_up(self, seconds):
        run_for(self._chunk, seconds, self.runner.sync)

    def window(self, seconds):
        """Time one window; keeps its rate, and the CPU seconds used per wall second."""
        cpu = time.process_time()
        examples, elapsed = run_for(self._chunk, seconds, self.runner.sync)
        self.cpu_s += time.process_time() - cpu
        self.wall_s += elapsed
        self.runs.append(examples / elapsed)
        self.examples += examples

    def record(self):
        p = self.problem
        record = {
            "arch": getattr(p, "arch", None) or arch_name(p.sizes), "batch": p.batch,
            "impl": self.impl,
            "variant": self.variant, "threads": p.threads,
            "examples_per_sec": statistics.median(self.runs), "runs": self.runs,
            "per_call": self.runner.per_call, "steps_per_chunk": self.steps,
            "compile_s": round(self.compile_s, 3),
            # CPU seconds (all threads) per wall second: shows a library using more
            # threads than asked.
            "cpu_per_wall": round(self.cpu_s / max(self.wall_s, 1e-9), 2),
            # Examples per CPU second of this process (all threads): on a loaded machine,
            # closer than the wall-clock rate to what an idle one would give.
            "examples_per_cpu_sec": self.examples / max(self.cpu_s, 1e-9),
            "check_error": self.error,
            "check": "ok" if self.error <= CHECK_TOLERANCE else "FAILED",
        }
        if hasattr(p, "record_fields"):
            record.update(p.record_fields())
        return record


def prepare(module, impl, variant, problem, expected=None, chunk_s=0.01):
    """Build ``impl``/``variant`` (raises Unavailable), check one step, size its chunks
    (``chunk_s`` seconds of steps; three times that for many-steps-per-call runners, whose
    point is to amortize the call)."""
    start = time.perf_counter()
    runner = module.make(impl, variant, problem)
    runner.run(1)
    runner.sync()
    compile_s = time.perf_counter() - start
    expected = expected if expected is not None else _expected_update(problem)
    error = _check_error(problem, runner.get_params(), expected)
    steps = _calibrate(runner, chunk_s if runner.per_call else 3 * chunk_s)
    return Candidate(impl, variant, problem, runner, compile_s, error, steps)


def measure_interleaved(candidates, budget):
    """Time the candidates window by window in turn, so that a burst of load from other
    processes falls on all of them alike; returns their records."""
    for c in candidates:
        c.warm_up(budget.warmup_s)
    for _ in range(budget.n_windows):
        for c in candidates:
            c.window(budget.window_s)
    return [c.record() for c in candidates]


def measure_cell(module, impl, variant, problem, budget, expected=None):
    """A result record for ``impl``/``variant`` on ``problem`` (raises Unavailable)."""
    return measure_interleaved([prepare(module, impl, variant, problem, expected)], budget)[0]
