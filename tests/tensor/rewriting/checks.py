"""Shared checks for rewrite tests: compile with and without rewrites, compare values."""
import warnings

import numpy as np

import symgraph as sg
from symgraph.compile.mode import Mode, get_mode

NO_REWRITES = Mode(optimizer=None)


def ops(f):
    """The op names of a compiled function's graph, in execution order."""
    return [str(n.op) for n in f.maker.fgraph.toposort()]


def rewritten(inputs, outputs, *values, mode=None, rtol=1e-7, atol=1e-12):
    """Compile ``outputs`` with rewrites (``mode``, FAST_RUN by default) and without;
    check both agree on ``values`` (values, shapes, dtypes) and that rewriting raised
    no warning.  Returns the rewritten function."""
    mode = get_mode("FAST_RUN") if mode is None else mode
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        f = sg.function(inputs, outputs, mode=mode, on_unused_input="ignore")
    g = sg.function(inputs, outputs, mode=NO_REWRITES, on_unused_input="ignore")
    got, want = f(*values), g(*values)
    if not isinstance(outputs, (list, tuple)):
        got, want = [got], [want]
    for a, b in zip(got, want):
        a, b = np.asarray(a), np.asarray(b)
        assert a.shape == b.shape, (a.shape, b.shape)
        assert a.dtype == b.dtype, (a.dtype, b.dtype)
        np.testing.assert_allclose(a, b, rtol=rtol, atol=atol, equal_nan=True)
    return f


def fired(f, name):
    """How many times rewrite ``name`` changed ``f``'s graph."""
    return f.maker.fgraph.rewrite_profile.fired(name)
