"""Pin every library of the benchmark to the same number of threads.

Call :func:`pin_threads` before NumPy (or any BLAS user) is imported: the
thread-count variables of OpenBLAS, MKL and OpenMP are read when those libraries
load, and XLA's CPU client reads ``XLA_FLAGS`` when it starts.  The process is
also bound to ``n`` CPUs (``sched_setaffinity``), so that a library that ignores
the variables still cannot use more cores than the others.

>>> env = thread_environment(1)
>>> env['OPENBLAS_NUM_THREADS'], '--xla_cpu_multi_thread_eigen=false' in env['XLA_FLAGS']
('1', True)
"""
import os
import sys

_COUNT_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                    "BLIS_NUM_THREADS", "NUMEXPR_NUM_THREADS", "VECLIB_MAXIMUM_THREADS",
                    "NUMBA_NUM_THREADS")
BLAS_MODULES = ("numpy", "scipy", "torch", "jax", "pytensor")


def thread_environment(n, base=None):
    """The environment variables that pin the libraries to ``n`` threads.

    XLA has no flag for a thread count: at 1 its multi-threaded Eigen is switched
    off; above 1 it uses every CPU the process may run on (``--bind-cpus`` limits it).
    """
    env = {name: str(n) for name in _COUNT_VARIABLES}
    xla = (base if base is not None else os.environ).get("XLA_FLAGS", "")
    if n == 1 and "xla_cpu_multi_thread_eigen" not in xla:
        xla = (xla + " --xla_cpu_multi_thread_eigen=false").strip()
    if xla:
        env["XLA_FLAGS"] = xla
    return env


def pin_threads(n, bind=False):
    """Set the variables for ``n`` threads, and with ``bind`` bind the process to ``n`` CPUs.

    Returns the CPUs the process may run on.  Raises RuntimeError when a BLAS-using module is
    already imported (its thread pool would keep its old size).
    """
    loaded = [m for m in BLAS_MODULES if m in sys.modules]
    if loaded:
        raise RuntimeError(f"pin_threads must run before importing {', '.join(loaded)}")
    os.environ.update(thread_environment(n))
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    if bind and cpus and n < len(cpus):
        os.sched_setaffinity(0, cpus[:n])
        cpus = cpus[:n]
    return cpus


def available_cpus():
    """The CPUs this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1
