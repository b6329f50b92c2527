"""MRG_RandomStreams: Theano's sandbox.rng_mrg interface on symgraph's random streams."""
import numpy as np
import pytest

import symgraph as sg
import symgraph.tensor as T
from symgraph.sandbox.rng_mrg import MRG_RandomStreams
from symgraph.tensor.random import RandomStreams

N = 20_000


def test_is_a_random_streams_with_theanos_default_seed():
    srng = MRG_RandomStreams()
    assert isinstance(srng, RandomStreams) and srng.default_instance_seed == 12345


def test_reproducible_reseedable_and_advancing(rng):
    seed = int(rng.integers(1, 2**30))

    def draws(srng):
        return [srng.uniform((3,)), srng.normal((2, 2), avg=1.0, std=2.0),
                srng.binomial((4,), p=0.4), srng.truncated_normal((3,))]

    srng = MRG_RandomStreams(seed)
    f = sg.function([], draws(srng))
    g = sg.function([], draws(MRG_RandomStreams(seed)), mode=sg.Mode(linker="cvm"))
    first = f()
    for a, b in zip(first, g()):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(f()[0], first[0])
    srng.seed(seed)
    np.testing.assert_array_equal(f()[1], first[1])


def test_distributions(rng):
    srng = MRG_RandomStreams(int(rng.integers(1, 2**30)))
    x = T.dmatrix("x")
    u = srng.uniform(x.shape, low=1.0, high=3.0, dtype="float32")
    z = srng.normal((N,), avg=-1.0, std=2.0)
    t = srng.normal((N,), avg=1.0, std=0.5, truncate=True)
    mask = srng.binomial(size=(N,), p=0.25, dtype="floatX")
    pvals = np.array([[0.1, 0.9], [0.7, 0.3]])
    counts = srng.multinomial(n=N, pvals=pvals)
    picks = srng.choice(size=2, p=np.array([[0.5, 0.5, 0.0], [0.1, 0.0, 0.9]]), replace=False)
    f = sg.function([x], [u, z, t, mask, counts, picks])
    uv, zv, tv, mv, cv, pv = f(rng.normal(size=(3, 4)))
    assert uv.dtype == np.float32 and uv.shape == (3, 4) and ((uv >= 1) & (uv < 3)).all()
    assert abs(zv.mean() + 1.0) < 0.05 and abs(zv.std() - 2.0) < 0.05
    assert tv.min() >= 0.0 and tv.max() <= 2.0  # within two deviations of the mean
    assert abs(tv.mean() - 1.0) < 0.02 and 0.4 < tv.std() < 0.5  # narrower than 0.5
    assert mv.dtype == sg.config.floatX and abs(mv.mean() - 0.25) < 0.02
    assert cv.shape == (2, 2) and (cv.sum(axis=1) == N).all()
    np.testing.assert_allclose(cv / N, pvals, atol=0.02)
    assert pv.shape == (2, 2)
    assert sorted(pv[0].tolist()) == [0, 1] and sorted(pv[1].tolist()) == [0, 2]


def test_theano_argument_checks():
    srng = MRG_RandomStreams(3)
    with pytest.raises(TypeError, match="pvals"):
        srng.multinomial()
    with pytest.raises(ValueError, match="size"):
        srng.multinomial(size=(2,), pvals=[[0.5, 0.5]])
    with pytest.raises(TypeError, match="p must be given"):
        srng.choice(size=1)
    with pytest.raises(TypeError, match="unexpected"):
        srng.uniform((2,), bogus=1)
    with pytest.warns(DeprecationWarning):
        srng.multinomial_wo_replacement(n=1, pvals=[[0.5, 0.5]])
