"""The C convolution ops (im2col + BLAS gemm) against ``perform`` under the cvm linker."""
import numpy as np
import pytest

import symgraph as sg
import symgraph.tensor as T
from symgraph.gradient import Lop, grad
from symgraph.link.c.conv import conv2d_c_function
from symgraph.tensor.nnet import conv2d
from symgraph.tensor.nnet.conv import Conv2d, Conv2dGradInputs, Conv2dGradWeights

CONFIGS = [
    dict(),
    dict(border_mode="full", subsample=(2, 3), filter_dilation=(2, 1)),
    dict(border_mode="half", filter_flip=False, filter_dilation=(1, 2)),
    dict(border_mode=(1, 2), subsample=(2, 1)),
    dict(border_mode=3, subsample=(3, 3)),
]
OPS = (Conv2d, Conv2dGradInputs, Conv2dGradWeights)


def _forbid_perform(monkeypatch):
    """Make every conv op's perform raise: a C step must run instead."""
    def refuse(self, node, inputs, output_storage):
        raise AssertionError(f"{self} ran perform under the cvm linker")

    for op_class in OPS:
        monkeypatch.setattr(op_class, "perform", refuse)


def _forward_and_grads(dtype, configs):
    """Inputs x, w and one output gradient per config; per config, conv2d(x, w) and its
    vector-Jacobian products with that config's output gradient."""
    x, w = T.tensor4("x", dtype=dtype), T.tensor4("w", dtype=dtype)
    tops, outputs = [], []
    for config in configs:
        y = conv2d(x, w, **config)
        tops.append(T.tensor4(f"top{len(tops)}", dtype=dtype))
        outputs += [y] + Lop(y, [x, w], tops[-1])
    return [x, w], tops, outputs


def _values(rng, dtype, inputs, tops, outputs, x_shape, w_shape):
    """Random images and filters, and random output gradients of the right shapes."""
    X = rng.normal(size=x_shape).astype(dtype)
    W = rng.normal(size=w_shape).astype(dtype)
    forward = sg.function(inputs, outputs[::3], mode=sg.Mode(linker="py"))(X, W)
    return [X, W] + [rng.normal(size=y.shape).astype(dtype) for y in forward]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_c_matches_perform(dtype, rng, monkeypatch):
    """Every config in one compiled function (one gcc run per dtype)."""
    inputs, tops, outputs = _forward_and_grads(dtype, CONFIGS)
    values = _values(rng, dtype, inputs, tops, outputs, (3, 4, 10, 9), (5, 4, 3, 2))
    want = sg.function(inputs + tops, outputs, mode=sg.Mode(linker="py"))(*values)
    _forbid_perform(monkeypatch)
    got = sg.function(inputs + tops, outputs, mode=sg.Mode(linker="cvm"))(*values)
    tol = 1e-12 if dtype == "float64" else 2e-5
    names = [f"{what} {config}" for config in CONFIGS
             for what in ("conv2d", "d images", "d filters")]
    for g, e, what in zip(got, want, names):
        assert g.dtype == e.dtype and g.shape == e.shape, what
        scale = max(1.0, float(np.abs(e).max()))
        np.testing.assert_allclose(g, e, rtol=tol, atol=tol * scale, err_msg=what)


def test_strided_and_reversed_views(rng, monkeypatch):
    """Inputs and output gradients that are non-contiguous views reach the C code as such."""
    x, w, c = T.dtensor4("x"), T.dtensor4("w"), T.dtensor4("c")
    xs = x[:, :, ::2, ::-1]
    ws = w.dimshuffle(1, 0, 3, 2)  # filters given as (c, o, kw, kh)
    y = conv2d(xs, ws, border_mode="half", subsample=(1, 2))
    cost = (y.dimshuffle(0, 1, 3, 2) * c).sum()  # its gradient reaches y transposed
    outputs = [y] + grad(cost, [x, w])
    X, W = rng.normal(size=(2, 3, 14, 7)), rng.normal(size=(3, 4, 3, 3))
    Y = sg.function([x, w], y, mode=sg.Mode(linker="py"))(X, W)
    C = rng.normal(size=Y.transpose(0, 1, 3, 2).shape)
    want = sg.function([x, w, c], outputs, mode=sg.Mode(linker="py"))(X, W, C)
    _forbid_perform(monkeypatch)
    got = sg.function([x, w, c], outputs, mode=sg.Mode(linker="cvm"))(X, W, C)
    for g, e in zip(got, want):
        np.testing.assert_allclose(g, e, rtol=1e-12, atol=1e-12)


def test_second_order_graph_runs_in_c(rng, monkeypatch):
    """The gradient of the gradient: every conv op of the graph in C."""
    x, w = T.dtensor4("x"), T.dtensor4("w")
    gx, gw = grad((conv2d(x, w, subsample=(2, 1)) ** 2).sum(), [x, w])
    outputs = grad((gx ** 2).sum() + (gw ** 2).sum(), [x, w])
    X, W = rng.normal(size=(2, 2, 7, 6)), rng.normal(size=(3, 2, 3, 3))
    want = sg.function([x, w], outputs, mode=sg.Mode(linker="py"))(X, W)
    _forbid_perform(monkeypatch)
    got = sg.function([x, w], outputs, mode=sg.Mode(linker="cvm"))(X, W)
    for g, e in zip(got, want):
        np.testing.assert_allclose(g, e, rtol=1e-10, atol=1e-10)


def test_lenet_shapes_in_float32(rng):
    inputs, tops, outputs = _forward_and_grads("float32", [dict()])
    values = _values(rng, "float32", inputs, tops, outputs, (8, 20, 12, 12), (50, 20, 5, 5))
    want = sg.function(inputs + tops, outputs, mode=sg.Mode(linker="py"))(*values)
    got = sg.function(inputs + tops, outputs, mode=sg.Mode(linker="cvm"))(*values)
    for g, e in zip(got, want):
        np.testing.assert_allclose(g, e, rtol=1e-4, atol=1e-4 * float(np.abs(e).max()))


def test_c_errors_name_the_shapes(rng):
    x, w = T.dtensor4("x"), T.dtensor4("w")
    f = sg.function([x, w], conv2d(x, w), mode=sg.Mode(linker="cvm"))
    with pytest.raises(ValueError, match=r"\(2, 3, 6, 6\).*3 channels.*\(4, 2, 3, 3\)"):
        f(rng.normal(size=(2, 3, 6, 6)), rng.normal(size=(4, 2, 3, 3)))
    with pytest.raises(ValueError, match="smaller than the filters"):
        f(rng.normal(size=(1, 1, 2, 6)), rng.normal(size=(1, 1, 3, 3)))


def test_empty_batch(rng):
    inputs, tops, outputs = _forward_and_grads("float64", [dict(border_mode="half")])
    X, W = np.zeros((0, 2, 5, 5)), rng.normal(size=(3, 2, 3, 3))
    f = sg.function(inputs + tops, outputs, mode=sg.Mode(linker="cvm"))
    got = f(X, W, np.zeros((0, 3, 5, 5)))
    assert [g.shape for g in got] == [(0, 3, 5, 5), (0, 2, 5, 5), (3, 2, 3, 3)]
    assert not got[2].any()


def test_generator_declines_other_dtypes():
    x, w = T.tensor4("x", dtype="float16"), T.tensor4("w", dtype="float16")
    assert conv2d_c_function(conv2d(x, w).owner, "sg_fn_0") is None
    assert "ctx->blas->dgemm" in conv2d_c_function(conv2d(T.dtensor4(), T.dtensor4()).owner,
                                                    "sg_fn_0")


def test_openmp_build_matches_perform(rng, monkeypatch):
    """Compiled with -fopenmp: images split over threads, per-thread filter gradients."""
    from symgraph.link.c import compiler

    config = dict(border_mode="half", subsample=(1, 2))
    inputs, tops, outputs = _forward_and_grads("float64", [config])
    values = _values(rng, "float64", inputs, tops, outputs, (9, 4, 14, 14), (8, 4, 3, 3))
    want = sg.function(inputs + tops, outputs, mode=sg.Mode(linker="py"))(*values)
    _forbid_perform(monkeypatch)
    with compiler.using_flags(compiler.MODULE_FLAGS + ("-fopenmp",)):
        f = sg.function(inputs + tops, outputs, mode=sg.Mode(linker="cvm"))
    for g, e in zip(f(*values), want):
        np.testing.assert_allclose(g, e, rtol=1e-12, atol=1e-12)
