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


@functools.lru_cache(maxsize=None)
def ensure_blas():
    """Give the VM SciPy's BLAS function pointers (once per process).

    Generated code reaches BLAS through ``ctx->blas`` (csrc/sg_abi.h); the
    pointers come from ``scipy.linalg.cython_blas``, so symgraph links no
    BLAS of its own and uses the same library (and thread pool) as SciPy.

    >>> ensure_blas()
    """
    cvm().set_blas(_cython_blas_capi())


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
