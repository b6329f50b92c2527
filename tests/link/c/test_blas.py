"""C code for the matrix products (symgraph/link/c/blas.py) against ``perform``.

Each op is compiled once per dtype, under 'cvm' and under 'py' (the reference),
and called on fresh random operands in every memory layout a caller can pass:
C-ordered, transposed views (Fortran-ordered), row and column slices, negative
strides, broadcast (zero-stride) views; with zero-sized dimensions, with the
accumulator broadcasting against the product, in place, and with shapes that
do not fit.
"""
import numpy as np
import pytest

import symgraph as sg
import symgraph.tensor as T
from symgraph.compile.io import In
from symgraph.link.c.registry import c_function_for
from symgraph.tensor.blas import (BlasDot, Gemm, Gemv, Ger, blas_dot, gemm_inplace,
                                  gemm_no_inplace, gemv_inplace, gemv_no_inplace, ger_inplace,
                                  ger_no_inplace)
from symgraph.tensor.math import Dot, Matmul

import symgraph.link.c.generators  # noqa: F401  (registers the generators)

PRODUCTS = (Gemm, Gemv, Ger, BlasDot, Dot, Matmul)
DTYPES = ["float32", "float64"]
TOL = {"float32": 2e-5, "float64": 1e-12}


def _functions(inputs, output, **kwargs):
    """The op graph as built (no rewrites) under 'py' and under 'cvm'."""
    made = [sg.function(inputs, output, mode=sg.Mode(linker=linker, optimizer=None),
                        accept_inplace=True, **kwargs) for linker in ("py", "cvm")]
    _assert_products_run_in_c(made[1])
    return made


def _assert_products_run_in_c(f):
    products = [n for n in f.maker.fgraph.toposort() if isinstance(n.op, PRODUCTS)]
    assert products and all(c_function_for(n, "f") is not None for n in products)
    assert f.fn.n_c_steps >= len(products)


def _close(got, want, dtype):
    got, want = np.asarray(got), np.asarray(want)
    assert got.dtype == np.dtype(dtype) and got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=TOL[dtype], atol=TOL[dtype])


def _scalar(rng, dtype):
    return np.asarray(rng.uniform(-2, 2), dtype=dtype)


def _matrix_layouts(rng, shape, dtype):
    """(name, array of ``shape``) in each layout; every array freshly drawn."""
    rows, cols = shape

    def draw(*s):
        return rng.standard_normal(s).astype(dtype)

    yield "C", draw(rows, cols)
    yield "transposed", draw(cols, rows).T
    yield "row slice", draw(2 * rows, cols)[::2]
    yield "submatrix", draw(rows + 2, cols + 3)[1:rows + 1, 2:cols + 2]
    yield "transposed submatrix", draw(cols + 3, rows + 1)[3:, 1:].T
    yield "strided both ways", draw(2 * rows, 2 * cols)[::2, ::2]
    yield "negative strides", draw(rows, cols)[::-1, ::-1]
    yield "broadcast row", np.broadcast_to(draw(1, cols), shape)


def _vector_layouts(rng, n, dtype):
    def draw(*s):
        return rng.standard_normal(s).astype(dtype)

    yield "contiguous", draw(n)
    yield "strided", draw(3 * n)[::3]
    yield "negative stride", draw(n)[::-1]
    yield "broadcast", np.broadcast_to(draw(1), (n,))


# -- gemm --------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
def test_gemm_every_layout_matches_py(dtype, rng):
    z, x, y = (T.matrix(name, dtype=dtype) for name in "zxy")
    alpha, beta = T.scalar("alpha", dtype=dtype), T.scalar("beta", dtype=dtype)
    py, cvm = _functions([z, alpha, x, y, beta], gemm_no_inplace(z, alpha, x, y, beta))
    m, k, n = 3, 4, 5
    for zl, zv in _matrix_layouts(rng, (m, n), dtype):
        for xl, xv in _matrix_layouts(rng, (m, k), dtype):
            for yl, yv in _matrix_layouts(rng, (k, n), dtype):
                values = [zv, _scalar(rng, dtype), xv, yv, _scalar(rng, dtype)]
                want = values[4] * zv + values[1] * (xv.astype("float64") @ yv)
                _close(cvm(*values), py(*values), dtype)
                _close(cvm(*values), want, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_gemm_of_vector_shaped_products_matches_py(dtype, rng):
    # a row or column out goes to gemv, a k == 1 update with beta == 1 to ger
    z, x, y = (T.matrix(name, dtype=dtype) for name in "zxy")
    alpha, beta = T.scalar("alpha", dtype=dtype), T.scalar("beta", dtype=dtype)
    py, cvm = _functions([z, alpha, x, y, beta], gemm_no_inplace(z, alpha, x, y, beta))
    for m, k, n in [(1, 4, 5), (3, 4, 1), (3, 1, 5), (1, 1, 5), (1, 4, 1)]:
        for zl, zv in _matrix_layouts(rng, (m, n), dtype):
            xs, ys = _matrix_layouts(rng, (m, k), dtype), _matrix_layouts(rng, (k, n), dtype)
            for (xl, xv), (yl, yv) in zip(xs, ys):
                for b in (np.asarray(1, dtype), np.asarray(0, dtype), _scalar(rng, dtype)):
                    values = [zv, _scalar(rng, dtype), xv, yv, b]
                    _close(cvm(*values), py(*values), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_gemm_zero_sizes_broadcasting_and_beta_zero(dtype, rng):
    z, x, y = (T.matrix(name, dtype=dtype) for name in "zxy")
    alpha, beta = T.scalar("alpha", dtype=dtype), T.scalar("beta", dtype=dtype)
    py, cvm = _functions([z, alpha, x, y, beta], gemm_no_inplace(z, alpha, x, y, beta))
    draw = lambda *s: rng.standard_normal(s).astype(dtype)  # noqa: E731
    cases = [(draw(m, n), draw(m, k), draw(k, n))
             for m, k, n in [(0, 3, 4), (3, 0, 4), (3, 4, 0), (0, 0, 0), (1, 1, 1), (1, 7, 1)]]
    cases += [(draw(1, 4), draw(3, 2), draw(2, 4)),  # z broadcasts down the rows
              (draw(3, 1), draw(3, 2), draw(2, 4)),  # and along them
              (draw(3, 4), draw(1, 2), draw(2, 4)),  # the product broadcasts
              (draw(1, 1), draw(3, 0), draw(0, 4))]  # empty k, broadcast z
    for zv, xv, yv in cases:
        for b in (_scalar(rng, dtype), np.asarray(0, dtype)):
            values = [zv, _scalar(rng, dtype), xv, yv, b]
            _close(cvm(*values), py(*values), dtype)
    # beta == 0: the accumulator is not read, so its NaNs do not reach the result
    xv, yv = draw(4, 3), draw(3, 5)
    nan_z = np.full((4, 5), np.nan, dtype)
    got = cvm(nan_z, np.asarray(1.5, dtype), xv, yv, np.asarray(0, dtype))
    _close(got, 1.5 * (xv @ yv), dtype)


def test_gemm_shape_errors_raise_value_error_as_perform(rng):
    z, x, y = T.dmatrices("z", "x", "y")
    a, b = T.dscalars("a", "b")
    fs = _functions([z, a, x, y, b], gemm_no_inplace(z, a, x, y, b))
    draw = rng.standard_normal
    for zv, xv, yv in [(draw((3, 5)), draw((3, 4)), draw((2, 5))),   # inner dims
                       (draw((2, 5)), draw((3, 4)), draw((4, 5)))]:  # accumulator
        for f in fs:
            with pytest.raises(ValueError) as info:
                f(zv, 1.0, xv, yv, 1.0)
            if f is fs[1]:
                assert "Gemm" in str(info.value)
                assert str(xv.shape if zv.shape == (3, 5) else zv.shape) in str(info.value)


@pytest.mark.parametrize("layout", ["C", "transposed", "submatrix", "strided"])
def test_gemm_inplace_writes_into_z(layout, rng):
    z, x, y = T.matrices("z", "x", "y", dtype="float32")
    a, b = T.fscalars("a", "b")
    out = gemm_inplace(z, a, x, y, b)
    f = sg.function([In(z, mutable=True), a, x, y, b], out,
                    mode=sg.Mode(linker="cvm", optimizer=None), accept_inplace=True)
    _assert_products_run_in_c(f)
    base = rng.standard_normal((8, 9)).astype("float32")
    zv = {"C": base[:4, :5].copy(), "transposed": base[:5, :4].copy().T,
          "submatrix": base[1:5, 2:7], "strided": base[::2, ::2][:4, :5]}[layout]
    xv, yv = (rng.standard_normal(s).astype("float32") for s in ((4, 3), (3, 5)))
    want = 0.5 * zv + 2.0 * (xv @ yv)
    got = f(zv, np.float32(2.0), xv, yv, np.float32(0.5))
    _close(got, want, "float32")
    if layout != "strided":  # BLAS cannot write a strided z: that one goes to a new buffer
        _close(zv, want, "float32")
    # beta == 0 in place: NaNs in z are overwritten, not propagated
    zv[...] = np.nan
    _close(f(zv, np.float32(1.0), xv, yv, np.float32(0.0)), xv @ yv, "float32")


def test_gemm_inplace_on_an_accumulator_that_is_also_an_operand(rng):
    z, x, y = T.dmatrices("z", "x", "y")
    a, b = T.dscalars("a", "b")
    f = sg.function([In(z, mutable=True), a, x, y, b], gemm_inplace(z, a, x, y, b),
                    mode=sg.Mode(linker="cvm", optimizer=None), accept_inplace=True)
    zv, yv = rng.standard_normal((4, 4)), rng.standard_normal((4, 4))
    for x_of in (lambda v: v, lambda v: v.T, lambda v: v[::-1]):  # x is z's memory
        buffer = zv.copy()
        want = 0.5 * zv + 2.0 * (x_of(zv) @ yv)
        _close(f(buffer, 2.0, x_of(buffer), yv, 0.5), want, "float64")


@pytest.mark.parametrize("linker", ["cvm", "cvm_nogc"])
@pytest.mark.parametrize("batch", [1, 7])
def test_training_update_in_place_on_a_shared_matrix(batch, linker, rng):
    w0 = rng.standard_normal((6, 4)).astype("float32")
    W = sg.shared(w0.copy(), name="W")
    x, g = T.fmatrix("x"), T.fmatrix("g")
    lr = np.float32(0.1)
    step = sg.function([x, g], [], updates=[(W, W - lr * T.dot(x.T, g))],
                       mode=sg.Mode(linker=linker))
    ops = [str(n.op) for n in step.maker.fgraph.toposort()]
    assert "Gemm{inplace}" in ops
    _assert_products_run_in_c(step)
    buffer = W.get_value(borrow=True)
    want = w0.copy()
    for _ in range(5):
        xv = rng.standard_normal((batch, 6)).astype("float32")
        gv = rng.standard_normal((batch, 4)).astype("float32")
        step(xv, gv)
        want -= lr * (xv.T @ gv)
    _close(W.get_value(), want, "float32")
    assert np.shares_memory(W.get_value(borrow=True), buffer)  # updated where it lies


# -- gemv and ger ------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
def test_gemv_every_layout_matches_py(dtype, rng):
    y, x = T.vector("y", dtype=dtype), T.vector("x", dtype=dtype)
    A = T.matrix("A", dtype=dtype)
    alpha, beta = T.scalar("alpha", dtype=dtype), T.scalar("beta", dtype=dtype)
    py, cvm = _functions([y, alpha, A, x, beta], gemv_no_inplace(y, alpha, A, x, beta))
    for al, av in _matrix_layouts(rng, (5, 3), dtype):
        for xl, xv in _vector_layouts(rng, 3, dtype):
            for yl, yv in _vector_layouts(rng, 5, dtype):
                values = [yv, _scalar(rng, dtype), av, xv, _scalar(rng, dtype)]
                _close(cvm(*values), py(*values), dtype)
    draw = lambda *s: rng.standard_normal(s).astype(dtype)  # noqa: E731
    for yv, av, xv in [(draw(0), draw(0, 3), draw(3)), (draw(4), draw(4, 0), draw(0)),
                       (draw(1), draw(4, 3), draw(3)), (draw(4), draw(1, 3), draw(3)),
                       (draw(1), draw(3, 0), draw(0))]:
        for b in (_scalar(rng, dtype), np.asarray(0, dtype)):
            values = [yv, _scalar(rng, dtype), av, xv, b]
            _close(cvm(*values), py(*values), dtype)
    nan_y = np.full(4, np.nan, dtype)
    av, xv = draw(4, 3), draw(3)
    _close(cvm(nan_y, np.asarray(1, dtype), av, xv, np.asarray(0, dtype)), av @ xv, dtype)
    with pytest.raises(ValueError, match="Gemv"):
        cvm(draw(4), np.asarray(1, dtype), draw(4, 3), draw(2), np.asarray(1, dtype))


@pytest.mark.parametrize("dtype", DTYPES)
def test_ger_every_layout_matches_py(dtype, rng):
    A, x, y = T.matrix("A", dtype=dtype), T.vector("x", dtype=dtype), T.vector("y", dtype=dtype)
    alpha = T.scalar("alpha", dtype=dtype)
    py, cvm = _functions([A, alpha, x, y], ger_no_inplace(A, alpha, x, y))
    for al, av in _matrix_layouts(rng, (4, 3), dtype):
        for xl, xv in _vector_layouts(rng, 4, dtype):
            for yl, yv in _vector_layouts(rng, 3, dtype):
                values = [av, _scalar(rng, dtype), xv, yv]
                _close(cvm(*values), py(*values), dtype)
    draw = lambda *s: rng.standard_normal(s).astype(dtype)  # noqa: E731
    for av, xv, yv in [(draw(0, 3), draw(0), draw(3)), (draw(4, 0), draw(4), draw(0)),
                       (draw(1, 3), draw(4), draw(3)), (draw(4, 3), draw(1), draw(3))]:
        values = [av, _scalar(rng, dtype), xv, yv]
        _close(cvm(*values), py(*values), dtype)
    with pytest.raises(ValueError, match="Ger"):
        cvm(draw(4, 3), np.asarray(1, dtype), draw(4), draw(2))


def test_gemv_and_ger_in_place(rng):
    y, x = T.dvectors("y", "x")
    A = T.dmatrix("A")
    a, b = T.dscalars("a", "b")
    mode = sg.Mode(linker="cvm", optimizer=None)
    fv = sg.function([In(y, mutable=True), a, A, x, b], gemv_inplace(y, a, A, x, b),
                     mode=mode, accept_inplace=True)
    fr = sg.function([In(A, mutable=True), a, x, y], ger_inplace(A, a, x, y),
                     mode=mode, accept_inplace=True)
    _assert_products_run_in_c(fv)
    _assert_products_run_in_c(fr)
    yv, Av, xv = rng.standard_normal(4), rng.standard_normal((3, 4)).T, rng.standard_normal(3)
    want = 0.5 * yv + 2.0 * (Av @ xv)
    _close(fv(yv, 2.0, Av, xv, 0.5), want, "float64")
    _close(yv, want, "float64")
    want = Av + 1.5 * np.outer(yv, xv)
    _close(fr(Av, 1.5, yv, xv), want, "float64")
    _close(Av, want, "float64")


# -- dot, BlasDot, matmul ----------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
def test_dot_every_rank_and_layout_matches_py(dtype, rng):
    for x_nd, y_nd in [(2, 2), (2, 1), (1, 2), (1, 1)]:
        x = T.tensor(dtype=dtype, shape=(None,) * x_nd, name="x")
        y = T.tensor(dtype=dtype, shape=(None,) * y_nd, name="y")
        py, cvm = _functions([x, y], T.dot(x, y))
        layouts = {1: _vector_layouts, 2: _matrix_layouts}
        x_shape, y_shape = (3, 4)[2 - x_nd:], (4, 5)[:y_nd]
        for xl, xv in layouts[x_nd](rng, *(x_shape if x_nd == 1 else [x_shape]), dtype):
            for yl, yv in layouts[y_nd](rng, *(y_shape if y_nd == 1 else [y_shape]), dtype):
                _close(cvm(xv, yv), py(xv, yv), dtype)
                _close(cvm(xv, yv), np.dot(xv, yv), dtype)
        for k, m, n in [(0, 3, 5), (4, 0, 5), (4, 3, 0)]:  # zero-sized dims
            xv = rng.standard_normal((m, k)[2 - x_nd:]).astype(dtype)
            yv = rng.standard_normal((k, n)[:y_nd]).astype(dtype)
            _close(cvm(xv, yv), np.dot(xv, yv), dtype)
        with pytest.raises(ValueError, match="not aligned"):
            cvm(np.ones((3, 4)[2 - x_nd:], dtype), np.ones((2, 5)[:y_nd], dtype))


def test_blas_dot_and_mixed_dtypes(rng):
    x, y, v = T.fmatrix("x"), T.fmatrix("y"), T.fvector("v")
    py, cvm = _functions([x, y, v], [blas_dot(x, y), blas_dot(x, v), blas_dot(v, y)])
    xv, yv = rng.standard_normal((3, 4)).astype("float32"), rng.standard_normal((5, 4)).T
    yv, vv = yv.astype("float32"), rng.standard_normal(4).astype("float32")
    for got, want in zip(cvm(xv, yv, vv), py(xv, yv, vv)):
        _close(got, want, "float32")
    with pytest.raises(ValueError, match="BlasDot"):
        cvm(xv, yv[:3], vv)
    # operands of two dtypes (or integers) run perform
    d, i = T.dvector("d"), T.ivector("i")
    f = sg.function([v, d, i], [T.dot(v, d), T.dot(i, i)], mode=sg.Mode(linker="cvm"))
    vv, dv, iv = vv[:3], rng.standard_normal(3), rng.integers(-5, 5, 3).astype("int32")
    got = f(vv, dv, iv)
    assert f.fn.n_c_steps == 0
    _close(got[0], np.dot(vv, dv), "float64")
    assert got[1] == np.dot(iv, iv)


def test_dimensions_beyond_blas_int_range_raise():
    x, y = T.fmatrix("x"), T.fmatrix("y")
    f = sg.function([x, y], T.dot(x, y), mode=sg.Mode(linker="cvm", optimizer=None))
    huge = 2 ** 31
    xv = np.broadcast_to(np.float32(1), (1, huge))  # zero strides: no memory behind them
    yv = np.broadcast_to(np.float32(1), (huge, 1))
    with pytest.raises(ValueError, match="int range"):
        f(xv, yv)


@pytest.mark.parametrize("dtype", DTYPES)
def test_matmul_batches_broadcasting_and_views(dtype, rng):
    a = T.tensor(dtype=dtype, shape=(None, None, None), name="a")
    b = T.tensor(dtype=dtype, shape=(None, None, None), name="b")
    c = T.tensor(dtype=dtype, shape=(None, None), name="c")
    py, cvm = _functions([a, b, c], [T.matmul(a, b), T.matmul(a, c),
                                     T.batched_dot(a[:, 0, :], b[:, :, 0])])
    draw = lambda *s: rng.standard_normal(s).astype(dtype)  # noqa: E731
    for av, bv, cv in [(draw(2, 3, 4), draw(2, 4, 5), draw(4, 2)),
                       (draw(1, 3, 4), draw(2, 4, 5), draw(5, 4)[:, ::-1].T),  # batch of 1
                       (draw(2, 4, 3).transpose(0, 2, 1), draw(2, 5, 4).transpose(0, 2, 1),
                        draw(8, 6)[::2, ::3]),
                       (draw(0, 3, 4), draw(1, 4, 5), draw(4, 0)),
                       (draw(2, 3, 0), draw(2, 0, 5), draw(0, 2))]:
        want = py(av, bv, cv)
        assert np.allclose(want[0], np.matmul(av, bv))
        for got, w in zip(cvm(av, bv, cv), want):
            _close(got, w, dtype)
    with pytest.raises(ValueError, match="Matmul"):
        cvm(draw(2, 3, 4), draw(3, 4, 5), draw(4, 2))
