"""Per-call overhead and compile times of the cvm linker (a script, not a test).

    python tests/link/c/measure_overhead.py

Prints, for a compiled ``x + 1`` on a 10-element float32 vector: microseconds
per call under 'py', 'cvm' and 'cvm_nogc' (normal and ``trust_input``), the
program (VM) call alone, and NumPy's own ``x + 1``; then the cold compile time
of a module (empty cache, VM extension already built, and with it), and the
warm time (cache filled, new process) of compiling the same function.
"""
import os
import subprocess
import sys
import tempfile
import timeit

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(
    __file__)))))

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
print(t1 - t0, t2 - t1, imported - started)
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
        everything = run(root)[0]
    with tempfile.TemporaryDirectory() as root:
        # the VM extension is built before the clock starts: the module alone
        module_only = run(root, "from symgraph.link.c.runtime import cvm; cvm()")[0]
        warm = [run(root) for _ in range(3)]
    print(f"cold, empty cache (VM extension + module): {everything * 1e3:7.1f} ms")
    print(f"cold, module only (VM already built):      {module_only * 1e3:7.1f} ms")
    best = min(warm)
    print(f"warm, new process, first function:         {best[0] * 1e3:7.1f} ms "
          f"(py linker: {best[1] * 1e3:.1f} ms; import symgraph: {best[2] * 1e3:.0f} ms)")


if __name__ == "__main__":
    sys.path.insert(0, REPO)
    per_call()
    compile_times()
