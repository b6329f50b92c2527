"""Algebraic rewrites (canonicalize, specialize) and numerically stable forms (stabilize)."""
import numpy as np
import pytest
import scipy.special

import symgraph as sg
import symgraph.tensor as T
from symgraph.compile.mode import get_mode
from symgraph.tensor.basic import Alloc
from tests.tensor.rewriting.checks import fired, ops, rewritten


def has_alloc(f):
    return any(isinstance(n.op, Alloc) for n in f.maker.fgraph.apply_nodes)


# -- useless operands ---------------------------------------------------------------------
@pytest.mark.parametrize("build", [lambda x: x * 1, lambda x: 1 * x, lambda x: x + 0,
                                   lambda x: x - 0, lambda x: x / 1, lambda x: (x + 0.0) * 1.0])
def test_useless_operands_are_removed(build, rng):
    x = T.dmatrix("x")
    f = rewritten([x], T.exp(build(x)), rng.normal(size=(2, 3)))
    assert ops(f) == ["Elemwise{exp}"]


def test_useless_operand_that_broadcasts_is_kept(rng):
    x = T.dmatrix("x")
    ones = T.constant(np.ones((4, 1)))
    f = rewritten([x], x * ones, rng.normal(size=(1, 3)))
    assert ops(f) == ["Elemwise{mul}"] and f(np.ones((1, 3))).shape == (4, 3)


def test_multiplying_an_int_by_a_float_one_becomes_a_cast(rng):
    x = T.lvector("x")
    f = rewritten([x], x * 1.0, rng.integers(-5, 5, size=4))
    assert ops(f) == ["Elemwise{cast_float64}"]


# -- canonical sums and products ---------------------------------------------------------
def test_chains_are_flattened_and_constants_collected(rng):
    x, y, z = T.dmatrices("x", "y", "z")
    f = rewritten([x, y, z], ((x * 2.0) * (y * 3.0)) * z, *rng.normal(size=(3, 2, 3)))
    (node,) = [n for n in f.maker.fgraph.apply_nodes if str(n.op) == "Elemwise{mul}"]
    assert len(node.inputs) == 4
    assert float(node.inputs[0].data.item()) == 6.0
    g = rewritten([x, y], (x + 1.0) + (y + 2.0) + (-3.0), *rng.normal(size=(2, 2, 3)))
    assert ops(g) == ["Elemwise{add}"]  # the constants sum to 0 and go away
    assert len(g.maker.fgraph.outputs[0].owner.inputs) == 2


def test_sorting_lets_commuted_expressions_merge(rng):
    x, y = T.dvectors("x", "y")
    f = rewritten([x, y], [T.exp(x * y), T.exp(y * x)], *rng.normal(size=(2, 4)))
    assert ops(f).count("Elemwise{exp}") == 1


def test_a_shared_inner_sum_is_not_flattened(rng):
    x, y, z = T.dvectors("x", "y", "z")
    inner = x + y
    f = rewritten([x, y, z], [inner + z, T.exp(inner)], *rng.normal(size=(3, 4)))
    assert ops(f).count("Elemwise{add}") == 2


def test_chains_of_different_dtypes_are_not_flattened(rng):
    a, b = T.bvectors("a", "b")
    x = T.dvector("x")
    # int8 arithmetic wraps around; it must not be redone in float64
    vals = (np.array([100, 120], "int8"), np.array([100, 100], "int8"), rng.normal(size=2))
    f = rewritten([a, b, x], (a + b) + x, *vals)
    assert ops(f).count("Elemwise{add}") == 2


# -- zeros, negations, exp/log -------------------------------------------------------------
def test_times_zero_gives_zeros_of_the_right_shape_and_dtype(rng):
    x = T.fmatrix("x")
    v = T.fvector("v")
    f = rewritten([x, v], x * 0 + v * 0, rng.normal(size=(2, 3)).astype("float32"),
                  rng.normal(size=3).astype("float32"))
    assert "Elemwise{mul}" not in ops(f)
    result = f(np.ones((2, 3), "float32"), np.ones(3, "float32"))
    assert result.dtype == np.float32 and result.shape == (2, 3) and not result.any()


def test_x_minus_x_is_zero(rng):
    x = T.dmatrix("x")
    f = rewritten([x], T.exp(x - x), rng.normal(size=(3, 2)))
    assert "Elemwise{sub}" not in ops(f) and has_alloc(f)
    assert fired(f, "local_sub_self") == 1


def test_double_negation_and_subtracting_a_negation(rng):
    x, y = T.dvectors("x", "y")
    f = rewritten([x], T.exp(-(-x)), rng.normal(size=3))
    assert ops(f) == ["Elemwise{exp}"]
    g = rewritten([x, y], x - (-y), *rng.normal(size=(2, 3)))
    assert ops(g) == ["Elemwise{add}"]
    h = rewritten([x, y], x + (-y), *rng.normal(size=(2, 3)))
    assert ops(h) == ["Elemwise{sub}"]


def test_exp_of_log_and_log_of_exp(rng):
    x = T.dvector("x")
    v = np.concatenate([rng.uniform(0.1, 3, size=4), [-1.0, 0.0]])
    with np.errstate(divide="ignore", invalid="ignore"):  # log(0), log(-1) unrewritten
        f = rewritten([x], T.exp(T.log(x)), v)
    assert "Elemwise{exp}" not in ops(f) and "Elemwise{log}" not in ops(f)
    np.testing.assert_array_equal(np.isnan(f(v)), [False] * 4 + [True, False])
    g = rewritten([x], T.log(T.exp(x)), rng.normal(size=5))
    assert ops(g) == ["DeepCopyOp"]
    assert float(sg.function([x], T.log(T.exp(x)))(np.array([1000.0]))[0]) == 1000.0


def test_x_over_x_only_on_request(rng):
    x = T.dvector("x")
    v = rng.uniform(0.5, 2.0, size=4)
    assert "Elemwise{true_div}" in ops(rewritten([x], x / x, v))
    f = rewritten([x], x / x, v, mode=get_mode("FAST_RUN").including("local_div_self"))
    assert "Elemwise{true_div}" not in ops(f)


# -- specialize ------------------------------------------------------------------------------
@pytest.mark.parametrize("k, expected", [
    (2, ["Elemwise{sqr}"]), (3, ["Elemwise{sqr}", "Elemwise{mul}"]),
    (4, ["Elemwise{sqr}", "Elemwise{sqr}"]), (0.5, ["Elemwise{sqrt}"]),
    (-1, ["Elemwise{inv}"]), (-2, ["Elemwise{sqr}", "Elemwise{inv}"]),
    (-0.5, ["Elemwise{sqrt}", "Elemwise{inv}"]), (1, ["DeepCopyOp"]),
    (1.5, ["Elemwise{sqrt}", "Elemwise{mul}"]), (7, None)])
def test_small_powers_become_products(k, expected, rng):
    x = T.dmatrix("x")
    f = rewritten([x], x ** k, rng.uniform(0.5, 2.0, size=(2, 3)))
    if expected is not None:
        assert ops(f) == expected
    assert "Elemwise{pow}" not in ops(f)


def test_power_zero_and_integer_powers(rng):
    x = T.dmatrix("x")
    f = rewritten([x], x ** 0, rng.normal(size=(2, 3)))
    assert "Elemwise{pow}" not in ops(f) and np.all(f(np.zeros((2, 3))) == 1)
    n = T.lvector("n")
    g = rewritten([n], n ** 3, rng.integers(-9, 9, size=5))
    assert "Elemwise{pow}" not in ops(g)
    h = rewritten([n], n ** 2.0, rng.integers(-9, 9, size=5))  # float64 result
    assert "Elemwise{pow}" not in ops(h)


def test_large_or_symbolic_powers_are_kept(rng):
    x, y = T.dvectors("x", "y")
    assert "Elemwise{pow}" in ops(rewritten([x], x ** 2.7, rng.uniform(1, 2, size=3)))
    assert "Elemwise{pow}" in ops(rewritten([x], x ** 100, rng.uniform(1, 1.01, size=3)))
    assert "Elemwise{pow}" in ops(rewritten([x, y], x ** y, *rng.uniform(1, 2, size=(2, 3))))


def test_self_product_and_reciprocal(rng):
    x = T.dvector("x")
    assert ops(rewritten([x], x * x, rng.normal(size=3))) == ["Elemwise{sqr}"]
    assert ops(rewritten([x], 1 / x, rng.uniform(1, 2, size=3))) == ["Elemwise{inv}"]


# -- stabilize -------------------------------------------------------------------------------
def test_log_of_one_plus_x(rng):
    x = T.dvector("x")
    f = rewritten([x], T.log(1 + x), rng.uniform(0, 1, size=4))
    assert ops(f) == ["Elemwise{log1p}"]
    assert f(np.array([1e-20]))[0] == 1e-20
    g = rewritten([x], T.log(1 - x), rng.uniform(0, 0.9, size=4))
    assert "Elemwise{log1p}" in ops(g)
    assert g(np.array([1e-20]))[0] == -1e-20


def test_exp_minus_one(rng):
    x = T.dvector("x")
    for expr in (T.exp(x) - 1, T.exp(x) + (-1)):
        f = rewritten([x], expr, rng.normal(size=4))
        assert ops(f) == ["Elemwise{expm1}"]
        assert f(np.array([1e-20]))[0] == 1e-20


def test_log_one_plus_exp_is_softplus_and_stable(rng):
    x = T.dscalar("x")
    f = rewritten([x], T.log(1 + T.exp(x)), rng.normal())
    assert ops(f) == ["Elemwise{softplus}"]
    assert f(1000.0) == 1000.0
    assert f(-1000.0) == 0.0


def test_log_sigmoid_is_stable(rng):
    x = T.dscalar("x")
    f = rewritten([x], T.log(T.sigmoid(x)), rng.normal())
    assert "Elemwise{sigmoid}" not in ops(f) and "Elemwise{softplus}" in ops(f)
    assert f(-1000.0) == -1000.0
    v = T.dvector("v")
    g = rewritten([v], T.log(T.sigmoid(-v)), rng.normal(size=4))
    assert ops(g) == ["Elemwise{softplus}", "Elemwise{neg}"]


def test_log_one_minus_sigmoid_is_stable(rng):
    x = T.dvector("x")
    f = rewritten([x], T.log(1 - T.sigmoid(x)), rng.normal(size=5))
    assert "Elemwise{sigmoid}" not in ops(f)
    np.testing.assert_allclose(f(np.array([1000.0, -1000.0])), [-1000.0, 0.0])
    g = rewritten([x], T.log1p(-T.sigmoid(x)), rng.normal(size=5))
    assert ops(g) == ["Elemwise{softplus}", "Elemwise{neg}"]


def test_one_minus_sigmoid_is_a_sigmoid(rng):
    x = T.dvector("x")
    f = rewritten([x], 1 - T.sigmoid(x), rng.normal(size=5))
    assert ops(f) == ["Elemwise{neg}", "Elemwise{sigmoid}"]
    assert f(np.array([40.0]))[0] == pytest.approx(scipy.special.expit(-40.0), rel=1e-12)


def test_logsumexp_is_stable(rng):
    x = T.dvector("x")
    f = rewritten([x], T.log(T.sum(T.exp(x))), rng.normal(size=5))
    assert f(np.array([1000.0, 1000.0])) == pytest.approx(1000 + np.log(2), rel=1e-15)
    assert f(np.array([-1000.0, -1000.0])) == pytest.approx(-1000 + np.log(2), rel=1e-15)
    assert fired(f, "local_logsumexp") == 1
    m = T.dmatrix("m")
    for axis, keepdims in ((0, False), (1, True), (None, False)):
        expr = T.log(T.exp(m).sum(axis=axis, keepdims=keepdims))
        g = rewritten([m], expr, rng.normal(size=(3, 4)))
        big = rng.normal(size=(3, 4)) + 800
        np.testing.assert_allclose(g(big), scipy.special.logsumexp(big, axis, keepdims=keepdims))


def test_logsumexp_already_stable_is_left_alone(rng):
    x = T.dmatrix("x")
    f = rewritten([x], T.logsumexp(x, axis=1), rng.normal(size=(3, 4)))
    assert fired(f, "local_logsumexp") == 0
    m = x.max(axis=1, keepdims=True)
    g = rewritten([x], T.log(T.exp(x - m).sum(axis=1)), rng.normal(size=(3, 4)))
    assert fired(g, "local_logsumexp") == 0


def test_log_of_a_hand_written_softmax_is_stable(rng):
    x = T.dmatrix("x")
    e = T.exp(x)
    f = rewritten([x], T.log(e / e.sum(axis=1, keepdims=True)), rng.normal(size=(2, 3)))
    assert fired(f, "local_log_div_exp") == 1
    big = np.array([[1000.0, 0.0, -1000.0]])
    np.testing.assert_allclose(f(big), scipy.special.log_softmax(big, axis=1))


def test_float32_stays_float32(rng):
    x = T.fvector("x")
    exprs = [T.log(1 + T.exp(x)), T.log(T.sigmoid(x)), T.exp(x) - 1, x ** 2, x * 0,
             T.log(T.exp(x).sum())]
    f = rewritten([x], exprs, rng.normal(size=4).astype("float32"), rtol=1e-5, atol=1e-6)
    assert all(r.dtype == np.float32 for r in f(rng.normal(size=4).astype("float32")))


def test_integer_wraparound_is_respected(rng):
    x, y = T.lvector("x"), T.bvector("y")
    # -y wraps in int8 (-(-128) == -128): x - (-y) is not x + y there
    f = rewritten([x, y], x - (-y), rng.integers(-9, 9, size=3), np.array([-128, 5, 7], "int8"))
    assert "Elemwise{neg}" in ops(f)
    u = T.vector("u", dtype="uint8")
    with np.errstate(divide="ignore"):
        g = rewritten([u], T.log(1 - u), np.array([1, 3, 0], "uint8"))  # 1 - 1 is 0, not 256
    assert "Elemwise{log1p}" not in ops(g)


# -- reductions of elementwise results -------------------------------------------------------
def test_constant_factors_and_negations_leave_sums(rng):
    m = T.dmatrix("m")
    cases = [((-m).sum(axis=0), "Elemwise{neg}"), ((2.5 * m).sum(axis=1), "Elemwise{mul}"),
             ((m / 4.0).sum(), "Elemwise{true_div}")]
    for expr, op_name in cases:
        f = rewritten([m], expr, rng.normal(size=(3, 4)))
        assert ops(f)[-1] == op_name  # applied once, after the sum
        assert fired(f, "local_sum_of_scaled") == 1


def test_a_broadcasting_factor_stays_inside_the_sum(rng):
    m = T.dmatrix("m")
    f = rewritten([m], (T.constant(np.full((4, 1), 2.0)) * m).sum(), rng.normal(size=(1, 3)))
    assert fired(f, "local_sum_of_scaled") == 0


def test_sum_of_a_product_of_vectors_is_a_dot(rng):
    x, y = T.tensor("float64", (5,), name="x"), T.tensor("float64", (5,), name="y")
    f = rewritten([x, y], (x * y).sum(), *rng.normal(size=(2, 5)))
    assert ops(f) == ["Dot"]
    u, v = T.dvectors("u", "v")  # u may be of length 1 and broadcast: no dot
    g = rewritten([u, v], (u * v).sum(), rng.normal(size=1), rng.normal(size=5))
    assert "Dot" not in ops(g)
