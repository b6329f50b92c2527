"""Activation functions built from elementwise expressions (softsign, ELU, SELU,
hard sigmoid).  ``sigmoid``, ``softplus`` and ``relu`` live in ``tensor.math``."""
from symgraph.tensor import math
from symgraph.tensor.basic import cast
from symgraph.tensor.type import DISCRETE_DTYPES, upgrade_to_float
from symgraph.tensor.var import as_tensor_variable, constant

_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def _as_float(x):
    x = as_tensor_variable(x)
    return cast(x, upgrade_to_float(x.dtype)) if x.dtype in DISCRETE_DTYPES else x


def _coefficient(value, x):
    """``value`` as a constant of ``x``'s dtype, so a float64 ``x`` gets the exact value
    even when floatX is float32 (Python floats would be rounded to floatX)."""
    if isinstance(value, (int, float)):
        return constant(value, dtype=x.dtype)
    return value


def softsign(x):
    """``x / (1 + |x|)``.

    >>> import symgraph.tensor as T
    >>> softsign(T.as_tensor([-3.0, 1.0])).eval().tolist()
    [-0.75, 0.5]
    """
    x = _as_float(x)
    return x / (1 + math.abs(x))


def elu(x, alpha=1):
    """``x`` where positive, else ``alpha * (exp(x) - 1)`` (the exponential linear unit).

    >>> import symgraph.tensor as T
    >>> elu(T.as_tensor([2.0, 0.0])).eval().tolist()
    [2.0, 0.0]
    """
    x = _as_float(x)
    # expm1 of min(x, 0): the branch not taken never overflows, so its gradient
    # (0 * exp(x)) cannot turn into 0 * inf = nan for large positive x.
    negative_part = _coefficient(alpha, x) * math.expm1(math.minimum(x, 0))
    return math.switch(math.gt(x, 0), x, negative_part)


def selu(x):
    """The scaled ELU of Klambauer et al. (2017): ``scale * elu(x, alpha)``.

    >>> import symgraph.tensor as T
    >>> round(float(selu(T.as_tensor(1.0)).eval()), 4)
    1.0507
    """
    x = _as_float(x)
    return _coefficient(_SELU_SCALE, x) * elu(x, _SELU_ALPHA)


def hard_sigmoid(x):
    """The piecewise-linear sigmoid ``clip(0.2 * x + 0.5, 0, 1)`` (Theano's constants).

    >>> import symgraph.tensor as T
    >>> hard_sigmoid(T.as_tensor([-5.0, 0.0, 1.0, 5.0])).eval().tolist()
    [0.0, 0.5, 0.7, 1.0]
    """
    x = _as_float(x)
    return math.clip(x * _coefficient(0.2, x) + _coefficient(0.5, x), 0, 1)


def hardtanh(x, min_val=-1, max_val=1):
    """The piecewise-linear tanh ``clip(x, min_val, max_val)`` (PyTorch's ``Hardtanh``):
    gradient 1 between the limits, 0 outside.

    >>> import symgraph.tensor as T
    >>> hardtanh(T.as_tensor([-3.0, 0.25, 2.0])).eval().tolist()
    [-1.0, 0.25, 1.0]
    """
    x = _as_float(x)
    return math.clip(x, _coefficient(min_val, x), _coefficient(max_val, x))


def ultra_fast_sigmoid(x):
    """Theano's piecewise approximation of ``sigmoid(x)`` (absolute error below 0.028):
    ``0.5 + 0.5 * sign(x) * z(|x| / 2)`` with ``z(a) = 1.5 a / (1 + a)`` up to 1.7, a line
    up to 3, then 0.995.  Its gradient is the derivative of this function (0 beyond
    ``|x| = 6``; Theano used the sigmoid's ``y (1 - y)`` instead).

    Worth it only under the C linker, where the expression fuses into one loop that
    vectorizes (measured 8x faster than ``sigmoid`` on 1e6 float32 values); under the
    Python linker it is several NumPy passes, 5x slower than ``sigmoid``.

    >>> import symgraph.tensor as T
    >>> ultra_fast_sigmoid(T.as_tensor([-10.0, 0.0, 1.0])).eval().round(4).tolist()
    [0.0025, 0.5, 0.75]
    """
    x = _as_float(x)
    half = x * _coefficient(0.5, x)
    a = math.abs(half)
    near = _coefficient(1.5, x) * a / (1 + a)
    middle = _coefficient(0.935409070603099, x) + \
        _coefficient(0.0458812946797165, x) * (a - _coefficient(1.7, x))
    z = math.switch(math.lt(a, _coefficient(1.7, x)), near,
                    math.switch(math.lt(a, 3), middle, _coefficient(0.99505475368673, x)))
    return _coefficient(0.5, x) * math.sgn(half) * z + _coefficient(0.5, x)
