"""run_conv.py end to end (a tiny run in a subprocess), and its NumPy peer against SciPy."""
import json
import os
import subprocess
import sys

import numpy as np
from scipy import signal

from benchmarks import run_conv

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_numpy_peer_matches_scipy(rng):
    x, w = rng.normal(size=(2, 3, 7, 6)), rng.normal(size=(4, 3, 3, 2))
    top = rng.normal(size=(2, 4, 5, 5))
    y, dx, dw = run_conv.numpy_step(x, w, top)
    want = [[sum(signal.correlate2d(x[n, c], w[o, c], mode="valid") for c in range(3))
             for o in range(4)] for n in range(2)]
    np.testing.assert_allclose(y, np.array(want), atol=1e-12)
    # the gradients are the adjoints: <y(x, w), top> is linear in each argument
    np.testing.assert_allclose(np.sum(dx * x), np.sum(y * top), rtol=1e-12)
    np.testing.assert_allclose(np.sum(dw * w), np.sum(y * top), rtol=1e-12)


def test_quick_run_writes_json_and_prints_the_table(tmp_path):
    """One layer, without the PyTorch peer (its import alone takes seconds)."""
    out = tmp_path / "conv.json"
    cmd = [sys.executable, os.path.join(REPO, "benchmarks", "run_conv.py"), "--quick",
           "--layers", "audio-2", "--impls", "symgraph,numpy", "--windows", "2",
           "--window-s", "0.01",
           "--warmup-s", "0.01", "--json", str(out)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=180, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:] + done.stdout[-2000:]
    data = json.loads(out.read_text())
    assert set(data) >= {"machine", "settings", "notes", "results"}
    results = data["results"]
    assert {(r["arch"], r["impl"], r["variant"]) for r in results} == {
        ("audio-2", "symgraph", "py"), ("audio-2", "symgraph", "cvm"),
        ("audio-2", "numpy", "numpy")}
    for r in results:
        assert r["check"] == "ok", r
        assert r["examples_per_sec"] > 0 and len(r["runs"]) == 2 and r["batch"] == 128
    header = next(line for line in done.stdout.splitlines() if line.startswith("arch"))
    assert "symgraph:cvm" in header and "numpy" in header and "sg/peer" in header
    assert any(line.startswith("audio-2: cvm/numpy") for line in done.stdout.splitlines())
