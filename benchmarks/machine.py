"""The machine line: CPU, cores, load, library versions and BLAS, saved with every run.

>>> info = describe_machine(threads=1)
>>> sorted(k for k in ('cpu', 'cores', 'threads', 'versions', 'blas') if k in info)
['blas', 'cores', 'cpu', 'threads', 'versions']
"""
import datetime
import importlib.metadata
import os
import platform
import subprocess

_LIBRARIES = ("symgraph", "numpy", "scipy", "cffi", "torch", "jax", "jaxlib", "pytensor",
              "numba", "matplotlib", "threadpoolctl")


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def library_versions():
    """Installed versions of the libraries the benchmark may use (None when missing)."""
    versions = {}
    for name in _LIBRARIES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    if versions["symgraph"] is None:  # a source checkout, not installed
        try:
            import symgraph

            versions["symgraph"] = getattr(symgraph, "__version__", "source")
        except ImportError:
            pass
    return versions


def blas_info():
    """The BLAS libraries loaded in this process and their thread counts (threadpoolctl)."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return [{"note": "threadpoolctl not installed"}]
    keep = ("internal_api", "version", "num_threads", "threading_layer", "architecture",
            "prefix", "user_api")
    return [{k: pool.get(k) for k in keep if pool.get(k) is not None}
            for pool in threadpool_info()]


def git_commit(folder):
    try:
        out = subprocess.run(["git", "-C", folder, "rev-parse", "HEAD"], capture_output=True,
                             text=True, check=False, timeout=10)
        commit = out.stdout.strip() or None
        # GIT_OPTIONAL_LOCKS=0: a read-only status, which never rewrites the index.
        env = dict(os.environ, GIT_OPTIONAL_LOCKS="0")
        dirty = subprocess.run(["git", "-C", folder, "status", "--porcelain",
                                "--untracked-files=no"], capture_output=True, text=True,
                               check=False, timeout=10, env=env)
        return commit, bool(dirty.stdout.strip())
    except (OSError, subprocess.SubprocessError):
        return None, None


def describe_machine(threads, repo=None):
    """A JSON-ready dict describing this machine and run."""
    repo = repo or os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    commit, dirty = git_commit(repo)
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "commit": commit,
        "dirty": dirty,
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "cpus_bound": cpus,
        "threads": threads,
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "versions": library_versions(),
        "blas": blas_info(),
    }


def machine_line(info):
    """One line for the top of the table."""
    versions = ", ".join(f"{k} {v}" for k, v in info["versions"].items() if v)
    blas = "; ".join(f"{b.get('internal_api', '?')} {b.get('version', '')} "
                     f"x{b.get('num_threads', '?')}" for b in info["blas"] if "user_api" in b)
    load = info.get("load_average")
    load_text = f", load {load[0]:.2f}" if load else ""
    return (f"{info['cpu']}, {info['cores']} cores ({info['cpus_bound']} bound), "
            f"threads={info['threads']}{load_text} | {versions} | BLAS: {blas or 'unknown'} | "
            f"commit {(info['commit'] or 'unknown')[:10]}{'+dirty' if info['dirty'] else ''}")
