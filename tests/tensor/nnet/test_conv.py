"""conv2d / conv1d and their gradient ops against scipy.signal references.

tests/tensor/conftest.py runs each test on both linkers: ``perform`` and the C code
(symgraph/link/c/conv.py) are each checked against SciPy.
"""
import inspect

import numpy as np
import pytest
from scipy import signal

import symgraph as sg
import symgraph.tensor as T
from symgraph.gradient import Rop, grad, verify_grad
from symgraph.tensor.nnet import conv1d, conv2d
from symgraph.tensor.nnet.conv import Conv2d, Conv2dGradInputs, Conv2dGradWeights

BORDER_MODES = ["valid", "full", "half", 1, (2, 0)]
SUBSAMPLES = [(1, 1), (2, 1), (2, 3)]
DILATIONS = [(1, 1), (2, 1), (1, 2)]


def _pads(border_mode, kernel_hw, dilation):
    """The zero padding each border mode means, written out independently of conv.py."""
    dilated = [(k - 1) * d + 1 for k, d in zip(kernel_hw, dilation)]
    if border_mode == "valid":
        return (0, 0)
    if border_mode == "full":
        return tuple(k - 1 for k in dilated)
    if border_mode == "half":
        return tuple(k // 2 for k in dilated)
    if isinstance(border_mode, int):
        return (border_mode, border_mode)
    return tuple(border_mode)


def _dilate(kernel, dilation):
    """A 2-d kernel with ``d - 1`` zeros between its taps."""
    dh, dw = dilation
    kh, kw = kernel.shape
    out = np.zeros(((kh - 1) * dh + 1, (kw - 1) * dw + 1), dtype=kernel.dtype)
    out[::dh, ::dw] = kernel
    return out


def reference_conv2d(x, w, border_mode, subsample, flip, dilation):
    """Per image and output channel: the sum over input channels of scipy's 2-d
    convolution (or correlation) of the padded image with the dilated filter, strided."""
    ph, pw = _pads(border_mode, w.shape[2:], dilation)
    sh, sw = subsample
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    op = signal.convolve2d if flip else signal.correlate2d
    out = []
    for n in range(x.shape[0]):
        rows = []
        for o in range(w.shape[0]):
            total = sum(op(xp[n, c], _dilate(w[o, c], dilation), mode="valid")
                        for c in range(x.shape[1]))
            rows.append(total[::sh, ::sw])
        out.append(rows)
    return np.array(out)


@pytest.mark.parametrize("border_mode", BORDER_MODES, ids=str)
def test_values_match_scipy_for_every_stride_dilation_and_flip(border_mode, rng):
    x, w = T.dtensor4("x"), T.dtensor4("w")
    combos = [(s, d, flip) for s in SUBSAMPLES for d in DILATIONS for flip in (True, False)]
    outs = [conv2d(x, w, border_mode=border_mode, subsample=s, filter_flip=flip,
                   filter_dilation=d) for s, d, flip in combos]
    f = sg.function([x, w], outs)
    X, W = rng.normal(size=(2, 3, 9, 8)), rng.normal(size=(2, 3, 3, 2))
    for (s, d, flip), got in zip(combos, f(X, W)):
        want = reference_conv2d(X, W, border_mode, s, flip, d)
        assert got.shape == want.shape, (s, d, flip)
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-10, err_msg=str((s, d, flip)))


def test_full_and_half_are_scipys_full_and_same(rng):
    x, w = T.dtensor4("x"), T.dtensor4("w")
    X, W = rng.normal(size=(1, 1, 6, 7)), rng.normal(size=(1, 1, 3, 5))
    full, half = sg.function([x, w], [conv2d(x, w, border_mode="full"),
                                      conv2d(x, w, border_mode="half")])(X, W)
    np.testing.assert_allclose(full[0, 0], signal.convolve2d(X[0, 0], W[0, 0], mode="full"))
    np.testing.assert_allclose(half[0, 0], signal.convolve2d(X[0, 0], W[0, 0], mode="same"))


def test_float32_stays_float32_and_mixed_dtypes_upcast(rng):
    x, w = T.ftensor4("x"), T.ftensor4("w")
    y = conv2d(x, w)
    assert y.dtype == "float32"
    X = rng.normal(size=(2, 2, 5, 5)).astype("float32")
    W = rng.normal(size=(3, 2, 2, 2)).astype("float32")
    got = sg.function([x, w], y)(X, W)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, reference_conv2d(X, W, "valid", (1, 1), True, (1, 1)),
                               rtol=1e-5, atol=1e-5)
    assert conv2d(T.dtensor4(), w).dtype == "float64"


def test_static_output_shapes():
    x = T.tensor("float64", (64, 1, 28, 28))
    w = T.tensor("float64", (20, 1, 5, 5))
    assert conv2d(x, w).type.shape == (64, 20, 24, 24)
    assert conv2d(x, w, border_mode="full", subsample=(2, 2)).type.shape == (64, 20, 16, 16)
    assert conv2d(x, w, border_mode="half", filter_dilation=(2, 1)).type.shape == \
        (64, 20, 28, 28)
    assert conv2d(x, w[:, :, :4], border_mode="half").type.shape == (64, 20, 29, 28)
    # Theano's shape hints fill in what the types leave open
    y = conv2d(T.dtensor4(), T.dtensor4(), input_shape=(None, 3, 11, 40),
               filter_shape=(32, 3, 3, 3), border_mode=(1, 0))
    assert y.type.shape == (None, 32, 11, 38)
    partly = conv2d(T.tensor("float64", (None, 1, None, 40)), w)
    assert partly.type.shape == (None, 20, None, 36)


def test_symbolic_shape_inference_matches_the_values(rng):
    x, w = T.dtensor4("x"), T.dtensor4("w")
    y = conv2d(x, w, border_mode="half", subsample=(2, 3), filter_dilation=(1, 2))
    gx, gw = grad(y.sum(), [x, w])
    X, W = rng.normal(size=(2, 3, 9, 10)), rng.normal(size=(4, 3, 3, 2))
    shape_fn = sg.function([x, w], [y.shape, gx.shape, gw.shape])
    ops = [type(node.op) for node in shape_fn.maker.fgraph.toposort()]
    assert not {Conv2d, Conv2dGradInputs, Conv2dGradWeights} & set(ops)  # infer_shape did it
    shapes = shape_fn(X, W)
    values = sg.function([x, w], [y, gx, gw])(X, W)
    assert [tuple(s) for s in shapes] == [v.shape for v in values]
    assert values[1].shape == X.shape and values[2].shape == W.shape


def test_shape_hint_is_checked_at_run_time(rng):
    x, w = T.dtensor4("x"), T.dtensor4("w")
    f = sg.function([x, w], conv2d(x, w, input_shape=(None, 2, 6, 6)))
    with pytest.raises(Exception, match="shape"):
        f(rng.normal(size=(1, 2, 7, 6)), rng.normal(size=(1, 2, 3, 3)))
    with pytest.raises(ValueError, match="contradicts"):
        conv2d(T.tensor("float64", (None, 2, 6, 6)), w, input_shape=(None, 3, 6, 6))


def test_channel_mismatch_names_both_shapes(rng):
    with pytest.raises(ValueError, match=r"\(8, 3, 10, 10\).*3 channels.*\(5, 4, 3, 3\)"):
        conv2d(T.tensor("float64", (8, 3, 10, 10)), T.tensor("float64", (5, 4, 3, 3)))
    x, w = T.dtensor4("x"), T.dtensor4("w")
    f = sg.function([x, w], conv2d(x, w))
    with pytest.raises(Exception, match=r"\(2, 3, 6, 6\).*\(4, 2, 3, 3\)"):
        f(rng.normal(size=(2, 3, 6, 6)), rng.normal(size=(4, 2, 3, 3)))


def test_filters_larger_than_the_image_are_an_error(rng):
    with pytest.raises(ValueError, match="smaller than"):
        conv2d(T.tensor("float64", (1, 1, 4, 4)), T.tensor("float64", (1, 1, 5, 3)))
    x, w = T.dtensor4("x"), T.dtensor4("w")
    f = sg.function([x, w], conv2d(x, w))
    with pytest.raises(Exception, match="smaller than"):
        f(rng.normal(size=(1, 1, 4, 4)), rng.normal(size=(1, 1, 5, 3)))


def test_theano_argument_names_and_order(rng):
    params = list(inspect.signature(conv2d).parameters)
    assert params[:9] == ["input", "filters", "input_shape", "filter_shape", "border_mode",
                          "subsample", "filter_flip", "image_shape", "filter_dilation"]
    x, w = T.dtensor4("x"), T.dtensor4("w")
    y = T.nnet.conv2d(input=x, filters=w, input_shape=(2, 3, 8, 8), filter_shape=(4, 3, 3, 3),
                      border_mode=(1, 1), subsample=(2, 2), filter_flip=False,
                      filter_dilation=(1, 1))
    X, W = rng.normal(size=(2, 3, 8, 8)), rng.normal(size=(4, 3, 3, 3))
    np.testing.assert_allclose(sg.function([x, w], y)(X, W),
                               reference_conv2d(X, W, 1, (2, 2), False, (1, 1)), atol=1e-10)
    # the old module's path and its name for input_shape
    old = T.nnet.conv.conv2d(x, w, image_shape=(2, 3, 8, 8), filter_shape=(4, 3, 3, 3))
    assert old.type.shape == (2, 4, 6, 6)
    with pytest.raises(NotImplementedError):
        conv2d(x, w, num_groups=2)
    with pytest.raises(ValueError, match="border_mode"):
        conv2d(x, w, border_mode="same")


GRAD_CONFIGS = [
    dict(border_mode="valid"),
    dict(border_mode="full", subsample=(2, 1), filter_dilation=(1, 2)),
    dict(border_mode="half", filter_flip=False, subsample=(1, 2)),
    dict(border_mode=(1, 2), subsample=(2, 3), filter_dilation=(2, 1)),
]


@pytest.mark.parametrize("config", GRAD_CONFIGS, ids=lambda c: "-".join(map(str, c.values())))
def test_gradients_by_finite_differences(config, rng):
    X, W = rng.normal(size=(2, 2, 7, 8)), rng.normal(size=(3, 2, 3, 2))
    verify_grad(lambda x, w: conv2d(x, w, **config), [X, W], rng=rng)


def test_gradient_ops_are_differentiable(rng):
    """Second order: the gradient of a function of the first gradient."""
    config = dict(border_mode="half", subsample=(2, 1), filter_dilation=(1, 2))

    def grads_squared(x, w):
        gx, gw = grad((conv2d(x, w, **config) ** 2).sum(), [x, w])
        return (gx ** 2).sum() + (gw ** 2).sum()

    X, W = rng.normal(size=(2, 2, 6, 7)), rng.normal(size=(2, 2, 3, 2))
    verify_grad(grads_squared, [X, W], rng=rng)


@pytest.mark.parametrize("op_class", [Conv2dGradInputs, Conv2dGradWeights])
def test_each_gradient_op_by_finite_differences(op_class, rng):
    op = op_class(border_mode=(1, 0), subsample=(2, 2), filter_flip=True)
    if op_class is Conv2dGradInputs:  # (filters, top, image shape)
        first, spatial = rng.normal(size=(3, 2, 2, 3)), (7, 8)
    else:  # (images, top, filter shape)
        first, spatial = rng.normal(size=(2, 2, 7, 8)), (2, 3)
    top = rng.normal(size=(2, 3, 4, 3))
    verify_grad(lambda a, t: op(a, t, spatial), [first, top], rng=rng)


def test_gradient_ops_are_the_adjoints_of_conv(rng):
    """<conv(x, w), t> = <x, grad_inputs(w, t)> = <w, grad_weights(x, t)>."""
    params = dict(border_mode="full", subsample=(2, 3), filter_flip=True,
                  filter_dilation=(2, 1))
    x, w, t = T.dtensor4("x"), T.dtensor4("w"), T.dtensor4("t")
    X, W = rng.normal(size=(2, 3, 8, 9)), rng.normal(size=(4, 3, 2, 3))
    y = Conv2d(**params)(x, w)
    Y = y.eval({x: X, w: W})
    Tv = rng.normal(size=Y.shape)
    gi = Conv2dGradInputs(**params)(w, t, (8, 9)).eval({w: W, t: Tv})
    gw = Conv2dGradWeights(**params)(x, t, (2, 3)).eval({x: X, t: Tv})
    assert gi.shape == X.shape and gw.shape == W.shape
    np.testing.assert_allclose(np.sum(Y * Tv), np.sum(X * gi), rtol=1e-10)
    np.testing.assert_allclose(np.sum(Y * Tv), np.sum(W * gw), rtol=1e-10)


def test_gradient_ops_appear_in_the_gradient_graph():
    x, w = T.dtensor4("x"), T.dtensor4("w")
    gx, gw = grad(conv2d(x, w, subsample=(2, 2)).sum(), [x, w])
    assert isinstance(gx.owner.op, Conv2dGradInputs) and gx.owner.op.subsample == (2, 2)
    assert isinstance(gw.owner.op, Conv2dGradWeights)


def test_rop_is_bilinear(rng):
    """The R-op derived from the L-op: d conv = conv(dx, w) + conv(x, dw)."""
    x, w, vx, vw = T.dtensor4("x"), T.dtensor4("w"), T.dtensor4("vx"), T.dtensor4("vw")
    config = dict(border_mode="half", subsample=(2, 1))
    jv = Rop(conv2d(x, w, **config), [x, w], [vx, vw])
    want = conv2d(vx, w, **config) + conv2d(x, vw, **config)
    values = [rng.normal(size=s) for s in [(2, 2, 5, 6), (3, 2, 3, 3)] * 2]
    got, expected = sg.function([x, w, vx, vw], [jv, want])(*values)
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12)


def reference_conv1d(x, w, pad, stride, flip, dilation):
    """NumPy's 1-d convolve/correlate of the padded rows with the dilated filters."""
    op = np.convolve if flip else np.correlate
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad)))
    kernels = [[_dilate(w[o, c][None], (1, dilation))[0] for c in range(x.shape[1])]
               for o in range(w.shape[0])]
    return np.array([[sum(op(xp[n, c], kernels[o][c], mode="valid")
                          for c in range(x.shape[1]))[::stride] for o in range(w.shape[0])]
                     for n in range(x.shape[0])])


@pytest.mark.parametrize("border_mode,pad", [("valid", 0), (2, 2), ((1,), 1), ("full", 4)])
def test_conv1d_over_time(border_mode, pad, rng):
    x, w = T.dtensor3("x"), T.dtensor3("w")
    X, W = rng.normal(size=(3, 4, 12)), rng.normal(size=(5, 4, 3))
    for stride, dilation, flip in [(1, 1, True), (2, 2, False), ((3,), (1,), True)]:
        y = conv1d(x, w, border_mode=border_mode, subsample=stride, filter_flip=flip,
                   filter_dilation=dilation)
        assert y.ndim == 3
        s = stride if isinstance(stride, int) else stride[0]
        d = dilation if isinstance(dilation, int) else dilation[0]
        p = (3 - 1) * d if border_mode == "full" else pad
        np.testing.assert_allclose(sg.function([x, w], y)(X, W),
                                   reference_conv1d(X, W, p, s, flip, d), atol=1e-10)


def test_conv1d_static_shape_and_gradient(rng):
    x = T.tensor("float64", (None, 4, 20))
    y = conv1d(x, T.tensor("float64", (6, 4, 5)), border_mode="half", subsample=2)
    assert y.type.shape == (None, 6, 10)
    verify_grad(lambda a, b: conv1d(a, b, border_mode=1, subsample=2),
                [rng.normal(size=(2, 3, 9)), rng.normal(size=(2, 3, 3))], rng=rng)
