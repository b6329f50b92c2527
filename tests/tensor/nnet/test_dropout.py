"""Inverted dropout: masks from a random stream, scaling, statistics, gradients."""
import numpy as np
import pytest

import symgraph as sg
import symgraph.tensor as T
from symgraph.tensor.nnet import dropout
from symgraph.tensor.random import RandomStreams


class HashStreams:
    """A stand-in stream with ``MRG_RandomStreams``' ``binomial`` (no ``n`` argument),
    drawing from a sine hash of each entry's position: no NumPy generator involved."""

    def __init__(self, seed):
        self.seed = float(seed)

    def binomial(self, size, p=0.5, dtype="int64"):
        count = 1
        for s in size:
            count = count * s
        position = T.cast(T.reshape(T.arange(count), size), "float64")
        hashed = T.sin(position * 12.9898 + self.seed) * 43758.5453
        return T.cast(T.lt(hashed - T.floor(hashed), p), dtype)


def _entries(rng, shape=(50, 40)):
    """Values far from 0, so that a kept entry is never mistaken for a dropped one."""
    return rng.uniform(0.5, 2.0, shape) * rng.choice([-1.0, 1.0], shape)


def test_inference_and_p_zero_are_the_identity():
    x = T.dmatrix("x")
    assert dropout(x, 0.5, RandomStreams(1), training=False) is x
    assert dropout(x, 0.0, RandomStreams(1)) is x
    with pytest.raises(ValueError):
        dropout(x, 1.0, RandomStreams(1))
    with pytest.raises(TypeError, match="random stream"):
        dropout(x, 0.5)


@pytest.mark.parametrize("linker", ["py", "cvm"])
@pytest.mark.parametrize("p", [0.2, 0.5])
def test_kept_entries_are_scaled_and_drop_rate_is_p(rng, linker, p):
    x = T.dmatrix("x")
    value = _entries(rng)
    f = sg.function([x], dropout(x, p, RandomStreams(int(rng.integers(1 << 30)))),
                    mode=sg.Mode(linker=linker))
    out = f(value)
    kept = out != 0
    np.testing.assert_allclose(out[kept], value[kept] / (1 - p), rtol=1e-12)
    n = value.size  # the dropped fraction is within 4 standard deviations of p
    assert abs((~kept).mean() - p) < 4 * np.sqrt(p * (1 - p) / n)
    ones = f(np.ones((50, 40)))  # the mean is kept: E[out] = x
    assert abs(ones.mean() - 1) < 4 * np.sqrt(p / (1 - p) / n)


def test_calls_draw_new_masks_and_seeds_reproduce(rng):
    x = T.dmatrix("x")
    value = _entries(rng)
    f = sg.function([x], dropout(x, 0.5, RandomStreams(42)))
    g = sg.function([x], dropout(x, 0.5, RandomStreams(42)))
    first, second = f(value), f(value)
    assert (first != second).any()
    np.testing.assert_array_equal(g(value), first)


def test_gradient_is_the_scaled_mask(rng):
    x = T.dmatrix("x")
    out = dropout(x, 0.3, RandomStreams(3))
    f = sg.function([x], [out, sg.grad((out * 2).sum(), x)])
    value = _entries(rng)
    dropped, g = f(value)
    np.testing.assert_allclose(g, 2 * (dropped != 0) / 0.7, rtol=1e-12)


def test_shared_axes_drop_whole_feature_maps(rng):
    x = T.tensor4("x")
    value = _entries(rng, (6, 8, 3, 4))
    out = sg.function([x], dropout(x, 0.5, RandomStreams(5), shared_axes=(2, -1)))(value)
    kept = out != 0
    assert (kept == kept[:, :, :1, :1]).all()  # one decision per (example, channel)
    assert 0 < kept[:, :, 0, 0].mean() < 1


def test_symbolic_p_and_no_rescaling(rng):
    p = sg.shared(0.25)
    x = T.dmatrix("x")
    value = _entries(rng)
    f = sg.function([x], dropout(x, p, RandomStreams(9), rescale=False))
    out = f(value)
    np.testing.assert_array_equal(out[out != 0], value[out != 0])
    assert abs((out == 0).mean() - 0.25) < 0.05
    p.set_value(0.75)
    assert abs((f(value) == 0).mean() - 0.75) < 0.05


def test_works_with_a_stream_without_n(rng):
    x = T.dmatrix("x")
    value = _entries(rng)
    out = sg.function([x], dropout(x, 0.4, HashStreams(seed=1.5)))(value)
    kept = out != 0
    np.testing.assert_allclose(out[kept], value[kept] / 0.6, rtol=1e-12)
    assert abs((~kept).mean() - 0.4) < 0.05
