"""The C VM's runtime (symgraph/link/c/runtime.py): which BLAS generated code calls.

``config.blas`` is read once per process (the first module that calls BLAS), so each
choice runs in a fresh interpreter; there, every BLAS routine the generated code calls
(gemm, gemv, ger, dot, in float32 and float64) is checked against NumPy.
"""
import os
import subprocess
import sys

import pytest

from symgraph.link.c.runtime import BLAS_NAMES, _numpy_blas_addresses

CHECK = r"""
import numpy as np, symgraph as sg, symgraph.tensor as T
from symgraph.link.c.runtime import cvm, ensure_blas
rng = np.random.default_rng(7)
for dtype, tol in (("float32", 1e-4), ("float64", 1e-12)):
    a, b = T.matrix(dtype=dtype), T.matrix(dtype=dtype)
    v, w = T.vector(dtype=dtype), T.vector(dtype=dtype)
    f = sg.function([a, b, v, w], [T.dot(a, b), T.dot(a, v), T.outer(v, w) + b[:3, :4],
                                   T.dot(v, v)])
    av, bv = rng.normal(size=(5, 3)).astype(dtype), rng.normal(size=(3, 4)).astype(dtype)
    vv, wv = rng.normal(size=3).astype(dtype), rng.normal(size=4).astype(dtype)
    want = [av @ bv, av @ vv, np.outer(vv, wv) + bv[:3, :4], vv @ vv]
    for got, ref in zip(f(av, bv, vv, wv), want):
        np.testing.assert_allclose(got, ref, rtol=tol, atol=tol)
print(ensure_blas(), sorted(cvm().blas_addresses()) == sorted(%r))
"""


def _run(choice):
    env = dict(os.environ, SYMGRAPH_FLAGS=f"blas={choice}")
    done = subprocess.run([sys.executable, "-c", CHECK % (list(BLAS_NAMES),)], env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


def test_scipy_blas_computes_every_routine():
    assert _run("scipy") == ["scipy", "True"]


@pytest.mark.skipif(_numpy_blas_addresses() is None, reason="NumPy bundles no ILP64 OpenBLAS")
def test_numpy_blas_through_the_ilp64_adapters_computes_every_routine():
    assert _run("numpy") == ["numpy", "True"]
    assert _run("auto") == ["numpy", "True"]


def test_an_unknown_choice_is_refused():
    import symgraph as sg

    with pytest.raises(ValueError, match="blas"):
        sg.config.blas = "mkl"
