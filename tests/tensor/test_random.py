"""Random streams: generator type, random ops, RandomStreams (seeding, updates, statistics)."""
import numpy as np
import pytest

import symgraph as sg
import symgraph.tensor as T
from symgraph.gradient import NullTypeGradError
from symgraph.tensor import random as R
from symgraph.tensor.random import RandomStreams
from symgraph.tensor.shared_randomstreams import RandomStreams as TheanoPathRandomStreams

PY, CVM = sg.Mode(linker="py"), sg.Mode(linker="cvm")
N = 50_000  # draws for the statistics: standard errors well under the tolerances


def _seed(rng):
    return int(rng.integers(2**31))


# -- the generator type and shared generators -----------------------------------------
def test_shared_generator_copies_unless_borrowed(rng):
    gen = np.random.default_rng(_seed(rng))
    state = gen.bit_generator.state
    var = sg.shared(gen)
    assert isinstance(var.type, R.RandomGeneratorType)
    assert var.get_value(borrow=True) is not gen
    var.get_value().random()  # a copy: drawing from it leaves the state alone
    assert var.get_value(borrow=True).bit_generator.state == state
    assert sg.shared(gen, borrow=True).get_value(borrow=True) is gen
    other = np.random.default_rng(1)
    var.set_value(other)
    assert var.get_value(borrow=True) is not other
    assert var.type.values_eq(var.get_value(borrow=True), other)
    with pytest.raises(TypeError, match="default_rng"):
        var.set_value(np.random.RandomState(0))


def test_ops_do_not_change_their_input_generator(rng):
    gen = np.random.default_rng(_seed(rng))
    state = gen.bit_generator.state
    new_rng, sample = R.normal(sg.shared(gen, borrow=True), (5,))
    f = sg.function([], [sample, new_rng], no_default_updates=True)
    first, advanced = f()
    assert gen.bit_generator.state == state  # the op drew from a copy
    np.testing.assert_array_equal(f()[0], first)  # no update: the same draw again
    reference = np.random.Generator(np.random.PCG64())
    reference.bit_generator.state = state
    np.testing.assert_array_equal(first, reference.normal(size=5))
    assert advanced.bit_generator.state == reference.bit_generator.state


def test_returning_the_state_gives_a_copy(rng):
    shared_gen = sg.shared(np.random.default_rng(_seed(rng)))
    new_rng, sample = R.uniform(shared_gen, (2,))
    f = sg.function([], shared_gen, updates=[(shared_gen, new_rng)])
    out = f()
    assert out is not shared_gen.get_value(borrow=True)
    before = shared_gen.get_value(borrow=True).bit_generator.state
    out.random(10)
    assert shared_gen.get_value(borrow=True).bit_generator.state == before


# -- RandomStreams: reproducibility, independence, seeding -----------------------------
def _draws(srng, x):
    return [srng.uniform(x.shape, low=-1.0, high=2.0), srng.normal((x.shape[0], 2), 1.0, 3.0),
            srng.binomial((4,), n=5, p=0.3), srng.integers((3, 2), -3, 9),
            srng.random_integers((6,), 0, 2), srng.poisson((5,), lam=2.5),
            srng.choice((3,), a=10, replace=False), srng.choice((2, 2), a=[1.5, -2.0, 7.0],
                                                                 p=[0.2, 0.5, 0.3]),
            srng.permutation((2,), n=6), srng.multinomial((2,), n=8, pvals=[0.1, 0.6, 0.3])]


def test_same_seed_same_numbers_and_calls_advance(rng):
    seed, x = _seed(rng), T.dmatrix("x")
    xv = rng.normal(size=(3, 4))
    f = sg.function([x], _draws(RandomStreams(seed), x))
    g = sg.function([x], _draws(TheanoPathRandomStreams(seed), x))
    first, second = f(xv), f(xv)
    for a, b in zip(first, g(xv)):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(second, g(xv)):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first[0], second[0])  # the stream moved on
    assert not np.array_equal(first[1], second[1])
    other = sg.function([x], _draws(RandomStreams(seed + 1), x))(xv)
    assert not np.array_equal(first[0], other[0])


def test_draws_in_one_function_are_independent(rng):
    srng = RandomStreams(_seed(rng))
    a, b = srng.uniform((1000,)), srng.uniform((1000,))
    va, vb = sg.function([], [a, b])()
    assert not np.array_equal(va, vb)
    assert abs(np.corrcoef(va, vb)[0, 1]) < 0.15


def test_seed_resets_every_stream(rng):
    seed = _seed(rng)
    srng = RandomStreams(seed)
    x = T.dmatrix("x")
    f = sg.function([x], _draws(srng, x))
    xv = rng.normal(size=(2, 3))
    first = f(xv)
    f(xv)
    srng.seed(seed)
    for a, b in zip(first, f(xv)):
        np.testing.assert_array_equal(a, b)
    srng.seed(seed + 7)  # == a fresh RandomStreams(seed + 7)
    fresh = sg.function([x], _draws(RandomStreams(seed + 7), x))
    for a, b in zip(f(xv), fresh(xv)):
        np.testing.assert_array_equal(a, b)
    srng.seed()  # the constructor's seed
    np.testing.assert_array_equal(f(xv)[0], first[0])


def test_updates_list_and_sample_attributes(rng):
    srng = RandomStreams(_seed(rng))
    u, z = srng.uniform((3,)), srng.normal((2,))
    updates = srng.updates()
    assert [pair[0] for pair in updates] == [u.rng, z.rng]
    assert u.update == updates[0] and u.rng.default_update is u.update[1]
    f = sg.function([], u, updates=updates, no_default_updates=True)
    before = z.rng.get_value(borrow=True).bit_generator.state
    a, b = f(), f()
    assert not np.array_equal(a, b)
    assert z.rng.get_value(borrow=True).bit_generator.state != before  # explicitly updated
    frozen = sg.function([], u, no_default_updates=True)
    np.testing.assert_array_equal(frozen(), frozen())
    srng[u] = np.random.default_rng(5)
    np.testing.assert_array_equal(frozen(), np.random.default_rng(5).uniform(size=3))
    assert srng[u] is u.rng.get_value(borrow=True)


# -- py and cvm give the same numbers -------------------------------------------------
def test_py_and_cvm_give_identical_values(rng):
    seed, x = _seed(rng), T.dmatrix("x")
    xv = rng.normal(size=(3, 4))
    srng_py, srng_c = RandomStreams(seed), RandomStreams(seed)
    draws_py, draws_c = _draws(srng_py, x), _draws(srng_c, x)
    # also a draw feeding C code (an Elemwise the C VM compiles)
    draws_py.append(T.exp(draws_py[0]) * x)
    draws_c.append(T.exp(draws_c[0]) * x)
    f_py = sg.function([x], draws_py, mode=PY)
    f_c = sg.function([x], draws_c, mode=CVM)
    assert f_c.fn.n_c_steps > 0
    for _ in range(2):
        got_py, got_c = f_py(xv), f_c(xv)
        for a, b in zip(got_py[:-1], got_c[:-1]):  # the draws: bit for bit
            assert a.dtype == b.dtype
            np.testing.assert_array_equal(a, b)
        # C's exp and NumPy's may differ in the last bit
        np.testing.assert_allclose(got_py[-1], got_c[-1], rtol=1e-14)


# -- sizes, shapes and dtypes ----------------------------------------------------------
def test_symbolic_sizes(rng):
    srng = RandomStreams(_seed(rng))
    x, n = T.dmatrix("x"), T.lscalar("n")
    by_shape = srng.uniform(x.shape)
    mixed = srng.normal((n, 3))
    vector = srng.uniform(T.lvector("s"), ndim=3)
    perm = srng.permutation((n,), n=x.shape[1])
    assert by_shape.ndim == 2 and mixed.type.shape == (None, 3)
    assert vector.ndim == 3 and perm.ndim == 2
    s = T.lvector("s")
    vector = srng.uniform(s, ndim=3)
    f = sg.function([x, n, s], [by_shape, mixed, vector, perm, by_shape.shape, perm.shape])
    xv = rng.normal(size=(4, 5))
    a, b, c, d, shape_a, shape_d = f(xv, 2, [2, 1, 3])
    assert a.shape == (4, 5) and b.shape == (2, 3) and c.shape == (2, 1, 3)
    assert d.shape == (2, 5) and (np.sort(d, axis=1) == np.arange(5)).all()
    assert tuple(shape_a) == (4, 5) and tuple(shape_d) == (2, 5)
    with pytest.raises(ValueError, match="ndim"):
        srng.uniform(T.lvector("s"))


def test_size_none_broadcasts_the_parameters(rng):
    srng = RandomStreams(_seed(rng))
    low, high = T.dvector("low"), T.dmatrix("high")
    u = srng.uniform(low=low, high=high)
    assert u.ndim == 2
    lv, hv = rng.normal(size=3), rng.normal(size=(2, 3)) + 10.0
    out, shape = sg.function([low, high], [u, u.shape])(lv, hv)
    assert out.shape == (2, 3) and tuple(shape) == (2, 3)
    assert ((out >= lv) & (out < hv)).all()
    z = srng.normal(avg=T.dvector("avg"))
    assert z.ndim == 1
    with pytest.raises(ValueError, match="ndim"):
        srng.normal((3,), ndim=2)
    with pytest.raises(ValueError, match="fewer"):
        srng.uniform((3,), low=T.dmatrix())


def test_dtypes_and_floatX(rng):
    srng = RandomStreams(_seed(rng))
    assert srng.uniform((2,)).dtype == sg.config.floatX
    assert srng.uniform((2,), low=T.fscalar()).dtype == sg.config.floatX
    assert srng.normal((2,), dtype="float32").dtype == "float32"
    assert srng.binomial((2,)).dtype == "int64"
    assert srng.binomial((2,), dtype="floatX").dtype == sg.config.floatX
    assert srng.integers((2,), 0, 5, dtype="int8").dtype == "int8"
    assert srng.choice((2,), a=np.array([1, 2], dtype="int16")).dtype == "int16"
    with sg.change_flags(floatX="float32"):
        u32 = srng.uniform((N,), low=0.0, high=1.0)
        assert u32.dtype == "float32"
    with pytest.raises(TypeError, match="floats"):
        srng.normal((2,), dtype="int32")
    values = sg.function([], u32)()
    assert values.dtype == np.float32 and ((values >= 0) & (values < 1)).all()


# -- statistics -----------------------------------------------------------------------
def _check_moments(sample, mean, var, what):
    sample = np.asarray(sample, dtype="float64").ravel()
    n = sample.size
    assert abs(sample.mean() - mean) < 5 * np.sqrt(var / n) + 1e-12, what
    # the variance's standard error is about var * sqrt(2 / n) (exactly for normals)
    assert abs(sample.var() - var) < 8 * var * np.sqrt(2.0 / n) + 1e-12, what


def test_statistics_of_each_distribution(rng):
    srng = RandomStreams(_seed(rng))
    low, high, avg, std, n, p, lam = -2.0, 3.0, 1.5, 0.7, 12, 0.3, 3.5
    outs = [srng.uniform((N,), low, high), srng.normal((N,), avg, std),
            srng.binomial((N,), n, p), srng.integers((N,), -3, 4),
            srng.random_integers((N,), 1, 6), srng.poisson((N,), lam),
            srng.choice((N,), a=5), srng.choice((N,), a=3, p=[0.5, 0.3, 0.2]),
            srng.multinomial((N // 10,), n=10, pvals=[0.2, 0.8])]
    vals = sg.function([], outs, mode=CVM)()
    _check_moments(vals[0], (low + high) / 2, (high - low) ** 2 / 12, "uniform")
    assert vals[0].min() >= low and vals[0].max() < high
    _check_moments(vals[1], avg, std ** 2, "normal")
    _check_moments(vals[2], n * p, n * p * (1 - p), "binomial")
    _check_moments(vals[3], 0.0, (7 ** 2 - 1) / 12, "integers")
    assert vals[3].min() == -3 and vals[3].max() == 3
    _check_moments(vals[4], 3.5, (6 ** 2 - 1) / 12, "random_integers")
    assert vals[4].min() == 1 and vals[4].max() == 6
    _check_moments(vals[5], lam, lam, "poisson")
    _check_moments(vals[6], 2.0, 2.0, "choice")
    weights = np.array([0.5, 0.3, 0.2])
    mean = (weights * np.arange(3)).sum()
    _check_moments(vals[7], mean, (weights * (np.arange(3) - mean) ** 2).sum(), "choice p")
    assert (vals[8].sum(axis=1) == 10).all()
    _check_moments(vals[8][:, 1], 8.0, 10 * 0.2 * 0.8, "multinomial")


def test_permutation_and_choice_without_replacement(rng):
    srng = RandomStreams(_seed(rng))
    perm = srng.permutation((2000,), n=4)
    pick = srng.choice((3,), a=np.array([10.0, 20.0, 30.0, 40.0]), replace=False)
    perms, picked = sg.function([], [perm, pick])()
    assert (np.sort(perms, axis=1) == np.arange(4)).all()
    # every value lands in every position about a quarter of the time
    freq = np.array([(perms == k).mean(axis=0) for k in range(4)])
    assert np.abs(freq - 0.25).max() < 0.05
    assert len(set(picked.tolist())) == 3 and set(picked.tolist()) <= {10.0, 20.0, 30.0, 40.0}
    x = T.dmatrix("x")
    shuffled = srng.shuffle_row_elements(x)
    xv = rng.normal(size=(3, 5))
    out, used = sg.function([x], [shuffled, shuffled.permutation])(xv)
    np.testing.assert_array_equal(out, np.take_along_axis(xv, used, axis=1))


# -- the compiler leaves draws alone ---------------------------------------------------
def test_random_ops_are_never_constant_folded(rng):
    gen = R.as_random_generator_variable(np.random.default_rng(_seed(rng)))
    assert isinstance(gen, R.RandomGeneratorConstant)
    _, sample = R.uniform(gen, (3,), 0.0, 1.0)
    f = sg.function([], sample * 2.0)
    assert any(isinstance(node.op, R.RandomVariable) for node in f.maker.fgraph.apply_nodes)
    from symgraph.rewriting.basic import fold_node

    assert fold_node(sample.owner) is None


def test_different_streams_are_not_merged(rng):
    srng = RandomStreams(_seed(rng))
    a, b = srng.normal((4,)), srng.normal((4,))  # equal ops, different generators
    f = sg.function([], [a, b])
    n_random = sum(isinstance(node.op, R.RandomVariable) for node in f.maker.fgraph.apply_nodes)
    assert n_random == 2
    va, vb = f()
    assert not np.array_equal(va, vb)


def test_debugmode_accepts_random_graphs(rng):
    from symgraph.compile.debugmode import DebugMode

    srng = RandomStreams(_seed(rng))
    x = T.dvector("x")
    f = sg.function([x], [x * srng.uniform(x.shape), srng.permutation((2,), n=x.shape[0])],
                    mode=DebugMode())
    a, b = f(rng.normal(size=3))
    assert a.shape == (3,) and b.shape == (2, 3)


# -- gradients ------------------------------------------------------------------------
def test_gradients_flow_around_samples_but_not_into_their_parameters(rng):
    srng = RandomStreams(_seed(rng))
    x = T.dvector("x")
    mask = srng.binomial(x.shape, p=0.5, dtype="float64")
    f = sg.function([x], [sg.grad((x * mask).sum(), x), mask])
    g, m = f(rng.normal(size=6))
    np.testing.assert_array_equal(g, m)
    avg, std = T.dscalar("avg"), T.dscalar("std")
    z = srng.normal((3,), avg, std)
    with pytest.raises(NullTypeGradError, match="reparameterised"):
        sg.grad(z.sum(), avg)
    # the reparameterised form has the gradient
    eps = srng.normal((3,))
    d_avg, d_std = sg.grad((avg + std * eps).sum(), [avg, std])
    got_avg, got_std, e = sg.function([avg, std], [d_avg, d_std, eps],
                                      on_unused_input="ignore")(0.5, 2.0)
    assert got_avg == 3.0 and np.isclose(got_std, e.sum())


def test_raw_functions_return_the_new_state(rng):
    gen = sg.shared(np.random.default_rng(_seed(rng)))
    new_rng, sample = R.permutation(gen, (), n=5)
    assert isinstance(new_rng.type, R.RandomGeneratorType) and sample.ndim == 1
    f = sg.function([], sample, updates={gen: new_rng})
    assert sorted(f().tolist()) == list(range(5))
    with pytest.raises(TypeError, match="must match"):
        sg.function([], sample, updates={gen: sample})
