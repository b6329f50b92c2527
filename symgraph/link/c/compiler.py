"""Running gcc: flags, the compiler's identity, and errors traced back to ops.

Generated modules are plain C shared libraries (no Python or NumPy headers),
compiled by calling gcc directly: about 50 ms for a small module, where
cffi's API mode (``ffi.set_source`` + ``ffi.compile``) goes through
setuptools and takes 350 ms.  They are loaded with dlopen by the VM extension.
"""
import contextlib
import functools
import hashlib
import os
import re
import subprocess
import sys
import sysconfig

CC = os.environ.get("SYMGRAPH_CC", "gcc")

# -fwrapv: integer overflow wraps, as in NumPy (and is not undefined behaviour);
# -fno-math-errno: sqrt and friends inline; -ffp-contract=off: no fused
# multiply-add, so a C loop rounds exactly as the NumPy ops it replaces.
MODULE_FLAGS = ("-O3", "-march=native", "-fPIC", "-shared", "-fwrapv", "-fno-math-errno",
                "-ffp-contract=off", "-std=gnu11", "-Wall", "-Wno-unused-function",
                "-Wno-unused-variable")
MODULE_LIBS = ("-lm",)
# Unoptimized: for tests that check what many expressions compute, not how fast (4 ms of
# gcc per node function instead of 20).
QUICK_FLAGS = ("-O0",) + MODULE_FLAGS[2:]
_flags_in_use = [MODULE_FLAGS]


def module_flags():
    """The flags generated modules are compiled with now (see :func:`using_flags`), with
    ``-fopenmp`` when ``config.openmp`` is on (loops over large arrays use every core)
    and the vector math level (see :func:`vector_math_level`)."""
    from symgraph.config import config

    flags = _flags_in_use[-1]
    if config.openmp and "-fopenmp" not in flags:
        flags = flags + ("-fopenmp",)
    level = vector_math_level()
    return flags + (f"-DSG_VECTOR_MATH={level}",) if level else flags


def module_libs():
    """The libraries generated modules link: libm, and glibc's libmvec when used."""
    return MODULE_LIBS + (("-lmvec",) if vector_math_level() else ())


@functools.lru_cache(maxsize=None)
def vector_math_level():
    """Which of glibc's vectorized math functions (libmvec) loops may call: 0 none,
    1 exp/log/sin/cos/pow (glibc 2.22+), 2 also tanh, expm1, log1p and the rest
    (glibc 2.35+).  Only on x86-64 Linux; ``SYMGRAPH_VECTOR_MATH=0`` turns it off.

    Without libmvec, gcc cannot vectorize a loop that calls ``expf``: each element
    costs a scalar call, 10-20x NumPy's SIMD loops.

    >>> vector_math_level() in (0, 1, 2)
    True
    """
    import ctypes.util
    import platform

    if os.environ.get("SYMGRAPH_VECTOR_MATH", "1") == "0":
        return 0
    if platform.system() != "Linux" or platform.machine() != "x86_64":
        return 0
    try:
        name, version = os.confstr("CS_GNU_LIBC_VERSION").split()
        major, minor = (int(v) for v in version.split(".")[:2])
    except (ValueError, OSError, AttributeError):
        return 0
    if name != "glibc" or (major, minor) < (2, 22) or not ctypes.util.find_library("mvec"):
        return 0
    return 2 if (major, minor) >= (2, 35) else 1


@contextlib.contextmanager
def using_flags(flags):
    """Compile generated modules with ``flags`` inside the block (part of the cache key).

    >>> with using_flags(QUICK_FLAGS):
    ...     module_flags()[0]
    '-O0'
    """
    _flags_in_use.append(tuple(flags))
    try:
        yield
    finally:
        _flags_in_use.pop()


class CompileError(Exception):
    """gcc rejected generated code.

    Attributes: ``source_path`` (the kept source), ``line`` (of the first
    error), ``region`` (what generated that line: a node and its op, or the
    runtime header), ``stderr`` (gcc's messages).
    """

    def __init__(self, message, source_path=None, line=None, region=None, stderr=""):
        super().__init__(message)
        self.source_path, self.line, self.region, self.stderr = source_path, line, region, stderr


@functools.lru_cache(maxsize=None)
def compiler_version(cc=CC):
    """The first line of ``gcc --version`` (part of every cache key)."""
    try:
        result = subprocess.run([cc, "--version"], capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        raise CompileError(f"no usable C compiler {cc!r}: {exc}") from None
    return result.stdout.splitlines()[0].strip()


@functools.lru_cache(maxsize=None)
def cpu_identity():
    """A hash of the CPU model and feature flags: ``-march=native`` code runs only there."""
    model, flags = "", ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if not model and line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                elif not flags and line.startswith(("flags", "Features")):
                    flags = line.split(":", 1)[1].strip()
                if model and flags:
                    break
    except OSError:
        pass
    return hashlib.sha256(f"{model}|{flags}".encode()).hexdigest()[:16]


@functools.lru_cache(maxsize=None)
def python_include_flags():
    """``-I`` flags for Python.h and NumPy's headers (only the VM extension needs them)."""
    import numpy

    return (f"-I{sysconfig.get_paths()['include']}", f"-I{numpy.get_include()}")


@functools.lru_cache(maxsize=None)
def c_backend_available():
    """Whether this machine can build the C VM: a C compiler and Python's headers.

    >>> isinstance(c_backend_available(), bool)
    True
    """
    import shutil

    include = sysconfig.get_paths().get("include")
    return shutil.which(CC) is not None and bool(include) and \
        os.path.exists(os.path.join(include, "Python.h"))


def compile_shared(source_path, output_path, flags, libs=(), regions=()):
    """Compile ``source_path`` into the shared library ``output_path``.

    ``regions``: (first_line, last_line, label) triples naming what generated
    each part of the source, so that an error names the op at fault.
    """
    command = [CC, *flags, "-o", output_path, source_path, *libs]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise _compile_error(source_path, result.stderr, regions, command)


def _compile_error(source_path, stderr, regions, command):
    name = re.escape(os.path.basename(source_path))
    match = re.search(rf"{name}:(\d+):(?:\d+:)? (?:fatal )?error", stderr)
    line = int(match.group(1)) if match else None
    region = None
    if line is not None:
        for first, last, label in regions:
            if first <= line <= last:
                region = label
                break
    where = f"{source_path}:{line}" if line is not None else source_path
    message = f"C compilation failed at {where}"
    if region:
        message += f", in the code generated for {region}"
    message += f"\ncommand: {' '.join(command)}\n{_first_lines(stderr, 30)}"
    return CompileError(message, source_path, line, region, stderr)


def _first_lines(text, n):
    lines = text.splitlines()
    more = f"\n... ({len(lines) - n} more lines)" if len(lines) > n else ""
    return "\n".join(lines[:n]) + more


def platform_tag():
    """Python ABI, NumPy ABI and platform: what a compiled module is tied to."""
    import numpy

    return {
        "python": f"{sys.implementation.cache_tag}{sysconfig.get_config_var('EXT_SUFFIX')}",
        "numpy": numpy.__version__,
        "platform": sysconfig.get_platform(),
        "cpu": cpu_identity(),
    }
