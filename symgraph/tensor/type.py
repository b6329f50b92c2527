"""TensorType: the type of an n-dimensional array of one dtype.

``shape`` holds one entry per dimension: an int when the size is known
statically, None when not.  A size of 1 means the dimension broadcasts.
"""
import numpy as np

from symgraph.config import config
from symgraph.graph.basic import Type

ALL_DTYPES = (
    "bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
    "float16", "float32", "float64", "complex64", "complex128",
)
INT_DTYPES = ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64")
FLOAT_DTYPES = ("float16", "float32", "float64")
COMPLEX_DTYPES = ("complex64", "complex128")
DISCRETE_DTYPES = ("bool",) + INT_DTYPES
CONTINUOUS_DTYPES = FLOAT_DTYPES + COMPLEX_DTYPES


def upcast(*dtypes):
    """The NumPy result dtype of combining arrays of ``dtypes``."""
    return str(np.result_type(*[np.dtype(d) for d in dtypes]))


def upgrade_to_float(dtype):
    """Theano's rule for ops that need a float: small ints to float32, larger to float64."""
    if dtype in CONTINUOUS_DTYPES:
        return dtype
    if dtype in ("bool", "int8", "uint8", "int16", "uint16"):
        return upcast("float32", config.floatX)
    return "float64"


class TensorType(Type):
    """``TensorType(dtype, shape)``; ``shape`` entries are ints (static) or None.

    >>> t = TensorType("float32", (None, 3))
    >>> t.ndim, t.broadcastable
    (2, (False, False))
    """

    def __init__(self, dtype, shape=None, broadcastable=None):
        if dtype == "floatX":
            dtype = config.floatX
        self.dtype = str(np.dtype(dtype))
        if self.dtype not in ALL_DTYPES:
            raise TypeError(f"unsupported dtype {self.dtype}")
        if shape is None:
            if broadcastable is None:
                raise TypeError("TensorType needs a shape (or broadcastable)")
            shape = tuple(1 if b else None for b in broadcastable)
        self.shape = tuple(None if s is None else int(s) for s in shape)
        if any(s is not None and s < 0 for s in self.shape):
            raise ValueError(f"negative static shape {self.shape}")
        self._hash = hash((TensorType, self.dtype, self.shape))

    @property
    def ndim(self):
        return len(self.shape)

    @property
    def broadcastable(self):
        return tuple(s == 1 for s in self.shape)

    @property
    def numpy_dtype(self):
        return np.dtype(self.dtype)

    def clone(self, dtype=None, shape=None):
        return TensorType(self.dtype if dtype is None else dtype,
                          self.shape if shape is None else shape)

    def __eq__(self, other):
        return (type(other) is TensorType and self.dtype == other.dtype
                and self.shape == other.shape)

    def __hash__(self):
        return self._hash

    def __str__(self):
        shape = ", ".join("?" if s is None else str(s) for s in self.shape)
        if self.ndim == 1:
            shape += ","
        return f"Tensor{{{self.dtype}, ({shape})}}"

    __repr__ = __str__

    def is_super(self, other):
        """Every value of ``other`` is a value of ``self`` (``self`` knows no more shape)."""
        return (isinstance(other, TensorType) and self.dtype == other.dtype
                and self.ndim == other.ndim
                and all(s is None or s == o for s, o in zip(self.shape, other.shape)))

    def convert_variable(self, var):
        if var.type == self:
            return var
        if self.is_super(var.type):
            return var  # more specific static shape: fine as is
        if isinstance(var.type, TensorType) and var.type.is_super(self):
            from symgraph.tensor.shape import specify_shape

            return specify_shape(var, self.shape)
        return None

    def filter(self, value, strict=False, allow_downcast=None):
        """Turn ``value`` into an ndarray of this type, or raise TypeError.

        Conversion happens only when no precision is lost, as in Theano, unless
        ``allow_downcast``; with ``allow_downcast=None`` a Python float may still
        become a float32.
        """
        if isinstance(value, np.ndarray) and value.dtype == self.numpy_dtype:
            array = value
        elif strict:
            raise TypeError(f"expected an ndarray of dtype {self.dtype}, got "
                            f"{type(value).__name__} {getattr(value, 'dtype', '')}")
        else:
            array = self._convert(value, allow_downcast)
        if array.ndim != self.ndim:
            raise TypeError(f"wrong number of dimensions: expected {self.ndim} ({self}), "
                            f"got {array.ndim} with shape {array.shape}")
        for i, (want, got) in enumerate(zip(self.shape, array.shape)):
            if want is not None and want != got:
                raise ValueError(f"dimension {i} must have size {want} for {self}; "
                                 f"got shape {array.shape}")
        return array

    def _convert(self, value, allow_downcast):
        if allow_downcast:
            return np.asarray(value, dtype=self.dtype)
        if isinstance(value, np.ndarray):
            source = value.dtype
        elif isinstance(value, (float, int, bool, list, tuple, np.generic)):
            source = np.asarray(value).dtype
            if allow_downcast is None and isinstance(value, float) and self.dtype == config.floatX:
                return np.asarray(value, dtype=self.dtype)
        else:
            source = np.asarray(value).dtype
        if source == self.numpy_dtype:
            return np.asarray(value, dtype=self.dtype)
        if isinstance(value, (list, tuple, int, bool)) and not isinstance(value, np.generic):
            converted = np.asarray(value, dtype=self.dtype)
            if np.array_equal(converted, np.asarray(value), equal_nan=False) or converted.size == 0:
                return converted
        elif np.can_cast(source, self.numpy_dtype, casting="safe"):
            return np.asarray(value, dtype=self.dtype)
        raise TypeError(
            f"cannot convert {type(value).__name__} of dtype {source} to {self} without "
            f"losing precision; pass allow_input_downcast=True to function() to allow it, "
            f"or cast the value first"
        )

    def values_eq(self, a, b):
        return a.shape == b.shape and np.array_equal(a, b)

    def values_eq_approx(self, a, b, rtol=None, atol=None):
        if a.shape != b.shape:
            return False
        if self.dtype in DISCRETE_DTYPES:
            return np.array_equal(a, b)
        tol = 1e-4 if self.dtype in ("float32", "complex64", "float16") else 1e-8
        return np.allclose(a, b, rtol=rtol or tol, atol=atol or tol, equal_nan=True)

    def make_variable(self, name=None):
        from symgraph.tensor.var import TensorVariable

        return TensorVariable(self, None, None, name)

    def value_zeros(self, shape):
        return np.zeros(shape, dtype=self.dtype)


def tensor_type(dtype=None, shape=None, ndim=None):
    dtype = config.floatX if dtype is None else dtype
    if shape is None:
        shape = (None,) * (ndim or 0)
    return TensorType(dtype, shape)
