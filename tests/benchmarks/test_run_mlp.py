"""run_mlp.py end to end (a tiny run in a subprocess), and compare.py on its output."""
import json
import os
import subprocess
import sys

import pytest

from benchmarks import compare

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RECORD_KEYS = {"arch", "batch", "impl", "variant", "threads", "examples_per_sec", "runs"}
IMPLS = {"symgraph", "reference", "numpy", "torch", "torch_compile", "jax", "jax_loop",
         "pytensor"}


def _run(tmp_path, *extra):
    out = tmp_path / "run.json"
    cmd = [sys.executable, os.path.join(REPO, "benchmarks", "run_mlp.py"), "--impls",
           "symgraph,reference,numpy", "--archs", "a", "--batches", "1,10", "--windows", "2",
           "--window-s", "0.02", "--warmup-s", "0.01", "--json", str(out), *extra]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    return done, json.loads(out.read_text())


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    return _run(tmp_path_factory.mktemp("run_mlp"))


def test_smoke_run_writes_the_json_schema_and_prints_the_table(smoke_run):
    done, data = smoke_run
    assert set(data) >= {"machine", "results"}
    machine = data["machine"]
    assert machine["threads"] == 1 and machine["cpu"] and machine["versions"]["numpy"]
    results = data["results"]
    assert {(r["impl"], r["batch"]) for r in results} >= {("numpy", 1), ("numpy", 10),
                                                          ("reference", 1), ("symgraph", 10)}
    for r in results:
        assert RECORD_KEYS <= set(r)
        assert r["impl"] in IMPLS and r["threads"] == 1 and r["arch"] == "784-10"
        assert r["examples_per_sec"] > 0 and len(r["runs"]) == 2
        assert r["check"] == "ok", r
    # The variants that do not exist yet are reported as such, never measured.
    variants = {r["variant"] for r in results if r["impl"] == "symgraph"}
    assert {"py", "trust_input"} <= variants
    for missing in {"cvm", "cvm_nogc", "n_calls"} - variants:
        assert f"symgraph/{missing}: not available" in done.stdout
    lines = done.stdout.splitlines()
    header = next(line for line in lines if line.startswith("arch"))
    assert "limit(C)" in header and "sg/peer" in header and "sg/limit" in header
    assert sum(line.startswith("784-10 ") for line in lines) == 2


def test_compare_matches_cells_of_two_runs(smoke_run, tmp_path, capsys):
    _, data = smoke_run
    faster = json.loads(json.dumps(data))
    for r in faster["results"]:
        r["examples_per_sec"] *= 2
    old, new = tmp_path / "old.json", tmp_path / "new.json"
    old.write_text(json.dumps(data))
    new.write_text(json.dumps(faster))
    assert compare.main([str(old), str(new)]) == 0
    out = capsys.readouterr().out
    assert out.count("2.00x") == len(data["results"])
