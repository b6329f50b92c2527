"""Generated C for the pooling ops against ``perform``: every mode, first and second
order gradients, float32 and float64, ragged and padded images, strided inputs.

The sweep compiles unoptimized (``QUICK_FLAGS``: it checks what the C computes);
one case uses the production flags."""
import numpy as np
import pytest

import symgraph as sg
import symgraph.tensor as T
from symgraph.link.c import compiler
from symgraph.link.c.registry import c_function_for
from symgraph.tensor.signal.pool import (AveragePoolGrad, MaxPoolGrad, MaxPoolGradGrad, Pool,
                                         pool_2d)

MODES = ["max", "sum", "average_inc_pad", "average_exc_pad"]
POOL_OPS = (Pool, MaxPoolGrad, AveragePoolGrad, MaxPoolGradGrad)
# (input shape, ws, stride, pad, ignore_border)
GEOMETRIES = [
    ((2, 3, 6, 8), (2, 2), None, (0, 0), True),
    ((2, 2, 7, 5), (3, 2), (2, 1), (1, 1), True),
    ((1, 2, 7, 6), (2, 3), (3, 2), (0, 0), False),
    ((3, 5, 4), (3, 3), (1, 1), (0, 0), False),
    ((5, 6), (3, 2), (2, 2), (2, 1), True),
]


def _graph(x, weights, upstream, ws, stride, pad, ignore_border):
    """Every mode's pooling, its gradient, and the gradient of that (second order)."""
    outputs = []
    for mode in MODES:
        pooled = pool_2d(x, ws, ignore_border, stride, pad, mode)
        g_x = sg.grad((pooled * weights).sum(), x)
        outputs += [pooled, g_x, sg.grad((g_x * upstream).sum(), weights)]
    return outputs


def _compare(rng, shape, ws, stride, pad, ignore_border, dtype, transpose=False):
    ndim = len(shape)
    x, upstream = (T.tensor(dtype, (None,) * ndim, name=n) for n in ("x", "upstream"))
    weights = T.tensor(dtype, (None,) * ndim, name="weights")
    image = x.dimshuffle(*range(ndim - 2), ndim - 1, ndim - 2) if transpose else x
    outputs = _graph(image, weights, upstream, ws, stride, pad, ignore_border)
    inputs = [x, weights, upstream]
    reference = sg.function(inputs, outputs, mode=sg.Mode(linker="py"))
    compiled = sg.function(inputs, outputs, mode=sg.Mode(linker="cvm"))
    x_value = rng.standard_normal(shape).astype(dtype)
    image_shape = x_value.transpose(*range(ndim - 2), ndim - 1, ndim - 2).shape \
        if transpose else shape
    pooled_shape = Pool(ws, ignore_border, stride, pad).out_shape(image_shape)
    values = [x_value, rng.standard_normal(pooled_shape).astype(dtype),
              rng.standard_normal(image_shape).astype(dtype)]
    tol = 1e-5 if dtype == "float32" else 1e-12
    for got, want in zip(compiled(*values), reference(*values)):
        assert got.dtype == want.dtype and got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol)
    nodes = [n for n in compiled.maker.fgraph.toposort() if isinstance(n.op, POOL_OPS)]
    assert {type(n.op) for n in nodes} == set(POOL_OPS)
    assert all(c_function_for(n, "f") is not None for n in nodes)
    assert compiled.fn.n_c_steps >= len(nodes)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("geometry", GEOMETRIES, ids=[str(g[:2]) for g in GEOMETRIES])
def test_c_matches_perform(rng, geometry, dtype):
    with compiler.using_flags(compiler.QUICK_FLAGS):
        _compare(rng, *geometry, dtype)


def test_c_on_strided_input_with_production_flags(rng):
    _compare(rng, (2, 3, 7, 9), (3, 2), (2, 2), (1, 1), True, "float32", transpose=True)


def test_c_refuses_gradient_of_wrong_shape(rng):
    x, gz = T.tensor4("x"), T.tensor4("gz")
    f = sg.function([x, gz], MaxPoolGrad((2, 2))(x, Pool((2, 2))(x), gz),
                    mode=sg.Mode(linker="cvm"))
    with pytest.raises(ValueError, match="gz has images of 3 x 2"):
        f(rng.standard_normal((1, 1, 4, 4)), rng.standard_normal((1, 1, 3, 2)))


def test_no_c_for_integers(rng):
    x = T.imatrix("x")
    node = pool_2d(x, (2, 2), ignore_border=True).owner
    assert c_function_for(node, "f") is None
    f = sg.function([x], pool_2d(x, (2, 2), ignore_border=True), mode=sg.Mode(linker="cvm"))
    value = rng.integers(-50, 50, (4, 6)).astype("int32")
    np.testing.assert_array_equal(f(value), value.reshape(2, 2, 3, 2).max(axis=(1, 3)))


def test_c_max_propagates_nan_like_perform(rng):
    x = T.tensor4("x")
    out = pool_2d(x, (2, 2), ignore_border=False)
    value = rng.standard_normal((1, 2, 5, 5))
    value[0, 0, 1, 1] = value[0, 1, 4, 4] = np.nan
    got = sg.function([x], out, mode=sg.Mode(linker="cvm"))(value)
    want = sg.function([x], out, mode=sg.Mode(linker="py"))(value)
    assert np.isnan(got[0, 0, 0, 0]) and np.isnan(got[0, 1, 2, 2])
    np.testing.assert_array_equal(got, want)
