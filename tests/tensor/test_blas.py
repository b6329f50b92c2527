"""Gemm, Gemv and Ger: values against NumPy for every memory layout, in-place and copying
variants, size-0 dimensions, run-time broadcasting, shapes and gradients."""
import pathlib
import subprocess
import sys

import numpy as np
import pytest

import symgraph as sg
import symgraph.tensor as T
from symgraph.gradient import verify_grad
from symgraph.tensor.blas import (Gemm, Gemv, Ger, blas_dot, gemm, gemm_inplace,
                                  gemm_no_inplace, gemv, gemv_inplace, gemv_no_inplace, ger,
                                  ger_inplace, ger_no_inplace)
from symgraph.tensor.type import TensorType
from tests.tensor.test_shape import check_infer_shape

RTOL = {"float32": 2e-5, "float64": 1e-12, "complex128": 1e-12, "int64": 0}
SCALARS = [(1.0, 1.0), (-0.3, 2.5), (2.0, 0.0), (0.0, 1.0)]


def perform(op, *values):
    """Run ``op.perform`` on ``values`` directly (so their memory layout is kept)."""
    inputs = [TensorType(v.dtype, (None,) * v.ndim).make_variable() for v in values]
    node = op.make_node(*inputs)
    storage = [[None]]
    op.perform(node, list(values), storage)
    return storage[0][0]


def layouts(rng, shape, dtype):
    """The same kind of random matrix as C-ordered, Fortran-ordered, a transposed view
    and a strided (non-contiguous) view."""
    def draw(s):
        value = rng.normal(size=s)
        if np.dtype(dtype).kind == "c":
            value = value + 1j * rng.normal(size=s)
        return value.astype(dtype)

    yield "C", draw(shape)
    yield "F", np.asfortranarray(draw(shape))
    yield "T", draw(shape[::-1]).T
    strided = draw(tuple(2 * s for s in shape))[::2, ::2] if len(shape) == 2 \
        else draw((2 * shape[0],))[::2]
    yield "strided", strided


def scalar(value, dtype):
    return np.asarray(value, dtype=dtype)


def check(got, want, dtype):
    assert got.dtype == np.dtype(dtype) and got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=RTOL[dtype], atol=RTOL[dtype] * 10)


# -- gemm ---------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", ["float32", "float64", "complex128"])
def test_gemm_matches_numpy_for_every_layout(dtype, rng):
    m, k, n = 4, 3, 5
    for zl, z in layouts(rng, (m, n), dtype):
        for xl, x in layouts(rng, (m, k), dtype):
            for yl, y in layouts(rng, (k, n), dtype):
                for alpha, beta in SCALARS:
                    z_before = z.copy()
                    got = perform(gemm_no_inplace, z, scalar(alpha, dtype), x, y,
                                  scalar(beta, dtype))
                    check(got, beta * z_before + alpha * (x @ y), dtype)
                    np.testing.assert_array_equal(z, z_before)  # the copying op keeps Z


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("order", ["C", "F"])
def test_gemm_inplace_overwrites_z(dtype, order, rng):
    z = np.array(rng.normal(size=(6, 4)), dtype=dtype, order=order)
    x, y = rng.normal(size=(6, 7)).astype(dtype), rng.normal(size=(7, 4)).astype(dtype)
    want = 0.5 * z - 2.0 * (x @ y)
    got = perform(gemm_inplace, z, scalar(-2.0, dtype), x, y, scalar(0.5, dtype))
    assert got.ctypes.data == z.ctypes.data  # the result is z's buffer
    check(z, want.astype(dtype), dtype)


def test_gemm_inplace_on_a_read_only_or_strided_z_copies(rng):
    x, y = rng.normal(size=(3, 2)), rng.normal(size=(2, 4))
    z = rng.normal(size=(3, 4))
    z.flags.writeable = False
    check(perform(gemm_inplace, z, scalar(1.5, "float64"), x, y, scalar(1.0, "float64")),
          z + 1.5 * x @ y, "float64")
    strided = rng.normal(size=(6, 8))[::2, ::2]
    check(perform(gemm_inplace, strided, scalar(1.0, "float64"), x, y, scalar(2.0, "float64")),
          2 * strided + x @ y, "float64")


def test_gemm_with_beta_0_does_not_read_z(rng):
    x, y = rng.normal(size=(3, 2)), rng.normal(size=(2, 4))
    z = np.full((3, 4), np.nan)
    for op in (gemm_no_inplace, gemm_inplace):
        check(perform(op, z.copy(), scalar(1.0, "float64"), x, y, scalar(0.0, "float64")),
              x @ y, "float64")


@pytest.mark.parametrize("shapes", [((0, 4), (0, 3), (3, 4)), ((3, 0), (3, 2), (2, 0)),
                                    ((3, 4), (3, 0), (0, 4)), ((0, 0), (0, 0), (0, 0))])
def test_gemm_with_size_0_dims(shapes, rng):
    z, x, y = (rng.normal(size=s) for s in shapes)
    for op in (gemm_no_inplace, gemm_inplace):
        got = perform(op, z.copy(), scalar(2.0, "float64"), x, y, scalar(0.5, "float64"))
        check(got, 0.5 * z + 2.0 * (x @ y), "float64")


def test_gemm_broadcasts_at_run_time_like_the_expression(rng):
    x, y = rng.normal(size=(3, 2)), rng.normal(size=(2, 4))
    for z in (rng.normal(size=(1, 4)), rng.normal(size=(3, 1)), rng.normal(size=(1, 1))):
        for op in (gemm_no_inplace, gemm_inplace):
            got = perform(op, z.copy(), scalar(1.0, "float64"), x, y, scalar(3.0, "float64"))
            check(got, 3.0 * z + x @ y, "float64")
    z = rng.normal(size=(3, 4))  # the product broadcasts instead
    got = perform(gemm_no_inplace, z, scalar(1.0, "float64"), x[:1], y, scalar(1.0, "float64"))
    check(got, z + x[:1] @ y, "float64")
    with pytest.raises(ValueError):
        perform(gemm_no_inplace, np.ones((2, 4)), scalar(1.0, "float64"), x, y,
                scalar(1.0, "float64"))
    with pytest.raises(ValueError):
        perform(gemm_no_inplace, np.ones((3, 4)), scalar(1.0, "float64"), x, y[:1],
                scalar(1.0, "float64"))


def test_gemm_of_integers_falls_back_to_numpy(rng):
    z, x, y = (rng.integers(-5, 5, size=s) for s in ((3, 4), (3, 2), (2, 4)))
    got = perform(gemm_no_inplace, z, scalar(2, "int64"), x, y, scalar(-1, "int64"))
    check(got, 2 * (x @ y) - z, "int64")


def test_gemm_typing():
    z, x, y = T.fmatrix(), T.fmatrix(), T.fmatrix()
    out = gemm(z, 0.5, x, y, T.dscalar())  # scalars are cast to the matrices' dtype
    assert out.type == TensorType("float32", (None, None))
    assert str(out.owner.op) == "Gemm{no_inplace}" and gemm_inplace.destroy_map == {0: [0]}
    assert gemm_no_inplace.destroy_map == {} and Gemm(True) == gemm_inplace
    shaped = gemm(T.tensor("float64", (3, None)), 1.0, T.tensor("float64", (None, 2)),
                  T.tensor("float64", (2, 5)), 1.0)
    assert shaped.type.shape == (3, 5)
    with pytest.raises(TypeError):
        gemm(T.dmatrix(), 1.0, T.fmatrix(), T.fmatrix(), 1.0)
    with pytest.raises(TypeError):
        gemm(T.dvector(), 1.0, T.dmatrix(), T.dmatrix(), 1.0)
    with pytest.raises(TypeError):
        gemm(T.dmatrix(), T.dvector(), T.dmatrix(), T.dmatrix(), 1.0)
    with pytest.raises(TypeError):
        gemm(T.dmatrix(), 1.0, T.tensor("float64", (None, 3)), T.tensor("float64", (2, None)),
             1.0)


def test_gemm_in_a_function_infer_shape_and_grad(rng):
    z, x, y = T.dmatrices("z", "x", "y")
    a, b = T.dscalars("a", "b")
    values = [rng.normal(size=(3, 4)), 0.7, rng.normal(size=(3, 5)), rng.normal(size=(5, 4)),
              -1.3]
    f = sg.function([z, a, x, y, b], gemm(z, a, x, y, b))
    check(f(*values), values[4] * values[0] + values[1] * values[2] @ values[3], "float64")
    check_infer_shape(gemm(z, a, x, y, b), [z, a, x, y, b], values)
    check_infer_shape(gemm(z, a, x, y, b), [z, a, x, y, b],
                      [rng.normal(size=(1, 4))] + values[1:])
    verify_grad(gemm, [np.asarray(v) for v in values], rng=rng)
    verify_grad(gemm, [rng.normal(size=(1, 4))] + [np.asarray(v) for v in values[1:]], rng=rng)


def test_gemm_r_op_is_that_of_its_expression(rng):
    z, x, y = T.dmatrices("z", "x", "y")
    ez, ex, ey = T.dmatrices("ez", "ex", "ey")
    a, b = T.dscalars("a", "b")
    got = T.Rop(gemm(z, a, x, y, b), [z, x, y], [ez, ex, ey])
    want = T.Rop(b * z + a * T.dot(x, y), [z, x, y], [ez, ex, ey])
    values = [rng.normal(size=s) for s in ((3, 4), (3, 2), (2, 4))] * 2 + [0.3, 1.7]
    f = sg.function([z, x, y, ez, ex, ey, a, b], [got, want], on_unused_input="ignore")
    check(*f(*values), "float64")


# -- gemv ---------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", ["float32", "float64", "complex128"])
def test_gemv_matches_numpy_for_every_layout(dtype, rng):
    m, n = 5, 3
    for _, y in layouts(rng, (m,), dtype):
        for _, a in layouts(rng, (m, n), dtype):
            for _, x in layouts(rng, (n,), dtype):
                for alpha, beta in SCALARS:
                    y_before = y.copy()
                    got = perform(gemv_no_inplace, y, scalar(alpha, dtype), a, x,
                                  scalar(beta, dtype))
                    check(got, beta * y_before + alpha * (a @ x), dtype)
                    np.testing.assert_array_equal(y, y_before)


def test_gemv_inplace_size_0_broadcast_and_integers(rng):
    a, x = rng.normal(size=(4, 3)), rng.normal(size=3)
    y = rng.normal(size=4)
    want = 2.0 * y - a @ x
    got = perform(gemv_inplace, y, scalar(-1.0, "float64"), a, x, scalar(2.0, "float64"))
    assert got.ctypes.data == y.ctypes.data
    check(y, want, "float64")
    for ys, as_, xs in [((0,), (0, 3), (3,)), ((4,), (4, 0), (0,)), ((1,), (4, 3), (3,))]:
        yv, av, xv = (rng.normal(size=s) for s in (ys, as_, xs))
        got = perform(gemv_no_inplace, yv, scalar(1.5, "float64"), av, xv, scalar(0.5, "float64"))
        check(got, 0.5 * yv + 1.5 * (av @ xv), "float64")
    yi, ai, xi = (rng.integers(-4, 4, size=s) for s in ((4,), (4, 3), (3,)))
    check(perform(gemv_no_inplace, yi, scalar(3, "int64"), ai, xi, scalar(1, "int64")),
          yi + 3 * (ai @ xi), "int64")


def test_gemv_in_a_function_infer_shape_and_grad(rng):
    y, x = T.dvectors("y", "x")
    a = T.dmatrix("a")
    alpha, beta = T.dscalars("alpha", "beta")
    values = [rng.normal(size=4), 0.6, rng.normal(size=(4, 3)), rng.normal(size=3), 1.7]
    inputs = [y, alpha, a, x, beta]
    f = sg.function(inputs, gemv(*inputs))
    check(f(*values), 1.7 * values[0] + 0.6 * values[2] @ values[3], "float64")
    check_infer_shape(gemv(*inputs), inputs, values)
    verify_grad(gemv, [np.asarray(v) for v in values], rng=rng)
    with pytest.raises(TypeError):
        gemv(T.dmatrix(), 1.0, a, x, 1.0)


# -- ger ----------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", ["float32", "float64", "complex128"])
def test_ger_matches_numpy_for_every_layout(dtype, rng):
    m, n = 4, 6
    for _, a in layouts(rng, (m, n), dtype):
        for _, x in layouts(rng, (m,), dtype):
            for _, y in layouts(rng, (n,), dtype):
                for alpha in (1.0, -0.7, 0.0):
                    a_before = a.copy()
                    got = perform(ger_no_inplace, a, scalar(alpha, dtype), x, y)
                    check(got, a_before + alpha * np.outer(x, y), dtype)
                    np.testing.assert_array_equal(a, a_before)


@pytest.mark.parametrize("order", ["C", "F"])
def test_ger_inplace_overwrites_a(order, rng):
    a = np.array(rng.normal(size=(3, 5)), order=order)
    x, y = rng.normal(size=3), rng.normal(size=5)
    want = a + 0.25 * np.outer(x, y)
    got = perform(ger_inplace, a, scalar(0.25, "float64"), x, y)
    assert got.ctypes.data == a.ctypes.data
    check(a, want, "float64")


def test_ger_size_0_broadcast_integers_shape_and_grad(rng):
    for shapes in [((0, 3), (0,), (3,)), ((3, 0), (3,), (0,)), ((1, 5), (3,), (5,))]:
        a, x, y = (rng.normal(size=s) for s in shapes)
        check(perform(ger_no_inplace, a, scalar(2.0, "float64"), x, y),
              a + 2.0 * np.outer(x, y), "float64")
    ai, xi, yi = (rng.integers(-4, 4, size=s) for s in ((3, 2), (3,), (2,)))
    check(perform(ger_no_inplace, ai, scalar(-2, "int64"), xi, yi), ai - 2 * np.outer(xi, yi),
          "int64")
    a, alpha = T.dmatrix("a"), T.dscalar("alpha")
    x, y = T.dvectors("x", "y")
    values = [rng.normal(size=(3, 5)), -0.4, rng.normal(size=3), rng.normal(size=5)]
    check_infer_shape(ger(a, alpha, x, y), [a, alpha, x, y], values)
    verify_grad(ger, [np.asarray(v) for v in values], rng=rng)
    assert isinstance(ger_inplace, Ger) and isinstance(gemv_inplace, Gemv)
    with pytest.raises(TypeError):
        ger(a, 1.0, a, y)


# -- BlasDot ------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", ["float32", "float64", "complex128"])
@pytest.mark.parametrize("shapes", [((4, 3), (3, 5)), ((4, 3), (3,)), ((3,), (3, 5))])
def test_blas_dot_matches_numpy_for_every_layout(dtype, shapes, rng):
    for _, x in layouts(rng, shapes[0], dtype):
        for _, y in layouts(rng, shapes[1], dtype):
            check(perform(blas_dot, x, y), np.dot(x, y), dtype)


def test_blas_dot_size_0_integers_typing_shape_and_grad(rng):
    for xs, ys in [((0, 3), (3, 2)), ((4, 0), (0, 2)), ((4, 0), (0,)), ((0,), (0, 3))]:
        x, y = rng.normal(size=xs), rng.normal(size=ys)
        check(perform(blas_dot, x, y), np.dot(x, y), "float64")
    xi, yi = rng.integers(-4, 4, size=(3, 2)), rng.integers(-4, 4, size=(2, 5))
    check(perform(blas_dot, xi, yi), xi @ yi, "int64")
    with pytest.raises(ValueError):
        perform(blas_dot, rng.normal(size=(3, 2)), rng.normal(size=(3, 2)))
    with pytest.raises(TypeError):
        blas_dot(T.dvector(), T.dvector())
    with pytest.raises(TypeError):
        blas_dot(T.dmatrix(), T.fmatrix())
    assert blas_dot(T.tensor("float64", (3, None)), T.tensor("float64", (None, 7))).type.shape \
        == (3, 7)
    x, y = T.dmatrices("x", "y")
    values = [rng.normal(size=(3, 4)), rng.normal(size=(4, 2))]
    check_infer_shape(blas_dot(x, y), [x, y], values)
    verify_grad(blas_dot, values, rng=rng)
    verify_grad(blas_dot, [values[0], rng.normal(size=4)], rng=rng)


def test_importing_symgraph_does_not_load_scipy_blas():
    code = ("import sys, symgraph, symgraph.tensor.blas; "
            "print('scipy.linalg' in sys.modules)")
    root = pathlib.Path(__file__).resolve().parents[2]
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=root)
    assert out.stdout.strip() == "False"
