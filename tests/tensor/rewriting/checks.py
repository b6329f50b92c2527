"""Shared checks for rewrite tests: compile with and without rewrites, compare values."""
import warnings

import numpy as np

import symgraph as sg
from symgraph.compile.mode import Mode, get_mode

NO_REWRITES = Mode(optimizer=None)
# Fusion and in-place elementwise ops would hide the ops the rewrite tests look for (they
# have their own tests: test_fusion.py, test_inplace.py); ``rewritten`` inspects the graph
# without them, and still checks the values of the complete FAST_RUN pipeline.
BEFORE_FUSION = get_mode("FAST_RUN").excluding("fusion", "inplace_elemwise")


def ops(f):
    """The op names of a compiled function's graph, in execution order."""
    return [str(n.op) for n in f.maker.fgraph.toposort()]


def rewritten(inputs, outputs, *values, mode=None, rtol=1e-7, atol=1e-12):
    """Compile ``outputs`` with rewrites (``mode``; by default FAST_RUN without fusion and
    in-place ops, and FAST_RUN itself is checked too) and without; check they agree on
    ``values`` (values, shapes, dtypes) and that rewriting raised no warning.  Returns
    the function compiled with ``mode``."""
    modes = [mode] if mode is not None else [BEFORE_FUSION, get_mode("FAST_RUN")]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        compiled = [sg.function(inputs, outputs, mode=m, on_unused_input="ignore")
                    for m in modes]
    g = sg.function(inputs, outputs, mode=NO_REWRITES, on_unused_input="ignore")
    want = g(*values)
    for f in compiled:
        _check_same(f(*values), want, outputs, rtol, atol)
    return compiled[0]


def _check_same(got, want, outputs, rtol, atol):
    if not isinstance(outputs, (list, tuple)):
        got, want = [got], [want]
    for a, b in zip(got, want):
        a, b = np.asarray(a), np.asarray(b)
        assert a.shape == b.shape, (a.shape, b.shape)
        assert a.dtype == b.dtype, (a.dtype, b.dtype)
        np.testing.assert_allclose(a, b, rtol=rtol, atol=atol, equal_nan=True)


def fired(f, name):
    """How many times rewrite ``name`` changed ``f``'s graph."""
    return f.maker.fgraph.rewrite_profile.fired(name)
