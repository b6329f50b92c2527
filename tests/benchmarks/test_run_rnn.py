"""run_rnn.py end to end (a tiny run in a subprocess), its table, and the correctness gate:
a wrong implementation is marked as failed, never timed as if it were right."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from benchmarks import run_rnn
from benchmarks.harness import measure_interleaved, prepare
from benchmarks.impls import Runner, cycling_loop
from benchmarks.impls_rnn import RNNProblem, numpy_rnn, spec
from benchmarks.timing import Budget

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TINY = Budget(warmup_s=0.0, window_s=0.01, n_windows=2)
RECORD_KEYS = {"arch", "batch", "impl", "variant", "threads", "examples_per_sec", "runs",
               "model", "hidden", "vocab", "seq_len", "check", "check_error"}


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("run_rnn")
    out, png = folder / "run.json", folder / "run.png"
    cmd = [sys.executable, os.path.join(REPO, "benchmarks", "run_rnn.py"), "--impls",
           "symgraph,reference,numpy", "--sizes", "8", "--vocab", "20", "--seq-len", "4",
           "--windows", "2", "--window-s", "0.01", "--warmup-s", "0.01", "--json", str(out),
           "--plot", str(png)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=folder)
    assert done.returncode == 0, done.stderr[-3000:] + done.stdout[-2000:]
    return done, json.loads(out.read_text()), png


def test_smoke_run_checks_times_and_reports_every_cell(smoke_run):
    done, data, png = smoke_run
    assert set(data) >= {"machine", "settings", "notes", "overhead", "results"}
    assert data["machine"]["threads"] == 1 and data["settings"]["seq_len"] == 4
    results = data["results"]
    assert {(r["model"], r["impl"], r["variant"]) for r in results} == {
        (m, impl, variant) for m in ("elman", "lstm")
        for impl, variant in (("symgraph", "trust_input"), ("symgraph", "n_calls"),
                              ("reference", "c_blas"), ("numpy", "numpy"))}
    for r in results:
        assert RECORD_KEYS <= set(r)
        assert r["check"] == "ok" and r["check_error"] < 1e-4, r
        assert r["hidden"] == 8 and r["batch"] == 1 and r["examples_per_sec"] > 0
        assert len(r["runs"]) == 2 and r["examples_per_cpu_sec"] > 0
    lines = done.stdout.splitlines()
    header = next(line for line in lines if line.startswith("model"))
    assert header.split() == ["model", "H", "symgraph:trust_input", "symgraph:n_calls",
                              "limit(C)", "numpy", "sg/peer", "sg/limit"]
    # the table, then the same per CPU second
    assert [line.split()[:2] for line in lines if line.startswith(("elman ", "lstm "))] == [
        ["elman", "8"], ["lstm", "8"]] * 2
    assert "not run: torch, jax, jax_loop" in done.stdout
    if png.exists():  # matplotlib is optional
        assert png.stat().st_size > 1000


def test_smoke_run_measures_the_per_step_overhead(smoke_run):
    done, data, _ = smoke_run
    marginal, scans = data["overhead"]["marginal"], data["overhead"]["scan_loops"]
    assert set(marginal) == {"symgraph/trust_input", "reference/c_blas", "numpy/numpy"}
    assert set(scans) == {"symgraph_scans", "c_recurrence"}
    for value in list(marginal.values()) + list(scans.values()):
        times = value["seconds_per_sequence"]
        assert set(times) == {"10", "20"} and all(t > 0 for t in times.values())
        assert value["per_step_s"] == pytest.approx((times["20"] - times["10"]) / 10)
    assert all(value["checks"] == ["ok", "ok"] for value in marginal.values())
    assert "target: scan loop overhead per step < 2 us" in done.stdout


class _WrongRNN:
    """NumPy steps with a bug: a 10% larger learning rate, or BPTT truncated to one step."""
    VARIANTS = {"numpy": ["lr", "truncated"]}

    @staticmethod
    def make(impl, variant, problem):
        params = problem.fresh_params()

        def step(x, y):
            if variant == "lr":
                spec.numpy_step(problem.model, params, x, y, problem.lr * 1.1)
            else:
                _truncated_step(params, x, y, problem.lr)

        return Runner(cycling_loop(step, numpy_rnn.sequences(problem)), lambda: params)


def _truncated_step(params, x, y, lr):
    """The Elman step with no gradient carried back through the recurrence."""
    E, W, b, U, c = params
    states = np.zeros((len(x) + 1, W.shape[0]), np.float32)
    for t in range(len(x)):
        states[t + 1] = np.tanh(E[x[t]] + b + states[t] @ W)
    h = states[1:]
    logits = h @ U + c
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    p[np.arange(len(y)), y] -= 1
    p /= len(y)
    d_z = (p @ U.T) * (1 - h * h)
    W -= lr * states[:-1].T @ d_z
    b -= lr * d_z.sum(axis=0)
    U -= lr * h.T @ p
    c -= lr * p.sum(axis=0)
    np.add.at(E, x, -lr * d_z)


@pytest.mark.parametrize("variant", ["lr", "truncated"])
def test_the_gate_fails_a_wrong_implementation(variant):
    problem = RNNProblem("elman", hidden=10, vocab=25, seq_len=6, n_sequences=3, seed=7)
    wrong = prepare(_WrongRNN, "numpy", variant, problem)
    right = prepare(numpy_rnn, "numpy", "numpy", problem)
    wrong_record, right_record = measure_interleaved([wrong, right], TINY)
    assert right_record["check"] == "ok" and right_record["check_error"] == 0.0
    assert wrong_record["check"] == "FAILED"
    if variant == "lr":
        assert wrong_record["check_error"] == pytest.approx(0.1, rel=0.05)
    # the table marks it, and symgraph's ratios never use it as a peer's rate
    table = run_rnn.format_table([wrong_record, right_record])
    assert "!" in table.splitlines()[1]


def test_table_ratios_and_rows_in_model_then_size_order():
    def rec(model, hidden, impl, variant, rate, per_call=True):
        return dict(model=model, hidden=hidden, impl=impl, variant=variant,
                    examples_per_sec=rate, per_call=per_call, check="ok")

    rows = [rec("lstm", 50, "numpy", "numpy", 1e3),
            rec("lstm", 50, "symgraph", "trust_input", 2e3),
            rec("elman", 100, "numpy", "numpy", 4e3),
            rec("elman", 100, "symgraph", "trust_input", 2e3),
            rec("elman", 100, "reference", "c_blas", 8e3, per_call=False),
            rec("elman", 50, "symgraph", "trust_input", 3e3),
            rec("elman", 50, "jax", "scan_jit", 6e3)]
    lines = run_rnn.format_table(rows).splitlines()
    assert [line.split()[:2] for line in lines[1:]] == [["elman", "50"], ["elman", "100"],
                                                         ["lstm", "50"]]
    assert lines[1].split()[-2:] == ["0.50x", "-"]
    assert lines[2].split()[-2:] == ["0.50x", "0.25x"]
    assert lines[3].split()[-2:] == ["2.00x", "-"]
    targets = run_rnn.target_lines(rows, threads=1)
    assert "not met (worst 0.50x, elman H=50)" in targets[0]
    assert "H=50 0.2x" in targets[1] and "not met" in targets[1]
