"""Errors name the op, the inputs' shapes and dtypes, and the user's line that built the node."""
import inspect
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import symgraph as sg
import symgraph.tensor as T
from symgraph.tensor.blas import blas_dot
from symgraph.tensor.elemwise import BroadcastError

HERE = os.path.basename(__file__)


def _next_line():
    """The line number just after the caller's line."""
    return inspect.currentframe().f_back.f_lineno + 1


def test_runtime_shape_error_names_op_shapes_dtypes_and_line():
    a, b = T.matrix("a"), T.matrix("b")
    line = _next_line()
    product = T.dot(a, b)
    f = sg.function([a, b], T.tanh(product))
    rng = np.random.default_rng(0)
    floatx = sg.config.floatX
    with pytest.raises(ValueError) as info:
        f(rng.normal(size=(3, 4)).astype(floatx), rng.normal(size=(5, 6)).astype(floatx))
    message = str(info.value)
    assert "Dot" in message
    assert "(3, 4)" in message and "(5, 6)" in message
    assert f"'{floatx}', '{floatx}'" in message
    assert f'{HERE}", line {line},' in message
    assert "test_runtime_shape_error_names_op_shapes_dtypes_and_line" in message
    assert info.value.node.op in (product.owner.op, blas_dot)  # FAST_RUN's BLAS form of it


def test_function_still_works_after_a_runtime_error():
    a, b = T.dmatrices("a", "b")
    w = sg.shared(np.ones(2), name="w")
    f = sg.function([a, b], T.dot(a, b), updates={w: w + 1.0})
    rng = np.random.default_rng(1)
    with pytest.raises(ValueError):
        f(rng.normal(size=(2, 3)), rng.normal(size=(4, 2)))
    np.testing.assert_array_equal(w.get_value(), np.ones(2))  # no partial update
    av, bv = rng.normal(size=(2, 3)), rng.normal(size=(3, 2))
    np.testing.assert_allclose(f(av, bv), av @ bv)
    np.testing.assert_array_equal(w.get_value(), np.full(2, 2.0))


def test_build_time_broadcast_error_says_which_shapes_and_where():
    x = T.tensor("float64", (3, 4), name="x")
    y = T.tensor("float64", (5, 4), name="y")
    with pytest.raises(BroadcastError) as info:
        line = _next_line()
        x + y
    message = str(info.value)
    assert "(3, 4)" in message and "(5, 4)" in message
    assert "dimension 0" in message
    assert f'{HERE}", line {line},' in message


def test_build_time_dot_shape_error():
    x = T.tensor("float64", (3, 4), name="x")
    y = T.tensor("float64", (5, 6), name="y")
    with pytest.raises(ValueError) as info:
        line = _next_line()
        T.dot(x, y)
    message = str(info.value)
    assert "(3, 4)" in message and "(5, 6)" in message
    assert f'{HERE}", line {line},' in message


def test_elementwise_runtime_broadcast_mismatch():
    x, y = T.dvectors("x", "y")
    line = _next_line()
    out = T.exp(x) + y
    f = sg.function([x, y], out)
    rng = np.random.default_rng(2)
    with pytest.raises(ValueError) as info:
        f(rng.normal(size=3), rng.normal(size=4))
    message = str(info.value)
    assert "Elemwise{add}" in message or "Elemwise{Composite{add(" in message  # fused
    assert "(3,)" in message and "(4,)" in message  # rewrites may reorder the inputs
    assert f'{HERE}", line {line},' in message
    # size-1 dimensions still broadcast at run time
    np.testing.assert_allclose(f(np.zeros(1), np.arange(3.0)), np.arange(3.0) + 1)


def test_error_inside_a_user_op_keeps_its_type_and_cause():
    class Fails(sg.Op):
        def make_node(self, x):
            return sg.Apply(self, [x], [x.type()])

        def perform(self, node, inputs, output_storage):
            raise KeyError("no such key")

    x = T.dvector("x")
    f = sg.function([x], Fails()(x) * 2.0)
    with pytest.raises(KeyError) as info:
        f(np.ones(2))
    assert "Fails" in str(info.value) and isinstance(info.value.__cause__, KeyError)


def test_no_bad_input_crashes_the_process():
    """Feed a function many bad values in a fresh process: each is a Python exception."""
    script = textwrap.dedent("""
        import numpy as np
        import symgraph as sg
        import symgraph.tensor as T
        x = T.dmatrix("x")
        v = T.dvector("v")
        f = sg.function([x, v], T.dot(x, v).sum() + T.exp(v).max())
        bad = [None, "text", object(), [[1, 2], [3]], np.ones((2, 2, 2)), np.ones(3),
               np.array(["a", "b"]), np.ones((0, 3)), np.ones((3, 0)), 1e308,
               np.full((2, 2), np.nan), np.ones((2, 3), dtype=complex), {"a": 1},
               np.ones((10 ** 6, 0))]
        caught = 0
        for first in bad:
            for second in (np.ones(2), np.ones(3), None, "x", np.ones(0)):
                try:
                    f(first, second)
                except (TypeError, ValueError, IndexError):
                    caught += 1
        print("survived", caught)
    """)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("survived")
    # 70 calls; only (empty (0, 3) matrix, 3-vector) and (NaN matrix, 2-vector) are valid
    assert int(done.stdout.split()[1]) == 68
