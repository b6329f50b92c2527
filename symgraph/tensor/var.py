"""TensorVariable (operators and methods), TensorConstant, and conversion to tensors."""
import numpy as np

from symgraph.config import config
from symgraph.graph.basic import Constant, Variable
from symgraph.tensor.type import TensorType


def _m():
    from symgraph.tensor import math

    return math


def _b():
    from symgraph.tensor import basic

    return basic


class _TensorMethods:
    """Operators and NumPy-like methods shared by tensor variables and constants."""

    # ``ndarray * variable`` must defer to the variable's operators instead of NumPy
    # building an object array of per-element graphs.
    __array_ufunc__ = None

    # -- operators ---------------------------------------------------------
    def __add__(self, other): return _m().add(self, other)
    def __radd__(self, other): return _m().add(other, self)
    def __sub__(self, other): return _m().sub(self, other)
    def __rsub__(self, other): return _m().sub(other, self)
    def __mul__(self, other): return _m().mul(self, other)
    def __rmul__(self, other): return _m().mul(other, self)
    def __truediv__(self, other): return _m().true_div(self, other)
    def __rtruediv__(self, other): return _m().true_div(other, self)
    def __floordiv__(self, other): return _m().floor_div(self, other)
    def __rfloordiv__(self, other): return _m().floor_div(other, self)
    def __mod__(self, other): return _m().mod(self, other)
    def __rmod__(self, other): return _m().mod(other, self)
    def __pow__(self, other): return _m().pow(self, other)
    def __rpow__(self, other): return _m().pow(other, self)
    def __matmul__(self, other): return _m().matmul(self, other)
    def __rmatmul__(self, other): return _m().matmul(other, self)
    def __neg__(self): return _m().neg(self)
    def __pos__(self): return self
    def __abs__(self): return _m().abs(self)
    def __invert__(self): return _m().invert(self)
    def __and__(self, other): return _m().and_(self, other)
    def __rand__(self, other): return _m().and_(other, self)
    def __or__(self, other): return _m().or_(self, other)
    def __ror__(self, other): return _m().or_(other, self)
    def __xor__(self, other): return _m().xor(self, other)
    def __rxor__(self, other): return _m().xor(other, self)
    def __lt__(self, other): return _m().lt(self, other)
    def __le__(self, other): return _m().le(self, other)
    def __gt__(self, other): return _m().gt(self, other)
    def __ge__(self, other): return _m().ge(self, other)
    # == and != keep Python identity semantics (Variables are dict keys), as Theano.
    __hash__ = object.__hash__

    def __bool__(self):
        raise TypeError("a symbolic variable has no truth value; use symgraph.ifelse or "
                        "tensor.switch for conditions")

    def __iter__(self):
        try:
            n = int(self.type.shape[0])
        except (TypeError, IndexError):
            raise TypeError(f"cannot iterate over {self}: its first dimension is not known "
                            f"statically") from None
        for i in range(n):
            yield self[i]

    def __len__(self):
        raise TypeError("len() of a symbolic variable is not known; use x.shape[0]")

    def __getitem__(self, index):
        from symgraph.tensor import subtensor

        return subtensor.getitem(self, index)

    # -- attributes --------------------------------------------------------
    @property
    def ndim(self): return self.type.ndim

    @property
    def dtype(self): return self.type.dtype

    @property
    def broadcastable(self): return self.type.broadcastable

    @property
    def shape(self): return _b().shape(self)

    @property
    def size(self): return _m().prod(self.shape)

    @property
    def T(self): return _b().transpose(self)

    # -- methods -----------------------------------------------------------
    def dimshuffle(self, *pattern):
        if len(pattern) == 1 and isinstance(pattern[0], (list, tuple)):
            pattern = pattern[0]
        return _b().dimshuffle(self, pattern)

    def transpose(self, *axes):
        if len(axes) == 1 and isinstance(axes[0], (list, tuple)):
            axes = axes[0]
        return _b().transpose(self, axes or None)

    def reshape(self, *shape, ndim=None):
        if len(shape) == 1 and not isinstance(shape[0], (int, np.integer)):
            shape = shape[0]
        return _b().reshape(self, shape, ndim=ndim)

    def flatten(self, ndim=1): return _b().flatten(self, ndim)
    def astype(self, dtype): return _b().cast(self, dtype)
    def sum(self, axis=None, dtype=None, keepdims=False): return _m().sum(self, axis, dtype, keepdims)
    def prod(self, axis=None, dtype=None, keepdims=False): return _m().prod(self, axis, dtype, keepdims)
    def mean(self, axis=None, dtype=None, keepdims=False): return _m().mean(self, axis, dtype, keepdims)
    def var(self, axis=None, ddof=0, keepdims=False): return _m().var(self, axis, ddof=ddof, keepdims=keepdims)
    def std(self, axis=None, ddof=0, keepdims=False): return _m().std(self, axis, ddof=ddof, keepdims=keepdims)
    def max(self, axis=None, keepdims=False): return _m().max(self, axis, keepdims)
    def min(self, axis=None, keepdims=False): return _m().min(self, axis, keepdims)
    def argmax(self, axis=None, keepdims=False): return _m().argmax(self, axis, keepdims)
    def argmin(self, axis=None, keepdims=False): return _m().argmin(self, axis, keepdims)
    def all(self, axis=None, keepdims=False): return _m().all(self, axis, keepdims)
    def any(self, axis=None, keepdims=False): return _m().any(self, axis, keepdims)
    def dot(self, other): return _m().dot(self, other)
    def nonzero_values(self): return self.flatten()[_m().neq(self.flatten(), 0)]
    def clip(self, a_min, a_max): return _m().clip(self, a_min, a_max)
    def round(self): return _m().round(self)
    def squeeze(self, axis=None): return _b().squeeze(self, axis)
    def copy(self, name=None):
        out = _m().identity(self)
        out.name = name
        return out
    def zeros_like(self, dtype=None): return _b().zeros_like(self, dtype)
    def ones_like(self, dtype=None): return _b().ones_like(self, dtype)
    def cumsum(self, axis=None):
        from symgraph.tensor import extra_ops
        return extra_ops.cumsum(self, axis)
    def sort(self, axis=-1, kind="quicksort"):
        # from the module: the attribute symgraph.tensor.sort is the function, not the module
        from symgraph.tensor.sort import sort
        return sort(self, axis, kind)
    def argsort(self, axis=-1, kind="quicksort"):
        from symgraph.tensor.sort import argsort
        return argsort(self, axis, kind)
    def repeat(self, repeats, axis=None):
        from symgraph.tensor import extra_ops
        return extra_ops.repeat(self, repeats, axis)


class TensorVariable(_TensorMethods, Variable):
    """A symbolic array."""


class TensorConstant(_TensorMethods, Constant):
    """A constant array.  ``weak`` marks a plain Python scalar, which takes the dtype of
    what it is combined with (NumPy 2 promotion rules)."""

    def __init__(self, type, data, name=None, weak=False, python_value=None):
        Constant.__init__(self, type, data, name)
        self.weak = weak
        # the exact Python scalar, kept so promotion does not see a floatX-rounded value
        self.python_value = python_value if weak else None

    def signature(self):
        return (self.type, self.weak) + (Constant.signature(self)[1],)

    def clone(self, **kwargs):
        cp = TensorConstant(self.type, self.data, kwargs.get("name", self.name), self.weak,
                            self.python_value)
        cp.tag.update(self.tag)
        return cp


def _python_scalar_dtype(value):
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int64" if -(2**63) <= value < 2**63 else "uint64"
    if isinstance(value, float):
        return config.floatX
    return "complex128"


def constant(value, name=None, ndim=None, dtype=None):
    """A TensorConstant holding ``value``.

    >>> c = constant([1.0, 2.0])
    >>> c.type
    Tensor{float64, (2,)}
    """
    weak = isinstance(value, (bool, int, float, complex)) and dtype is None
    if dtype is None and weak:
        dtype = _python_scalar_dtype(value)
    array = np.asarray(value, dtype=dtype)
    if ndim is not None and array.ndim != ndim:
        if array.ndim > ndim:
            raise ValueError(f"constant {value!r} has {array.ndim} dims, more than {ndim}")
        array = array.reshape((1,) * (ndim - array.ndim) + array.shape)
    return TensorConstant(TensorType(array.dtype, array.shape), array, name=name, weak=weak,
                          python_value=value if weak else None)


def as_tensor_variable(x, name=None, ndim=None, dtype=None):
    """``x`` as a TensorVariable: variables pass through, values become constants.

    >>> as_tensor_variable(3).dtype
    'int64'
    """
    if isinstance(x, Variable):
        if not isinstance(x.type, TensorType):
            converter = getattr(x.type, "to_tensor", None)
            if converter is None:
                raise TypeError(f"{x} of type {x.type} is not a tensor")
            x = converter(x)
        if ndim is not None and x.ndim != ndim:
            raise TypeError(f"{x} has {x.ndim} dimensions; expected {ndim}")
        if dtype is not None and x.dtype != dtype:
            return _b().cast(x, dtype)
        return x
    if isinstance(x, (list, tuple)) and any(isinstance(v, Variable) for v in _flatten(x)):
        return _b().stack([as_tensor_variable(v) for v in x])
    return constant(x, name=name, ndim=ndim, dtype=dtype)


def _flatten(items):
    for item in items:
        if isinstance(item, (list, tuple)):
            yield from _flatten(item)
        else:
            yield item


as_tensor = as_tensor_variable
