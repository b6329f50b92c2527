"""The C VM extension (csrc/cvm.c): compiled through the cache on first use, then imported.

Unlike generated modules, the VM needs Python.h and NumPy's headers (it runs
``perform`` callbacks and allocates arrays), so it is a CPython extension;
it is built once per machine and Python/NumPy version and reused by every
compiled function.
"""
import functools
import importlib.machinery
import importlib.util
import sys

from symgraph.link.c import cache, compiler
from symgraph.link.c.module import csrc_text

ABI_VERSION = 4  # SG_ABI_VERSION in csrc/sg_abi.h
VM_FLAGS = ("-O2", "-fPIC", "-shared", "-std=gnu11", "-Wall", "-fno-strict-aliasing")
_MODULE_NAME = "symgraph.link.c._cvm"


@functools.lru_cache(maxsize=None)
def cvm():
    """The imported ``_cvm`` extension module (built into the cache if needed).

    >>> cvm().ABI_VERSION == ABI_VERSION
    True
    """
    source = csrc_text("cvm.c")
    flags = VM_FLAGS + compiler.python_include_flags()
    entry = cache.get_library(source, flags=flags, libs=("-ldl",),
                              description="symgraph C VM (cvm.c)",
                              regions=[(1, source.count("\n") + 1, "the C VM (csrc/)")])
    loader = importlib.machinery.ExtensionFileLoader(_MODULE_NAME, entry.path)
    spec = importlib.util.spec_from_file_location(_MODULE_NAME, entry.path, loader=loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    sys.modules[_MODULE_NAME] = module
    if module.ABI_VERSION != ABI_VERSION:
        raise RuntimeError(f"csrc/sg_abi.h says ABI {module.ABI_VERSION}, runtime.py expects "
                           f"{ABI_VERSION}: update ABI_VERSION in {__file__}")
    return module


BLAS_NAMES = ("sgemm", "dgemm", "sgemv", "dgemv", "sger", "dger", "sdot", "ddot", "saxpy",
              "daxpy", "sscal", "dscal")  # SG_BLAS_NAMES in csrc/sg_abi.h


@functools.lru_cache(maxsize=None)
def ensure_blas():
    """Give the VM the BLAS that generated code calls (once per process); returns which:
    ``'numpy'`` or ``'scipy'``.

    Generated code reaches BLAS through ``ctx->blas`` (csrc/sg_abi.h), so symgraph links
    no BLAS of its own.  ``config.blas`` picks it: ``'numpy'``, the OpenBLAS that NumPy's
    wheels bundle (64-bit integers, called through adapters; one thread pool shared with
    NumPy, and a newer build: 1.5x faster on the skinny products of small batches);
    ``'scipy'``, ``scipy.linalg.cython_blas``; ``'auto'``, NumPy's where found.

    >>> ensure_blas() in ('numpy', 'scipy')
    True
    """
    from symgraph import config

    if config.blas in ("auto", "numpy"):
        addresses = _numpy_blas_addresses()
        if addresses is not None:
            cvm().set_blas_ilp64(addresses)
            return "numpy"
        if config.blas == "numpy":
            raise RuntimeError("config.blas='numpy': this NumPy bundles no ILP64 OpenBLAS "
                               "(numpy.libs/*openblas64*); use 'scipy' or 'auto'")
    cvm().set_blas(_cython_blas_capi())
    return "scipy"


def _numpy_blas_addresses():
    """``{name: address}`` of the ILP64 BLAS functions of the OpenBLAS bundled with NumPy's
    wheels (already loaded by ``import numpy``), or None where there is none."""
    import ctypes
    import glob
    import os

    import numpy

    root = os.path.dirname(os.path.dirname(numpy.__file__))
    for path in sorted(glob.glob(os.path.join(root, "numpy.libs", "*openblas64*")) +
                       glob.glob(os.path.join(os.path.dirname(numpy.__file__), ".dylibs",
                                              "*openblas64*"))):
        library = ctypes.CDLL(path)
        for prefix in ("scipy_", ""):
            try:
                functions = [getattr(library, f"{prefix}{name}_64_") for name in BLAS_NAMES]
            except AttributeError:
                continue
            return {name: ctypes.cast(f, ctypes.c_void_p).value
                    for name, f in zip(BLAS_NAMES, functions)}
    return None


def _cython_blas_capi():
    """``scipy.linalg.cython_blas.__pyx_capi__``, without importing ``scipy.linalg``.

    ``import scipy.linalg`` costs 0.3-0.9 s (its many submodules); the one
    extension module that holds the pointers loads in milliseconds.  It is not
    registered in ``sys.modules``, so a later ``import scipy.linalg`` sets
    itself up as usual (loading the same shared library: the same BLAS).
    """
    loaded = sys.modules.get("scipy.linalg.cython_blas")
    if loaded is not None:
        return loaded.__pyx_capi__
    import glob
    import os

    import scipy

    linalg = os.path.join(os.path.dirname(scipy.__file__), "linalg")
    paths = [p for p in glob.glob(os.path.join(linalg, "cython_blas.*"))
             if p.endswith(tuple(importlib.machinery.EXTENSION_SUFFIXES))]
    if not paths:  # an unusual layout: the slow, sure way
        from scipy.linalg import cython_blas

        return cython_blas.__pyx_capi__
    name = "scipy.linalg.cython_blas"
    loader = importlib.machinery.ExtensionFileLoader(name, paths[0])
    spec = importlib.util.spec_from_file_location(name, paths[0], loader=loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module.__pyx_capi__
