"""symgraph.scalar.basic: the ScalarOp table (implementations, dtype rules, gradients,
C expressions) checked directly, without building graphs where none is needed."""
import importlib
import math
import os
import shutil
import string
import sys

import numpy as np
import pytest
import scipy.special

import symgraph as sg
import symgraph.tensor as T
from symgraph.scalar import basic as scal


def every_scalar_op():
    return [v for v in vars(scal).values() if isinstance(v, scal.ScalarOp)]


# -- implementations against NumPy/SciPy --------------------------------------------------
IMPLS = {
    "neg": np.negative, "abs": np.abs, "sgn": np.sign, "sqr": np.square, "inv": np.reciprocal,
    "exp": np.exp, "exp2": np.exp2, "expm1": np.expm1, "log": np.log, "log2": np.log2,
    "log10": np.log10, "log1p": np.log1p, "sqrt": np.sqrt, "sin": np.sin, "cos": np.cos,
    "tan": np.tan, "arcsin": np.arcsin, "arccos": np.arccos, "arctan": np.arctan,
    "sinh": np.sinh, "cosh": np.cosh, "tanh": np.tanh, "sigmoid": scipy.special.expit,
    "softplus": lambda x: np.logaddexp(0, x), "relu": lambda x: np.maximum(x, 0),
    "erf": scipy.special.erf, "erfc": scipy.special.erfc, "floor": np.floor, "ceil": np.ceil,
    "round_half_to_even": np.round, "trunc": np.trunc, "identity": lambda x: x,
    "isnan": np.isnan, "isinf": np.isinf,
}
POSITIVE_DOMAIN = {"log", "log2", "log10", "log1p", "sqrt", "arcsin", "arccos"}


@pytest.mark.parametrize("name", sorted(IMPLS))
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_unary_impl(name, dtype, rng):
    op = getattr(scal, name)
    x = rng.uniform(0.05, 0.95, (3, 4)) if name in POSITIVE_DOMAIN else rng.uniform(-3, 3, (3, 4))
    x = x.astype(dtype)
    out = op.impl(x)
    want = IMPLS[name](x)
    assert np.asarray(out).shape == want.shape
    np.testing.assert_allclose(out, want, rtol=1e-6)


BINARY_IMPLS = {
    "sub": np.subtract, "true_div": np.true_divide, "int_div": np.floor_divide, "mod": np.mod,
    "pow": np.power, "maximum": np.maximum, "minimum": np.minimum, "arctan2": np.arctan2,
    "eq": np.equal, "neq": np.not_equal, "lt": np.less, "le": np.less_equal,
    "gt": np.greater, "ge": np.greater_equal,
}


@pytest.mark.parametrize("name", sorted(BINARY_IMPLS))
def test_binary_impl_broadcasts(name, rng):
    op = getattr(scal, name)
    x = rng.integers(-3, 4, (3, 1)).astype("float64") + (name != "eq") * rng.uniform(0, 1, (3, 1))
    y = rng.integers(1, 4, (4,)).astype("float64")
    x = np.abs(x) if name == "pow" else x
    np.testing.assert_array_equal(op.impl(x, y), BINARY_IMPLS[name](x, y))


def test_variadic_add_and_mul(rng):
    xs = [rng.uniform(-1, 1, s) for s in [(2, 3), (3,), (2, 1), ()]]
    np.testing.assert_allclose(scal.add.impl(*xs), xs[0] + xs[1] + xs[2] + xs[3])
    np.testing.assert_allclose(scal.mul.impl(*xs), xs[0] * xs[1] * xs[2] * xs[3])
    assert scal.add.nin == scal.mul.nin == -1
    x = xs[0]
    np.testing.assert_array_equal(scal.add.impl(x, np.asarray(scal.add.identity)), x)
    np.testing.assert_array_equal(scal.mul.impl(x, np.asarray(scal.mul.identity)), x)


def test_bitwise_impl(rng):
    a, b = rng.integers(-50, 50, (5,)), rng.integers(-50, 50, (5,))
    np.testing.assert_array_equal(scal.and_.impl(a, b), a & b)
    np.testing.assert_array_equal(scal.or_.impl(a, b), a | b)
    np.testing.assert_array_equal(scal.xor.impl(a, b), a ^ b)
    np.testing.assert_array_equal(scal.invert.impl(a), ~a)


def test_clip_and_switch_impl(rng):
    x = rng.uniform(-2, 2, (3, 4))
    np.testing.assert_array_equal(scal.clip.impl(x, -0.5, 0.5), np.clip(x, -0.5, 0.5))
    cond = rng.random((3, 1)) < 0.5
    np.testing.assert_array_equal(scal.switch.impl(cond, x, -x), np.where(cond, x, -x))


def test_round_is_half_to_even():
    x = np.array([-2.5, -1.5, -0.5, 0.5, 1.5, 2.5])
    np.testing.assert_array_equal(scal.round_half_to_even.impl(x), [-2, -2, 0, 0, 2, 2])


def test_softplus_impl_does_not_overflow():
    x = np.array([-1000.0, 0.0, 1000.0])
    with np.errstate(over="raise"):
        np.testing.assert_allclose(scal.softplus.impl(x), [0.0, math.log(2.0), 1000.0])


# -- output dtypes ---------------------------------------------------------------------------
@pytest.mark.parametrize("op,dtypes,expected", [
    (scal.add, ("int8", "int16"), "int16"),
    (scal.add, ("int8", "uint8"), "int16"),
    (scal.add, ("float32", "int32"), "float64"),
    (scal.add, ("float32", "int8"), "float32"),
    (scal.mul, ("float32", "float32", "float64"), "float64"),
    (scal.true_div, ("int32", "int32"), "float64"),
    (scal.true_div, ("float32", "float32"), "float32"),
    (scal.int_div, ("int32", "int32"), "int32"),
    (scal.exp, ("int64",), "float64"),
    (scal.exp, ("float32",), "float32"),
    (scal.sqrt, ("float16",), "float16"),
    (scal.eq, ("float32", "int8"), "bool"),
    (scal.isnan, ("float64",), "bool"),
    (scal.abs, ("int8",), "int8"),
    (scal.floor, ("float32",), "float32"),
    (scal.and_, ("bool", "bool"), "bool"),
    (scal.and_, ("int8", "uint8"), "int16"),
    (scal.switch, ("bool", "float32", "float32"), "float32"),
    (scal.switch, ("int64", "float32", "int8"), "float32"),
    (scal.switch, ("float64", "int8", "int8"), "int8"),
])
def test_output_dtype(op, dtypes, expected):
    assert op.output_dtype(*dtypes) == expected


def test_small_ints_become_float32_when_floatx_is_float32():
    with sg.config.change_flags(floatX="float32"):
        assert scal.exp.output_dtype("int8") == "float32"
        assert scal.true_div.output_dtype("int16", "int16") == "float32"
        assert scal.exp.output_dtype("int32") == "float64"
    assert scal.exp.output_dtype("int8") == "float64"


def test_compute_dtype_only_for_float_ops():
    assert scal.exp.compute_dtype("int32") == "float64"
    assert scal.exp.compute_dtype("float32") == "float32"
    assert scal.add.compute_dtype("int8", "int8") is None
    assert scal.Cast("int8").compute_dtype("float64") is None


@pytest.mark.parametrize("op", [scal.and_, scal.or_, scal.xor, scal.invert])
def test_bitwise_ops_reject_floats(op):
    with pytest.raises(TypeError, match="integer or bool"):
        op.output_dtype(*["float32"] * abs(op.nin))
    assert op.output_dtype(*["int32"] * abs(op.nin)) == "int32"


def test_switch_condition_does_not_promote_python_scalars(rng):
    cond, x = T.lvector(), T.fvector()
    out = T.switch(cond, x, 0.5)
    assert out.dtype == "float32"
    c, v = rng.integers(0, 2, 4), rng.uniform(size=4).astype("float32")
    got = sg.function([cond, x], out)(c, v)
    np.testing.assert_array_equal(got, np.where(c, v, np.float32(0.5)))


# -- Cast ------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", ["int8", "uint8", "int64", "float32", "float64", "bool"])
def test_cast(dtype, rng):
    op = scal.Cast(dtype)
    x = rng.uniform(-100, 100, (5,))
    assert op.output_dtype("float64") == dtype
    out = op.impl(x)
    with np.errstate(invalid="ignore"):
        np.testing.assert_array_equal(out, x.astype(dtype))
    assert out.dtype == np.dtype(dtype)
    assert op == scal.Cast(dtype) and hash(op) == hash(scal.Cast(dtype))
    assert op != scal.Cast("complex64")


# -- identity, equality ------------------------------------------------------------------------
def test_equality_and_hash():
    assert scal.add == scal.ScalarOp("add", -1, np.add)
    assert hash(scal.add) == hash(scal.ScalarOp("add", -1, np.add))
    assert scal.add != scal.mul
    assert str(scal.exp) == "exp" and repr(scal.exp) == "exp"
    names = [op.name for op in every_scalar_op()]
    assert len(names) == len(set(names)), "two scalar ops share a name"


def test_flags():
    for op in (scal.add, scal.mul, scal.maximum, scal.minimum):
        assert op.commutative and op.associative
    for op in (scal.sub, scal.true_div, scal.pow, scal.lt):
        assert not op.commutative
    assert scal.is_discrete("int8") and scal.is_discrete("bool") and not scal.is_discrete("float32")


# -- gradients ----------------------------------------------------------------------------------
NOT_DIFFERENTIABLE = {"eq", "neq", "lt", "le", "gt", "ge", "and_", "or_", "xor", "invert",
                      "isnan", "isinf", "sgn", "floor", "ceil", "round_half_to_even", "trunc",
                      "int_div"}


def test_gradient_presence():
    for op in every_scalar_op():
        x = T.dvector()
        ins = [x] * (op.nin if op.nin > 0 else 2)
        if op.discrete_only:
            continue
        grads = op.grad(ins, x, x)
        assert len(grads) == len(ins)
        if op.name in NOT_DIFFERENTIABLE:
            assert all(g is None for g in grads), op.name
        elif op.name != "switch":
            assert all(g is not None for g in grads), op.name


@pytest.mark.parametrize("name,fn,point", [
    ("tan", T.tan, [0.3, -1.1]), ("arccos", T.arccos, [0.2, -0.7]), ("expm1", T.expm1, [1.0, -2.0]),
    ("log1p", T.log1p, [0.5, -0.5]), ("erfc", T.erfc, [0.3, -1.2]), ("inv", T.inv, [0.5, -2.0]),
    ("sqrt", T.sqrt, [0.5, 2.0]), ("softplus", T.softplus, [-3.0, 4.0]),
])
def test_gradient_formulas(name, fn, point, rng):
    sg.verify_grad(fn, [np.array(point)], rng=rng)


# -- C expressions ------------------------------------------------------------------------------
def test_c_expressions_use_each_argument():
    for op in every_scalar_op():
        if op.c_expr is None:
            continue
        fields = {f for _, f, _, _ in string.Formatter().parse(op.c_expr) if f is not None}
        nin = 2 if op.nin == -1 else op.nin
        assert fields == {str(i) for i in range(nin)}, (op.name, op.c_expr)
        op.c_expr.format(*[f"x{i}" for i in range(nin)])


C_DOMAINS = {"log": (0.1, 3), "log2": (0.1, 3), "log10": (0.1, 3), "sqrt": (0.1, 3),
             "log1p": (-0.9, 3), "arcsin": (-0.95, 0.95), "arccos": (-0.95, 0.95),
             "tan": (-1.4, 1.4), "inv": (0.5, 3), "true_div": (0.5, 3), "pow": (0.2, 3)}


@pytest.fixture(scope="module")
def c_functions(tmp_path_factory):
    """Every scalar op's C expression compiled (with gcc, through cffi) as a C function."""
    cffi = pytest.importorskip("cffi")
    if shutil.which("gcc") is None and shutil.which("cc") is None:
        pytest.skip("no C compiler")
    ffi = cffi.FFI()
    ops = [op for op in every_scalar_op()
           if op.c_expr is not None and not isinstance(op, scal.Cast)]
    decls, defs = [], []
    for op in ops:
        nin = 2 if op.nin == -1 else op.nin
        ctype = "long" if op.discrete_only else "double"
        args = ", ".join(f"{ctype} x{i}" for i in range(nin))
        decls.append(f"{ctype} sg_{op.name}({args});")
        body = op.c_expr.format(*[f"x{i}" for i in range(nin)])
        defs.append(f"{ctype} sg_{op.name}({args}) {{ return ({ctype})({body}); }}")
    ffi.cdef("\n".join(decls))
    ffi.set_source("_symgraph_scalar_c_test", "#include <math.h>\n" + "\n".join(defs),
                   libraries=["m"])
    build = tmp_path_factory.mktemp("scalar_c")
    path = ffi.compile(tmpdir=str(build))
    sys.path.insert(0, str(build))
    try:
        module = importlib.import_module("_symgraph_scalar_c_test")
    finally:
        sys.path.remove(str(build))
    assert os.path.dirname(path) == str(build)
    return {op.name: (op, getattr(module.lib, f"sg_{op.name}")) for op in ops}


def test_c_expressions_match_impl(c_functions, rng):
    for name, (op, c_fn) in c_functions.items():
        nin = 2 if op.nin == -1 else op.nin
        if op.discrete_only:
            args = [rng.integers(-100, 100, 20) for _ in range(nin)]
        else:
            low, high = C_DOMAINS.get(name, (-3, 3))
            args = [rng.uniform(low, high, 20) for _ in range(nin)]
            if name == "switch":
                args[0] = (args[0] > 0).astype("float64")
        want = np.asarray(op.impl(*args), dtype="float64" if not op.discrete_only else "int64")
        got = np.array([c_fn(*[a.item() for a in vals]) for vals in zip(*args)])
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15, err_msg=name)


def test_c_expressions_at_extremes(c_functions):
    """Large inputs must not overflow where NumPy's implementation does not."""
    for name in ("softplus", "sigmoid", "tanh", "exp", "erf", "erfc", "relu"):
        op, c_fn = c_functions[name]
        for x in (-1000.0, -40.0, 0.0, 40.0, 1000.0):
            with np.errstate(over="ignore"):
                want = float(op.impl(np.array(x)))
            assert math.isclose(c_fn(x), want, rel_tol=1e-12, abs_tol=1e-300), (name, x, c_fn(x))


def test_single_input_add_and_mul_copy(rng):
    x = rng.uniform(size=3)
    for op in (scal.add, scal.mul):
        out = op.impl(x)
        assert not np.shares_memory(out, x)
        np.testing.assert_array_equal(out, x)


def test_abs_of_complex_is_real():
    assert scal.abs.output_dtype("complex128") == "float64"
    assert scal.abs.output_dtype("complex64") == "float32"
    assert scal.abs.output_dtype("int16") == "int16"


def test_docstring_examples_run():
    import doctest

    assert doctest.testmod(scal).failed == 0
