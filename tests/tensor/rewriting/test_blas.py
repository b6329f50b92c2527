"""The specialize rewrites to gemm, gemv and ger: each fires on its patterns, leaves the
values unchanged, and stays away from what it must not touch (bias rows, shared
products, mixed dtypes)."""
import numpy as np
import pytest

import symgraph as sg
import symgraph.tensor as T
from symgraph.compile.mode import get_mode
from symgraph.tensor.blas import BlasDot, Gemm, Gemv, Ger
from tests.tensor.rewriting.checks import fired, rewritten

RTOL = {"float64": 1e-10, "float32": 1e-4}


def count(f, op_class):
    return sum(isinstance(n.op, op_class) for n in f.maker.fgraph.apply_nodes)


def has_dot(f):
    """Whether a product is left outside the BLAS forms with accumulation."""
    return any(isinstance(n.op, (T.Dot, BlasDot)) for n in f.maker.fgraph.apply_nodes)


def draw(rng, dtype, *shape):
    return rng.normal(size=shape).astype(dtype)


# -- gemm -------------------------------------------------------------------------------
GEMM_FORMS = {
    "Z + dot": lambda z, x, y, a, b: z + T.dot(x, y),
    "dot + Z": lambda z, x, y, a, b: T.dot(x, y) + z,
    "Z + a*dot": lambda z, x, y, a, b: z + a * T.dot(x, y),
    "b*Z + a*dot": lambda z, x, y, a, b: b * z + a * T.dot(x, y),
    "Z - a*dot": lambda z, x, y, a, b: z - a * T.dot(x, y),
    "Z - dot*a*b": lambda z, x, y, a, b: z - T.dot(x, y) * a * b,
    "-dot - b*Z": lambda z, x, y, a, b: -T.dot(x, y) - b * z,
    "Z - 0.1*dot": lambda z, x, y, a, b: z - 0.1 * T.dot(x, y),
    "Z*2 + dot/4": lambda z, x, y, a, b: z * 2 + T.dot(x, y) / 4,
}


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("form", sorted(GEMM_FORMS))
def test_gemm_fires_and_keeps_values(form, dtype, rng):
    z, x, y = (T.tensor(dtype, (None, None), name=n) for n in "zxy")
    a, b = T.tensor(dtype, (), name="a"), T.tensor(dtype, (), name="b")
    out = GEMM_FORMS[form](z, x, y, a, b)
    values = [draw(rng, dtype, 4, 5), draw(rng, dtype, 4, 3), draw(rng, dtype, 3, 5),
              np.asarray(rng.normal(), dtype), np.asarray(rng.normal(), dtype)]
    f = rewritten([z, x, y, a, b], out, *values, rtol=RTOL[dtype], atol=RTOL[dtype])
    assert count(f, Gemm) == 1 and not has_dot(f), form
    assert fired(f, "local_gemm") == 1


def test_the_sgd_update_is_a_gemm(rng):
    W = sg.shared(rng.normal(size=(6, 4)), name="W")
    x, g = T.dmatrix("x"), T.dmatrix("g")
    lr = T.dscalar("lr")
    xv, gv = rng.normal(size=(8, 6)), rng.normal(size=(8, 4))
    want = W.get_value() - 0.05 * xv.T @ gv
    f = sg.function([x, g, lr], [], updates=[(W, W - lr * T.dot(x.T, g))])
    assert count(f, Gemm) == 1 and not has_dot(f)
    f(xv, gv, 0.05)
    np.testing.assert_allclose(W.get_value(), want, rtol=1e-12)


def test_a_sum_of_products_becomes_chained_gemms_and_other_terms_stay(rng):
    z, x, y, u, v, c = T.dmatrices("z", "x", "y", "u", "v", "c")
    values = [rng.normal(size=s) for s in ((3, 4), (3, 2), (2, 4), (3, 5), (5, 4), (3, 4))]
    f = rewritten([z, x, y, u, v, c], z + T.dot(x, y) - T.dot(u, v) + T.exp(c), *values)
    assert count(f, Gemm) == 2 and not has_dot(f)
    g = rewritten([x, y, u, v], T.dot(x, y) + T.dot(u, v), *values[1:5])
    assert count(g, Gemm) == 1 and count(g, BlasDot) == 1  # one product is the accumulator


def test_runtime_broadcasting_of_the_accumulator_is_kept(rng):
    z, x, y = T.dmatrices("z", "x", "y")
    out = z + 2.0 * T.dot(x, y)
    f = rewritten([z, x, y], out, rng.normal(size=(1, 4)), rng.normal(size=(3, 2)),
                  rng.normal(size=(2, 4)))
    assert count(f, Gemm) == 1
    rewritten([z, x, y], out, rng.normal(size=(3, 4)), rng.normal(size=(1, 2)),
              rng.normal(size=(2, 4)))


def test_a_bias_row_is_not_a_gemm_accumulator(rng):
    x, W = T.dmatrices("x", "W")
    b = T.dvector("b")
    row = T.tensor("float64", (1, None), name="row")
    values = [rng.normal(size=(5, 3)), rng.normal(size=(3, 4))]
    f = rewritten([x, W, b], T.dot(x, W) + b, *values, rng.normal(size=4))
    assert count(f, Gemm) == 0 and has_dot(f)
    f = rewritten([x, W, row], T.dot(x, W) - 3.0 * row, *values, rng.normal(size=(1, 4)))
    assert count(f, Gemm) == 0


def test_a_product_used_elsewhere_is_not_absorbed(rng):
    z, x, y = T.dmatrices("z", "x", "y")
    product = T.dot(x, y)
    values = [rng.normal(size=(3, 4)), rng.normal(size=(3, 2)), rng.normal(size=(2, 4))]
    f = rewritten([z, x, y], [z + product, T.exp(product)], *values)
    assert count(f, Gemm) == 0
    scaled = 2.0 * T.dot(x, y)
    f = rewritten([z, x, y], [z + scaled, T.exp(scaled)], *values)
    assert count(f, Gemm) == 0


def test_mixed_or_integer_dtypes_are_left_alone(rng):
    z = T.dmatrix("z")
    x, y = T.fmatrices("x", "y")
    values = [rng.normal(size=(3, 4)), draw(rng, "float32", 3, 2), draw(rng, "float32", 2, 4)]
    f = rewritten([z, x, y], z + T.dot(x, y), *values)
    assert count(f, Gemm) == 0
    zi, xi, yi = T.lmatrices("zi", "xi", "yi")
    ints = [rng.integers(-5, 5, size=s) for s in ((3, 4), (3, 2), (2, 4))]
    f = rewritten([zi, xi, yi], zi + 2 * T.dot(xi, yi), *ints)
    assert count(f, Gemm) == 0


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_a_lone_product_is_a_blas_dot(dtype, rng):
    x, y = T.tensor(dtype, (None, None), name="x"), T.tensor(dtype, (None, None), name="y")
    v = T.tensor(dtype, (None,), name="v")
    xv, yv, vv = draw(rng, dtype, 3, 2), draw(rng, dtype, 2, 4), draw(rng, dtype, 2)
    for inputs, out, values in [([x, y], T.dot(x, y), [xv, yv]), ([x, v], T.dot(x, v), [xv, vv]),
                                ([v, y], T.dot(v, y), [vv, yv]),
                                ([x, y], T.dot(x.T, x) + T.dot(y, y.T), [xv, yv])]:
        f = rewritten(inputs, out, *values, rtol=RTOL[dtype], atol=RTOL[dtype])
        assert count(f, BlasDot) == 1 and not any(isinstance(n.op, T.Dot)
                                                  for n in f.maker.fgraph.apply_nodes)
        assert fired(f, "local_blas_dot") >= 1
    f = rewritten([v], T.dot(v, v), vv)  # a vector product is no BLAS 2/3 call
    assert count(f, BlasDot) == 0


def test_blas_can_be_excluded(rng):
    z, x, y = T.dmatrices("z", "x", "y")
    values = [rng.normal(size=(3, 4)), rng.normal(size=(3, 2)), rng.normal(size=(2, 4))]
    mode = get_mode("FAST_RUN").excluding("blas")
    f = rewritten([z, x, y], z - T.dot(x, y), *values, mode=mode)
    assert count(f, Gemm) == 0 and count(f, BlasDot) == 0 and has_dot(f)


# -- gemv -------------------------------------------------------------------------------
GEMV_FORMS = {
    "dot(A, x) + y": lambda y, A, x, a: T.dot(A, x) + y,
    "y - a*dot(A, x)": lambda y, A, x, a: y - a * T.dot(A, x),
    "a*y + dot(x, A.T)": lambda y, A, x, a: a * y + T.dot(x, A.T),
    "y + dot(x, B)": lambda y, A, x, a: y + 0.5 * T.dot(x, A.T),
}


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("form", sorted(GEMV_FORMS))
def test_gemv_fires_and_keeps_values(form, dtype, rng):
    y, x = T.tensor(dtype, (None,), name="y"), T.tensor(dtype, (None,), name="x")
    A, a = T.tensor(dtype, (None, None), name="A"), T.tensor(dtype, (), name="a")
    values = [draw(rng, dtype, 4), draw(rng, dtype, 4, 3), draw(rng, dtype, 3),
              np.asarray(rng.normal(), dtype)]
    f = rewritten([y, A, x, a], GEMV_FORMS[form](y, A, x, a), *values, rtol=RTOL[dtype],
                  atol=RTOL[dtype])
    assert count(f, Gemv) == 1 and not has_dot(f), form
    assert fired(f, "local_gemv") == 1


def test_gemv_skips_a_broadcast_accumulator(rng):
    A = T.dmatrix("A")
    x = T.dvector("x")
    one = T.tensor("float64", (1,), name="one")
    f = rewritten([A, x, one], T.dot(A, x) + one, rng.normal(size=(4, 3)), rng.normal(size=3),
                  rng.normal(size=1))
    assert count(f, Gemv) == 0


# -- ger --------------------------------------------------------------------------------
GER_FORMS = {
    "W + outer": lambda W, x, y, a: W + T.outer(x, y),
    "W + a*outer": lambda W, x, y, a: W + a * T.outer(x, y),
    "W - 0.1*outer(y, x).T": lambda W, x, y, a: W - 0.1 * T.outer(y, x).T,
    "a*W - outer(tanh(x), y)": lambda W, x, y, a: a * W - T.outer(T.tanh(x), y),
}


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("form", sorted(GER_FORMS))
def test_ger_fires_and_keeps_values(form, dtype, rng):
    W = T.tensor(dtype, (None, None), name="W")
    x, y = T.tensor(dtype, (None,), name="x"), T.tensor(dtype, (None,), name="y")
    a = T.tensor(dtype, (), name="a")
    values = [draw(rng, dtype, 4, 5), draw(rng, dtype, 4), draw(rng, dtype, 5),
              np.asarray(rng.normal(), dtype)]
    f = rewritten([W, x, y, a], GER_FORMS[form](W, x, y, a), *values, rtol=RTOL[dtype],
                  atol=RTOL[dtype])
    assert count(f, Ger) == 1, form
    assert fired(f, "local_ger") == 1


def test_ger_skips_a_broadcast_accumulator_and_shared_outer_products(rng):
    x, y = T.dvectors("x", "y")
    row = T.tensor("float64", (1, None), name="row")
    values = [rng.normal(size=4), rng.normal(size=5)]
    f = rewritten([row, x, y], row + T.outer(x, y), rng.normal(size=(1, 5)), *values)
    assert count(f, Ger) == 0
    W = T.dmatrix("W")
    product = T.outer(x, y)
    f = rewritten([W, x, y], [W + product, T.exp(product)], rng.normal(size=(4, 5)), *values)
    assert count(f, Ger) == 0


# -- in place -------------------------------------------------------------------------------
def blas_ops(f):
    return [n.op for n in f.maker.fgraph.toposort() if isinstance(n.op, (Gemm, Gemv, Ger))]


def test_an_intermediate_accumulator_is_overwritten_but_never_an_input(rng):
    z, x, y = T.dmatrices("z", "x", "y")
    v, w = T.dvectors("v", "w")
    zv, xv, yv = rng.normal(size=(3, 4)), rng.normal(size=(3, 2)), rng.normal(size=(2, 4))
    vv, wv = rng.normal(size=3), rng.normal(size=4)
    f = rewritten([z, x, y], T.exp(z) - 0.5 * T.dot(x, y), zv, xv, yv)
    assert [op.inplace for op in blas_ops(f)] == [True]
    f = rewritten([z, v, w], T.exp(z) + T.outer(v, w), zv, vv, wv)
    assert [(type(op), op.inplace) for op in blas_ops(f)] == [(Ger, True)]
    a = T.dmatrix("a")
    f = rewritten([v, a, w], T.tanh(v) + T.dot(a, w), vv, rng.normal(size=(3, 4)), wv)
    assert [(type(op), op.inplace) for op in blas_ops(f)] == [(Gemv, True)]
    before = zv.copy()
    f = rewritten([z, x, y], z - 0.5 * T.dot(x, y), zv, xv, yv)
    assert [op.inplace for op in blas_ops(f)] == [False]
    f(zv, xv, yv)
    np.testing.assert_array_equal(zv, before)
