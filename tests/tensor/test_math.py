"""symgraph.tensor.math against NumPy/SciPy: elementwise values, dtypes and gradients,
reductions, products (dot, tensordot, matmul, batched_dot, outer) and R-ops.

Every test draws fresh inputs from a generator seeded by the test's id, so a failure
reproduces, yet no two tests share data.
"""
import numpy as np
import pytest
import scipy.special

import symgraph as sg
import symgraph.tensor as T
from symgraph.gradient import Rop, verify_grad
from symgraph.tensor.type import TensorType, upcast, upgrade_to_float


# -- helpers -------------------------------------------------------------------
def run(inputs, outputs, *values):
    """Compile ``outputs`` of ``inputs`` and call the function on ``values``."""
    return sg.function(list(inputs), outputs, on_unused_input="ignore")(*values)


def run_cases(cases):
    """Outputs of many ``(inputs, output, values)`` cases, compiled as one function
    (one compilation costs far less than many)."""
    inputs = [v for ins, _, _ in cases for v in ins]
    values = [x for _, _, vals in cases for x in vals]
    return run(inputs, [out for _, out, _ in cases], *values)


def symbolic(value, mode="bcast", name=None):
    """A symbolic input for ``value``: ``mode`` says how much of its shape is static.

    ``exact``: the whole shape; ``bcast``: only the size-1 dims; ``none``: nothing
    (size-1 dims then broadcast at run time).
    """
    value = np.asarray(value)
    if mode == "exact":
        shape = value.shape
    elif mode == "bcast":
        shape = tuple(1 if s == 1 else None for s in value.shape)
    else:
        shape = (None,) * value.ndim
    return TensorType(value.dtype, shape).make_variable(name)


def tolerance(dtype):
    return {"float16": 1e-3, "float32": 1e-5}.get(str(dtype), 1e-10)


def assert_matches(actual, expected, dtype=None):
    """Same dtype (when given), same shape, and close values (exact for non-floats)."""
    actual, expected = np.asarray(actual), np.asarray(expected)
    if dtype is not None:
        assert actual.dtype == np.dtype(dtype), f"dtype {actual.dtype}, expected {dtype}"
    assert actual.shape == expected.shape, f"shape {actual.shape}, expected {expected.shape}"
    if actual.dtype.kind in "fc":
        tol = tolerance(actual.dtype)
        np.testing.assert_allclose(actual, expected, rtol=tol, atol=tol, equal_nan=True)
    else:
        np.testing.assert_array_equal(actual, expected)


def draw(rng, domain, shape, dtype):
    """Random values of ``dtype`` inside ``domain`` (never all zeros)."""
    dtype = np.dtype(dtype)
    if dtype == np.bool_:
        return rng.random(shape) < 0.5
    if dtype.kind in "iu":
        low, high = INT_DOMAINS[domain]
        if dtype.kind == "u":
            low = max(low, 0)
        values = rng.integers(low, high, shape)
        if domain == "nonzero":
            values[values == 0] = 1
        return values.astype(dtype)
    values = FLOAT_DOMAINS[domain](rng, shape)
    return np.asarray(values).astype(dtype)


def _halves(rng, shape):
    # exact halves in about half the entries, to test rounding of ties to even
    base = rng.integers(-8, 8, shape) * 0.5
    return base + np.where(rng.random(shape) < 0.5, 0.0, rng.uniform(-0.2, 0.2, shape))


def _off_grid(rng, shape):
    # well away from integers and halves, where floor/ceil/round/mod jump
    return rng.integers(-3, 3, shape) + rng.uniform(0.1, 0.4, shape)


def _nonzero(rng, shape):
    return np.where(rng.random(shape) < 0.5, -1.0, 1.0) * rng.uniform(0.3, 3.0, shape)


def _special(rng, shape):
    values = rng.uniform(-3, 3, shape)
    flat = values.reshape(-1)
    for i, v in zip(rng.permutation(flat.size)[:3], (np.nan, np.inf, -np.inf)):
        flat[i] = v
    return values


FLOAT_DOMAINS = {
    "real": lambda rng, shape: rng.uniform(-3, 3, shape),
    "pos": lambda rng, shape: rng.uniform(0.1, 3, shape),
    "unit": lambda rng, shape: rng.uniform(-0.95, 0.95, shape),
    "gt_m1": lambda rng, shape: rng.uniform(-0.9, 3, shape),
    "tan": lambda rng, shape: rng.uniform(-1.4, 1.4, shape),
    "nonzero": _nonzero,
    "halves": _halves,
    "off_grid": _off_grid,
    "small": lambda rng, shape: rng.integers(-2, 3, shape).astype(float),
    "special": _special,
    "pow_base": lambda rng, shape: rng.uniform(0.2, 3, shape),
    "pow_exp": lambda rng, shape: rng.uniform(-2, 2, shape),
    # x / y stays >= 0.08 away from integers, where mod and floor division jump
    "mod_x": lambda rng, shape: rng.integers(-2, 3, shape) + rng.uniform(0.2, 0.4, shape),
    "mod_y": lambda rng, shape: _nonzero(rng, shape) / np.abs(_nonzero(rng, shape))
    * rng.uniform(1.0, 1.05, shape),
}
INT_DOMAINS = {
    "real": (-5, 6), "pos": (1, 10), "unit": (-1, 2), "gt_m1": (0, 10), "tan": (-1, 2),
    "nonzero": (-5, 6), "halves": (-5, 6), "off_grid": (-5, 6), "small": (-2, 3),
    "special": (-5, 6), "pow_base": (-3, 4), "pow_exp": (0, 4), "bits": (-100, 100),
}


def expected_dtype(op_is_float, np_result, *dtypes):
    """The dtype symgraph promises: NumPy's, except float ops on ints use Theano's rule."""
    common = upcast(*dtypes)
    if op_is_float and np.dtype(common).kind in "biu":
        return upgrade_to_float(common)
    return np.asarray(np_result).dtype


def reference(np_fn, op_is_float, values):
    """NumPy's answer; float ops on ints are computed in the float dtype symgraph uses."""
    common = upcast(*[v.dtype for v in values])
    if op_is_float and np.dtype(common).kind in "biu":
        values = [v.astype(upgrade_to_float(common)) for v in values]
    with np.errstate(all="ignore"):
        return np_fn(*values)


def leaky_relu_ref(x):
    return np.where(x > 0, x, 0.1 * x)


# -- elementwise values ----------------------------------------------------------
# name: (symbolic fn, NumPy fn, domain, is a float op, makes sense on ints)
UNARY = {
    "neg": (T.neg, np.negative, "real", False, True),
    "abs": (T.abs, np.abs, "real", False, True),
    "sgn": (T.sgn, np.sign, "real", False, True),
    "exp": (T.exp, np.exp, "real", True, True),
    "exp2": (T.exp2, np.exp2, "real", True, True),
    "log": (T.log, np.log, "pos", True, True),
    "log2": (T.log2, np.log2, "pos", True, True),
    "log10": (T.log10, np.log10, "pos", True, True),
    "log1p": (T.log1p, np.log1p, "gt_m1", True, True),
    "expm1": (T.expm1, np.expm1, "real", True, True),
    "sqrt": (T.sqrt, np.sqrt, "pos", True, True),
    "sqr": (T.sqr, np.square, "real", False, True),
    "inv": (T.inv, np.reciprocal, "nonzero", True, True),
    "sin": (T.sin, np.sin, "real", True, True),
    "cos": (T.cos, np.cos, "real", True, True),
    "tan": (T.tan, np.tan, "tan", True, True),
    "arcsin": (T.arcsin, np.arcsin, "unit", True, True),
    "arccos": (T.arccos, np.arccos, "unit", True, True),
    "arctan": (T.arctan, np.arctan, "real", True, True),
    "sinh": (T.sinh, np.sinh, "real", True, True),
    "cosh": (T.cosh, np.cosh, "real", True, True),
    "tanh": (T.tanh, np.tanh, "real", True, True),
    "sigmoid": (T.sigmoid, scipy.special.expit, "real", True, True),
    "softplus": (T.softplus, lambda x: np.logaddexp(np.zeros((), x.dtype), x), "real", True, True),
    "relu": (T.relu, lambda x: np.maximum(x, np.zeros((), x.dtype)), "real", False, True),
    "leaky_relu": (lambda x: T.relu(x, 0.1), leaky_relu_ref, "real", False, True),
    "erf": (T.erf, scipy.special.erf, "real", True, True),
    "erfc": (T.erfc, scipy.special.erfc, "real", True, True),
    "floor": (T.floor, np.floor, "halves", False, True),
    "ceil": (T.ceil, np.ceil, "halves", False, True),
    "round": (T.round, np.round, "halves", False, True),
    "trunc": (T.trunc, np.trunc, "halves", False, True),
    "isnan": (T.isnan, np.isnan, "special", False, True),
    "isinf": (T.isinf, np.isinf, "special", False, True),
}
FLOAT_DTYPES = ["float32", "float64"]
INT_DTYPES = ["int8", "int32", "int64", "uint8"]
SHAPES = [(2, 3), (), (0,), (1,), (2, 0, 3), (1, 1, 4)]


def unary_cases():
    for name, (_, _, _, _, ints) in UNARY.items():
        for dtype in FLOAT_DTYPES + (INT_DTYPES if ints else []):
            yield pytest.param(name, dtype, id=f"{name}-{dtype}")


@pytest.mark.parametrize("name,dtype", list(unary_cases()))
def test_unary_values(name, dtype, rng):
    fn, np_fn, domain, is_float, _ = UNARY[name]
    cases, labels = [], []
    for shape in SHAPES:
        for mode in ("bcast", "none"):
            x = draw(rng, domain, shape, dtype)
            xv = symbolic(x, mode)
            cases.append(([xv], fn(xv), [x]))
            labels.append((shape, mode))
    for (_, _, (x,)), out, label in zip(cases, run_cases(cases), labels):
        want = reference(np_fn, is_float, [x])
        assert_matches(out, want, expected_dtype(is_float, want, dtype)), label


def test_softplus_and_sigmoid_are_stable_at_extremes():
    x = T.dvector("x")
    values = np.array([-800.0, -40.0, 0.0, 40.0, 800.0])
    assert_matches(run([x], T.softplus(x), values), np.logaddexp(0, values))
    assert_matches(run([x], T.sigmoid(x), values), scipy.special.expit(values))


def test_round_is_half_to_even_and_half_away_mode():
    x = T.dvector("x")
    values = np.array([-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 0.49, -0.51])
    assert_matches(run([x], T.round(x), values), [-2, -2, -0, 0, 2, 2, 0, -1])
    assert_matches(run([x], T.round(x, "half_away_from_zero"), values),
                   [-3, -2, -1, 1, 2, 3, 0, -1])
    with pytest.raises(ValueError):
        T.round(x, "stochastic")


@pytest.mark.parametrize("dtype", ["int8", "int32", "uint8", "bool"])
def test_invert(dtype, rng):
    x = draw(rng, "bits", (3, 4), dtype)
    assert_matches(run([xv := symbolic(x)], T.invert(xv), x), np.invert(x), dtype)
    assert_matches(run([xv], ~xv, x), np.invert(x), dtype)


# name: (symbolic fn, NumPy fn, domains, is a float op, dtypes)
ARITH = FLOAT_DTYPES + INT_DTYPES
BINARY = {
    "add": (T.add, np.add, ("real", "real"), False, ARITH),
    "sub": (T.sub, np.subtract, ("real", "real"), False, ARITH),
    "mul": (T.mul, np.multiply, ("real", "real"), False, ARITH),
    "true_div": (T.true_div, np.true_divide, ("real", "nonzero"), True, ARITH),
    "int_div": (T.int_div, np.floor_divide, ("real", "nonzero"), False, ARITH),
    "mod": (T.mod, np.mod, ("real", "nonzero"), False, ARITH),
    "pow": (T.pow, np.power, ("pow_base", "pow_exp"), False, ARITH),
    "maximum": (T.maximum, np.maximum, ("real", "real"), False, ARITH),
    "minimum": (T.minimum, np.minimum, ("real", "real"), False, ARITH),
    "arctan2": (T.arctan2, np.arctan2, ("real", "real"), True, ARITH),
    "eq": (T.eq, np.equal, ("small", "small"), False, ARITH + ["bool"]),
    "neq": (T.neq, np.not_equal, ("small", "small"), False, ARITH + ["bool"]),
    "lt": (T.lt, np.less, ("small", "small"), False, ARITH),
    "le": (T.le, np.less_equal, ("small", "small"), False, ARITH),
    "gt": (T.gt, np.greater, ("small", "small"), False, ARITH),
    "ge": (T.ge, np.greater_equal, ("small", "small"), False, ARITH),
    "and_": (T.and_, np.bitwise_and, ("bits", "bits"), False, INT_DTYPES + ["bool"]),
    "or_": (T.or_, np.bitwise_or, ("bits", "bits"), False, INT_DTYPES + ["bool"]),
    "xor": (T.xor, np.bitwise_xor, ("bits", "bits"), False, INT_DTYPES + ["bool"]),
}
BROADCAST_PAIRS = [
    ((3, 1), (1, 4)), ((2, 3), (3,)), ((), (2, 3)), ((2, 3), ()), ((), ()),
    ((0, 3), (1, 3)), ((2, 1, 3), (4, 1)), ((4,), (4,)), ((1,), (0,)), ((1, 1), (1,)),
]


def binary_cases():
    for name, (*_, dtypes) in BINARY.items():
        for dtype in dtypes:
            yield pytest.param(name, dtype, dtype, id=f"{name}-{dtype}")
    mixed = [("float32", "float64"), ("int8", "float32"), ("int32", "float32"),
             ("int8", "uint8"), ("int8", "int64"), ("uint8", "float64")]
    for name in ("add", "sub", "mul", "true_div", "maximum", "lt", "pow", "mod"):
        for a, b in mixed:
            yield pytest.param(name, a, b, id=f"{name}-{a}-{b}")


@pytest.mark.filterwarnings("ignore:.*encountered in power:RuntimeWarning")
@pytest.mark.parametrize("name,dtype_a,dtype_b", list(binary_cases()))
def test_binary_values(name, dtype_a, dtype_b, rng):
    fn, np_fn, (dom_a, dom_b), is_float, _ = BINARY[name]
    cases = []
    for shape_a, shape_b in BROADCAST_PAIRS:
        for mode in ("bcast", "none"):
            a, b = draw(rng, dom_a, shape_a, dtype_a), draw(rng, dom_b, shape_b, dtype_b)
            av, bv = symbolic(a, mode), symbolic(b, mode)
            cases.append(([av, bv], fn(av, bv), [a, b]))
    for (_, _, (a, b)), out in zip(cases, run_cases(cases)):
        want = reference(np_fn, is_float, [a, b])
        assert_matches(out, want, expected_dtype(is_float, want, dtype_a, dtype_b))


def test_add_and_mul_take_many_inputs(rng):
    a, b, c = (rng.uniform(-2, 2, s) for s in [(2, 3), (3,), (2, 1)])
    av, bv, cv = T.dmatrix(), T.dvector(), T.dmatrix()
    assert_matches(run([av, bv, cv], T.add(av, bv, cv), a, b, c), a + b + c)
    assert_matches(run([av, bv, cv], T.mul(av, bv, cv), a, b, c), a * b * c)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES + ["int32", "int8"])
def test_clip(dtype, rng):
    cases = [((3, 4), (), ()), ((3, 4), (3, 1), (1, 4)), ((0, 2), (1, 2), ()), ((), (), ())]
    for x_shape, lo_shape, hi_shape in cases:
        x = draw(rng, "real", x_shape, dtype)
        lo = draw(rng, "real", lo_shape, dtype) - 2 * np.ones((), dtype)
        hi = lo + draw(rng, "pos", hi_shape, dtype) + np.ones((), dtype)
        xv, lov, hiv = (symbolic(v, "none") for v in (x, lo, hi))
        assert_matches(run([xv, lov, hiv], T.clip(xv, lov, hiv), x, lo, hi),
                       np.clip(x, lo, hi), dtype)
    x = draw(rng, "real", (5,), dtype)
    xv = symbolic(x)
    assert_matches(run([xv], T.clip(xv, -1, 2), x), np.clip(x, -1, 2), dtype)
    assert_matches(run([xv], xv.clip(-1, 2), x), np.clip(x, -1, 2), dtype)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES + ["int64", "uint8"])
def test_switch_and_where(dtype, rng):
    for c_shape, a_shape, b_shape in [((3, 1), (1, 4), ()), ((2, 3), (2, 3), (3,)),
                                      ((0, 1), (1, 2), (1,)), ((), (), ())]:
        cond = rng.random(c_shape) < 0.5
        a, b = draw(rng, "real", a_shape, dtype), draw(rng, "real", b_shape, dtype)
        cv, av, bv = (symbolic(v, "none") for v in (cond, a, b))
        assert_matches(run([cv, av, bv], T.switch(cv, av, bv), cond, a, b),
                       np.where(cond, a, b), dtype)
        assert_matches(run([cv, av, bv], T.where(cv, av, bv), cond, a, b),
                       np.where(cond, a, b), dtype)


def test_switch_with_numeric_condition_and_python_scalar_branch(rng):
    cond = rng.integers(0, 2, (4,)).astype("int64")
    x = rng.uniform(-1, 1, (4,)).astype("float32")
    cv, xv = T.lvector(), T.fvector()
    out = run([cv, xv], T.switch(cv, xv, 0.5), cond, x)
    assert_matches(out, np.where(cond, x, np.float32(0.5)), "float32")


@pytest.mark.parametrize("src,dst", [
    ("float64", "float32"), ("float32", "float64"), ("float64", "int32"), ("float32", "int8"),
    ("int64", "float32"), ("int8", "int64"), ("int32", "uint8"), ("bool", "float64"),
    ("float64", "bool"), ("int16", "bool"), ("uint8", "int8"),
])
def test_cast(src, dst, rng):
    x = draw(rng, "real", (3, 4), src)
    if src != "bool":  # spread the values so narrowing casts wrap or truncate
        x = x * np.asarray(7, src)
    xv = symbolic(x)
    with np.errstate(all="ignore"):
        want = x.astype(dst)
    assert_matches(run([xv], T.cast(xv, dst), x), want, dst)
    assert_matches(run([xv], xv.astype(dst), x), want, dst)
    assert T.cast(xv, src) is xv


# -- elementwise gradients ---------------------------------------------------------
GRAD_UNARY = {
    "neg": (T.neg, "real"), "abs": (T.abs, "nonzero"), "sgn": (T.sgn, "nonzero"),
    "exp": (T.exp, "real"), "exp2": (T.exp2, "real"), "log": (T.log, "pos"),
    "log2": (T.log2, "pos"), "log10": (T.log10, "pos"), "log1p": (T.log1p, "gt_m1"),
    "expm1": (T.expm1, "real"), "sqrt": (T.sqrt, "pos"), "sqr": (T.sqr, "real"),
    "inv": (T.inv, "nonzero"), "sin": (T.sin, "real"), "cos": (T.cos, "real"),
    "tan": (T.tan, "tan"), "arcsin": (T.arcsin, "unit"), "arccos": (T.arccos, "unit"),
    "arctan": (T.arctan, "real"), "sinh": (T.sinh, "real"), "cosh": (T.cosh, "real"),
    "tanh": (T.tanh, "real"), "sigmoid": (T.sigmoid, "real"), "softplus": (T.softplus, "real"),
    "relu": (T.relu, "nonzero"), "leaky_relu": (lambda x: T.relu(x, 0.1), "nonzero"),
    "erf": (T.erf, "real"), "erfc": (T.erfc, "real"), "floor": (T.floor, "off_grid"),
    "ceil": (T.ceil, "off_grid"), "round": (T.round, "off_grid"),
    "trunc": (T.trunc, "off_grid"), "identity": (T.identity, "real"),
    "cast_f32_f64": (lambda x: T.cast(T.cast(x, "float32"), "float64") * 1.0, "real"),
}


@pytest.mark.parametrize("name", list(GRAD_UNARY))
def test_unary_grad(name, rng):
    fn, domain = GRAD_UNARY[name]
    for shape in [(2, 3), ()]:
        x = draw(rng, domain, shape, "float64")
        # a float32 round trip needs a step far above float32's resolution
        eps = 1e-2 if name == "cast_f32_f64" else None
        verify_grad(fn, [x], rng=rng, eps=eps)


GRAD_BINARY = {
    "add": (T.add, ("real", "real")), "sub": (T.sub, ("real", "real")),
    "mul": (T.mul, ("real", "real")), "true_div": (T.true_div, ("real", "nonzero")),
    "pow": (T.pow, ("pow_base", "pow_exp")), "maximum": (T.maximum, ("real", "real")),
    "minimum": (T.minimum, ("real", "real")), "arctan2": (T.arctan2, ("nonzero", "nonzero")),
    "mod": (T.mod, ("mod_x", "mod_y")), "int_div": (T.int_div, ("mod_x", "mod_y")),
}
GRAD_PAIRS = [((2, 3), (2, 3)), ((3, 1), (1, 4)), ((2, 3), (3,)), ((), (2, 3)), ((2, 3), (1, 1))]


@pytest.mark.parametrize("name", list(GRAD_BINARY))
@pytest.mark.parametrize("static", [False, True], ids=["runtime_bcast", "static_bcast"])
def test_binary_grad(name, static, rng):
    fn, domains = GRAD_BINARY[name]
    for shape_a, shape_b in GRAD_PAIRS:
        a = draw(rng, domains[0], shape_a, "float64")
        b = draw(rng, domains[1], shape_b, "float64")
        if static:
            shapes = (a.shape, b.shape)
            verify_grad(lambda x, y: fn(T.specify_shape(x, shapes[0]),
                                        T.specify_shape(y, shapes[1])), [a, b], rng=rng)
        else:
            verify_grad(fn, [a, b], rng=rng)


def test_grad_runtime_broadcast_sums_back(rng):
    """A dim declared None but of size 1 at run time gets its gradient summed (SumToShape)."""
    a, b = rng.uniform(-1, 1, (3, 1)), rng.uniform(-1, 1, (1, 4))
    av, bv = T.dmatrix("a"), T.dmatrix("b")
    cost = (av * bv * T.constant(np.arange(12.0).reshape(3, 4) + 1)).sum()
    ga, gb = run([av, bv], sg.grad(cost, [av, bv]), a, b)
    weights = np.arange(12.0).reshape(3, 4) + 1
    assert_matches(ga, (b * weights).sum(axis=1, keepdims=True))
    assert_matches(gb, (a * weights).sum(axis=0, keepdims=True))
    # and with no broadcasting at run time, the same graph is the plain product rule
    a2, b2 = rng.uniform(-1, 1, (3, 4)), rng.uniform(-1, 1, (3, 4))
    ga, gb = run([av, bv], sg.grad(cost, [av, bv]), a2, b2)
    assert_matches(ga, b2 * weights)
    assert_matches(gb, a2 * weights)


def test_three_input_mul_grad(rng):
    a, b, c = (rng.uniform(-2, 2, s) for s in [(2, 3), (3,), (2, 1)])
    verify_grad(lambda x, y, z: T.mul(x, y, z), [a, b, c], rng=rng)
    verify_grad(lambda x, y, z: T.add(x, y, z) ** 2, [a, b, c], rng=rng)


def test_clip_grad(rng):
    x = draw(rng, "real", (3, 4), "float64")
    x[np.abs(x - 0.5) < 0.05] += 0.2  # keep away from the bounds
    x[np.abs(x + 1.0) < 0.05] += 0.2
    verify_grad(lambda v: T.clip(v, -1.0, 0.5), [x], rng=rng)
    lo = np.full((3, 1), -1.0)
    hi = np.full((1, 4), 0.5)
    verify_grad(T.clip, [x, lo, hi], rng=rng)
    # the bounds get the gradient where x is outside them
    xv, lov, hiv = T.dmatrix(), T.dmatrix(), T.dmatrix()
    g_lo, g_hi = run([xv, lov, hiv], sg.grad(T.clip(xv, lov, hiv).sum(), [lov, hiv]), x, lo, hi)
    assert_matches(g_lo, (x < -1.0).sum(axis=1, keepdims=True).astype(float))
    assert_matches(g_hi, (x > 0.5).sum(axis=0, keepdims=True).astype(float))


def test_switch_grad(rng):
    cond = rng.random((3, 4)) < 0.5
    a, b = rng.uniform(-1, 1, (3, 4)), rng.uniform(-1, 1, (4,))
    verify_grad(lambda x, y: T.switch(T.constant(cond), x * x, T.exp(y)), [a, b], rng=rng)
    cv, av = T.dmatrix(), T.dmatrix()
    g_cond = run([cv, av], sg.grad(T.switch(cv, av, 0).sum(), cv), cond.astype(float), a)
    assert_matches(g_cond, np.zeros((3, 4)))


def test_pow_grad_at_zero_base_is_finite(rng):
    x, y = T.dvector(), T.dvector()
    base = np.array([0.0, 0.0, 2.0])
    expo = np.array([2.0, 3.5, 1.5])
    gx, gy = run([x, y], sg.grad((x ** y).sum(), [x, y]), base, expo)
    assert_matches(gx, expo * base ** (expo - 1))
    assert_matches(gy, [0.0, 0.0, np.log(2.0) * 2.0 ** 1.5])


def test_int_input_has_float_zero_grad(rng):
    x, k = T.dvector(), T.lvector()
    g = sg.grad((x * k).sum(), k)
    assert g.dtype == sg.config.floatX
    assert_matches(run([x, k], g, rng.uniform(size=3), np.arange(3)), np.zeros(3))


# -- reductions ----------------------------------------------------------------------
REDUCTIONS = {
    "sum": (T.sum, np.sum), "prod": (T.prod, np.prod), "max": (T.max, np.max),
    "min": (T.min, np.min), "all": (T.all, np.all), "any": (T.any, np.any),
    "mean": (T.mean, np.mean), "var": (T.var, np.var), "std": (T.std, np.std),
    "logsumexp": (T.logsumexp, scipy.special.logsumexp),
}
AXES = [None, 0, 1, -1, (0, 2), (-1, 0), (), (0, 1, 2)]
REDUCE_DTYPES = ["float32", "float64", "int8", "int32", "uint8", "bool"]


def reduction_cases():
    for name in REDUCTIONS:
        for dtype in REDUCE_DTYPES:
            if name == "logsumexp" and dtype not in FLOAT_DTYPES:
                continue
            yield pytest.param(name, dtype, id=f"{name}-{dtype}")


def _reduction_input(rng, name, dtype, shape):
    if name in ("all", "any") and dtype != "bool":
        # mostly nonzero, with some zeros so all() is sometimes False
        return (draw(rng, "real", shape, dtype) * (rng.random(shape) < 0.8)).astype(dtype)
    if name == "prod":
        return draw(rng, "unit" if dtype in FLOAT_DTYPES else "small", shape, dtype)
    return draw(rng, "real", shape, dtype)


@pytest.mark.parametrize("name,dtype", list(reduction_cases()))
def test_reduction_values(name, dtype, rng):
    fn, np_fn = REDUCTIONS[name]
    x = _reduction_input(rng, name, dtype, (2, 3, 4))
    cases, args = [], []
    for k, axis in enumerate(AXES):
        for keepdims in (False, True):
            xv = symbolic(x, ("exact", "none")[(k + keepdims) % 2])
            cases.append(([xv], fn(xv, axis=axis, keepdims=keepdims), [x]))
            args.append((axis, keepdims))
    for (axis, keepdims), out in zip(args, run_cases(cases)):
        want = np_fn(x, axis=axis, keepdims=keepdims)
        if name == "logsumexp":  # SciPy keeps float32 only in recent versions
            want = np.asarray(want).astype(dtype)
        assert_matches(out, want, np.asarray(want).dtype)


@pytest.mark.parametrize("name", ["sum", "prod", "all", "any", "max", "min", "mean"])
def test_reductions_of_size_0_and_size_1_dims(name, rng):
    fn, np_fn = REDUCTIONS[name]
    x = rng.uniform(-1, 1, (2, 0, 3))
    y = rng.uniform(-1, 1, (1, 3, 1))
    for value, axes in [(x, [0, 2, (0, 2)]), (y, [None, 0, 2, (0, 2), 1])]:
        if name not in ("max", "min", "mean"):
            axes = axes + [None, 1]
        for mode in ("exact", "none"):
            xv = symbolic(value, mode)
            for axis in axes:
                want = np.asarray(np_fn(value, axis=axis))
                assert_matches(run([xv], fn(xv, axis=axis), value), want, want.dtype)


@pytest.mark.parametrize("name", ["sum", "prod", "max", "min", "mean", "all", "any"])
def test_reduction_of_0d(name, rng):
    fn, np_fn = REDUCTIONS[name]
    x = np.asarray(rng.uniform(0.5, 2))
    xv = T.dscalar()
    for axis in (None, ()):
        assert_matches(run([xv], fn(xv, axis=axis), x), np_fn(x, axis=axis))
    with pytest.raises(ValueError):
        fn(xv, axis=0)


def test_reduction_axis_errors():
    x = T.dmatrix()
    for bad in (2, -3, (0, 0), (1, -1)):
        with pytest.raises(ValueError):
            T.sum(x, axis=bad)


@pytest.mark.parametrize("dtype,acc", [("int8", "int64"), ("int32", "int64"), ("uint8", "uint64"),
                                       ("uint32", "uint64"), ("bool", "int64"),
                                       ("int64", "int64"), ("float32", "float32")])
def test_sum_and_prod_accumulate_like_numpy(dtype, acc, rng):
    x = np.full((300,), 100).astype(dtype) if dtype != "bool" else np.ones(300, bool)
    xv = symbolic(x)
    out = run([xv], T.sum(xv), x)
    assert out.dtype == np.sum(x).dtype == np.dtype(acc)
    assert_matches(out, np.sum(x))
    small = draw(rng, "small", (6,), dtype)
    assert_matches(run([sv := symbolic(small)], T.prod(sv), small), np.prod(small), acc)
    assert_matches(run([xv], T.sum(xv, dtype="float64"), x), np.sum(x, dtype="float64"),
                   "float64")


@pytest.mark.parametrize("dtype", ["float32", "float64", "int32", "uint8", "bool"])
@pytest.mark.parametrize("which", ["argmax", "argmin"])
def test_argmax_argmin(which, dtype, rng):
    x = draw(rng, "real", (3, 4, 5), dtype)
    if dtype in FLOAT_DTYPES:  # no ties: the first of equal values is NumPy's answer anyway
        x = rng.permutation(x.size).reshape(x.shape).astype(dtype)
    np_fn = getattr(np, which)
    for mode in ("exact", "none"):
        xv = symbolic(x, mode)
        for axis in (None, 0, 1, 2, -1, -3):
            for keepdims in (False, True):
                out = run([xv], getattr(T, which)(xv, axis=axis, keepdims=keepdims), x)
                assert_matches(out, np_fn(x, axis=axis, keepdims=keepdims), "int64")
        out = run([xv], getattr(xv, which)(axis=1), x)
        assert_matches(out, np_fn(x, axis=1), "int64")
    # a tuple of axes: the index into those axes flattened
    xv = symbolic(x)
    out = run([xv], getattr(T, which)(xv, axis=(0, 2)), x)
    flat = x.transpose(1, 0, 2).reshape(4, -1)
    assert_matches(out, np_fn(flat, axis=1), "int64")


def test_max_and_argmax():
    x = T.dmatrix()
    value = np.array([[1.0, 5.0, 2.0], [7.0, 0.0, 3.0]])
    m, a = run([x], list(T.max_and_argmax(x, axis=1)), value)
    assert_matches(m, [5.0, 7.0])
    assert_matches(a, [1, 0])


def test_var_std_ddof(rng):
    x = rng.uniform(-2, 2, (4, 5))
    xv = symbolic(x, "none")
    for ddof in (0, 1, 2):
        for axis in (None, 0, (0, 1), -1):
            assert_matches(run([xv], T.var(xv, axis=axis, ddof=ddof), x),
                           np.var(x, axis, ddof=ddof))
            assert_matches(run([xv], xv.std(axis=axis, ddof=ddof), x), np.std(x, axis, ddof=ddof))
    assert_matches(run([xv], T.var(xv, corrected=True), x), np.var(x, ddof=1))


def test_mean_dtype_argument(rng):
    x = draw(rng, "real", (3, 4), "int32")
    xv = symbolic(x)
    assert_matches(run([xv], T.mean(xv, dtype="float32"), x), np.mean(x, dtype="float32"),
                   "float32")
    assert_matches(run([xv], xv.mean(axis=0), x), np.mean(x, axis=0), "float64")


@pytest.mark.filterwarnings("ignore:divide by zero:RuntimeWarning")
def test_logsumexp_extremes():
    x = T.dmatrix()
    value = np.array([[1000.0, 1000.0], [-1000.0, -1000.0], [-np.inf, -np.inf],
                      [np.inf, 0.0], [-np.inf, 3.0]])
    with np.errstate(all="ignore"):
        want = scipy.special.logsumexp(value, axis=1)
    assert_matches(run([x], T.logsumexp(x, axis=1), value), want)


@pytest.mark.parametrize("name", ["sum", "prod", "max", "min", "mean", "var", "std", "logsumexp"])
def test_reduction_grad(name, rng):
    fn = REDUCTIONS[name][0]
    domain = "pow_base" if name == "prod" else "real"
    x = draw(rng, domain, (2, 3, 4), "float64")
    for axis, keepdims in [(None, False), (0, True), (-1, False), ((0, 2), False),
                           ((0, 2), True)]:
        verify_grad(lambda v: fn(v, axis=axis, keepdims=keepdims), [x], rng=rng, n_tests=1)
    verify_grad(lambda v: fn(v, axis=1), [draw(rng, domain, (1, 3), "float64")], rng=rng,
                n_tests=1)


@pytest.mark.parametrize("zeros", [1, 2, 3])
def test_prod_grad_with_zeros(zeros, rng):
    x = rng.uniform(0.5, 2, (3, 5))
    x[0, :zeros] = 0.0  # row 0 has `zeros` zeros
    x[1, 2] = 0.0  # row 1 has one
    x = rng.permuted(x, axis=1)
    xv = T.dmatrix()
    for axis in (1, None):
        g = run([xv], sg.grad(T.prod(xv, axis=axis).sum(), xv), x)
        want = np.zeros_like(x)
        rows = [x] if axis is None else list(x)
        for r, row in enumerate(rows):
            for idx in np.ndindex(row.shape):
                others = row.copy()
                others[idx] = 1.0
                (want if axis is None else want[r])[idx] = np.prod(others)
        assert_matches(g, want)
    verify_grad(lambda v: T.prod(v, axis=1), [x], rng=rng)


def test_max_grad_goes_to_the_max(rng):
    x = rng.permutation(12).reshape(3, 4).astype(float)
    xv = T.dmatrix()
    g = run([xv], sg.grad(T.max(xv, axis=1).sum(), xv), x)
    want = (x == x.max(axis=1, keepdims=True)).astype(float)
    assert_matches(g, want)
    g = run([xv], sg.grad(T.min(xv).sum(), xv), x)
    assert_matches(g, (x == x.min()).astype(float))


def test_integer_reduction_grad_is_zero(rng):
    x = T.imatrix()
    g = sg.grad(T.sum(x).astype("float64"), x)
    assert_matches(run([x], g, np.ones((2, 3), "int32")), np.zeros((2, 3)))


# -- products ------------------------------------------------------------------------
def _dot_operands(rng, ndim_a, ndim_b, dtype_a="float64", dtype_b="float64"):
    k = 4
    a_shape = {0: (), 1: (k,), 2: (3, k), 3: (2, 3, k), 4: (2, 1, 3, k)}[ndim_a]
    b_shape = {0: (), 1: (k,), 2: (k, 5), 3: (2, k, 5), 4: (1, 2, k, 5)}[ndim_b]
    return draw(rng, "real", a_shape, dtype_a), draw(rng, "real", b_shape, dtype_b)


DOT_NDIMS = [(a, b) for a in range(4) for b in range(4)] + [(4, 2), (2, 4), (4, 1)]


@pytest.mark.parametrize("ndim_a,ndim_b", DOT_NDIMS)
def test_dot_values_and_grad(ndim_a, ndim_b, rng):
    a, b = _dot_operands(rng, ndim_a, ndim_b)
    for mode in ("exact", "none"):
        av, bv = symbolic(a, mode), symbolic(b, mode)
        assert_matches(run([av, bv], T.dot(av, bv), a, b), np.dot(a, b), "float64")
        assert_matches(run([av, bv], av.dot(bv), a, b), np.dot(a, b), "float64")
    verify_grad(T.dot, [a, b], rng=rng)


@pytest.mark.parametrize("dtype_a,dtype_b", [
    ("float32", "float32"), ("float32", "float64"), ("int32", "float32"), ("int64", "int64"),
    ("int8", "int16"), ("uint8", "float64"), ("bool", "float32"),
])
def test_dot_mixed_dtypes(dtype_a, dtype_b, rng):
    for ndim_a, ndim_b in [(2, 2), (1, 2), (2, 1), (1, 1), (3, 2), (0, 2)]:
        a, b = _dot_operands(rng, ndim_a, ndim_b, dtype_a, dtype_b)
        av, bv = symbolic(a), symbolic(b)
        want = np.dot(a, b)
        assert_matches(run([av, bv], T.dot(av, bv), a, b), want, want.dtype)


def test_dot_with_size_0_dims(rng):
    for a_shape, b_shape in [((3, 0), (0, 5)), ((0, 4), (4, 2)), ((0,), (0,)), ((2, 0, 3), (3,))]:
        a, b = rng.uniform(size=a_shape), rng.uniform(size=b_shape)
        av, bv = symbolic(a, "none"), symbolic(b, "none")
        assert_matches(run([av, bv], T.dot(av, bv), a, b), np.dot(a, b))


def test_dot_shape_mismatch_is_caught():
    with pytest.raises(ValueError):
        T.dot(T.tensor("float64", (3, 4)), T.tensor("float64", (5, 2)))
    a, b = T.dmatrix(), T.dmatrix()
    f = sg.function([a, b], T.dot(a, b))
    with pytest.raises(ValueError):
        f(np.ones((3, 4)), np.ones((5, 2)))


@pytest.mark.parametrize("a_shape,b_shape,axes", [
    ((2, 3, 4), (3, 4, 5), 2), ((2, 3, 4), (4, 5), 1), ((2, 3), (4, 5), 0),
    ((3, 4), (3, 4), 2), ((2, 3, 4), (4, 3, 5), [[1, 2], [1, 0]]),
    ((2, 3, 4), (5, 3), [1, 1]), ((2, 3, 4), (4, 2), [[-1, 0], [0, 1]]),
    ((4,), (4, 2), [[0], [0]]), ((2, 1, 3), (3, 1, 2), [[2, 1], [0, 1]]),
])
def test_tensordot(a_shape, b_shape, axes, rng):
    a, b = rng.uniform(-1, 1, a_shape), rng.uniform(-1, 1, b_shape)
    for mode in ("exact", "none"):
        av, bv = symbolic(a, mode), symbolic(b, mode)
        assert_matches(run([av, bv], T.tensordot(av, bv, axes), a, b), np.tensordot(a, b, axes))
    verify_grad(lambda x, y: T.tensordot(x, y, axes), [a, b], rng=rng)


def test_tensordot_mixed_dtypes(rng):
    a = draw(rng, "real", (2, 3, 4), "float32")
    b = draw(rng, "real", (3, 4, 5), "int32")
    av, bv = symbolic(a), symbolic(b)
    want = np.tensordot(a, b, 2)
    assert_matches(run([av, bv], T.tensordot(av, bv), a, b), want, want.dtype)
    with pytest.raises(ValueError):
        T.tensordot(av, bv, [[0, 1], [0]])


@pytest.mark.parametrize("a_shape,b_shape", [
    ((3, 4), (4, 5)), ((4,), (4, 5)), ((3, 4), (4,)), ((4,), (4,)),
    ((2, 3, 4), (2, 4, 5)), ((2, 3, 4), (4, 5)), ((3, 4), (2, 4, 5)),
    ((2, 1, 3, 4), (5, 4, 2)), ((1, 3, 4), (6, 4, 2)), ((4,), (2, 4, 5)), ((2, 3, 4), (4,)),
    ((2, 0, 4), (2, 4, 3)), ((0, 3, 4), (1, 4, 2)),
])
def test_matmul(a_shape, b_shape, rng):
    a, b = rng.uniform(-1, 1, a_shape), rng.uniform(-1, 1, b_shape)
    for mode in ("exact", "bcast", "none"):
        av, bv = symbolic(a, mode), symbolic(b, mode)
        assert_matches(run([av, bv], T.matmul(av, bv), a, b), np.matmul(a, b))
        assert_matches(run([av, bv], av @ bv, a, b), a @ b)
    verify_grad(T.matmul, [a, b], rng=rng)


def test_matmul_mixed_dtypes_and_errors(rng):
    a = draw(rng, "real", (2, 3, 4), "int32")
    b = draw(rng, "real", (4, 2), "float32")
    av, bv = symbolic(a), symbolic(b)
    assert_matches(run([av, bv], av @ bv, a, b), a @ b, (a @ b).dtype)
    with pytest.raises(ValueError):
        T.matmul(T.dscalar(), bv)
    f = sg.function([av, bv], av @ bv)
    with pytest.raises(ValueError):
        f(a, np.ones((3, 2), "float32"))


def check_infer_shape(out, inputs, values):
    """``out.owner.op.infer_shape`` computes the shape the output really has."""
    from symgraph.tensor.basic import shape_i

    node = out.owner
    input_shapes = [tuple(shape_i(i, d) for d in range(i.ndim)) for i in node.inputs]
    (shape,) = node.op.infer_shape(None, node, input_shapes)
    assert len(shape) == out.ndim
    got = run(inputs, [T.as_tensor(s).astype("int64") for s in shape], *values) if shape else []
    assert tuple(int(s) for s in got) == run(inputs, out, *values).shape


@pytest.mark.parametrize("build,shapes", [
    (lambda a, b: T.matmul(a, b), [(2, 3, 4), (4, 5)]),
    (lambda a, b: T.matmul(a, b), [(2, 1, 3, 4), (5, 4, 2)]),
    (lambda a, b: T.matmul(a, b), [(1, 3, 4), (6, 4, 2)]),
    (lambda a, b: T.dot(a, b), [(3, 4), (4,)]),
    (lambda a, b: T.dot(a, b), [(4,), (4, 2)]),
    (lambda a, b: T.dot(a, b), [(3, 4), (4, 0)]),
    (lambda a: T.sum(a, axis=(0, 2)), [(2, 3, 4)]),
    (lambda a: T.max(a, axis=-1), [(2, 3, 4)]),
    (lambda a: T.argmax(a, axis=1), [(2, 3, 4)]),
    (lambda a: T.argmin(a), [(2, 3, 4)]),
])
def test_infer_shape(build, shapes, rng):
    values = [rng.uniform(-1, 1, s) for s in shapes]
    for mode in ("exact", "none"):
        inputs = [symbolic(v, mode) for v in values]
        check_infer_shape(build(*inputs), inputs, values)


@pytest.mark.parametrize("a_shape,b_shape", [
    ((5, 3, 4), (5, 4, 2)), ((5, 4), (5, 4)), ((5, 3, 4), (5, 4)), ((5, 4), (5, 4, 2)),
    ((5,), (5,)), ((5, 3), (5,)), ((0, 3, 4), (0, 4, 2)), ((1, 3, 4), (1, 4, 2)),
])
def test_batched_dot(a_shape, b_shape, rng):
    a, b = rng.uniform(-1, 1, a_shape), rng.uniform(-1, 1, b_shape)
    spec = {(3, 3): "bij,bjk->bik", (2, 2): "bi,bi->b", (3, 2): "bij,bj->bi",
            (2, 3): "bi,bij->bj", (1, 1): "b,b->b", (2, 1): "bi,b->bi"}[a.ndim, b.ndim]
    want = np.einsum(spec, a, b)
    for mode in ("exact", "none"):
        av, bv = symbolic(a, mode), symbolic(b, mode)
        assert_matches(run([av, bv], T.batched_dot(av, bv), a, b), want)
    if a.size and b.size:
        verify_grad(T.batched_dot, [a, b], rng=rng)


def test_batched_dot_mixed_dtypes(rng):
    a = draw(rng, "real", (4, 2, 3), "float32")
    b = draw(rng, "real", (4, 3), "int64")
    av, bv = symbolic(a), symbolic(b)
    want = np.einsum("bij,bj->bi", a.astype("float64"), b.astype("float64"))
    assert_matches(run([av, bv], T.batched_dot(av, bv), a, b), want, "float64")


@pytest.mark.parametrize("a_shape,b_shape", [((3,), (4,)), ((0,), (2,)), ((2, 2), (3,)),
                                             ((1,), (1,))])
def test_outer(a_shape, b_shape, rng):
    a, b = rng.uniform(-1, 1, a_shape), rng.uniform(-1, 1, b_shape)
    av, bv = symbolic(a, "none"), symbolic(b, "none")
    assert_matches(run([av, bv], T.outer(av, bv), a, b), np.outer(a, b))
    if a.size and b.size:
        verify_grad(T.outer, [a, b], rng=rng)
    ai = draw(rng, "real", a_shape, "int32")
    aiv = symbolic(ai)
    assert_matches(run([aiv, bv], T.outer(aiv, bv), ai, b), np.outer(ai, b), "float64")


# -- R-op ----------------------------------------------------------------------------
def finite_difference_rop(fn, point, direction, eps=1e-6):
    """(f(x + eps v) - f(x - eps v)) / 2 eps, for each output of ``fn``."""
    up = fn(*[p + eps * d for p, d in zip(point, direction)])
    down = fn(*[p - eps * d for p, d in zip(point, direction)])
    return (np.asarray(up) - np.asarray(down)) / (2 * eps)


def check_rop(build, values, rng):
    """Compare ``Rop(build(*inputs), inputs, directions)`` with finite differences."""
    inputs = [symbolic(v, "none") for v in values]
    directions = [symbolic(v, "none") for v in values]
    out = build(*inputs)
    jv = Rop(out, inputs, directions)
    jv_fn = sg.function(inputs + directions, jv, on_unused_input="ignore")
    out_fn = sg.function(inputs, out)
    dirs = [rng.uniform(-1, 1, v.shape) for v in values]
    want = finite_difference_rop(out_fn, values, dirs)
    got = jv_fn(*values, *dirs)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


ROP_CASES = {
    "exp": (T.exp, [("real", (2, 3))]),
    "tanh": (T.tanh, [("real", (2, 3))]),
    "sigmoid": (T.sigmoid, [("real", (4,))]),
    "log": (T.log, [("pos", (2, 3))]),
    "sqrt": (T.sqrt, [("pos", (3,))]),
    "abs": (T.abs, [("nonzero", (3,))]),
    "softplus": (T.softplus, [("real", (3,))]),
    "mul": (T.mul, [("real", (3, 1)), ("real", (1, 4))]),
    "add": (T.add, [("real", (2, 3)), ("real", (3,))]),
    "sub": (T.sub, [("real", ()), ("real", (3,))]),
    "true_div": (T.true_div, [("real", (2, 3)), ("nonzero", (2, 3))]),
    "pow": (T.pow, [("pow_base", (2, 3)), ("pow_exp", (2, 3))]),
    "maximum": (T.maximum, [("real", (2, 3)), ("real", (2, 3))]),
    "arctan2": (T.arctan2, [("nonzero", (4,)), ("nonzero", (4,))]),
    "clip": (lambda x: T.clip(x, -1.0, 1.0), [("nonzero", (5,))]),
    "relu": (T.relu, [("nonzero", (5,))]),
    "dot_mv": (T.dot, [("real", (3, 4)), ("real", (4,))]),
    "dot_mm": (T.dot, [("real", (3, 4)), ("real", (4, 2))]),
    "dot_vv": (T.dot, [("real", (4,)), ("real", (4,))]),
    "dot_3d": (T.dot, [("real", (2, 3, 4)), ("real", (4, 2))]),
    "matmul": (T.matmul, [("real", (2, 3, 4)), ("real", (2, 4, 2))]),
    "sum": (lambda x: T.sum(x, axis=1), [("real", (2, 3, 4))]),
    "sum_all": (T.sum, [("real", (2, 3))]),
    "prod": (lambda x: T.prod(x, axis=0), [("real", (3, 4))]),
    "max": (lambda x: T.max(x, axis=-1), [("real", (3, 4))]),
    "mean": (lambda x: T.mean(x, axis=0), [("real", (3, 4))]),
    "logsumexp": (lambda x: T.logsumexp(x, axis=1), [("real", (3, 4))]),
    "chain": (lambda x, y: T.tanh(T.dot(x, y)).sum(axis=0) * 2, [("real", (3, 4)),
                                                                   ("real", (4, 2))]),
}


@pytest.mark.parametrize("name", list(ROP_CASES))
def test_rop(name, rng):
    build, specs = ROP_CASES[name]
    values = [draw(rng, domain, shape, "float64") for domain, shape in specs]
    check_rop(build, values, rng)


def test_prod_rop_with_a_zero(rng):
    x = rng.uniform(0.5, 2, (3, 4))
    x[0, 1] = 0.0
    x[1, :2] = 0.0
    check_rop(lambda v: T.prod(v, axis=1), [x], rng)


def test_argmax_has_a_zero_gradient(rng):
    x = rng.uniform(size=(3, 4))
    xv = T.dmatrix()
    cost = (T.argmax(xv, axis=1).astype("float64") * 2).sum() + xv.sum()
    assert_matches(run([xv], sg.grad(cost, xv), x), np.ones((3, 4)))


def test_docstring_examples_run():
    import doctest

    from symgraph.tensor import math

    assert doctest.testmod(math).failed == 0
