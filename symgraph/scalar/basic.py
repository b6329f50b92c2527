"""Scalar operations: the per-element functions that ``Elemwise`` maps over arrays.

A ``ScalarOp`` is a description, not a graph Op: a NumPy implementation
(``impl``), a rule for its output dtype, and its gradient written with tensor
operations on the (broadcast) inputs.  One description serves every backend:
``Elemwise.perform`` calls ``impl``; fusion and the C and CUDA backends read
``c_expr``.
"""
import functools
import math

import numpy as np

from symgraph.tensor.type import DISCRETE_DTYPES, upcast, upgrade_to_float


def _lazy_scipy_special(name):
    def call(*args):
        import scipy.special

        return getattr(scipy.special, name)(*args)

    call.__name__ = name
    return call


class ScalarOp:
    """One scalar function.

    ``out_rule`` picks the output dtype from the input dtypes: ``"upcast"``
    (NumPy's result type), ``"float"`` (upcast, then ints to a float),
    ``"real"`` (upcast, then complex to its real dtype, as ``abs``),
    ``"bool"``, or ``"same0"`` (the first input's dtype).  For ``"float"``
    ops the inputs are cast to the output dtype before ``impl`` runs, so
    small ints are not computed in float16.

    >>> exp.output_dtype("int64"), add.output_dtype("int8", "uint8")
    ('float64', 'int16')
    """

    # the inputs whose dtypes decide the output dtype (None: all of them); Python-scalar
    # constants among them take the dtype of the others
    dtype_inputs = None

    def __init__(self, name, nin, impl, out_rule="upcast", grad=None, c_expr=None,
                 commutative=False, associative=False, identity=None, discrete_only=False):
        self.name = name
        self.discrete_only = discrete_only  # bitwise ops: ints and bools only
        self.nin = nin  # -1: any number (add, mul)
        self.impl = impl
        self.out_rule = out_rule
        self._grad = grad
        self.c_expr = c_expr
        self.commutative = commutative
        self.associative = associative
        self.identity = identity

    def output_dtype(self, *dtypes):
        if self.discrete_only and not all(d in DISCRETE_DTYPES for d in dtypes):
            raise TypeError(f"{self.name} takes integer or bool inputs, got {', '.join(dtypes)}")
        if self.out_rule == "bool":
            return "bool"
        if self.out_rule == "same0":
            return dtypes[0]
        common = upcast(*dtypes)
        if self.out_rule == "float":
            return upgrade_to_float(common)
        if self.out_rule == "real":
            return _REAL_OF_COMPLEX.get(common, common)
        return common

    def compute_dtype(self, *dtypes):
        """The dtype inputs are cast to before ``impl`` (None: leave as they are)."""
        if self.out_rule == "float":
            return self.output_dtype(*dtypes)
        return None

    def grad(self, inputs, output, gz):
        """Gradients w.r.t. each input, as tensor expressions of the output's shape.

        Returns None for an input the function is constant in (e.g. comparisons).
        """
        if self._grad is None:
            return [None] * len(inputs)
        return self._grad(inputs, output, gz)

    def __eq__(self, other):
        return type(self) is type(other) and self.name == other.name

    def __hash__(self):
        return hash((type(self), self.name))

    def __str__(self):
        return self.name

    __repr__ = __str__


class Cast(ScalarOp):
    """Conversion to ``dtype`` (NumPy's ``astype``)."""

    def __init__(self, dtype):
        self.dtype = dtype
        super().__init__(f"cast_{dtype}", 1, lambda x: x.astype(dtype), out_rule=None,
                         grad=_grad_cast, c_expr=f"({{0}})")

    def output_dtype(self, *dtypes):
        return self.dtype

    def compute_dtype(self, *dtypes):
        return None

    def __eq__(self, other):
        return type(self) is type(other) and self.dtype == other.dtype

    def __hash__(self):
        return hash((Cast, self.dtype))


# -- gradients ---------------------------------------------------------------
# Each takes (inputs, output, gz) and uses the tensor functions, imported late
# because tensor.math is built from the ops defined here.

def _m():
    from symgraph.tensor import math

    return math


def _grad_cast(inputs, z, gz):
    return [gz]


def _grad_add(inputs, z, gz):
    return [gz] * len(inputs)


def _grad_sub(inputs, z, gz):
    return [gz, -gz]


def _grad_mul(inputs, z, gz):
    grads = []
    for i in range(len(inputs)):
        others = [x for j, x in enumerate(inputs) if j != i]
        grads.append(gz * functools.reduce(lambda a, b: a * b, others) if others else gz)
    return grads


def _grad_true_div(inputs, z, gz):
    x, y = inputs
    return [gz / y, -gz * x / (y * y)]


def _grad_mod(inputs, z, gz):
    x, y = inputs
    return [gz, -gz * _m().floor_div(x, y)]


def _grad_pow(inputs, z, gz):
    m = _m()
    x, y = inputs
    gx = gz * y * x ** (y - 1)
    # d/dy x**y = log(x) x**y; 0 where x == 0 (the limit along y > 0)
    gy = gz * m.switch(m.eq(x, 0), 0, m.log(m.switch(m.eq(x, 0), 1, x)) * z)
    return [gx, gy]


def _grad_maximum(inputs, z, gz):
    m = _m()
    x, y = inputs
    return [gz * m.ge(x, y), gz * m.lt(x, y)]


def _grad_minimum(inputs, z, gz):
    m = _m()
    x, y = inputs
    return [gz * m.le(x, y), gz * m.gt(x, y)]


def _grad_arctan2(inputs, z, gz):
    y, x = inputs
    den = x * x + y * y
    return [gz * x / den, -gz * y / den]


def _grad_abs(inputs, z, gz):
    return [gz * _m().sgn(inputs[0])]


def _grad_sqrt(inputs, z, gz):
    return [gz * 0.5 / z]


def _grad_unary(derivative):
    """A gradient from ``derivative(x, z)``, the elementwise dz/dx."""

    def grad(inputs, z, gz):
        return [gz * derivative(inputs[0], z)]

    return grad


def _grad_clip(inputs, z, gz):
    m = _m()
    x, lo, hi = inputs
    inside = m.and_(m.ge(x, lo), m.le(x, hi))
    return [gz * inside, gz * m.lt(x, lo), gz * m.gt(x, hi)]


def _grad_switch(inputs, z, gz):
    m = _m()
    cond, a, b = inputs
    from symgraph.tensor.basic import zeros_like

    zero = zeros_like(gz)
    return [None, m.switch(cond, gz, zero), m.switch(cond, zero, gz)]


def _sigmoid_impl(x):
    return _lazy_scipy_special("expit")(x)


# -- the table -----------------------------------------------------------------
def _m_call(name):
    return lambda *args: getattr(_m(), name)(*args)


_LOG2 = math.log(2.0)
_LOG10 = math.log(10.0)
_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)

def _variadic(ufunc):
    """``ufunc`` folded over any number of inputs; one input is copied, never returned
    (an output must not alias an input unless the op declares a view)."""

    def impl(*xs):
        return functools.reduce(ufunc, xs) if len(xs) > 1 else np.array(xs[0], copy=True)

    impl.__name__ = ufunc.__name__
    return impl


_REAL_OF_COMPLEX = {"complex64": "float32", "complex128": "float64"}

add = ScalarOp("add", -1, _variadic(np.add), grad=_grad_add,
               c_expr="({0} + {1})", commutative=True, associative=True, identity=0)
mul = ScalarOp("mul", -1, _variadic(np.multiply), grad=_grad_mul,
               c_expr="({0} * {1})", commutative=True, associative=True, identity=1)
sub = ScalarOp("sub", 2, np.subtract, grad=_grad_sub, c_expr="({0} - {1})")
true_div = ScalarOp("true_div", 2, np.true_divide, "float", _grad_true_div, "({0} / {1})")
int_div = ScalarOp("int_div", 2, np.floor_divide)
mod = ScalarOp("mod", 2, np.mod, grad=_grad_mod)
pow = ScalarOp("pow", 2, np.power, grad=_grad_pow, c_expr="pow({0}, {1})")
maximum = ScalarOp("maximum", 2, np.maximum, grad=_grad_maximum, commutative=True,
                   associative=True)
minimum = ScalarOp("minimum", 2, np.minimum, grad=_grad_minimum, commutative=True,
                   associative=True)
arctan2 = ScalarOp("arctan2", 2, np.arctan2, "float", _grad_arctan2, "atan2({0}, {1})")

eq = ScalarOp("eq", 2, np.equal, "bool", c_expr="({0} == {1})", commutative=True)
neq = ScalarOp("neq", 2, np.not_equal, "bool", c_expr="({0} != {1})", commutative=True)
lt = ScalarOp("lt", 2, np.less, "bool", c_expr="({0} < {1})")
le = ScalarOp("le", 2, np.less_equal, "bool", c_expr="({0} <= {1})")
gt = ScalarOp("gt", 2, np.greater, "bool", c_expr="({0} > {1})")
ge = ScalarOp("ge", 2, np.greater_equal, "bool", c_expr="({0} >= {1})")
and_ = ScalarOp("and_", 2, np.bitwise_and, c_expr="({0} & {1})", commutative=True,
               discrete_only=True)
or_ = ScalarOp("or_", 2, np.bitwise_or, c_expr="({0} | {1})", commutative=True,
               discrete_only=True)
xor = ScalarOp("xor", 2, np.bitwise_xor, c_expr="({0} ^ {1})", commutative=True,
               discrete_only=True)
invert = ScalarOp("invert", 1, np.invert, c_expr="(~{0})", discrete_only=True)
isnan = ScalarOp("isnan", 1, np.isnan, "bool", c_expr="isnan({0})")
isinf = ScalarOp("isinf", 1, np.isinf, "bool", c_expr="isinf({0})")

neg = ScalarOp("neg", 1, np.negative, grad=lambda i, z, gz: [-gz], c_expr="(-{0})")
identity = ScalarOp("identity", 1, lambda x: x.copy(), grad=lambda i, z, gz: [gz],
                    c_expr="({0})")
abs = ScalarOp("abs", 1, np.abs, "real", _grad_abs, "fabs({0})")
sgn = ScalarOp("sgn", 1, np.sign)
sqr = ScalarOp("sqr", 1, np.square, grad=_grad_unary(lambda x, z: 2 * x), c_expr="({0} * {0})")
inv = ScalarOp("inv", 1, np.reciprocal, "float", _grad_unary(lambda x, z: -(z * z)),
               "(1.0 / {0})")
exp = ScalarOp("exp", 1, np.exp, "float", _grad_unary(lambda x, z: z), "exp({0})")
exp2 = ScalarOp("exp2", 1, np.exp2, "float", _grad_unary(lambda x, z: z * _LOG2), "exp2({0})")
expm1 = ScalarOp("expm1", 1, np.expm1, "float", _grad_unary(lambda x, z: z + 1), "expm1({0})")
log = ScalarOp("log", 1, np.log, "float", lambda i, z, gz: [gz / i[0]], "log({0})")
log2 = ScalarOp("log2", 1, np.log2, "float", lambda i, z, gz: [gz / (i[0] * _LOG2)], "log2({0})")
log10 = ScalarOp("log10", 1, np.log10, "float", lambda i, z, gz: [gz / (i[0] * _LOG10)],
                 "log10({0})")
log1p = ScalarOp("log1p", 1, np.log1p, "float", lambda i, z, gz: [gz / (i[0] + 1)], "log1p({0})")
sqrt = ScalarOp("sqrt", 1, np.sqrt, "float", _grad_sqrt, "sqrt({0})")
sin = ScalarOp("sin", 1, np.sin, "float", _grad_unary(lambda x, z: _m().cos(x)), "sin({0})")
cos = ScalarOp("cos", 1, np.cos, "float", _grad_unary(lambda x, z: -_m().sin(x)), "cos({0})")
tan = ScalarOp("tan", 1, np.tan, "float", _grad_unary(lambda x, z: 1 + z * z), "tan({0})")
arcsin = ScalarOp("arcsin", 1, np.arcsin, "float",
                  _grad_unary(lambda x, z: 1 / _m().sqrt(1 - x * x)), "asin({0})")
arccos = ScalarOp("arccos", 1, np.arccos, "float",
                  _grad_unary(lambda x, z: -1 / _m().sqrt(1 - x * x)), "acos({0})")
arctan = ScalarOp("arctan", 1, np.arctan, "float", _grad_unary(lambda x, z: 1 / (1 + x * x)),
                  "atan({0})")
sinh = ScalarOp("sinh", 1, np.sinh, "float", _grad_unary(lambda x, z: _m().cosh(x)), "sinh({0})")
cosh = ScalarOp("cosh", 1, np.cosh, "float", _grad_unary(lambda x, z: _m().sinh(x)), "cosh({0})")
tanh = ScalarOp("tanh", 1, np.tanh, "float", _grad_unary(lambda x, z: 1 - z * z), "tanh({0})")
sigmoid = ScalarOp("sigmoid", 1, _sigmoid_impl, "float", _grad_unary(lambda x, z: z * (1 - z)),
                   "(1.0 / (1.0 + exp(-{0})))")
softplus = ScalarOp("softplus", 1, lambda x: np.logaddexp(np.zeros((), x.dtype), x), "float",
                    _grad_unary(lambda x, z: _m().sigmoid(x)),
                    "({0} > 0 ? {0} + log1p(exp(-{0})) : log1p(exp({0})))")
relu = ScalarOp("relu", 1, lambda x: np.maximum(x, np.zeros((), x.dtype)),
                grad=_grad_unary(lambda x, z: _m().gt(x, 0)), c_expr="({0} > 0 ? {0} : 0)")
erf = ScalarOp("erf", 1, _lazy_scipy_special("erf"), "float",
               _grad_unary(lambda x, z: _TWO_OVER_SQRT_PI * _m().exp(-(x * x))), "erf({0})")
erfc = ScalarOp("erfc", 1, _lazy_scipy_special("erfc"), "float",
                _grad_unary(lambda x, z: -_TWO_OVER_SQRT_PI * _m().exp(-(x * x))), "erfc({0})")
floor = ScalarOp("floor", 1, np.floor, c_expr="floor({0})")
ceil = ScalarOp("ceil", 1, np.ceil, c_expr="ceil({0})")
round_half_to_even = ScalarOp("round_half_to_even", 1, np.round, c_expr="nearbyint({0})")
trunc = ScalarOp("trunc", 1, np.trunc, c_expr="trunc({0})")
clip = ScalarOp("clip", 3, np.clip, grad=_grad_clip)


class Switch(ScalarOp):
    """``cond ? a : b``; the condition takes no part in the output dtype."""

    dtype_inputs = (1, 2)

    def output_dtype(self, *dtypes):
        return upcast(*dtypes[1:])


switch = Switch("switch", 3, np.where, grad=_grad_switch, c_expr="({0} ? {1} : {2})")


def is_discrete(dtype):
    """Whether ``dtype`` is an int or bool dtype.

    >>> is_discrete("int8"), is_discrete("float32")
    (True, False)
    """
    return dtype in DISCRETE_DTYPES
