"""Per-call overhead and compile times of the C VM.

    python benchmarks/run_overhead.py

Prints, for a compiled ``x + 1`` on a 10-element float32 vector: microseconds
per call under 'py', 'cvm' and 'cvm_nogc' (normal and ``trust_input``), the
program (VM) call alone, and NumPy's own ``x + 1`` in the same run; then
compile times in fresh processes: ``x + 1`` and the 3-layer MLP's training
function (784-1000-1000-10, SGD updates), cold (empty cache: gcc runs) and
warm (the cache filled by an earlier process).
"""
import os
import subprocess
import sys
import tempfile
import timeit

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

_COMPILE = """
import sys, time
sys.path.insert(0, {repo!r})
started = time.perf_counter()
import numpy as np, symgraph as sg, symgraph.tensor as T
imported = time.perf_counter()
{prepare}
x = T.vector("x", dtype="float32")
t0 = time.perf_counter()
f = sg.function([x], x + 1, mode=sg.Mode(linker="cvm"))
t1 = time.perf_counter()
g = sg.function([x], x + 1, mode=sg.Mode(linker="py"))
t2 = time.perf_counter()
assert f.fn.n_c_steps == 1
from benchmarks.impls.symgraph_mlp import build_training_graph
from benchmarks.mlp_spec import init_params
params = [(sg.shared(W), sg.shared(b)) for W, b in init_params((784, 1000, 1000, 10))]
xm, y = T.fmatrix("x"), T.ivector("y")
nll, updates = build_training_graph(params, xm, y, 0.01)
t3 = time.perf_counter()
mlp = sg.function([xm, y], nll, updates=updates, mode=sg.Mode(linker="cvm"))
t4 = time.perf_counter()
print(t1 - t0, t2 - t1, imported - started, t4 - t3)
"""


def per_call(number=100000):
    import numpy as np
    import symgraph as sg
    import symgraph.tensor as T

    x = T.vector("x", dtype="float32")
    v = np.random.default_rng(0).random(10).astype("float32")

    def best(stmt, env):
        return min(timeit.repeat(stmt, globals=env, number=number, repeat=7)) / number * 1e6

    print(f"NumPy x + 1:                 {best('v + 1', {'v': v}):6.3f} us")
    for linker in ("py", "cvm", "cvm_nogc"):
        f = sg.function([x], x + 1, mode=sg.Mode(linker=linker))
        env = {"f": f, "v": v, "cell": f.input_cells[0], "program": f.fn}
        normal = best("f(v)", env)
        alone = best("cell[0] = v; program()", env)
        f.trust_input = True
        trusted = best("f(v)", env)
        print(f"{linker:9s} f(v) {normal:6.3f} us   trust_input {trusted:6.3f} us   "
              f"program alone {alone:6.3f} us")


def compile_times():
    def run(root, prepare=""):
        env = dict(os.environ, XDG_CACHE_HOME=root)
        script = _COMPILE.format(repo=REPO, prepare=prepare)
        out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                             text=True, check=True).stdout.split()
        return [float(t) for t in out]

    with tempfile.TemporaryDirectory() as root:
        everything = run(root)
    with tempfile.TemporaryDirectory() as root:
        # the VM extension is built before the clock starts: the modules alone
        cold = run(root, "from symgraph.link.c.runtime import cvm; cvm()")
        warm = [run(root) for _ in range(3)]
    best = min(warm)
    print(f"x + 1, cold, empty cache (VM extension + module): {everything[0] * 1e3:7.1f} ms")
    print(f"x + 1, cold, module only (VM already built):      {cold[0] * 1e3:7.1f} ms")
    print(f"x + 1, warm, new process:                         {best[0] * 1e3:7.1f} ms "
          f"(py linker: {best[1] * 1e3:.1f} ms; import symgraph: {best[2] * 1e3:.0f} ms)")
    print(f"3-layer MLP training function, cold (module compiled): {cold[3] * 1e3:7.1f} ms")
    print(f"3-layer MLP training function, warm (cache filled):    "
          f"{min(w[3] for w in warm) * 1e3:7.1f} ms")


if __name__ == "__main__":
    sys.path.insert(0, REPO)
    per_call()
    compile_times()
