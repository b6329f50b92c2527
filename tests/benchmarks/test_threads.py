"""Thread pinning and the machine line."""
import pytest

from benchmarks.machine import describe_machine, machine_line
from benchmarks.threads import pin_threads, thread_environment


@pytest.mark.parametrize("n", [1, 2, 3])
def test_thread_environment_sets_every_library(n):
    env = thread_environment(n, base={"XLA_FLAGS": "--xla_dump_to=/tmp/x"})
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        assert env[name] == str(n)
    assert env["XLA_FLAGS"].startswith("--xla_dump_to=/tmp/x")  # existing flags are kept
    # XLA reads a token without "--" as a file name and aborts: every token is a flag.
    assert all(token.startswith("--") for token in env["XLA_FLAGS"].split())
    assert ("--xla_cpu_multi_thread_eigen=false" in env["XLA_FLAGS"]) == (n == 1)


def test_pin_threads_refuses_after_numpy_is_loaded():
    import numpy  # noqa: F401  (already loaded under pytest; made explicit here)

    with pytest.raises(RuntimeError, match="numpy"):
        pin_threads(1)


def test_machine_line_names_cpu_threads_and_libraries():
    info = describe_machine(threads=2)
    line = machine_line(info)
    assert info["cpu"] in line and "threads=2" in line and "numpy" in line
    assert info["versions"]["numpy"] and info["date"]


@pytest.mark.parametrize("n", [1, 2])
def test_jax_starts_with_the_pinned_environment(n):
    import importlib.util
    import os
    import subprocess
    import sys

    if importlib.util.find_spec("jax") is None:
        pytest.skip("JAX is not installed")
    env = dict(os.environ, **thread_environment(n), JAX_PLATFORMS="cpu")
    done = subprocess.run([sys.executable, "-c", "import jax.numpy as j; print(j.ones(3).sum())"],
                          env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-1000:]
    assert done.stdout.strip() == "3.0"
